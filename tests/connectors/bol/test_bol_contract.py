"""The hub's connector contract kit, run against the bol.com connector and the simulator."""

from __future__ import annotations

from core.testing import ConnectorContract
from tests.connectors.bol.scenarios import BolScenarios


class TestBolContract(ConnectorContract):
    connector = "bol"
    scenarios = BolScenarios()
