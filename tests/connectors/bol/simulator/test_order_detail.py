"""``GET /retailer/orders/{order-id}``: the full Order for every shape the seed makes, and the demo's orders."""

from __future__ import annotations

from connectors.bol.simulator.seed import VVB_ORDER_ID, VVB_ORDER_ITEM_ID
from tests.connectors.bol.simulator.conftest import BolApi


async def test_every_order_of_the_world_validates(start_simulator, session):
    sim = await start_simulator(orders_per_retailer=90, rate_limits=False)
    api = BolApi(session, sim)
    for order_id in sim.state.orders:
        answer = await api.order(order_id)
        assert (answer.status, answer.body["orderId"]) == (200, order_id)


async def test_the_world_holds_every_shape_bol_com_sends(start_simulator, session):
    sim = await start_simulator(rate_limits=False)
    api = BolApi(session, sim)
    orders = [(await api.order(order_id)).body for order_id in sim.state.orders]
    items = [item for order in orders for item in order["orderItems"]]
    fulfilments = {(i["fulfilment"]["method"], i["fulfilment"].get("distributionParty")) for i in items}
    assert {("FBR", "RETAILER"), ("FBB", "BOL"), ("FBR", "BOL"), ("FBR", None)} <= fulfilments
    assert any(i["cancellationRequest"] for i in items)
    assert any(0 < i["quantityShipped"] < i["quantity"] for i in items)
    assert any(o["pickupPoint"] and o["shipmentDetails"]["pickupPointName"] for o in orders)
    assert any(not o["orderId"].isdigit() for o in orders)
    belgian = [o["shipmentDetails"] for o in orders if o["shipmentDetails"]["countryCode"] == "BE"]
    assert belgian and all(d["zipCode"].isdigit() and len(d["zipCode"]) == 4 for d in belgian)
    assert any("deliveryPhoneNumber" in o["shipmentDetails"] for o in orders)
    assert any("billingDetails" not in o for o in orders) and any("billingDetails" in o for o in orders)
    assert all(o["shipmentDetails"]["email"].endswith("@verkopen.bol.com") for o in orders)
    assert any({f["method"] for f in (i["fulfilment"] for i in o["orderItems"])} == {"FBR", "FBB"} for o in orders)


async def test_demo_pickup_point_order(api: BolApi):
    order = (await api.order("1043946570")).body
    assert order["pickupPoint"] is True
    assert order["shipmentDetails"]["pickupPointName"] == "Albert Heijn: UTRECHT"
    item = order["orderItems"][0]
    assert (item["orderItemId"], item["quantity"], item["quantityShipped"]) == ("6042823871", 3, 0)
    assert item["product"] == {"ean": "8717418510749", "title": "Star Wars - The happy family 2"}
    assert item["totalPrice"] == 33.0


async def test_demo_partly_shipped_belgian_order(api: BolApi):
    order = (await api.order("1042831430")).body
    assert (order["shipmentDetails"]["countryCode"], order["shipmentDetails"]["zipCode"]) == ("BE", "1200")
    quantities = {i["orderItemId"]: (i["quantity"], i["quantityShipped"]) for i in order["orderItems"]}
    assert quantities == {"6107331382": (1, 1), "6107331383": (3, 2)}
    assert order["billingDetails"]["vatNumber"] == "NL123456789B01"


async def test_demo_fbb_and_vvb_orders(api: BolApi):
    fbb = (await api.order("1043965710")).body["orderItems"][0]
    assert (fbb["fulfilment"]["method"], fbb["quantityShipped"], fbb["quantityCancelled"]) == ("FBB", 1, 1)
    vvb = (await api.order(VVB_ORDER_ID)).body["orderItems"][0]
    assert vvb["orderItemId"] == VVB_ORDER_ITEM_ID
    assert (vvb["fulfilment"]["method"], vvb["fulfilment"]["distributionParty"]) == ("FBR", "BOL")


async def test_alphanumeric_demo_order_with_an_exact_delivery_date(api: BolApi):
    order = (await api.order("B3K8290LP0")).body
    assert order["orderItems"][0]["fulfilment"]["latestDeliveryDate"]
    assert (await api.order("A4K8290LP0")).status == 200


async def test_unknown_order_is_404(api: BolApi):
    answer = await api.order("9999999999")
    assert answer.status == 404
    assert "9999999999" in answer.body["detail"]
