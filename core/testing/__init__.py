"""The connector contract kit: the standard tests every hub connector passes.

A connector opts in by subclassing ``ConnectorContract`` and giving it a ``Scenarios`` object
that drives its shop; see ``core.testing.contract`` for the checks and ``docs/connector-kit.md``
for a walk-through. The check functions themselves live in ``core.testing.checks``.
"""

from core.testing.checks import EVENTS_URL, REDIRECT_URI
from core.testing.contract import ConnectorContract
from core.testing.scenario import FAULTS, Fault, PostedEvent, Scenarios
from core.testing.testbed import Bench, ContractViolation, Subject

__all__ = [
    "EVENTS_URL",
    "FAULTS",
    "REDIRECT_URI",
    "Bench",
    "ConnectorContract",
    "ContractViolation",
    "Fault",
    "PostedEvent",
    "Scenarios",
    "Subject",
]
