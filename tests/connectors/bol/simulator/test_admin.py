"""The admin API under /_sim/: what tests, the contract kit's scenarios, benchmarks and the demo drive."""

from __future__ import annotations

import pytest

from connectors.bol.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_RETAILER_ID
from tests.connectors.bol.simulator.conftest import START, BolApi, admin, gls


async def test_state_summarises_the_simulator(session, sim):
    status, body = await admin(session, sim, "GET", "/_sim/state")
    assert status == 200
    assert body["now"] == "2026-03-02T12:00:00Z" and body["clockFrozen"] is True
    (retailer,) = body["retailers"]
    assert (retailer["retailerId"], retailer["orders"]) == (DEFAULT_RETAILER_ID, 47)
    assert retailer["clients"] == [{"clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET,
                                    "deleted": False}]
    assert body["processStatuses"] == {"pending": 1, "settled": 3}  # the demo's
    assert body["signatureKey"] == "1"


async def test_clock_advances_and_settles_what_became_due(api: BolApi, session):
    accepted = (await api.ship(gls("6042823871"))).body
    status, body = await admin(session, api.sim, "POST", "/_sim/clock/advance", {"seconds": 5})
    assert (status, body["now"]) == (200, "2026-03-02T12:00:05Z")
    assert api.sim.state.processes[accepted["processStatusId"]].status == "SUCCESS"
    assert (await admin(session, api.sim, "POST", "/_sim/clock/advance", {"seconds": -1}))[0] == 400


async def test_config_changes_while_running(session, sim):
    status, body = await admin(session, sim, "PATCH", "/_sim/config",
                               {"settleDelay": None, "retryInterval": 0.5, "deliveryRetries": 2, "httpsOnly": True})
    assert status == 200
    assert (body["settleDelay"], body["retryInterval"], body["deliveryRetries"], body["httpsOnly"]) == (
        None, 0.5, 2, True)
    assert sim.state.config.settle_delay is None
    assert (await admin(session, sim, "PATCH", "/_sim/config", {"seed": 3}))[0] == 400
    assert (await admin(session, sim, "PATCH", "/_sim/config", {"rateLimits": None}))[0] == 400


async def test_manual_settling_with_a_chosen_outcome(api: BolApi, session):
    api.sim.state.config.settle_delay = None
    first = (await api.ship(gls("6042823871"))).body["processStatusId"]
    second = (await api.ship(gls("2070906705"))).body["processStatusId"]
    await api.settle(3600)
    assert api.sim.state.processes[first].status == "PENDING"
    status, body = await admin(session, api.sim, "POST", f"/_sim/process-statuses/{first}/settle",
                               {"status": "FAILURE", "errorMessage": "Track and trace is not valid."})
    assert (status, body["status"], body["errorMessage"]) == (200, "FAILURE", "Track and trace is not valid.")
    status, body = await admin(session, api.sim, "POST", f"/_sim/process-statuses/{second}/settle", {})
    assert (status, body["status"]) == (200, "SUCCESS")
    assert api.sim.state.shipment_counts() == {"2070906705": 1}
    assert (await admin(session, api.sim, "POST", f"/_sim/process-statuses/{second}/settle", {}))[0] == 400
    assert (await admin(session, api.sim, "POST", "/_sim/process-statuses/nope/settle", {}))[0] == 404


async def test_settle_all_and_expire(api: BolApi, session):
    ids = [(await api.ship(gls(item))).body["processStatusId"] for item in ("6042823871", "2070906705")]
    status, body = await admin(session, api.sim, "POST", "/_sim/process-statuses/settle")
    assert (status, body["settled"]) == (200, 2)
    status, body = await admin(session, api.sim, "POST", f"/_sim/process-statuses/{ids[0]}/expire")
    assert (status, body["visible"]) == (200, False)
    assert (await api.status(ids[0])).status == 404
    _, listed = await admin(session, api.sim, "GET", "/_sim/process-statuses?eventType=CREATE_SHIPMENT")
    assert [(s["processStatusId"], s["visible"]) for s in listed["processStatuses"]] == [
        ("1", True), (ids[0], False), (ids[1], True)]


async def test_add_an_order_with_chosen_items(api: BolApi, session):
    status, body = await admin(session, api.sim, "POST", "/_sim/orders", {
        "orderId": "C7K1234LP5", "country": "BE", "pickupPointName": "bol.com afhaalpunt: Gent",
        "shipmentDetails": {"firstName": "Zoë"},
        "items": [{"orderItemId": "3000000001", "quantity": 2, "title": "Fietsbel", "unitPrice": 7.5},
                  {"orderItemId": "3000000002", "method": "FBB"},
                  {"orderItemId": "3000000003", "distributionParty": "BOL"}],
    })
    assert status == 201
    order = (await api.order("C7K1234LP5")).body
    assert order == body["order"]
    assert (order["pickupPoint"], order["shipmentDetails"]["pickupPointName"]) == (True, "bol.com afhaalpunt: Gent")
    assert (order["shipmentDetails"]["countryCode"], order["shipmentDetails"]["firstName"]) == ("BE", "Zoë")
    assert [(i["orderItemId"], i["fulfilment"]["method"], i["fulfilment"].get("distributionParty"))
            for i in order["orderItems"]] == [("3000000001", "FBR", "RETAILER"), ("3000000002", "FBB", "BOL"),
                                              ("3000000003", "FBR", "BOL")]
    assert order["orderPlacedDateTime"] == "2026-03-02T13:00:00+01:00"
    assert api.sim.state.item("3000000003")[1].shipping_label_id


@pytest.mark.parametrize("body", [
    {"colour": "red"}, {"shape": "teleport"}, {"orderId": "1043946570"}, {"retailerId": "1"},
    {"items": []}, {"items": [{"quantity": 0}]}, {"items": [{"orderItemId": "6042823871"}]},
])
async def test_bad_orders_are_refused(session, sim, body):
    status, _ = await admin(session, sim, "POST", "/_sim/orders", body)
    assert status in (400, 404)
    assert len(sim.state.orders) == 47


async def test_generate_orders_of_a_shape(api: BolApi, session):
    status, body = await admin(session, api.sim, "POST", "/_sim/orders/generate", {"count": 3, "shape": "pickup"})
    assert status == 201 and len(body["orderIds"]) == 3
    for order_id in body["orderIds"]:
        assert (await api.order(order_id)).body["pickupPoint"] is True
    assert (await admin(session, api.sim, "POST", "/_sim/orders/generate", {"count": 0}))[0] == 400


async def test_order_view_shows_shipments_and_counts(api: BolApi, session):
    await api.ship(gls("6107331383"))
    await api.settle()
    status, body = await admin(session, api.sim, "GET", "/_sim/orders/1042831430")
    assert status == 200
    assert body["retailerId"] == DEFAULT_RETAILER_ID
    assert body["shipmentCounts"] == {"6107331383": 1}
    made = [s for s in body["shipments"] if s["processStatusId"]]
    assert [s["shipmentReference"] for s in made] == ["parcel-1"]
    assert len(body["shipments"]) == 3  # two seeded
    assert (await admin(session, api.sim, "GET", "/_sim/orders/nope"))[0] == 404


async def test_shipments_and_counts(api: BolApi, session):
    for item in ("6042823871", "6042823871", "2070906705"):
        await api.ship(gls(item))
    await api.settle()
    _, counts = await admin(session, api.sim, "GET", "/_sim/shipment-counts")
    assert counts == {"orderItems": {"6042823871": 2, "2070906705": 1}}
    _, one = await admin(session, api.sim, "GET", "/_sim/shipment-counts?orderId=A4K8290LP0")
    assert one == {"orderItems": {"2070906705": 1}}
    _, made = await admin(session, api.sim, "GET", "/_sim/shipments?made=true&orderItemId=6042823871")
    assert len(made["shipments"]) == 2
    _, everything = await admin(session, api.sim, "GET", "/_sim/shipments?orderId=1042831430")
    assert [s["processStatusId"] for s in everything["shipments"]] == [None, None]


async def test_cancel_units_of_an_item(api: BolApi, session):
    status, body = await admin(session, api.sim, "POST", "/_sim/order-items/6042823871/cancel", {"quantity": 2})
    assert status == 200
    item = body["order"]["orderItems"][0]
    assert (item["quantityCancelled"], item["quantity"]) == (2, 3)
    assert (await admin(session, api.sim, "POST", "/_sim/order-items/6042823871/cancel", {"quantity": 2}))[0] == 400
    assert (await admin(session, api.sim, "POST", "/_sim/order-items/nope/cancel", {}))[0] == 404


async def test_item_changes(api: BolApi, session):
    status, body = await admin(session, api.sim, "PATCH", "/_sim/order-items/2070906705",
                               {"method": "FBR", "distributionParty": "BOL"})
    assert status == 200
    assert body["order"]["orderItems"][0]["fulfilment"]["distributionParty"] == "BOL"
    assert api.sim.state.item("2070906705")[1].shipping_label_id
    assert (await admin(session, api.sim, "PATCH", "/_sim/order-items/2070906705", {"method": "VVB"}))[0] == 400


async def test_retailer_credentials_and_tokens(session, start_simulator):
    sim = await start_simulator(retailers=2)
    _, body = await admin(session, sim, "GET", "/_sim/retailers")
    assert [r["retailerId"] for r in body["retailers"]] == ["1055479", "1055480"]
    status, client = await admin(session, sim, "POST", "/_sim/clients", {"retailerId": "1055480"})
    assert (status, client["retailerId"]) == (201, "1055480") and client["clientSecret"]
    assert (await admin(session, sim, "POST", "/_sim/clients", {"retailerId": "9"}))[0] == 404
    token = sim.state.token_for()
    status, body = await admin(session, sim, "POST", "/_sim/tokens/expire", {})
    assert (status, body["expired"]) == (200, 1)
    assert sim.state.tokens[token].expires == sim.state.clock.time()
    assert (await admin(session, sim, "PATCH", "/_sim/retailers/1055480", {"active": "no"}))[0] == 400


async def test_calls_are_counted_per_operation(api: BolApi, session):
    await api.orders()
    await api.orders()
    await api.order("A4K8290LP0")
    _, body = await admin(session, api.sim, "GET", "/_sim/calls")
    assert body == {"calls": {"get-orders": 2, "get-order": 1}}


async def test_deliveries_and_subscriptions_are_listed(api: BolApi, session, receiver):
    answer = await api.call("post-push-notification-subscription",
                            json={"resources": ["ORDER"], "url": receiver.url, "subscriptionType": "WEBHOOK"})
    await api.settle()
    await admin(session, api.sim, "POST", "/_sim/orders", {"orderId": "D1K0000LP1"})
    await receiver.wait(1)
    await api.sim.state.wait_for(lambda: api.sim.state.deliveries[0].state == "delivered")
    _, body = await admin(session, api.sim, "GET", "/_sim/deliveries?resource=ORDER&state=delivered")
    (delivery,) = body["deliveries"]
    assert (delivery["type"], delivery["resourceId"], delivery["subscriptionId"]) == (
        "ORDER_CREATED", "D1K0000LP1", answer.body["entityId"])
    assert delivery["body"].encode() == receiver.received[0].body
    assert delivery["signature"] == receiver.received[0].headers["Signature"]
    assert [a["status"] for a in delivery["attempts"]] == [200]
    _, subscriptions = await admin(session, api.sim, "GET", "/_sim/subscriptions")
    assert subscriptions["subscriptions"][0]["disabledReason"] is None
    assert (await admin(session, api.sim, "POST", "/_sim/deliveries/99/redeliver"))[0] == 404
    assert (await admin(session, api.sim, "POST", "/_sim/subscriptions/99/disable"))[0] == 404


async def test_signature_keys_over_http(session, sim):
    _, body = await admin(session, sim, "GET", "/_sim/signature-keys")
    assert body["current"] == "1" and [k["id"] for k in body["signatureKeys"]] == ["1"]
    assert (await admin(session, sim, "POST", "/_sim/signature-keys/rotate", {"retireOld": "yes"}))[0] == 400


async def test_reset_restores_the_seeded_start(api: BolApi, session):
    sim = api.sim
    seeded = sorted(sim.state.orders)
    await api.ship(gls("6042823871"))
    await admin(session, sim, "POST", "/_sim/orders", {})
    await admin(session, sim, "PATCH", "/_sim/config", {"rateLimits": False})
    sim.state.rotate_keys()
    sim.state.clock.advance(999)
    status, _ = await admin(session, sim, "POST", "/_sim/reset")
    assert status == 200
    assert sorted(sim.state.orders) == seeded
    assert sim.state.shipment_counts() == {} and len(sim.state.processes) == 4
    assert sim.state.config.rate_limits is True and sim.state.keys.current_id == "1"
    assert sim.state.clock.time() == START.timestamp()


async def test_unknown_admin_routes_answer_json(session, sim):
    assert await admin(session, sim, "GET", "/_sim/nothing") == (404, {"error": "no admin route /_sim/nothing"})


@pytest.mark.parametrize("path", ["/_sim/state", "/_sim/retailers", "/_sim/clock", "/_sim/tokens", "/_sim/calls",
                                  "/_sim/orders", "/_sim/shipments", "/_sim/shipment-counts",
                                  "/_sim/process-statuses", "/_sim/faults", "/_sim/subscriptions",
                                  "/_sim/signature-keys", "/_sim/deliveries"])
async def test_read_routes_answer_json_objects(session, sim, path):
    status, body = await admin(session, sim, "GET", path)
    assert status == 200 and isinstance(body, dict)


async def test_new_orders_in_process(api: BolApi):
    state = api.sim.state
    plain = state.new_order()
    assert [(i.method, i.distribution_party, i.fulfilment_status) for i in plain.items] == [("FBR", "RETAILER", "OPEN")]
    vvb = state.new_order(shape="vvb", orderId="V1K0000LP2")
    assert vvb.order_id == "V1K0000LP2" and vvb.items[0].vvb and vvb.items[0].shipping_label_id
    assert (await api.order(plain.order_id)).status == 200


async def test_duplicate_item_ids_in_a_new_order_are_refused(session, sim):
    body = {"items": [{"orderItemId": "3000000009"}, {"orderItemId": "3000000009"}]}
    assert (await admin(session, sim, "POST", "/_sim/orders", body))[0] == 400
    assert "3000000009" not in sim.state.items


async def test_an_address_change_counts_as_a_change_of_every_item(api: BolApi, session):
    api.sim.state.clock.advance(600)
    status, body = await admin(session, api.sim, "PATCH", "/_sim/orders/1042831430",
                               {"shipmentDetails": {"city": "BRUXELLES"}})
    assert status == 200
    assert body["order"]["shipmentDetails"]["city"] == "BRUXELLES"
    assert {i["latestChangedDateTime"] for i in body["order"]["orderItems"]} == {"2026-03-02T13:10:00+01:00"}
    api.renew()
    recent = await api.orders(**{"change-interval-minute": 1, "status": "ALL"})
    assert [o["orderId"] for o in recent.body["orders"]] == ["1042831430"]
    assert (await admin(session, api.sim, "PATCH", "/_sim/orders/1042831430", {"city": "x"}))[0] == 400
