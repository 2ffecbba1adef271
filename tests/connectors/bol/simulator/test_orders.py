"""``GET /retailer/orders``: filters, pages of 50, newest first, ``{}`` when empty, 400s naming the parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.bol.simulator.seed import DEMO_ORDER_IDS, VVB_ORDER_ID
from tests.connectors.bol.simulator.conftest import START, BolApi, admin

OPEN_FBR_DEMO = {"1043946570", "1042831430", "A4K8290LP0", "B3K8290LP0"}


def items_of(answer) -> list[dict]:
    """Every listed order item."""
    return [item for order in answer.body.get("orders", []) for item in order["orderItems"]]


async def all_pages(api: BolApi, **params) -> list[dict]:
    """Every order of a listing, page by page until an empty page."""
    found, page = [], 1
    while True:
        answer = await api.orders(page=page, **params)
        if answer.body == {}:
            return found
        found.extend(answer.body["orders"])
        page += 1


async def test_default_lists_open_items_the_retailer_ships_itself(start_simulator, session):
    sim = await start_simulator(rate_limits=False)
    api = BolApi(session, sim)
    orders = await all_pages(api)
    ids = {o["orderId"] for o in orders}
    assert OPEN_FBR_DEMO | {VVB_ORDER_ID} <= ids
    assert not ids & {"1042823870", "1043965710"}  # FBB
    items = [i for o in orders for i in o["orderItems"]]
    assert {(i["fulfilmentMethod"], i["fulfilmentStatus"]) for i in items} == {("FBR", "OPEN")}
    partly = next(o for o in orders if o["orderId"] == "1042831430")
    assert [(i["orderItemId"], i["quantity"], i["quantityShipped"]) for i in partly["orderItems"]] == [
        ("6107331383", 3, 2)
    ]  # its handled item is left out


async def test_orders_come_newest_first_in_pages_of_50(start_simulator, session):
    sim = await start_simulator(orders_per_retailer=140, rate_limits=False)
    api = BolApi(session, sim)
    first = await api.orders(**{"status": "ALL", "fulfilment-method": "ALL"})
    assert len(first.body["orders"]) == 50
    everything = await all_pages(api, **{"status": "ALL", "fulfilment-method": "ALL"})
    assert len(everything) == 147 == len({o["orderId"] for o in everything})
    placed = [o["orderPlacedDateTime"] for o in everything]
    stamps = [sim.state.orders[o["orderId"]].placed for o in everything]
    assert stamps == sorted(stamps, reverse=True) and len(placed) == len(stamps)


async def test_no_orders_is_an_empty_object(start_simulator, session):
    sim = await start_simulator(orders_per_retailer=0, demo_orders=False)
    answer = await BolApi(session, sim).orders()
    assert (answer.status, answer.body, answer.text) == (200, {}, "{}")


async def test_a_page_past_the_end_is_an_empty_object(api: BolApi):
    assert (await api.orders(page=99)).body == {}


async def test_fbb_and_all(api: BolApi):
    fbb = items_of(await api.orders(**{"fulfilment-method": "FBB", "status": "ALL"}))
    assert fbb and {i["fulfilmentMethod"] for i in fbb} == {"FBB"}
    assert {"6107771545", "6107989317"} <= {i["orderItemId"] for i in fbb}
    both = items_of(await api.orders(**{"fulfilment-method": "ALL", "status": "ALL"}))
    assert {i["fulfilmentMethod"] for i in both} == {"FBR", "FBB"}


async def test_shipped_lists_handled_items_with_shipped_units(api: BolApi):
    shipped = items_of(await api.orders(status="SHIPPED"))
    assert shipped
    assert all(i["fulfilmentStatus"] == "HANDLED" and i["quantityShipped"] > 0 for i in shipped)
    assert "6107331382" in {i["orderItemId"] for i in shipped}


async def test_vvb_only(api: BolApi):
    answer = await api.orders(**{"vvb-only": True})
    ids = {o["orderId"] for o in answer.body["orders"]}
    assert VVB_ORDER_ID in ids
    assert all(api.sim.state.item(i["orderItemId"])[1].distribution_party == "BOL" for i in items_of(answer))


async def test_change_interval_minute_lists_recent_changes_only(api: BolApi, session):
    api.sim.state.clock.advance(3600)
    status, _ = await admin(session, api.sim, "PATCH", "/_sim/order-items/2070906705", {"cancellationRequest": True})
    assert status == 200
    api.sim.state.clock.advance(120)
    api.renew()
    recent = await api.orders(**{"change-interval-minute": 5})
    assert [(o["orderId"], [i["cancellationRequest"] for i in o["orderItems"]]) for o in recent.body["orders"]] == [
        ("A4K8290LP0", [True])
    ]
    assert (await api.orders(**{"change-interval-minute": 1})).body == {}


async def test_latest_change_date(api: BolApi):
    today = (START + timedelta(hours=1)).date().isoformat()
    answer = await api.orders(**{"latest-change-date": today, "status": "ALL", "fulfilment-method": "ALL"})
    assert answer.body["orders"]
    assert (await api.orders(**{"latest-change-date": "2026-03-03"})).body == {}


@pytest.mark.parametrize(("params", "name"), [
    ({"page": 0}, "page"),
    ({"page": "two"}, "page"),
    ({"status": "CLOSED"}, "status"),
    ({"fulfilment-method": "VVB"}, "fulfilment-method"),
    ({"change-interval-minute": 61}, "change-interval-minute"),
    ({"change-interval-minute": 0}, "change-interval-minute"),
    ({"latest-change-date": "02-03-2026"}, "latest-change-date"),
    ({"latest-change-date": "2025-11-01"}, "latest-change-date"),
    ({"vvb-only": "maybe"}, "vvb-only"),
])
async def test_bad_parameters_are_400_naming_them(api: BolApi, params, name):
    answer = await api.orders(**params)
    assert answer.status == 400
    assert answer.violations == {name}


async def test_another_retailers_orders_are_not_listed(start_simulator, session):
    sim = await start_simulator(retailers=2)
    first, second = BolApi(session, sim), BolApi(session, sim, "1055480")
    mine = {o["orderId"] for o in (await first.orders()).body["orders"]}
    theirs = {o["orderId"] for o in (await second.orders()).body["orders"]}
    assert mine and theirs and not mine & theirs
    assert not theirs & set(DEMO_ORDER_IDS)
    assert (await second.order("1043946570")).status == 404


async def test_alphanumeric_order_ids_are_listed(api: BolApi):
    ids = {o["orderId"] for o in (await api.orders(status="ALL")).body["orders"]}
    assert "A4K8290LP0" in ids
    assert any(not i.isdigit() for i in ids - {"A4K8290LP0", "B3K8290LP0"})
