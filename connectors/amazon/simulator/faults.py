"""Faults on demand: errors, throttling, slow answers, hangs and dropped connections per operation.

A fault rule names an operation (or ``*`` for every SP-API operation), a kind and when it fires:
at a rate (a seeded random draw per call, so a run repeats) or for the next N calls.

Kinds: ``500`` and ``503`` (``InternalFailure`` bodies), ``429`` (``QuotaExceeded``), ``slow``
(answers normally after a delay), ``timeout`` (holds the request without answering, long enough
for any client timeout, until the simulator stops), ``drop`` (closes the connection without an
answer) and ``lost`` (does the work, a shipment confirmed say, then closes the connection without
the answer).

Text syntax (CLI ``--faults`` and the admin API), rules separated by commas::

    OPERATION:KIND[=SECONDS][:RATE | :next=N]

    searchOrders:503:0.2               a 503 for 20 % of searchOrders calls
    confirmShipment:timeout:next=3     the next 3 confirmShipment calls hang
    getOrder:slow=1.5:0.5              half the getOrder calls answer after 1.5 s
    *:drop:next=1                      the next SP-API call of any kind loses its connection
    confirmShipment:lost:next=1        the next package is confirmed but its answer is lost
    lwa:503                            every LWA token call fails with 503

Without a rate or count a rule fires on every call. ``SECONDS`` applies to ``slow`` (default 2).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OPERATIONS = (
    "searchOrders",
    "getOrder",
    "confirmShipment",
    "getOrders",
    "getOrderItems",
    "getOrderAddress",
    "getMarketplaceParticipations",
    "lwa",
)
FaultKind = Literal["500", "503", "429", "slow", "timeout", "drop", "lost"]
KINDS: tuple[str, ...] = ("500", "503", "429", "slow", "timeout", "drop", "lost")


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
            raise ValueError(
                f"unknown operation {self.operation!r}; use one of {', '.join(OPERATIONS)} or *"
            )
        if self.rate is not None and self.next is not None:
            raise ValueError("give a rate or next=N, not both")
        return self

    def matches(self, operation: str) -> bool:
        """True when this rule applies to ``operation`` (``*`` covers SP-API calls, not LWA)."""
        return self.operation == operation or (self.operation == "*" and operation != "lwa")

    def spec(self) -> str:
        """The rule in the text syntax."""
        kind = f"slow={self.delay:g}" if self.kind == "slow" else self.kind
        when = f":{self.rate:g}" if self.rate is not None else f":next={self.next}" if self.next else ""
        return f"{self.operation}:{kind}{when}"


def parse_faults(text: str) -> list[FaultRule]:
    """Parse ``searchOrders:503:0.2,confirmShipment:timeout:next=3`` into rules."""
    rules = []
    for part in filter(None, (p.strip() for p in text.split(","))):
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
