"""Pacing: Amazon's real usage plans on a fake clock, so a long import meets no 429."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioresponses import aioresponses

import connectors.amazon
from connectors.amazon.client import ClientState, bucket_key, connection_api
from connectors.amazon.const import CONFIRM_SHIPMENT, PACING_MARGIN, SEARCH_ORDERS, USAGE_PLANS, UsagePlan
from core.contract.errors import RateLimited
from core.contract.models import Cursor
from core.infra.coordination import Coordination, MemoryCoordination
from core.infra.shopclient import Clock, Pacer
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import SEARCH_URL, TOKEN_URL, FakeClock, amazon_order, search_answer, token_answer


def strictest_bucket_allows(times: list[float], plan: UsagePlan, slack: float = 1e-6) -> bool:
    """Whether Amazon's bucket (full at the first call) would have let every call at ``times`` through."""
    tokens, last = float(plan.burst), times[0]
    for at in times:
        tokens = min(float(plan.burst), tokens + (at - last) * plan.rate)
        last = at
        if tokens < 1 - slack:
            return False
        tokens -= 1
    return True


async def test_thirty_search_pages_wait_exactly_what_the_bucket_demands(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, clock: FakeClock
) -> None:
    plan = USAGE_PLANS[SEARCH_ORDERS]
    sent_at: list[float] = []

    def record(url: Any, **kwargs: Any) -> None:
        sent_at.append(clock.now)

    mocked.post(TOKEN_URL, payload=token_answer(expires_in=36000))
    for page in range(30):
        answer = search_answer(
            [amazon_order(f"028-{page:07d}-0000001")], next_token=f"t{page + 1}" if page < 29 else None
        )
        mocked.get(SEARCH_URL, payload=answer, callback=record, headers={"x-amzn-RateLimit-Limit": "0.0056"})
    cursor = Cursor(since=None)

    pages = [page async for page in connectors.amazon.import_orders(make_context(), cursor)]

    assert len(pages) == 30 and len(sent_at) == 30
    assert strictest_bucket_allows(sent_at, plan), "a call went out before Amazon's bucket had a token"
    # The burst goes at once, then one call per 1/rate seconds, all shifted by the safety margin.
    minimum = (30 - plan.burst) / plan.rate
    assert minimum <= clock.elapsed <= minimum + PACING_MARGIN + 1e-6
    assert sent_at[: plan.burst] == [clock.start] * plan.burst
    for number, at in enumerate(sent_at[plan.burst :], start=1):
        assert at - clock.start == pytest.approx(number / plan.rate + PACING_MARGIN, abs=1e-6)


class FrozenClock:
    """A clock on which sleeping takes no time: shows the delay each caller was given."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def amazon_pacer(clock: Clock, coordination: Coordination | None = None) -> Pacer:
    """The pacer of one process's ``ClientState``: its own buckets, or with ``coordination`` the shared ones."""
    return ClientState(clock=clock, coordination=coordination).pacer


async def acquire(pacer: Pacer, operation: str, max_wait: float) -> None:
    """Take a token for one seller's ``operation`` on its usage plan."""
    plan = USAGE_PLANS[operation]
    await pacer.acquire(bucket_key("EU", "A3SELLER0EXAMPLE", operation), plan.rate, plan.burst, max_wait)


async def test_concurrent_callers_are_given_successive_slots() -> None:
    frozen = FrozenClock()
    pacer = amazon_pacer(frozen)
    key = CONFIRM_SHIPMENT

    await asyncio.gather(*(acquire(pacer, key, max_wait=60) for _ in range(25)))

    plan = USAGE_PLANS[CONFIRM_SHIPMENT]
    margin = min(PACING_MARGIN, ClientState.pacing_margin_share / plan.rate)
    burst = plan.burst - 2  # a second of refill kept unused (ClientState.burst_headroom)
    assert frozen.sleeps == pytest.approx([n / plan.rate + margin for n in range(1, 25 - burst + 1)])


async def test_a_wait_beyond_the_limit_is_rate_limited_and_keeps_the_token() -> None:
    frozen = FrozenClock()
    pacer = amazon_pacer(frozen)
    key = SEARCH_ORDERS
    for _ in range(USAGE_PLANS[SEARCH_ORDERS].burst):
        await acquire(pacer, key, max_wait=200)

    with pytest.raises(RateLimited) as caught:
        await acquire(pacer, key, max_wait=100)
    await acquire(pacer, key, max_wait=200)

    one_token = 1 / USAGE_PLANS[SEARCH_ORDERS].rate + PACING_MARGIN
    assert caught.value.retry_after == pytest.approx(one_token)
    assert frozen.sleeps == [pytest.approx(one_token)], "the refused call did not use up a token"


def test_buckets_are_shared_per_seller_across_connections(make_context: MakeContext, state: ClientState) -> None:
    one = make_context()
    same_seller = make_context(credentials={"refresh_token": "Atzr|other", "region": "EU"})
    other_seller = make_context(external_account_id="A9OTHER")

    def bucket(context: Any) -> object:
        api = connection_api(context, context.settings, state)
        plan = USAGE_PLANS[SEARCH_ORDERS]
        return state.pacer.bucket(api.bucket_key(SEARCH_ORDERS), plan.rate, plan.burst)

    assert bucket(one) is bucket(same_seller)
    assert bucket(one) is not bucket(other_seller)


async def test_processes_sharing_cores_coordination_keep_one_bucket_together() -> None:
    frozen = FrozenClock()
    shared = MemoryCoordination(clock=frozen.monotonic)
    processes = [amazon_pacer(frozen, shared) for _ in range(3)]
    key = CONFIRM_SHIPMENT

    await asyncio.gather(*(acquire(processes[n % 3], key, max_wait=60) for n in range(25)))

    plan = USAGE_PLANS[CONFIRM_SHIPMENT]
    margin = min(PACING_MARGIN, ClientState.pacing_margin_share / plan.rate)
    burst = plan.burst - 2  # a second of refill kept unused (ClientState.burst_headroom)
    assert sorted(frozen.sleeps) == pytest.approx([n / plan.rate + margin for n in range(1, 25 - burst + 1)])


async def test_processes_pacing_alone_would_overrun_the_plan() -> None:
    frozen = FrozenClock()
    processes = [amazon_pacer(frozen) for _ in range(3)]
    key = CONFIRM_SHIPMENT

    await asyncio.gather(*(acquire(processes[n % 3], key, max_wait=60) for n in range(25)))

    assert len(frozen.sleeps) < 25 - USAGE_PLANS[CONFIRM_SHIPMENT].burst, "each process spends its own burst"


async def test_a_429_met_by_one_process_holds_back_the_others() -> None:
    frozen = FrozenClock()
    shared = MemoryCoordination(clock=frozen.monotonic)
    one, other = amazon_pacer(frozen, shared), amazon_pacer(frozen, shared)
    key = CONFIRM_SHIPMENT

    plan = USAGE_PLANS[CONFIRM_SHIPMENT]
    wait = await one.throttled(bucket_key("EU", "A3SELLER0EXAMPLE", key), plan.rate, plan.burst)
    await acquire(other, key, max_wait=60)

    plan = USAGE_PLANS[CONFIRM_SHIPMENT]
    assert wait == pytest.approx(1 / plan.rate)
    assert frozen.sleeps == [pytest.approx(1 / plan.rate + min(PACING_MARGIN, ClientState.pacing_margin_share / plan.rate))]


async def test_a_shared_wait_beyond_the_limit_is_rate_limited_and_keeps_the_token() -> None:
    frozen = FrozenClock()
    pacer = amazon_pacer(frozen, MemoryCoordination(clock=frozen.monotonic))
    key = SEARCH_ORDERS
    for _ in range(USAGE_PLANS[SEARCH_ORDERS].burst):
        await acquire(pacer, key, max_wait=200)

    with pytest.raises(RateLimited) as caught:
        await acquire(pacer, key, max_wait=100)
    await acquire(pacer, key, max_wait=200)

    one_token = 1 / USAGE_PLANS[SEARCH_ORDERS].rate + PACING_MARGIN
    assert caught.value.retry_after == pytest.approx(one_token)
    assert frozen.sleeps == [pytest.approx(one_token)], "the refused call did not use up a token"


async def test_the_rate_amazon_reports_is_what_the_shared_bucket_refills_at() -> None:
    frozen = FrozenClock()
    pacer = amazon_pacer(frozen, MemoryCoordination(clock=frozen.monotonic))
    key = CONFIRM_SHIPMENT
    pacer.resize(bucket_key("EU", "A3SELLER0EXAMPLE", key), 5.0, USAGE_PLANS[key].burst)

    await asyncio.gather(*(acquire(pacer, key, max_wait=60) for _ in range(USAGE_PLANS[CONFIRM_SHIPMENT].burst + 1)))

    # The burst less the two tokens a second refills at most (ClientState.burst_headroom), then one at 5/s.
    margin = min(PACING_MARGIN, ClientState.pacing_margin_share / 5.0)
    assert frozen.sleeps == pytest.approx([n / 5.0 + margin for n in range(1, 4)])
