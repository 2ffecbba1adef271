"""What the simulator shows of work done outside the hub: packages made in Seller Central, orders
whose salesChannel names no marketplace, every marketplace the seller sells in.

Every SP-API answer goes through ``SpApi.call``, which validates it strictly against the models.
"""

from __future__ import annotations

from connectors.amazon.simulator.records import MERCHANT, PARTIALLY_SHIPPED
from tests.connectors.amazon.simulator.conftest import SpApi
from tests.connectors.amazon.simulator.test_admin import admin

ITEM = "50000000000001"


async def test_a_package_made_in_seller_central_shows_on_the_order_and_counts_as_shipped(session, sim, api: SpApi):
    status, body = await admin(session, sim, "POST", "/_sim/orders", {
        "items": [{"orderItemId": ITEM, "quantity": 3}],
        "packages": [{"carrierCode": "DHL", "trackingNumber": "00340434161094042557", "items": {ITEM: 1}}],
    })
    assert status == 201
    order_id = body["order"]["orderId"]

    answer = await api.get_order(order_id, "FULFILLMENT,PACKAGES")

    order = answer.body["order"]
    assert order["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert order["orderItems"][0]["fulfillment"] == {"quantityFulfilled": 1, "quantityUnfulfilled": 2}
    [package] = order["packages"]
    assert (package["packageReferenceId"], package["carrier"], package["trackingNumber"]) == (
        "1", "DHL", "00340434161094042557"
    )
    assert package["packageItems"] == [{"orderItemId": ITEM, "quantity": 1}]
    assert body["packageOrigins"] == {"1": "seller_central"}
    assert sim.state.confirmations_of(order_id) == [], "not a confirmShipment call"


async def test_packages_added_over_http_take_the_next_number_or_the_one_given(session, sim, api: SpApi):
    order = sim.state.add_order(items=[{"orderItemId": ITEM, "quantity": 4}])

    first = await admin(session, sim, "POST", f"/_sim/orders/{order.order_id}/packages", {})
    given = await admin(session, sim, "POST", f"/_sim/orders/{order.order_id}/packages", {
        "packageReferenceId": "7", "carrierCode": "Other", "carrierName": "Bpost Express", "items": {ITEM: 2},
    })

    assert (first[0], given[0]) == (201, 201)
    packages = (await api.get_order(order.order_id, "PACKAGES")).body["order"]["packages"]
    assert [(p["packageReferenceId"], p["carrier"]) for p in packages] == [("1", "DHL"), ("7", "Bpost Express")]
    assert (await admin(session, sim, "POST", f"/_sim/orders/{order.order_id}/packages", {"items": {ITEM: 2}}))[0] == 400
    assert (await admin(session, sim, "POST", f"/_sim/orders/{order.order_id}/packages", {"packageReferenceId": "7"}))[0] == 400
    assert (await admin(session, sim, "POST", "/_sim/orders/999-0000000-0000000/packages", {}))[0] == 404


async def test_a_confirmation_under_the_reference_of_a_package_made_elsewhere_overwrites_it(sim, api: SpApi):
    # What Amazon does, and why the hub must never send such a reference.
    order = sim.state.add_order(items=[{"orderItemId": ITEM, "quantity": 2}])
    sim.state.add_package(order.order_id, {ITEM: 1}, carrier_code="DHL", tracking_number="DHL-1")
    payload = {
        "marketplaceId": "A1805IZSGTT6HS",
        "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "GLS", "trackingNumber": "GLS-1",
            "shipDate": "2026-03-02T12:00:00Z", "orderItems": [{"orderItemId": ITEM, "quantity": 1}],
        },
    }

    assert (await api.confirm(order.order_id, payload)).status == 204

    [package] = (await api.get_order(order.order_id, "PACKAGES")).body["order"]["packages"]
    assert (package["carrier"], package["trackingNumber"]) == ("GLS", "GLS-1")


def test_seeded_partly_shipped_orders_carry_packages_made_elsewhere(sim):
    seeded = [o for o in sim.state.orders.values() if o.fulfilled_by == MERCHANT and o.status == PARTIALLY_SHIPPED]

    assert seeded
    for order in seeded:
        packages = sim.state.detail(order).packages
        assert packages and all(p.origin == "seller_central" for p in packages.values())


async def test_an_order_may_come_without_a_marketplace_in_its_sales_channel(session, sim, api: SpApi):
    status, body = await admin(session, sim, "POST", "/_sim/orders", {"marketplace": "DE", "marketplaceIdShown": False})
    assert status == 201
    order_id = body["order"]["orderId"]
    sim.state.clock.advance(300)

    found = await api.search(lastUpdatedAfter="2026-03-02T11:00:00Z", marketplaceIds="A1PA6795UKMFR9")
    elsewhere = await api.search(lastUpdatedAfter="2026-03-02T11:00:00Z", marketplaceIds="A1805IZSGTT6HS")

    [order] = [o for o in found.body["orders"] if o["orderId"] == order_id]
    assert order["salesChannel"] == {"channelName": "AMAZON"}
    assert order_id not in {o["orderId"] for o in elsewhere.body["orders"]}, "it still belongs to DE"


async def test_participations_list_every_marketplace_the_seller_sells_in(start_simulator, session):
    sim = await start_simulator(marketplaces=["NL", "DE", "FR", "BE"], sellers=1)
    api = SpApi(session, sim, sim.state.first_seller.seller_id)

    answer = await api.call("getMarketplaceParticipations")

    assert answer.status == 200
    assert [(e["marketplace"]["countryCode"], e["participation"]["isParticipating"]) for e in answer.body["payload"]] == [
        ("NL", True), ("DE", True), ("FR", True), ("BE", True)
    ]
