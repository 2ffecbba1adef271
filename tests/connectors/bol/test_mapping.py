"""bol.com orders into hub orders: what the merchant ships itself, what is skipped and why."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.bol.mapping import (
    ATTR_CANCELLATION,
    ATTR_LEFT_OUT,
    ATTR_NOTICE,
    ATTR_PICKUP_POINT,
    SKIP_FBB,
    SKIP_NOT_OWN,
    SKIP_VVB,
    fbb_only,
    fingerprint,
    handled,
    map_order,
)
from core.hubapi import Order, OrderStatus, SkippedOrder
from tests.connectors.bol.fakes import (
    NOW,
    order_detail,
    order_item,
    reduced_item,
    reduced_order,
)


def mapped(raw: object) -> Order:
    result = map_order(raw, NOW)
    assert isinstance(result, Order), result
    return result


def skipped(raw: object) -> SkippedOrder:
    result = map_order(raw, NOW)
    assert isinstance(result, SkippedOrder), result
    return result


def test_an_fbr_order_shipped_by_the_retailer_is_imported_with_address_items_and_dates() -> None:
    order = mapped(order_detail("1043946570", order_item("6107434013", quantity=2, price=12.99)))
    assert order.external_id == "1043946570"
    assert order.status is OrderStatus.OPEN
    assert order.created_at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    (item,) = order.items
    assert (item.external_id, item.quantity_ordered, item.quantity_unshipped) == ("6107434013", 2, 2)
    assert (item.sku, item.product_id, item.title) == ("SKU-6107434013", "8712626055143", "Product 6107434013")
    assert item.unit_price is not None and item.unit_price.amount == Decimal("12.99") and item.unit_price.currency == "EUR"
    recipient = order.recipient
    assert recipient is not None
    assert (recipient.name, recipient.lines, recipient.postal_code, recipient.city, recipient.country_code) == (
        "Billie Jansen", ["Dorpstraat 1 B"], "1111ZZ", "Utrecht", "NL"
    )
    assert recipient.kind == "residential"
    assert recipient.email and recipient.email.endswith("@verkopen.bol.com")
    assert order.deliver_by is not None and order.deliver_by.latest == datetime(2026, 3, 3, 22, 59, 59, tzinfo=UTC)
    assert order.service_level == "REGULAR"


def test_an_fbb_order_is_skipped_with_a_reason() -> None:
    result = skipped(order_detail("1042823870", order_item("1", method="FBB", party=None)))
    assert result.reason == SKIP_FBB
    assert "bol.com ships it" in result.reason


def test_a_vvb_order_is_skipped_with_a_reason() -> None:
    result = skipped(order_detail("2095052600", order_item("2095052647", party="BOL")))
    assert result.reason == SKIP_VVB
    assert "label bought from bol.com" in result.reason


def test_an_order_of_fbb_and_vvb_items_only_is_skipped() -> None:
    result = skipped(order_detail("9", order_item("1", method="FBB", party=None), order_item("2", party="BOL")))
    assert result.reason == SKIP_NOT_OWN


def test_a_mixed_order_keeps_only_the_items_the_retailer_ships_and_says_what_was_left_out() -> None:
    order = mapped(order_detail("7", order_item("1"), order_item("2", method="FBB", party=None), order_item("3", party="BOL")))
    assert [item.external_id for item in order.items] == ["1"]
    assert order.attributes[ATTR_LEFT_OUT] == "1 shipped by bol.com (FBB), 1 with a bol.com label (VVB)"


def test_an_fbr_item_without_a_distribution_party_is_imported() -> None:
    order = mapped(order_detail("8", order_item("1", party=None)))
    assert [item.external_id for item in order.items] == ["1"]


def test_a_cancellation_request_is_shown_and_leaves_nothing_to_ship() -> None:
    order = mapped(order_detail("5", order_item("51", quantity=2, cancellation_request=True), order_item("52")))
    assert order.status is OrderStatus.OPEN
    by_id = {item.external_id: item for item in order.items}
    assert (by_id["51"].quantity_ordered, by_id["51"].quantity_unshipped) == (2, 0)
    assert by_id["52"].quantity_unshipped == 1
    assert order.attributes[ATTR_CANCELLATION] == "51"
    assert "asked bol.com to cancel 1 of its items" in order.attributes[ATTR_NOTICE]


def test_a_cancellation_request_for_the_whole_order_says_so() -> None:
    order = mapped(order_detail("5", order_item("51", cancellation_request=True)))
    assert "cancel this order: do not ship it" in order.attributes[ATTR_NOTICE]


def test_a_pickup_point_delivery_keeps_the_pickup_point_name() -> None:
    order = mapped(order_detail("A4K8290LP0", pickup_point=True))
    recipient = order.recipient
    assert recipient is not None
    assert recipient.kind == "pickup_point"
    assert recipient.company == "Albert Heijn: UTRECHT"
    assert recipient.name == "Billie Jansen"
    assert recipient.lines == ["Neude 11"]
    assert order.attributes[ATTR_PICKUP_POINT] == "Albert Heijn: UTRECHT"


def test_a_partly_shipped_order_offers_the_units_left() -> None:
    order = mapped(order_detail("1042831430", order_item("6107331383", quantity=3, shipped=2)))
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert order.items[0].quantity_unshipped == 1


def test_an_order_shipped_or_cancelled_at_bol_follows() -> None:
    assert mapped(order_detail("1", order_item("11", quantity=2, shipped=2))).status is OrderStatus.SHIPPED
    assert mapped(order_detail("2", order_item("21", quantity=2, cancelled=2))).status is OrderStatus.CANCELLED
    assert mapped(order_detail("3", order_item("31", quantity=2, shipped=1, cancelled=1))).status is OrderStatus.SHIPPED


def test_an_exact_delivery_day_is_the_whole_window() -> None:
    order = mapped(order_detail("4", order_item("41", exact_delivery="2026-03-05", latest_delivery=None, time_frame="EVENING")))
    assert order.deliver_by is not None
    assert order.deliver_by.earliest == datetime(2026, 3, 4, 23, 0, tzinfo=UTC)
    assert order.service_level == "EVENING"


def test_a_company_address_is_commercial_and_a_dash_extension_joins_the_number() -> None:
    order = mapped(order_detail("6", details={"company": "Fietsentuin B.V.", "houseNumberExtension": "-2"}))
    assert order.recipient is not None
    assert order.recipient.kind == "commercial"
    assert order.recipient.lines == ["Dorpstraat 1-2"]


def test_malformed_orders_are_skipped_never_raised() -> None:
    assert skipped({}).reason.startswith("malformed order from bol.com")
    assert skipped({"orderId": "X"}).reason == "malformed order from bol.com: no order items"
    assert skipped("not an order").external_id == "(no orderId)"
    no_address = order_detail("Y")
    no_address["shipmentDetails"] = {}
    assert skipped(no_address).reason == "malformed order from bol.com: no delivery address"
    bad_item = order_detail("Z", order_item("1", quantity=-1))
    assert skipped(bad_item).reason.startswith("malformed order from bol.com")


def test_alphanumeric_order_ids_and_numeric_item_ids_are_kept_as_text() -> None:
    raw = order_detail("A2K8290LP8", order_item("1"))
    raw["orderItems"][0]["orderItemId"] = 6107331383
    assert mapped(raw).items[0].external_id == "6107331383"


def test_the_fingerprint_moves_with_every_change_the_list_shows() -> None:
    base = reduced_order("1", reduced_item("11"))
    same = reduced_order("1", reduced_item("11"))
    assert fingerprint(base) == fingerprint(same)
    for change in ({"quantityShipped": 1}, {"cancellationRequest": True}, {"latestChangedDateTime": "2026-03-01T10:16:00+01:00"},
                   {"fulfilmentStatus": "HANDLED"}):
        other = reduced_order("1", {**reduced_item("11"), **change})
        assert fingerprint(other) != fingerprint(base), change


def test_the_list_tells_fbb_only_and_handled_orders_without_a_detail() -> None:
    assert fbb_only(reduced_order("1", reduced_item("11", method="FBB")))
    assert not fbb_only(reduced_order("1", reduced_item("11", method="FBB"), reduced_item("12")))
    assert handled(reduced_order("1", reduced_item("11", status="HANDLED")))
    assert not handled(reduced_order("1", reduced_item("11", status="HANDLED"), reduced_item("12")))
