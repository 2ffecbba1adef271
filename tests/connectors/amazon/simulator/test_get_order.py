"""getOrder: the order with its items always, blocks by includedData, packages for merchant orders."""

from __future__ import annotations

from connectors.amazon.simulator.clock import iso
from connectors.amazon.simulator.records import AMAZON, MERCHANT, PARTIALLY_SHIPPED, SHIPPED

ALL = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,FULFILLMENT_ORDERS"


def orders_of(api, **match):
    """The seeded orders of the api's seller whose attributes match."""
    return [
        o for o in api.sim.state.orders.values()
        if o.seller_id == api.seller_id and all(getattr(o, k) == v for k, v in match.items())
    ]


async def test_get_order_returns_the_order_with_its_items(api):
    order = orders_of(api)[0]
    answer = await api.get_order(order.order_id)
    assert answer.status == 200
    body = answer.body["order"]
    assert body["orderId"] == order.order_id
    assert body["lastUpdatedTime"] == iso(order.updated)
    assert len(body["orderItems"]) == len(api.sim.state.detail(order).items)
    assert not {"recipient", "fulfillment", "packages"} & body.keys()


async def test_unknown_order_is_404(api):
    answer = await api.get_order("999-9999999-9999999")
    assert answer.status == 404
    assert answer.body["errors"][0]["code"] == "NotFound"
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.5"


async def test_every_block_renders_in_the_models_shape(api):
    for order in orders_of(api)[:20]:
        answer = await api.get_order(order.order_id, ALL)
        assert answer.status == 200


async def test_shipped_merchant_order_shows_packages_covering_its_items(api):
    order = orders_of(api, fulfilled_by=MERCHANT, status=SHIPPED)[0]
    body = (await api.get_order(order.order_id, "PACKAGES,FULFILLMENT")).body["order"]
    packed: dict[str, int] = {}
    for package in body["packages"]:
        assert {"packageReferenceId", "carrier", "trackingNumber", "shipTime", "packageStatus", "packageItems"} <= package.keys()
        for item in package["packageItems"]:
            packed[item["orderItemId"]] = packed.get(item["orderItemId"], 0) + item["quantity"]
    assert packed == {i["orderItemId"]: i["quantityOrdered"] for i in body["orderItems"]}
    assert all(i["fulfillment"]["quantityUnfulfilled"] == 0 for i in body["orderItems"])


async def test_partially_shipped_order_has_some_units_open(api):
    order = orders_of(api, fulfilled_by=MERCHANT, status=PARTIALLY_SHIPPED)[0]
    items = (await api.get_order(order.order_id, "FULFILLMENT")).body["order"]["orderItems"]
    assert sum(i["fulfillment"]["quantityFulfilled"] for i in items) > 0
    assert sum(i["fulfillment"]["quantityUnfulfilled"] for i in items) > 0


async def test_amazon_fulfilled_orders_have_no_packages_block(api):
    order = orders_of(api, fulfilled_by=AMAZON)[0]
    body = (await api.get_order(order.order_id, "PACKAGES")).body["order"]
    assert "packages" not in body


async def test_seller_order_id_is_an_alias(api):
    order = next(o for o in orders_of(api) if api.sim.state.detail(o).seller_order_id)
    body = (await api.get_order(order.order_id)).body["order"]
    assert body["orderAliases"] == [
        {"aliasId": api.sim.state.detail(order).seller_order_id, "aliasType": "SELLER_ORDER_ID"}
    ]


async def test_proceeds_add_up(api):
    order = orders_of(api, fulfilled_by=MERCHANT)[0]
    body = (await api.get_order(order.order_id, "PROCEEDS")).body["order"]
    parts = sum(float(b["subtotal"]["amount"]) for b in body["proceeds"]["breakdowns"])
    assert round(parts, 2) == float(body["proceeds"]["grandTotal"]["amount"])


async def test_cancellation_block_for_cancelled_orders(api):
    order = orders_of(api, status="CANCELLED")[0]
    items = (await api.get_order(order.order_id, "CANCELLATION")).body["order"]["orderItems"]
    assert all("cancellationExecution" in i["cancellation"] for i in items)
