"""confirmShipment: validation as the model says, package edits, status transitions, read-back."""

from __future__ import annotations

import copy

import pytest

from connectors.amazon.simulator.clock import iso
from connectors.amazon.simulator.records import CARRIER_CODES

DE = "A1PA6795UKMFR9"


@pytest.fixture
def order(api):
    """A fresh unshipped DE order with two lines: 2 units and 1 unit."""
    return api.sim.state.add_order(api.seller_id, marketplace_code="DE",
                                   items=[{"quantity": 2, "orderItemId": "11111111111111"},
                                          {"quantity": 1, "orderItemId": "22222222222222"}])


def payload(ref="1", items=(("11111111111111", 2), ("22222222222222", 1)), **changes):
    """A confirmShipment body for ``order`` (GLS, all units unless ``items`` says otherwise)."""
    detail = {
        "packageReferenceId": ref,
        "carrierCode": "GLS",
        "trackingNumber": "12345678901",
        "shipDate": "2026-03-02T10:00:00Z",
        "orderItems": [{"orderItemId": item_id, "quantity": qty} for item_id, qty in items],
    }
    detail.update(changes)
    return {"marketplaceId": DE, "packageDetail": detail}


async def rejected(api, order_id, body, code="InvalidInput"):
    """Confirm, expect 400 with ``code``, return the message."""
    answer = await api.confirm(order_id, body)
    assert answer.status == 400, answer.body
    assert answer.body["errors"][0]["code"] == code
    assert answer.headers["x-amzn-RateLimit-Limit"] == "2"
    return answer.body["errors"][0]["message"]


async def status_of(api, order_id):
    """The order's fulfillmentStatus as getOrder reports it."""
    body = (await api.get_order(order_id, "FULFILLMENT")).body["order"]
    return body["fulfillment"]["fulfillmentStatus"]


async def test_full_confirmation_is_204_and_ships_the_order(api, order):
    answer = await api.confirm(order.order_id, payload())
    assert (answer.status, answer.body) == (204, None)
    assert answer.headers["x-amzn-RateLimit-Limit"] == "2"
    assert await status_of(api, order.order_id) == "SHIPPED"


async def test_partial_then_rest_goes_unshipped_partially_shipped_shipped(api, order):
    assert await status_of(api, order.order_id) == "UNSHIPPED"
    await api.confirm(order.order_id, payload("1", items=[("11111111111111", 1)]))
    assert await status_of(api, order.order_id) == "PARTIALLY_SHIPPED"
    await api.confirm(order.order_id, payload("2", items=[("11111111111111", 1), ("22222222222222", 1)]))
    assert await status_of(api, order.order_id) == "SHIPPED"


async def test_packages_show_on_get_order(api, order):
    await api.confirm(order.order_id, payload(carrierCode="Other", carrierName="GLS Parcel",
                                              shippingMethod="BusinessParcel"))
    body = (await api.get_order(order.order_id, "PACKAGES")).body["order"]
    assert body["packages"] == [{
        "packageReferenceId": "1",
        "createdTime": iso(api.sim.state.clock.time()),
        "packageStatus": {"status": "SHIPPED"},
        "carrier": "GLS Parcel",
        "shipTime": "2026-03-02T10:00:00Z",
        "shippingService": "BusinessParcel",
        "trackingNumber": "12345678901",
        "packageItems": [{"orderItemId": "11111111111111", "quantity": 2},
                         {"orderItemId": "22222222222222", "quantity": 1}],
    }]


async def test_same_package_reference_edits_the_parcel(api, order):
    await api.confirm(order.order_id, payload(trackingNumber="111"))
    answer = await api.confirm(order.order_id, payload(trackingNumber="222"))
    assert answer.status == 204
    packages = (await api.get_order(order.order_id, "PACKAGES")).body["order"]["packages"]
    assert [(p["packageReferenceId"], p["trackingNumber"]) for p in packages] == [("1", "222")]
    assert [c.action for c in api.sim.state.confirmations_of(order.order_id)] == ["created", "updated"]


async def test_resending_a_package_replaces_its_quantities(api, order):
    await api.confirm(order.order_id, payload(items=[("11111111111111", 1)]))
    answer = await api.confirm(order.order_id, payload(items=[("11111111111111", 2), ("22222222222222", 1)]))
    assert answer.status == 204
    assert await status_of(api, order.order_id) == "SHIPPED"


async def test_edit_that_takes_units_out_moves_the_order_back(api, order):
    await api.confirm(order.order_id, payload())
    await api.confirm(order.order_id, payload(items=[("11111111111111", 1)]))
    assert await status_of(api, order.order_id) == "PARTIALLY_SHIPPED"


async def test_confirmation_bumps_last_updated_time_to_now(api, order):
    api.sim.state.clock.advance(600)
    await api.confirm(order.order_id, payload())
    body = (await api.get_order(order.order_id)).body["order"]
    assert body["lastUpdatedTime"] == iso(api.sim.state.clock.time())


async def test_more_units_than_open_is_400(api, order):
    await api.confirm(order.order_id, payload("1", items=[("11111111111111", 2)]))
    message = await rejected(api, order.order_id, payload("2", items=[("11111111111111", 1)]))
    assert "exceeds" in message


async def test_more_units_than_ordered_is_400(api, order):
    await rejected(api, order.order_id, payload(items=[("11111111111111", 3)]))


@pytest.mark.parametrize("quantity", [0, -1])
async def test_non_positive_quantity_is_400(api, order, quantity):
    await rejected(api, order.order_id, payload(items=[("11111111111111", quantity)]))


async def test_unknown_order_item_is_400_with_amazons_message(api, order):
    message = await rejected(api, order.order_id, payload(items=[("99999999999999", 1)]))
    assert message.startswith("OrderItemId is invalid")


async def test_duplicate_order_item_in_one_package_is_400(api, order):
    await rejected(api, order.order_id, payload(items=[("11111111111111", 1), ("11111111111111", 1)]))


async def test_numeric_package_reference_id_is_400(api, order):
    await rejected(api, order.order_id, payload(ref=1))


@pytest.mark.parametrize("ref", ["0", "abc", "-1", "1.5", ""])
async def test_package_reference_id_must_be_a_positive_number(api, order, ref):
    await rejected(api, order.order_id, payload(ref=ref))


@pytest.mark.parametrize("ship_date", ["02/21/2022", "2026-03-02", "2026-03-02T10:00:00", "yesterday"])
async def test_ship_date_must_be_iso_8601_date_time(api, order, ship_date):
    await rejected(api, order.order_id, payload(shipDate=ship_date))


async def test_ship_date_with_offset_and_millis_is_accepted(api, order):
    answer = await api.confirm(order.order_id, payload(shipDate="2026-03-02T11:00:00.000+01:00"))
    assert answer.status == 204


@pytest.mark.parametrize("code", ["USPS", "UPS", "FedEx", "DHL", "GLS", "DPD", "Hermes Logistik Gruppe",
                                  "Royal Mail", "TNT", "PostNL", "Deutsche Post", "Other"])
def test_amazons_carrier_codes_are_known(code):
    assert code in CARRIER_CODES


async def test_gls_is_accepted_as_carrier_code(api, order):
    assert (await api.confirm(order.order_id, payload(carrierCode="GLS"))).status == 204
    packages = (await api.get_order(order.order_id, "PACKAGES")).body["order"]["packages"]
    assert packages[0]["carrier"] == "GLS"


async def test_unknown_carrier_code_is_400(api, order):
    assert "CarrierCode" in await rejected(api, order.order_id, payload(carrierCode="gls"))


async def test_other_needs_a_carrier_name(api, order):
    assert "CarrierName" in await rejected(api, order.order_id, payload(carrierCode="Other"))
    answer = await api.confirm(order.order_id, payload(carrierCode="Other", carrierName="GLS"))
    assert answer.status == 204


@pytest.mark.parametrize("field", ["packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems"])
async def test_missing_required_package_field_is_400(api, order, field):
    body = payload()
    del body["packageDetail"][field]
    await rejected(api, order.order_id, body)


@pytest.mark.parametrize("field", ["marketplaceId", "packageDetail"])
async def test_missing_required_top_level_field_is_400(api, order, field):
    body = payload()
    del body[field]
    await rejected(api, order.order_id, body)


async def test_item_without_quantity_is_400(api, order):
    body = payload()
    del body["packageDetail"]["orderItems"][0]["quantity"]
    await rejected(api, order.order_id, body)


async def test_empty_order_items_is_400(api, order):
    await rejected(api, order.order_id, payload(items=[]))


async def test_empty_tracking_number_is_400(api, order):
    await rejected(api, order.order_id, payload(trackingNumber=" "))


async def test_unknown_field_is_400(api, order):
    await rejected(api, order.order_id, payload(trackingNumbers="x"))


async def test_other_marketplace_is_400(api, order):
    body = payload()
    body["marketplaceId"] = "A1805IZSGTT6HS"
    await rejected(api, order.order_id, body)


async def test_malformed_marketplace_id_is_400(api, order):
    body = payload()
    body["marketplaceId"] = "A1PA-6795"
    await rejected(api, order.order_id, body)


async def test_body_that_is_not_json_is_400(api, order):
    answer = await api.call("confirmShipment", order_id=order.order_id, data="not json",
                            headers={"Content-Type": "application/json"})
    assert answer.status == 400


async def test_amazon_fulfilled_order_is_400(api):
    order = api.sim.state.add_order(api.seller_id, marketplace_code="DE", fulfilled_by="AMAZON",
                                    items=[{"quantity": 1, "orderItemId": "11111111111111"}])
    assert "fulfilled by Amazon" in await rejected(api, order.order_id, payload(items=[("11111111111111", 1)]))


async def test_ship_plus_order_is_400(api):
    order = api.sim.state.add_order(api.seller_id, marketplace_code="DE", programs=["FBM_SHIP_PLUS"],
                                    items=[{"quantity": 1, "orderItemId": "11111111111111"}])
    assert "Ship+" in await rejected(api, order.order_id, payload(items=[("11111111111111", 1)]))


async def test_cancelled_order_is_400(api, order):
    api.sim.state.cancel_order(order.order_id)
    assert "cancelled" in await rejected(api, order.order_id, payload())


async def test_pending_order_is_400(api):
    order = api.sim.state.add_order(api.seller_id, marketplace_code="DE", status="PENDING",
                                    items=[{"quantity": 1, "orderItemId": "11111111111111"}])
    await rejected(api, order.order_id, payload(items=[("11111111111111", 1)]))


async def test_new_package_on_a_shipped_order_is_general_error(api, order):
    await api.confirm(order.order_id, payload("1"))
    message = await rejected(api, order.order_id, payload("2", items=[("11111111111111", 1)]), code="GeneralError")
    assert "order already fulfilled" in message


async def test_edit_of_a_package_on_a_shipped_order_is_allowed(api, order):
    await api.confirm(order.order_id, payload("1"))
    assert (await api.confirm(order.order_id, payload("1", trackingNumber="999"))).status == 204


async def test_unknown_order_is_404(api):
    answer = await api.confirm("999-1234567-1234567", payload())
    assert answer.status == 404


async def test_rejected_confirmation_changes_nothing(api, order):
    before = copy.deepcopy((await api.get_order(order.order_id, "PACKAGES,FULFILLMENT")).body)
    api.sim.state.clock.advance(60)
    await rejected(api, order.order_id, payload(items=[("11111111111111", 5)]))
    assert (await api.get_order(order.order_id, "PACKAGES,FULFILLMENT")).body == before
    assert api.sim.state.confirmations_of(order.order_id) == []


async def test_seeded_unshipped_order_can_be_confirmed(api):
    state = api.sim.state
    order = next(o for o in state.orders.values()
                 if o.seller_id == api.seller_id and o.status == "UNSHIPPED" and o.fulfilled_by == "MERCHANT"
                 and not {"FBM_SHIP_PLUS"} & set(o.programs))
    body = (await api.get_order(order.order_id)).body["order"]
    market = body["salesChannel"]["marketplaceId"]
    request = payload(items=[(i["orderItemId"], i["quantityOrdered"]) for i in body["orderItems"]])
    request["marketplaceId"] = market
    assert (await api.confirm(order.order_id, request)).status == 204
    assert await status_of(api, order.order_id) == "SHIPPED"
    assert state.confirmations_of(order.order_id)[0].payload == request
