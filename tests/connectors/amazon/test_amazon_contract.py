"""The hub's connector contract kit, run against the Amazon connector and the simulator."""

from __future__ import annotations

from core.testing import ConnectorContract
from tests.connectors.amazon.scenarios import AmazonScenarios


class TestAmazonContract(ConnectorContract):
    connector = "amazon"
    scenarios = AmazonScenarios()
