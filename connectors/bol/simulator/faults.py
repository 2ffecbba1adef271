"""Faults on demand: errors, throttling, slow answers, hangs, cut connections and lost answers.

A fault rule names an operation (bol.com's ``operationId``, ``token`` for ``POST /token``, or ``*``
for every Retailer and Shared API operation), a kind and when it fires: at a rate (a seeded random
draw per call, so a run repeats) or for the next N calls.

Kinds that answer instead of the simulator, nothing done:

- ``500``, ``502``, ``503``, ``504``: a ``Problem`` answer with that status;
- ``429``: a rate-limit answer (``Retry-After: 1``), as if the bucket were empty;
- ``401``: ``Expired JWT``, as if the token had just expired;
- ``timeout``: holds the request without answering (``hang_seconds``, or until the simulator stops),
  then closes the connection;
- ``drop``: closes the connection at once.

Kinds where the simulator does the work:

- ``slow=SECONDS``: answers normally after the delay (default 2);
- ``lost``: does the work (a shipment's process status exists and settles), then closes the
  connection without answering;
- ``lost-timeout``: does the work, then holds the connection without answering, then closes it;
- ``lost-504``: does the work, then answers 504 (a gateway that gave up on a backend that did not);
- ``failure`` / ``process-timeout``: accepts the request (202) and its process status settles as
  FAILURE (with an ``errorMessage``) or TIMEOUT, doing nothing (202 operations only).

Text syntax (CLI ``--faults`` and the admin API), rules separated by commas::

    OPERATION:KIND[=SECONDS][:RATE | :next=N]

    get-orders:503:0.2                 a 503 for 20 % of the order-list calls
    create-shipment:lost:next=1        the next shipment is made but its answer is lost
    create-shipment:failure:next=2     the next two shipments end in FAILURE
    get-order:slow=1.5:0.5             half the order-detail calls answer after 1.5 s
    *:drop:next=1                      the next API call of any kind loses its connection
    token:503                          every token request fails with 503

Without a rate or count a rule fires on every call.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: bol.com's operationIds the simulator serves, plus ``token``.
OPERATIONS = (
    "token",
    "get-retailer-information",
    "get-orders",
    "get-order",
    "cancel-order-item",
    "create-shipment",
    "get-shipments",
    "get-shipment",
    "add-transport-information-by-transport-id",
    "get-process-status",
    "get-process-status-entity-id",
    "get-process-status-bulk",
    "get-push-notification-subscriptions",
    "post-push-notification-subscription",
    "get-push-notification-subscription",
    "put-push-notification-subscription",
    "delete-push-notification-subscription",
    "post-test-push-notification",
    "get-subscription-keys",
)
#: The operations answered with 202 and a process status.
ACCEPTING = frozenset({
    "cancel-order-item", "create-shipment", "add-transport-information-by-transport-id",
    "post-push-notification-subscription", "put-push-notification-subscription",
    "delete-push-notification-subscription", "post-test-push-notification",
})
FaultKind = Literal[
    "500", "502", "503", "504", "429", "401", "slow", "timeout", "drop",
    "lost", "lost-timeout", "lost-504", "failure", "process-timeout",
]
KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
#: Kinds that let the simulator do the work before they act.
AFTER_WORK = frozenset({"lost", "lost-timeout", "lost-504"})
#: Kinds that decide how a process status ends.
OUTCOMES = {"failure": "FAILURE", "process-timeout": "TIMEOUT"}


class FaultRule(BaseModel):
    """One fault: which operation, what happens, and when it fires."""

    model_config = ConfigDict(extra="forbid")

    operation: str
    kind: FaultKind
    rate: float | None = Field(default=None, ge=0.0, le=1.0)
    next: int | None = Field(default=None, ge=1)
    delay: float = Field(default=2.0, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.operation != "*" and self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; use one of {', '.join(OPERATIONS)} or *")
        if self.rate is not None and self.next is not None:
            raise ValueError("give a rate or next=N, not both")
        if self.kind in OUTCOMES and self.operation not in ACCEPTING and self.operation != "*":
            raise ValueError(
                f"{self.kind} needs an operation answered with a process status ({', '.join(sorted(ACCEPTING))})"
            )
        if self.operation == "token" and self.kind in AFTER_WORK | set(OUTCOMES) | {"401"}:
            raise ValueError(f"{self.kind} does not apply to token")
        return self

    def matches(self, operation: str) -> bool:
        """True when the rule applies to ``operation`` (``*`` covers all but the token endpoint)."""
        if self.operation == "*":
            if operation == "token":
                return False
            if self.kind in OUTCOMES:
                return operation in ACCEPTING
            return True
        return self.operation == operation

    def spec(self) -> str:
        """The rule in the text syntax."""
        kind = f"slow={self.delay:g}" if self.kind == "slow" else self.kind
        text = f"{self.operation}:{kind}"
        if self.next is not None:
            text += f":next={self.next}"
        elif self.rate is not None:
            text += f":{self.rate:g}"
        return text


def parse_faults(text: str) -> list[FaultRule]:
    """Parse the text syntax into rules; ValueError names the bad part."""
    rules = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        fields = part.split(":")
        if len(fields) not in (2, 3):
            raise ValueError(f"fault {part!r}: expected OPERATION:KIND[:RATE|:next=N]")
        operation, kind, *when = fields
        values: dict[str, object] = {"operation": operation, "kind": kind}
        if kind.startswith("slow="):
            values["kind"] = "slow"
            values["delay"] = _number(part, kind.removeprefix("slow="))
        if when:
            if when[0].startswith("next="):
                values["next"] = int(_number(part, when[0].removeprefix("next=")))
            else:
                values["rate"] = _number(part, when[0])
        try:
            rules.append(FaultRule.model_validate(values))
        except ValueError as err:
            raise ValueError(f"fault {part!r}: {err}") from err
    return rules


def _number(part: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"fault {part!r}: {text!r} is not a number") from None


class FaultInjector:
    """The active fault rules; ``draw`` decides whether a call gets a fault."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._remaining: list[int | None] = []
        self.set(rules or [])

    @property
    def rules(self) -> list[FaultRule]:
        """The rules still active, with ``next`` showing the calls still to fail."""
        return [
            rule.model_copy(update={"next": left}) if left is not None else rule
            for rule, left in zip(self._rules, self._remaining, strict=True)
            if left is None or left > 0
        ]

    def set(self, rules: list[FaultRule]) -> None:
        """Replace every rule, and restart the seeded random draws."""
        self._rules = list(rules)
        self._remaining = [rule.next for rule in self._rules]
        self._rng = random.Random(self._seed)

    def add(self, rules: list[FaultRule]) -> None:
        """Add rules after the existing ones."""
        self._rules.extend(rules)
        self._remaining.extend(rule.next for rule in rules)

    def clear(self) -> None:
        """Remove every rule."""
        self.set([])

    def draw(self, operation: str) -> FaultRule | None:
        """The rule that fires for this call of ``operation``, if any (first match wins)."""
        for index, rule in enumerate(self._rules):
            if not rule.matches(operation):
                continue
            left = self._remaining[index]
            if left is not None:
                if left <= 0:
                    continue
                self._remaining[index] = left - 1
                return rule
            if rule.rate is None or self._rng.random() < rule.rate:
                return rule
        return None
