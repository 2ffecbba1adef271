"""confirmShipment's slack: a paced push reaches Amazon well after its token, and a burst leaves tokens unused.

Pushes share one bucket per seller through core's coordination; between taking a token and the
call reaching Amazon lies a busy event loop, whose jitter a 0.05 s margin did not cover (4-26
429s in 10,000 pushes, bench/push_daemon.py), nor a 0.25 s one alone (15): the calls that did not
wait have no margin. So a paced call waits 0.25 s past its token, and two of the burst's ten
tokens (a second of refill) stay unused for a call that reaches Amazon late.
"""

from __future__ import annotations

import asyncio

import pytest

from connectors.amazon.client import ClientState, bucket_key
from connectors.amazon.const import CONFIRM_SHIPMENT, USAGE_PLANS
from core.infra.coordination import MemoryCoordination


class FrozenClock:
    """A clock on which sleeping takes no time: shows the delay each caller was given."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


PLAN = USAGE_PLANS[CONFIRM_SHIPMENT]
KEY = bucket_key("EU", "A3SELLER0EXAMPLE", CONFIRM_SHIPMENT)


@pytest.mark.parametrize("shared", [True, False])
async def test_a_confirmation_burst_keeps_two_tokens_and_a_paced_one_waits_a_quarter_second_more(shared: bool) -> None:
    clock = FrozenClock()
    coordination = MemoryCoordination(clock=clock.monotonic) if shared else None
    pacer = ClientState(clock=clock, coordination=coordination).pacer

    await asyncio.gather(*(pacer.acquire(KEY, PLAN.rate, PLAN.burst, 60) for _ in range(PLAN.burst + 3)))

    tokens = [n / PLAN.rate for n in range(1, 6)]  # eight go at once, then one every half second
    assert sorted(clock.sleeps) == pytest.approx([token + 0.25 for token in tokens])
