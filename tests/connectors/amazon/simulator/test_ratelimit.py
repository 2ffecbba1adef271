"""Usage plans: token buckets per seller and operation on the simulated clock."""

from __future__ import annotations

import pytest

from connectors.amazon.simulator.clock import SimClock
from connectors.amazon.simulator.ratelimit import RateLimiter, UsagePlan
from tests.connectors.amazon.simulator.conftest import SpApi

QUOTA = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}
SEARCH = {"lastUpdatedAfter": "2026-03-01T00:00:00Z", "maxResultsPerPage": "1"}


async def test_search_orders_allows_a_burst_of_20_then_429(api: SpApi):
    statuses = [(await api.search(**SEARCH)).status for _ in range(21)]
    assert statuses == [200] * 20 + [429]


async def test_429_has_quota_exceeded_body_and_no_rate_limit_header(api: SpApi):
    for _ in range(20):
        await api.search(**SEARCH)
    answer = await api.search(**SEARCH)
    assert (answer.status, answer.body) == (429, QUOTA)
    assert "x-amzn-RateLimit-Limit" not in answer.headers
    assert answer.headers["x-amzn-RequestId"]


async def test_search_orders_refills_one_call_per_180_seconds(api: SpApi):
    for _ in range(20):
        await api.search(**SEARCH)
    api.sim.state.clock.advance(178)
    assert (await api.search(**SEARCH)).status == 429
    api.sim.state.clock.advance(2)
    assert (await api.search(**SEARCH)).status == 200
    assert (await api.search(**SEARCH)).status == 429


async def test_buckets_are_per_seller(session, sim):
    first, second = (SpApi(session, sim, seller) for seller in sim.state.sellers)
    for _ in range(20):
        await first.search(**SEARCH)
    assert (await first.search(**SEARCH)).status == 429
    assert (await second.search(**SEARCH)).status == 200


async def test_buckets_are_per_operation(api: SpApi):
    for _ in range(20):
        await api.search(**SEARCH)
    assert (await api.search(**SEARCH)).status == 429
    assert (await api.call("getMarketplaceParticipations")).status == 200


async def test_confirm_shipment_plan_is_2_per_second_burst_10(api: SpApi):
    statuses = [(await api.confirm("999-0000000-0000000", {})).status for _ in range(11)]
    assert statuses == [404] * 10 + [429]
    api.sim.state.clock.advance(0.5)
    assert (await api.confirm("999-0000000-0000000", {})).status == 404


async def test_get_order_plan_is_burst_30(api: SpApi):
    statuses = [(await api.get_order("999-0000000-0000000")).status for _ in range(31)]
    assert statuses == [404] * 30 + [429]


async def test_rate_limit_header_states_each_operations_rate(api: SpApi):
    assert (await api.search(**SEARCH)).headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert (await api.get_order("999-0000000-0000000")).headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert (await api.confirm("999-0000000-0000000", {})).headers["x-amzn-RateLimit-Limit"] == "2"


async def test_rate_limits_off_never_answers_429(session, start_simulator):
    sim = await start_simulator(rate_limits=False)
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    statuses = {(await api.search(**SEARCH)).status for _ in range(25)}
    assert statuses == {200}


async def test_rate_limits_can_be_switched_off_while_running(api: SpApi):
    for _ in range(20):
        await api.search(**SEARCH)
    api.sim.state.config.rate_limits = False
    assert (await api.search(**SEARCH)).status == 200


def test_bucket_never_holds_more_than_its_burst():
    clock = SimClock(frozen=True)
    limiter = RateLimiter(clock)
    plan = UsagePlan(2.0, 10)
    assert limiter.allow("A1", "confirmShipment", plan)
    clock.advance(3600)
    assert limiter.tokens("A1", "confirmShipment") == pytest.approx(10)


def test_bucket_refills_with_real_time_on_an_unfrozen_clock():
    now = [1000.0]
    clock = SimClock(source=lambda: now[0])
    limiter = RateLimiter(clock)
    plan = UsagePlan(1.0, 1)
    assert limiter.allow("A1", "op", plan)
    assert not limiter.allow("A1", "op", plan)
    now[0] += 1.0
    assert limiter.allow("A1", "op", plan)
