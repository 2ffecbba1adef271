"""Rate limits per endpoint with bol.com's headers, 429 with Retry-After, and the switch for benchmarks."""

from __future__ import annotations

import pytest

from connectors.bol.simulator.clock import SimClock
from connectors.bol.simulator.ratelimit import LIMITS, RateLimiter
from tests.connectors.bol.simulator.conftest import BolApi, admin

TOO_MANY = {"title": "Too Many Requests", "status": 429, "detail": "Too many requests, retry in 3 seconds."}


async def test_the_order_list_allows_25_a_minute_then_429(api: BolApi):
    answers = [await api.orders() for _ in range(26)]
    assert [a.status for a in answers] == [200] * 25 + [429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["24", "23", "22"]
    assert answers[0].headers["X-RateLimit-Limit"] == "25"
    refused = answers[-1]
    assert refused.body == TOO_MANY
    assert refused.headers["Retry-After"] == "3"  # one call is earned every 2.4 s
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == "60"


async def test_a_refused_call_may_come_back_after_retry_after(api: BolApi):
    for _ in range(25):
        await api.orders()
    api.sim.state.clock.advance(2.3)
    assert (await api.orders()).status == 429
    api.sim.state.clock.advance(0.1)
    assert (await api.orders()).status == 200


async def test_the_reset_header_counts_seconds_until_the_bucket_is_full(api: BolApi):
    first = await api.orders()
    assert first.headers["X-RateLimit-Reset"] == "3"  # one call spent, 2.4 s to earn it back


async def test_order_details_allow_25_a_second(api: BolApi):
    statuses = [(await api.order("A4K8290LP0")).status for _ in range(26)]
    assert statuses == [200] * 25 + [429]
    api.sim.state.clock.advance(0.04)
    assert (await api.order("A4K8290LP0")).status == 200


async def test_the_bulk_process_status_allows_2_a_second(api: BolApi):
    body = {"processStatusQueries": [{"processStatusId": "1"}]}
    statuses = [(await api.call("get-process-status-bulk", json=body)).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_limits_are_per_endpoint(api: BolApi):
    for _ in range(25):
        await api.orders()
    assert (await api.orders()).status == 429
    assert (await api.order("A4K8290LP0")).status == 200
    assert (await api.call("get-shipments")).status == 200


async def test_limits_are_per_retailer(start_simulator, session):
    sim = await start_simulator(retailers=2)
    first, second = BolApi(session, sim), BolApi(session, sim, "1055480")
    for _ in range(25):
        await first.orders()
    assert (await first.orders()).status == 429
    assert (await second.orders()).status == 200


async def test_rate_limits_off_never_answer_429_nor_send_headers(start_simulator, session):
    sim = await start_simulator(rate_limits=False)
    api = BolApi(session, sim)
    answers = [await api.orders() for _ in range(30)]
    assert {a.status for a in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[0].headers


async def test_rate_limits_switch_off_while_running(api: BolApi, session):
    for _ in range(25):
        await api.orders()
    status, body = await admin(session, api.sim, "PATCH", "/_sim/config", {"rateLimits": False})
    assert (status, body["rateLimits"]) == (200, False)
    assert (await api.orders()).status == 200


@pytest.mark.parametrize(("operation", "capacity", "window"), [
    ("get-orders", 25, 60), ("get-order", 25, 1), ("create-shipment", 25, 1), ("get-shipments", 25, 60),
    ("get-shipment", 50, 60), ("get-process-status-bulk", 2, 1), ("get-subscription-keys", 10, 3600),
])
def test_the_published_limits(operation, capacity, window):
    assert (LIMITS[operation].capacity, LIMITS[operation].window) == (capacity, window)


def test_a_bucket_never_holds_more_than_its_capacity():
    clock = SimClock(frozen=True)
    limiter = RateLimiter(clock)
    limiter.take("1", "get-orders")
    clock.advance(86_400)
    assert limiter.left("1", "get-orders") == pytest.approx(25)
