"""Faults on demand: the text syntax, rates and counts, and each kind acted out over HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from connectors.amazon.simulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.faults import FaultInjector, FaultRule, parse_faults
from tests.connectors.amazon.simulator.conftest import SpApi

INTERNAL = {"errors": [{"code": "InternalFailure", "message": "We encountered an internal error. Please try again."}]}


def test_fault_syntax_parses_rate_count_and_delay():
    rules = parse_faults("searchOrders:503:0.2, confirmShipment:timeout:next=3,getOrder:slow=1.5:0.5,*:drop")
    assert [(r.operation, r.kind, r.rate, r.next, r.delay) for r in rules] == [
        ("searchOrders", "503", 0.2, None, 2.0),
        ("confirmShipment", "timeout", None, 3, 2.0),
        ("getOrder", "slow", 0.5, None, 1.5),
        ("*", "drop", None, None, 2.0),
    ]


def test_fault_spec_round_trips():
    text = "searchOrders:503:0.2,confirmShipment:timeout:next=3,getOrder:slow=1.5:0.5,lwa:500"
    assert ",".join(r.spec() for r in parse_faults(text)) == text


@pytest.mark.parametrize("text", [
    "searchOrder:503", "searchOrders:504", "searchOrders:503:1.5", "searchOrders:503:next=0",
    "searchOrders", "searchOrders:503:0.1:next=2", "getOrder:slow=fast",
])
def test_bad_fault_syntax_is_rejected(text):
    with pytest.raises(ValueError, match="fault"):
        parse_faults(text)


def test_next_n_fires_exactly_n_times():
    injector = FaultInjector(parse_faults("getOrder:500:next=2"))
    fired = [injector.draw("getOrder") is not None for _ in range(4)]
    assert fired == [True, True, False, False]
    assert injector.rules == []


def test_rate_draws_repeat_for_the_same_seed():
    def draws(seed):
        injector = FaultInjector(parse_faults("searchOrders:503:0.2"), seed=seed)
        return [injector.draw("searchOrders") is not None for _ in range(1000)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert 150 < sum(draws(7)) < 250


def test_wildcard_covers_sp_api_but_not_lwa():
    injector = FaultInjector([FaultRule(operation="*", kind="500")])
    assert injector.draw("confirmShipment") is not None
    assert injector.draw("lwa") is None


def test_rules_apply_only_to_their_operation():
    injector = FaultInjector(parse_faults("getOrder:500"))
    assert injector.draw("searchOrders") is None


async def test_500_fault_answers_internal_failure(api: SpApi):
    api.sim.state.faults.set(parse_faults("getMarketplaceParticipations:500:next=1"))
    answer = await api.call("getMarketplaceParticipations")
    assert (answer.status, answer.body) == (500, INTERNAL)
    assert answer.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in answer.headers
    assert (await api.call("getMarketplaceParticipations")).status == 200


async def test_503_fault_answers_with_an_error_list(api: SpApi):
    api.sim.state.faults.set(parse_faults("searchOrders:503"))
    answer = await api.search(lastUpdatedAfter="2026-03-01T00:00:00Z")
    assert answer.status == 503
    assert answer.body["errors"][0]["code"] == "InternalFailure"


async def test_429_fault_answers_quota_exceeded(api: SpApi):
    api.sim.state.faults.set(parse_faults("confirmShipment:429"))
    answer = await api.confirm("999-0000000-0000000", {})
    assert answer.status == 429
    assert answer.body["errors"][0]["code"] == "QuotaExceeded"


async def test_faults_at_a_rate_hit_some_calls_only(session, start_simulator):
    sim = await start_simulator(rate_limits=False, faults="getOrder:503:0.5")
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    statuses = [(await api.get_order("999-0000000-0000000")).status for _ in range(40)]
    assert set(statuses) == {503, 404}


async def test_slow_fault_answers_normally_after_the_delay(api: SpApi):
    api.sim.state.faults.set(parse_faults("getMarketplaceParticipations:slow=0.3:next=1"))
    started = time.monotonic()
    answer = await api.call("getMarketplaceParticipations")
    assert answer.status == 200
    assert time.monotonic() - started >= 0.3


async def test_timeout_fault_outlasts_the_clients_timeout(api: SpApi):
    api.sim.state.faults.set(parse_faults("confirmShipment:timeout:next=1"))
    with pytest.raises(asyncio.TimeoutError):
        await api.call("confirmShipment", order_id="999-0000000-0000000", json={},
                       timeout=aiohttp.ClientTimeout(total=0.3))
    assert (await api.confirm("999-0000000-0000000", {})).status == 404


async def test_drop_fault_closes_the_connection_without_an_answer(api: SpApi):
    api.sim.state.faults.set(parse_faults("confirmShipment:drop:next=1"))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.confirm("999-0000000-0000000", {})
    assert (await api.confirm("999-0000000-0000000", {})).status == 404


async def test_lost_fault_does_the_work_and_drops_the_answer(api: SpApi):
    order = api.sim.state.add_order(api.seller_id, marketplace_code="DE",
                                    items=[{"quantity": 1, "orderItemId": "11111111111111"}])
    body = {"marketplaceId": "A1PA6795UKMFR9", "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "GLS", "trackingNumber": "GLS1", "shipDate": "2026-03-02T10:00:00Z",
        "orderItems": [{"orderItemId": "11111111111111", "quantity": 1}]}}
    api.sim.state.faults.set(parse_faults("confirmShipment:lost:next=1"))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.confirm(order.order_id, body)
    assert sorted(api.sim.state.detail(api.sim.state.order(order.order_id)).packages) == ["1"]
    assert (await api.confirm(order.order_id, body)).status == 204
    assert [c.action for c in api.sim.state.confirmations_of(order.order_id)] == ["created", "updated"]


async def test_lost_lwa_answer_issues_the_token_nobody_hears_of(session, sim):
    form = {"grant_type": "refresh_token", "refresh_token": sim.state.grant(),
            "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    issued = len(sim.state.access_tokens)
    sim.state.faults.set(parse_faults("lwa:lost:next=1"))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with session.post(sim.url + "/auth/o2/token", data=form):
            pass
    assert len(sim.state.access_tokens) == issued + 1


async def test_faults_from_the_config_are_active_from_the_start(session, start_simulator):
    sim = await start_simulator(faults="getMarketplaceParticipations:503:next=1")
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    assert (await api.call("getMarketplaceParticipations")).status == 503


async def test_lwa_fault_answers_temporarily_unavailable(session, sim):
    sim.state.faults.set(parse_faults("lwa:503:next=1"))
    form = {"grant_type": "refresh_token", "refresh_token": sim.state.grant(),
            "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    async with session.post(sim.url + "/auth/o2/token", data=form) as response:
        assert response.status == 503
        assert (await response.json())["error"] == "temporarily_unavailable"
    async with session.post(sim.url + "/auth/o2/token", data=form) as response:
        assert response.status == 200
