"""``POST /retailer/shipments`` and the shipment lists: 202, settling, bol.com's rules, no idempotency."""

from __future__ import annotations

import aiohttp
import pytest

from connectors.bol.simulator.seed import VVB_ORDER_ITEM_ID, VVB_SHIPPING_LABEL_ID
from tests.connectors.bol.simulator.conftest import BolApi, admin, gls

PICKUP_ITEM = "6042823871"  # demo order 1043946570: 3 units open
PARTLY_ITEM = "6107331383"  # demo order 1042831430: 3 ordered, 2 shipped


async def ship_and_settle(api: BolApi, request) -> dict:
    """Ship, settle, and return the settled process status."""
    accepted = await api.ship(request)
    assert accepted.status == 202, accepted.body
    await api.settle()
    return (await api.status(accepted.body["processStatusId"])).body


def item(api: BolApi, item_id: str):
    return api.sim.state.item(item_id)[1]


async def test_a_shipment_is_accepted_pending_and_made_when_it_settles(api: BolApi):
    accepted = await api.ship(gls(PICKUP_ITEM, quantity=3))
    assert accepted.status == 202
    status = accepted.body
    assert (status["eventType"], status["entityId"], status["status"]) == ("CREATE_SHIPMENT", PICKUP_ITEM, "PENDING")
    assert (await api.status(status["processStatusId"])).body["status"] == "PENDING"
    assert item(api, PICKUP_ITEM).quantity_shipped == 0
    await api.settle()
    assert (await api.status(status["processStatusId"])).body["status"] == "SUCCESS"
    order = (await api.order("1043946570")).body["orderItems"][0]
    assert (order["quantityShipped"], order["latestChangedDateTime"]) == (3, "2026-03-02T13:00:05+01:00")
    listed = (await api.orders()).body.get("orders", [])
    assert "1043946570" not in {o["orderId"] for o in listed}  # handled now
    assert api.sim.state.shipment_counts() == {PICKUP_ITEM: 1}


async def test_the_shipment_shows_in_the_list_and_in_detail(api: BolApi):
    await ship_and_settle(api, gls(PICKUP_ITEM, quantity=2, track="00340434161094042557", reference="parcel-42"))
    listed = (await api.call("get-shipments", params={"order-id": "1043946570"})).body["shipments"]
    assert [s["shipmentReference"] for s in listed] == ["parcel-42"]
    shipment = (await api.call("get-shipment", path={"shipment-id": listed[0]["shipmentId"]})).body
    assert shipment["transport"] == {"transportId": listed[0]["transport"]["transportId"], "transporterCode": "GLS",
                                     "trackAndTrace": "00340434161094042557"}
    assert [(i["orderItemId"], i["quantity"], i["quantityShipped"]) for i in shipment["shipmentItems"]] == [
        (PICKUP_ITEM, 3, 2)
    ]
    assert shipment["shipmentDetails"]["pickupPointName"] == "Albert Heijn: UTRECHT"


async def test_without_quantity_all_open_units_ship(api: BolApi):
    status = await ship_and_settle(api, gls(PARTLY_ITEM, quantity=None))
    assert status["status"] == "SUCCESS"
    assert item(api, PARTLY_ITEM).quantity_shipped == 3


async def test_shipping_part_leaves_the_rest_open(api: BolApi):
    await ship_and_settle(api, gls(PICKUP_ITEM, quantity=1))
    assert item(api, PICKUP_ITEM).fulfilment_status == "OPEN"
    await ship_and_settle(api, gls(PICKUP_ITEM, quantity=2, reference="parcel-2"))
    assert item(api, PICKUP_ITEM).fulfilment_status == "HANDLED"
    assert api.sim.state.shipment_counts("1043946570") == {PICKUP_ITEM: 2}


async def test_the_same_request_twice_ships_twice_when_units_allow(api: BolApi):
    first = await api.ship(gls(PICKUP_ITEM, quantity=1))
    second = await api.ship(gls(PICKUP_ITEM, quantity=1))
    await api.settle()
    assert [(await api.status(a.body["processStatusId"])).body["status"] for a in (first, second)] == ["SUCCESS"] * 2
    assert api.sim.state.shipment_counts() == {PICKUP_ITEM: 2}


async def test_two_pending_requests_for_the_last_unit_settle_once(api: BolApi):
    first = await api.ship(gls(PARTLY_ITEM, quantity=1))
    second = await api.ship(gls(PARTLY_ITEM, quantity=1))
    await api.settle()
    outcomes = [(await api.status(a.body["processStatusId"])).body for a in (first, second)]
    assert [o["status"] for o in outcomes] == ["SUCCESS", "FAILURE"]
    assert outcomes[1]["errorMessage"] == f"Order item {PARTLY_ITEM} has no open quantity left to ship."
    assert api.sim.state.shipment_counts() == {PARTLY_ITEM: 1}


@pytest.mark.parametrize(("request_body", "message"), [
    (gls(PARTLY_ITEM, quantity=2), f"Quantity 2 for order item {PARTLY_ITEM} exceeds the open quantity 1."),
    (gls("6107771545"), "Order item 6107771545 is fulfilled by bol.com (FBB) and cannot be shipped by the retailer."),
    (gls(VVB_ORDER_ITEM_ID), f"Order item {VVB_ORDER_ITEM_ID} is shipped via bol.com: confirm it with its "
                             "shippingLabelId."),
    (gls("1234567890"), "Order item 1234567890 does not exist."),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}], "shippingLabelId": VVB_SHIPPING_LABEL_ID},
     f"Shipping label {VVB_SHIPPING_LABEL_ID} does not belong to order item {PICKUP_ITEM}."),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}, {"orderItemId": "2070906705"}],
      "transport": {"transporterCode": "GLS", "trackAndTrace": "1"}},
     "The order items of a shipment must belong to the same order."),
])
async def test_broken_rules_fail_when_settling_and_ship_nothing(api: BolApi, request_body, message):
    status = await ship_and_settle(api, request_body)
    assert (status["status"], status["errorMessage"]) == ("FAILURE", message)
    assert api.sim.state.shipment_counts() == {}


async def test_a_customer_cancellation_request_stops_the_shipment(api: BolApi, session):
    await admin(session, api.sim, "PATCH", f"/_sim/order-items/{PICKUP_ITEM}", {"cancellationRequest": True})
    status = await ship_and_settle(api, gls(PICKUP_ITEM))
    assert status["errorMessage"] == f"Order item {PICKUP_ITEM} has a cancellation request from the customer."


async def test_a_vvb_item_ships_with_its_label(api: BolApi):
    request = {"orderItems": [{"orderItemId": VVB_ORDER_ITEM_ID}], "shippingLabelId": VVB_SHIPPING_LABEL_ID}
    assert (await ship_and_settle(api, request))["status"] == "SUCCESS"
    shipment = api.sim.state.shipments_made(VVB_ORDER_ITEM_ID)[0]
    detail = (await api.call("get-shipment", path={"shipment-id": shipment.shipment_id})).body
    assert detail["transport"]["shippingLabelId"] == VVB_SHIPPING_LABEL_ID


@pytest.mark.parametrize(("request_body", "names"), [
    ({}, {"orderItems", "transport"}),
    ({"orderItems": [], "transport": {"transporterCode": "GLS"}}, {"orderItems"}),
    ({"orderItems": [{"orderItemId": str(n)} for n in range(101)], "transport": {"transporterCode": "GLS"}},
     {"orderItems"}),
    ({"orderItems": [{"orderItemId": ""}], "transport": {"transporterCode": "GLS"}}, {"orderItems[0].orderItemId"}),
    (gls(PICKUP_ITEM, quantity=0), {"orderItems[0].quantity"}),
    (gls(PICKUP_ITEM, reference="x" * 91), {"shipmentReference"}),
    (gls(PICKUP_ITEM, reference=""), {"shipmentReference"}),
    (gls(PICKUP_ITEM) | {"shippingLabelId": VVB_SHIPPING_LABEL_ID}, {"shippingLabelId"}),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}]}, {"transport"}),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}], "transport": {"trackAndTrace": "1"}},
     {"transport.transporterCode"}),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}], "transport": {"transporterCode": "POSTDUIF"}},
     {"transport.transporterCode"}),
    ({"orderItems": [{"orderItemId": PICKUP_ITEM}, {"orderItemId": PICKUP_ITEM}],
      "transport": {"transporterCode": "GLS"}}, {"orderItems[1].orderItemId"}),
    ([], {"body"}),
])
async def test_malformed_requests_are_400_naming_the_fields(api: BolApi, request_body, names):
    answer = await api.ship(request_body)
    assert answer.status == 400
    assert answer.violations == names
    assert all(p.permanent for p in api.sim.state.processes.values())  # nothing accepted


async def test_a_90_character_reference_and_no_track_and_trace_are_fine(api: BolApi):
    request = {"orderItems": [{"orderItemId": PICKUP_ITEM, "quantity": 1}], "shipmentReference": "r" * 90,
               "transport": {"transporterCode": "GLS"}}
    assert (await ship_and_settle(api, request))["status"] == "SUCCESS"


async def test_no_reference_shows_as_empty_text(api: BolApi):
    await ship_and_settle(api, gls(PICKUP_ITEM, reference=None))
    shipments = (await api.call("get-shipments", params={"order-id": "1043946570"})).body["shipments"]
    assert shipments[0]["shipmentReference"] == ""


async def test_a_lost_answer_still_ships_exactly_once(api: BolApi, session):
    status, _ = await admin(session, api.sim, "PUT", "/_sim/faults", {"spec": "create-shipment:lost:next=1"})
    assert status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.ship(gls(PICKUP_ITEM, quantity=1))
    found = await api.call("get-process-status-entity-id",
                           params={"entity-id": PICKUP_ITEM, "event-type": "CREATE_SHIPMENT"})
    assert [s["status"] for s in found.body["processStatuses"]] == ["PENDING"]
    await api.settle()
    assert api.sim.state.shipment_counts() == {PICKUP_ITEM: 1}
    assert (await api.order("1043946570")).body["orderItems"][0]["quantityShipped"] == 1


async def test_a_504_after_the_work_still_ships(start_simulator, session):
    sim = await start_simulator(faults="create-shipment:lost-504:next=1")
    api = BolApi(session, sim)
    answer = await api.ship(gls(PICKUP_ITEM, quantity=1))
    assert answer.status == 504
    await api.settle()
    assert sim.state.shipment_counts() == {PICKUP_ITEM: 1}


async def test_a_lost_answer_by_timeout_still_ships(start_simulator, session):
    sim = await start_simulator(faults="create-shipment:lost-timeout:next=1", hang_seconds=30)
    api = BolApi(session, sim)
    with pytest.raises(TimeoutError):
        await api.ship(gls(PICKUP_ITEM, quantity=1), timeout=aiohttp.ClientTimeout(total=0.3))
    await api.settle()
    assert sim.state.shipment_counts() == {PICKUP_ITEM: 1}


@pytest.mark.parametrize(("fault", "outcome"), [("failure", "FAILURE"), ("process-timeout", "TIMEOUT")])
async def test_planned_failures_and_timeouts_ship_nothing(start_simulator, session, fault, outcome):
    sim = await start_simulator(faults=f"create-shipment:{fault}:next=1")
    api = BolApi(session, sim)
    status = await ship_and_settle(api, gls(PICKUP_ITEM, quantity=1))
    assert status["status"] == outcome
    assert ("errorMessage" in status) == (outcome == "FAILURE")
    assert sim.state.shipment_counts() == {}
    assert (await ship_and_settle(api, gls(PICKUP_ITEM, quantity=1)))["status"] == "SUCCESS"


async def test_shipment_lists_by_fulfilment_method(api: BolApi):
    fbr = (await api.call("get-shipments")).body["shipments"]
    fbb = (await api.call("get-shipments", params={"fulfilment-method": "FBB"})).body["shipments"]
    assert fbr and fbb
    state = api.sim.state
    assert {state.item(s["shipmentItems"][0]["orderItemId"])[1].method for s in fbr} == {"FBR"}
    assert {state.item(s["shipmentItems"][0]["orderItemId"])[1].method for s in fbb} == {"FBB"}


async def test_shipment_list_refuses_order_id_with_fulfilment_method(api: BolApi):
    answer = await api.call("get-shipments", params={"order-id": "1043946570", "fulfilment-method": "FBR"})
    assert (answer.status, answer.violations) == (400, {"fulfilment-method"})


async def test_an_order_without_shipments_lists_nothing(api: BolApi):
    assert (await api.call("get-shipments", params={"order-id": "1043946570"})).body == {}


async def test_unknown_shipment_is_404(api: BolApi):
    assert (await api.call("get-shipment", path={"shipment-id": "1"})).status == 404


async def test_another_retailers_items_cannot_be_shipped(start_simulator, session):
    sim = await start_simulator(retailers=2)
    status = await ship_and_settle(BolApi(session, sim, "1055480"), gls(PICKUP_ITEM))
    assert status["errorMessage"] == f"Order item {PICKUP_ITEM} does not exist."
