"""The contract kit run against the fake connector: every check must pass."""

from __future__ import annotations

import tests.contract.fake as fake
from core.testing import ConnectorContract
from tests.contract.fake.scenarios import FakeScenarios


class TestFakeContract(ConnectorContract):
    connector = "fake"
    plugin = fake
    scenarios = FakeScenarios()
