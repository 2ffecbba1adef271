"""The contract kit run against the key shop connector (credentials, asynchronous, events): every check must pass."""

from __future__ import annotations

import tests.contract.keyshop as keyshop
from core.testing import ConnectorContract
from tests.contract.keyshop.scenarios import KeyshopScenarios


class TestKeyshopContract(ConnectorContract):
    connector = "keyshop"
    plugin = keyshop
    scenarios = KeyshopScenarios()
