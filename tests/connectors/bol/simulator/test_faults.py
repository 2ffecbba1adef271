"""Faults on demand: the syntax, counts and rates, and each kind acted out over HTTP."""

from __future__ import annotations

import aiohttp
import pytest

from connectors.bol.simulator.faults import FaultInjector, parse_faults
from tests.connectors.bol.simulator.conftest import BolApi, admin, gls


def test_fault_syntax_parses_rate_count_and_delay():
    rules = parse_faults("get-orders:503:0.2, create-shipment:lost:next=3,get-order:slow=1.5:0.5,*:drop")
    assert [(r.operation, r.kind, r.rate, r.next, r.delay) for r in rules] == [
        ("get-orders", "503", 0.2, None, 2.0),
        ("create-shipment", "lost", None, 3, 2.0),
        ("get-order", "slow", 0.5, None, 1.5),
        ("*", "drop", None, None, 2.0),
    ]


def test_fault_spec_round_trips():
    text = "get-orders:503:0.2,create-shipment:lost-timeout:next=3,get-order:slow=1.5:0.5,token:500"
    assert ",".join(r.spec() for r in parse_faults(text)) == text


@pytest.mark.parametrize("text", [
    "get-order:418", "getOrders:503", "get-orders:503:1.5", "get-orders:503:next=0", "get-orders",
    "get-orders:503:0.1:next=2", "get-order:slow=fast", "get-orders:failure", "token:lost", "token:401",
])
def test_bad_fault_syntax_is_rejected(text):
    with pytest.raises(ValueError, match="fault"):
        parse_faults(text)


def test_next_n_fires_exactly_n_times():
    injector = FaultInjector(parse_faults("get-order:500:next=2"))
    assert [injector.draw("get-order") is not None for _ in range(4)] == [True, True, False, False]
    assert injector.rules == []


def test_rates_repeat_for_the_same_seed():
    def draws(seed):
        injector = FaultInjector(parse_faults("get-orders:503:0.5"), seed=seed)
        return [injector.draw("get-orders") is not None for _ in range(40)]

    assert draws(3) == draws(3)
    assert 5 < sum(draws(3)) < 35


def test_the_wildcard_leaves_the_token_endpoint_alone_and_outcomes_to_accepting_operations():
    injector = FaultInjector(parse_faults("*:failure,*:503"))
    assert injector.draw("token") is None
    assert injector.draw("create-shipment").kind == "failure"
    assert injector.draw("get-orders").kind == "503"


@pytest.mark.parametrize(("kind", "status", "title"), [
    ("500", 500, "Internal Server Error"), ("502", 502, "Bad Gateway"), ("503", 503, "Service Unavailable"),
    ("504", 504, "Gateway Timeout"),
])
async def test_server_errors_are_problems(start_simulator, session, kind, status, title):
    sim = await start_simulator(faults=f"get-orders:{kind}:next=1")
    api = BolApi(session, sim)
    answer = await api.orders()
    assert (answer.status, answer.body["title"]) == (status, title)
    assert (await api.orders()).status == 200


async def test_a_429_fault_says_when_to_retry(start_simulator, session):
    sim = await start_simulator(faults="get-order:429:next=1")
    answer = await BolApi(session, sim).order("A4K8290LP0")
    assert (answer.status, answer.headers["Retry-After"]) == (429, "1")


async def test_a_401_fault_is_an_expired_jwt(start_simulator, session):
    sim = await start_simulator(faults="get-orders:401:next=1")
    answer = await BolApi(session, sim).orders()
    assert (answer.status, answer.body["title"]) == (401, "Expired JWT")


async def test_drop_cuts_the_connection_without_doing_anything(start_simulator, session):
    sim = await start_simulator(faults="create-shipment:drop:next=1")
    with pytest.raises(aiohttp.ClientConnectionError):
        await BolApi(session, sim).ship(gls("6042823871"))
    assert all(p.permanent for p in sim.state.processes.values())


async def test_timeout_holds_the_call_without_doing_anything(start_simulator, session):
    sim = await start_simulator(faults="create-shipment:timeout:next=1", hang_seconds=30)
    with pytest.raises(TimeoutError):
        await BolApi(session, sim).ship(gls("6042823871"), timeout=aiohttp.ClientTimeout(total=0.3))
    assert all(p.permanent for p in sim.state.processes.values())


async def test_slow_answers_late_but_answers(start_simulator, session):
    sim = await start_simulator(faults="get-order:slow=0.2:next=1")
    api = BolApi(session, sim)
    with pytest.raises(TimeoutError):
        await api.call("get-order", path={"order-id": "A4K8290LP0"}, timeout=aiohttp.ClientTimeout(total=0.05))
    assert (await api.order("A4K8290LP0")).status == 200


async def test_faults_over_the_admin_api(session, sim):
    status, body = await admin(session, sim, "PUT", "/_sim/faults", {"spec": "get-orders:503:0.2"})
    assert (status, body["faults"]) == (200, [{"operation": "get-orders", "kind": "503", "rate": 0.2, "delay": 2.0}])
    _, body = await admin(session, sim, "POST", "/_sim/faults",
                          {"faults": [{"operation": "create-shipment", "kind": "lost", "next": 1}]})
    assert [f["operation"] for f in body["faults"]] == ["get-orders", "create-shipment"]
    assert (await admin(session, sim, "PUT", "/_sim/faults", {"spec": "get-orders:418"}))[0] == 400
    _, body = await admin(session, sim, "DELETE", "/_sim/faults")
    assert body == {"faults": []} and sim.state.faults.rules == []
