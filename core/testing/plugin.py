"""The contract kit's pytest plugin, loaded in every pytest run through the ``pytest11`` entry point
``hub_contract`` (disable with ``-p no:hub_contract``).

It registers the ``contract`` marker carried by every ``ConnectorContract`` test, and the
``contract_subject`` fixture: the connector under test of the ``ConnectorContract`` subclass that
runs the test, built from the class's attributes (see ``core.testing.contract``).
"""

from __future__ import annotations

import pytest

from core.testing.contract import ConnectorContract
from core.testing.testbed import Subject


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``contract`` marker."""
    config.addinivalue_line(
        "markers", "contract: a check of the hub connector contract kit (core.testing.ConnectorContract)"
    )


@pytest.fixture
def contract_subject(request: pytest.FixtureRequest) -> Subject:
    """The connector under test, its scenarios and manifest, for one ``ConnectorContract`` test."""
    contract = request.instance
    if not isinstance(contract, ConnectorContract):
        pytest.fail("contract_subject serves the tests of ConnectorContract subclasses only.")
    return contract.contract_subject_for(request)
