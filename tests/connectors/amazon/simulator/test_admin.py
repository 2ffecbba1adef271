"""The admin API under /_sim/: what tests, benchmarks and the demo drive over HTTP."""

from __future__ import annotations

import pytest

from connectors.amazon.simulator.clock import iso
from tests.connectors.amazon.simulator.conftest import START, SpApi


async def admin(session, sim, method, path, json=None):
    """Call the admin API: status and JSON body."""
    async with session.request(method, sim.url + path, json=json) as response:
        return response.status, await response.json()


async def test_state_summarises_the_simulator(session, sim):
    status, body = await admin(session, sim, "GET", "/_sim/state")
    assert status == 200
    assert body["now"] == iso(START.timestamp())
    assert [s["sellerId"] for s in body["sellers"]] == list(sim.state.sellers)
    assert all(s["orders"] == 50 for s in body["sellers"])
    assert body["app"]["applicationId"] == "amzn1.sellerapps.app.hub-simulator"


async def test_clock_advances_over_http(session, sim):
    status, body = await admin(session, sim, "POST", "/_sim/clock/advance", {"seconds": 180})
    assert (status, body["now"]) == (200, iso(START.timestamp() + 180))
    assert sim.state.clock.time() == START.timestamp() + 180


async def test_clock_refuses_to_go_back(session, sim):
    status, _ = await admin(session, sim, "POST", "/_sim/clock/advance", {"seconds": -5})
    assert status == 400


async def test_add_order_over_http(session, sim):
    seller = list(sim.state.sellers)[1]
    status, body = await admin(session, sim, "POST", "/_sim/orders", {
        "sellerId": seller, "marketplace": "DE", "programs": ["PRIME"],
        "items": [{"title": "Kaffeemühle", "quantity": 2, "unitPrice": "34.99"}],
        "address": {"name": "Jürgen Groß", "city": "Köln"},
    })
    assert status == 201
    order = body["order"]
    assert body["sellerId"] == seller
    assert order["salesChannel"]["marketplaceId"] == "A1PA6795UKMFR9"
    assert order["orderItems"][0]["product"]["title"] == "Kaffeemühle"
    assert order["recipient"]["deliveryAddress"]["name"] == "Jürgen Groß"
    assert order["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert order["createdTime"] == order["lastUpdatedTime"] == iso(START.timestamp())


async def test_add_order_rejects_unknown_fields_and_marketplaces(session, sim):
    assert (await admin(session, sim, "POST", "/_sim/orders", {"colour": "red"}))[0] == 400
    assert (await admin(session, sim, "POST", "/_sim/orders", {"marketplace": "FR"}))[0] == 400


async def test_change_order_bumps_its_last_update(session, sim):
    order = next(iter(sim.state.orders.values()))
    sim.state.clock.advance(300)
    status, body = await admin(session, sim, "PATCH", f"/_sim/orders/{order.order_id}",
                               {"address": {"addressLine2": "Hinterhaus"}, "status": "UNSHIPPED"})
    assert status == 200
    assert body["order"]["recipient"]["deliveryAddress"]["addressLine2"] == "Hinterhaus"
    assert body["order"]["lastUpdatedTime"] == iso(START.timestamp() + 300)


async def test_cancel_order(session, sim):
    order = next(o for o in sim.state.orders.values() if o.status == "UNSHIPPED")
    status, body = await admin(session, sim, "POST", f"/_sim/orders/{order.order_id}/cancel", {"reason": "NO_INVENTORY"})
    assert status == 200
    assert body["order"]["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert sim.state.order(order.order_id).status == "CANCELLED"


async def test_unknown_order_is_404(session, sim):
    assert (await admin(session, sim, "GET", "/_sim/orders/nope"))[0] == 404


async def test_list_orders_filters(session, sim):
    status, body = await admin(session, sim, "GET", "/_sim/orders?status=UNSHIPPED&fulfilledBy=MERCHANT&limit=3")
    assert status == 200
    assert len(body["orders"]) == 3
    assert {(o["status"], o["fulfilledBy"]) for o in body["orders"]} == {("UNSHIPPED", "MERCHANT")}


async def test_confirmations_are_readable(session, api: SpApi):
    sim = api.sim
    order = sim.state.add_order(api.seller_id, items=[{"quantity": 1, "orderItemId": "11111111111111"}])
    market = "A1805IZSGTT6HS" if order.marketplace == "NL" else "A1PA6795UKMFR9"
    request = {"marketplaceId": market, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "GLS", "trackingNumber": "123",
        "shipDate": "2026-03-02T10:00:00Z", "orderItems": [{"orderItemId": "11111111111111", "quantity": 1}]}}
    assert (await api.confirm(order.order_id, request)).status == 204
    status, body = await admin(session, sim, "GET", f"/_sim/confirmations?orderId={order.order_id}")
    assert status == 200
    assert body["confirmations"] == [{
        "time": iso(START.timestamp()), "sellerId": api.seller_id, "orderId": order.order_id,
        "packageReferenceId": "1", "action": "created", "payload": request,
    }]
    _, full = await admin(session, sim, "GET", f"/_sim/orders/{order.order_id}")
    assert full["order"]["packages"][0]["trackingNumber"] == "123"
    assert len(full["confirmations"]) == 1


async def test_revoke_over_http_stops_the_sellers_tokens(session, api: SpApi):
    status, body = await admin(session, api.sim, "POST", f"/_sim/sellers/{api.seller_id}/revoke")
    assert (status, body["revokedGrants"]) == (200, 1)
    assert (await api.call("getMarketplaceParticipations")).status == 403


async def test_grant_shortcut_returns_working_tokens(session, sim):
    seller = sim.state.first_seller.seller_id
    status, body = await admin(session, sim, "POST", f"/_sim/sellers/{seller}/grant")
    assert status == 200
    assert body["refresh_token"].startswith("Atzr|")
    assert sim.state.authenticate(body["access_token"]) == seller


async def test_unknown_seller_is_404(session, sim):
    assert (await admin(session, sim, "POST", "/_sim/sellers/ANOPE/revoke"))[0] == 404


async def test_app_settings_change_over_http(session, sim):
    status, body = await admin(session, sim, "PATCH", "/_sim/app",
                               {"draft": True, "clientSecret": "new", "deliveryRole": False})
    assert status == 200
    assert (body["draft"], body["clientSecret"], body["deliveryRole"]) == (True, "new", False)
    assert sim.state.config.draft is True
    assert (await admin(session, sim, "PATCH", "/_sim/app", {"seed": 5}))[0] == 400


async def test_faults_set_add_list_and_clear(session, sim):
    status, body = await admin(session, sim, "PUT", "/_sim/faults", {"spec": "searchOrders:503:0.2"})
    assert (status, body["faults"]) == (200, [{"operation": "searchOrders", "kind": "503", "rate": 0.2, "delay": 2.0}])
    _, body = await admin(session, sim, "POST", "/_sim/faults",
                          {"faults": [{"operation": "getOrder", "kind": "timeout", "next": 3}]})
    assert [f["operation"] for f in body["faults"]] == ["searchOrders", "getOrder"]
    _, body = await admin(session, sim, "GET", "/_sim/faults")
    assert len(body["faults"]) == 2
    _, body = await admin(session, sim, "DELETE", "/_sim/faults")
    assert body["faults"] == [] and sim.state.faults.rules == []


async def test_bad_fault_spec_is_400(session, sim):
    assert (await admin(session, sim, "PUT", "/_sim/faults", {"spec": "searchOrders:418"}))[0] == 400


async def test_reset_restores_the_seeded_start(session, sim):
    first = next(iter(sim.state.orders))
    seeded = (sim.state.order(first).status, sim.state.order(first).updated)
    sim.state.cancel_order(first)
    sim.state.grant()
    sim.state.config.draft = True
    sim.state.clock.advance(999)
    status, _ = await admin(session, sim, "POST", "/_sim/reset")
    assert status == 200
    assert (sim.state.order(first).status, sim.state.order(first).updated) == seeded
    assert sim.state.grants == {}
    assert sim.state.config.draft is False
    assert sim.state.clock.time() == START.timestamp()


@pytest.mark.parametrize("path", ["/_sim/state", "/_sim/sellers", "/_sim/clock", "/_sim/app", "/_sim/confirmations"])
async def test_read_routes_answer_json(session, sim, path):
    status, body = await admin(session, sim, "GET", path)
    assert status == 200 and isinstance(body, dict)
