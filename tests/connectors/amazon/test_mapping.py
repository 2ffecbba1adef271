"""Mapping Orders API 2026-01-01 orders into hub orders, and the reasons for skipping."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.amazon.mapping import MISSING_ID, NO_ADDRESS, map_order, map_orders
from core.contract.models import Address, Money, Order, OrderStatus, SkippedOrder, TimeWindow
from tests.connectors.amazon import spapi_models
from tests.connectors.amazon.fakes import NL, amazon_order, order_item, package


def mapped(raw: Any) -> Order:
    result = map_order(raw)
    assert isinstance(result, Order), result
    return result


def skipped(raw: Any) -> SkippedOrder:
    result = map_order(raw)
    assert isinstance(result, SkippedOrder), result
    return result


def test_unshipped_order_with_company_three_lines_and_diacritics() -> None:
    raw = amazon_order(
        "305-1111111-2222222",
        programs=["PRIME", "AMAZON_BUSINESS"],
        address={
            "name": "Zoë Müller-Lüdenscheidt",
            "companyName": "Bäckerei Größe GmbH",
            "addressLine1": "Schloßstraße 5",
            "addressLine2": "Hinterhaus",
            "addressLine3": "3. OG links",
            "city": "München",
            "districtOrCounty": "Oberbayern",
            "stateOrRegion": "Bayern",
            "postalCode": "80331",
            "countryCode": "de",
            "phone": "+49 89 1234567",
            "addressType": "COMMERCIAL",
        },
        buyer={"buyerEmail": "abc123@marketplace.amazon.de", "buyerName": "Zoë Müller"},
        items=[
            order_item("11111111111111", "MEHL-550", "B0MEHL5500", 3, unfulfilled=3, price="2.49"),
            order_item("22222222222222", "HEFE-42", "B0HEFE4200", 1, unfulfilled=1, price="0.35"),
        ],
    )

    order = mapped(raw)

    assert order.external_id == "305-1111111-2222222"
    assert order.reference == "SO-2222222"
    assert order.status is OrderStatus.OPEN
    assert order.marketplace == NL
    assert order.is_prime is True
    assert order.service_level == "STANDARD"
    assert order.created_at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert order.ship_by == TimeWindow(
        earliest=datetime(2026, 3, 1, 9, 15, tzinfo=UTC),
        latest=datetime(2026, 3, 3, 22, 59, 59, tzinfo=UTC),
    )
    assert order.deliver_by is not None and order.deliver_by.latest == datetime(
        2026, 3, 6, 22, 59, 59, tzinfo=UTC
    )
    assert order.recipient == Address(
        name="Zoë Müller-Lüdenscheidt",
        company="Bäckerei Größe GmbH",
        lines=["Schloßstraße 5", "Hinterhaus", "3. OG links"],
        postal_code="80331",
        city="München",
        region="Bayern",
        country_code="DE",
        phone="+49 89 1234567",
        email="abc123@marketplace.amazon.de",
        kind="commercial",
    )
    assert [(i.external_id, i.sku, i.product_id, i.quantity_ordered, i.quantity_unshipped) for i in order.items] == [
        ("11111111111111", "MEHL-550", "B0MEHL5500", 3, 3),
        ("22222222222222", "HEFE-42", "B0HEFE4200", 1, 1),
    ]
    assert order.items[0].title == "Product MEHL-550"
    assert order.items[0].unit_price == Money(amount=Decimal("2.49"), currency="EUR")
    assert order.attributes == {
        "amazon_status": "UNSHIPPED",
        "marketplace_name": "Amazon.nl",
        "programs": "AMAZON_BUSINESS,PRIME",
    }


def test_partially_shipped_order_keeps_what_is_left_to_ship() -> None:
    raw = amazon_order(
        status="PARTIALLY_SHIPPED",
        items=[order_item("1", "A", "B0A", 3, unfulfilled=1), order_item("2", "B", "B0B", 2, unfulfilled=0)],
    )
    order = mapped(raw)
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert [item.quantity_unshipped for item in order.items] == [1, 0]


def test_unshipped_quantity_falls_back_to_ordered_minus_fulfilled() -> None:
    raw = amazon_order(items=[order_item("1", "A", "B0A", 4)])
    raw["orderItems"][0]["fulfillment"] = {"quantityFulfilled": 1}
    assert mapped(raw).items[0].quantity_unshipped == 3
    del raw["orderItems"][0]["fulfillment"]
    assert mapped(raw).items[0].quantity_unshipped == 4


@pytest.mark.parametrize("status", ["CANCELLED", "SHIPPED"])
def test_cancelled_or_shipped_order_maps_even_without_an_address(status: str) -> None:
    order = mapped(amazon_order(status=status, with_recipient=False))
    assert order.status is OrderStatus(status.lower())
    assert order.recipient is None
    assert order.items[0].quantity_unshipped == 2  # from Amazon's quantityUnfulfilled


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fulfilled_by": "AMAZON"}, "fulfilled by Amazon"),
        ({"programs": ["AMAZON_EASY_SHIP"]}, "Easy Ship: Amazon arranges the shipping"),
        ({"programs": ["PRIME", "FBM_SHIP_PLUS"]}, "Ship+"),
        ({"programs": ["IN_STORE_PICK_UP"]}, "in-store pickup"),
        ({"status": "PENDING"}, "pending"),
        ({"status": "PENDING_AVAILABILITY"}, "pre-order"),
        ({"status": "UNFULFILLABLE"}, "unfulfillable"),
        ({"with_recipient": False}, NO_ADDRESS),
    ],
)
def test_orders_the_carrier_must_not_ship_are_skipped_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    result = skipped(amazon_order("999-0000000-0000001", **changes))
    assert result.external_id == "999-0000000-0000001"
    assert reason in result.reason


@pytest.mark.parametrize(
    "address",
    [
        {"city": "Utrecht", "postalCode": "3511", "countryCode": "NL"},  # no role: no name, no lines
        {"name": "A", "addressLine1": "Straat 1", "countryCode": "Netherlands"},
        {"name": "A", "addressLine1": "   ", "countryCode": "NL"},
    ],
)
def test_an_address_without_what_a_label_needs_is_skipped(address: dict[str, Any]) -> None:
    assert skipped(amazon_order(address=address)).reason == NO_ADDRESS


@pytest.mark.parametrize(
    "breakage",
    [
        lambda o: o.pop("orderId"),
        lambda o: o.update(orderId=17),
        lambda o: o.pop("createdTime"),
        lambda o: o.update(lastUpdatedTime="yesterday"),
        lambda o: o.update(orderItems=[]),
        lambda o: o.update(orderItems="many"),
        lambda o: o["orderItems"][0].update(quantityOrdered=-1),
        lambda o: o["orderItems"][0].pop("orderItemId"),
        lambda o: o.update(orderItems=[o["orderItems"][0], o["orderItems"][0]]),
        lambda o: o.pop("fulfillment"),
        lambda o: o["fulfillment"].update(fulfillmentStatus="LOST_IN_SPACE"),
        lambda o: o.update(orderId="x" * 300),
        lambda o: o.update(fulfillment=None),
    ],
)
def test_malformed_orders_are_skipped_never_raised(breakage: Any) -> None:
    raw = amazon_order()
    breakage(raw)
    result = skipped(raw)
    assert result.reason.startswith("malformed order from Amazon")
    assert "Renée" not in result.reason and "Keizersgracht" not in result.reason


@pytest.mark.parametrize("raw", [None, "order", 42, [], {}])
def test_values_that_are_not_orders_are_skipped(raw: Any) -> None:
    assert skipped(raw).external_id == MISSING_ID


def test_malformed_optional_fields_are_dropped_not_fatal() -> None:
    raw = amazon_order()
    raw["orderItems"][0]["product"]["price"] = {"unitPrice": {"amount": "twelve", "currencyCode": "EUR"}}
    raw["fulfillment"]["shipByWindow"] = {"earliestDateTime": "soon"}
    raw["orderAliases"] = [{"aliasType": "SELLER_ORDER_ID"}]
    order = mapped(raw)
    assert order.items[0].unit_price is None
    assert order.ship_by is None
    assert order.reference is None


def test_a_page_keeps_each_order_once_the_last_version_winning() -> None:
    first = amazon_order("1", updated="2026-03-01T10:00:00Z")
    later = amazon_order("1", updated="2026-03-01T11:00:00Z", status="CANCELLED")
    easy = amazon_order("2", programs=["AMAZON_EASY_SHIP"])
    orders, skips = map_orders([first, later, easy])
    assert [(o.external_id, o.status) for o in orders] == [("1", OrderStatus.CANCELLED)]
    assert [s.external_id for s in skips] == ["2"]


def _model_orders() -> list[dict[str, Any]]:
    """Every order in the 2026-01-01 model's examples and sandbox answers."""
    model = spapi_models.load_model("orders_2026-01-01.json")
    found: list[dict[str, Any]] = []
    for path in model["paths"].values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            answer = operation.get("responses", {}).get("200", {})
            bodies = list(answer.get("examples", {}).values())
            bodies += [case.get("response") for case in answer.get("x-amzn-api-sandbox", {}).get("static", [])]
            for body in bodies:
                if isinstance(body, dict):
                    found += body.get("orders", [])
                    if isinstance(body.get("order"), dict):
                        found.append(body["order"])
    return found


def test_every_example_order_in_the_model_maps_or_skips() -> None:
    orders = _model_orders()
    assert len(orders) >= 4
    results = [map_order(copy.deepcopy(raw)) for raw in orders]
    assert all(isinstance(result, (Order, SkippedOrder)) for result in results)
    mapped_orders = [result for result in results if isinstance(result, Order)]
    assert mapped_orders, "the model's merchant-fulfilled examples should map"
    for result in mapped_orders:
        assert result.marketplace and result.items


def test_nul_characters_postgresql_cannot_store_are_dropped() -> None:
    raw = amazon_order()
    raw["recipient"]["deliveryAddress"]["addressLine1"] = "Kerk\x00straat 1"
    raw["orderItems"][0]["product"]["title"] = "\x00Mug"
    order = mapped(raw)
    assert order.recipient is not None and order.recipient.lines[0] == "Kerkstraat 1"
    assert order.items[0].title == "Mug"


def test_a_quantity_no_database_integer_holds_makes_the_order_malformed() -> None:
    raw = amazon_order()
    raw["orderItems"][0]["quantityOrdered"] = 2**31
    assert skipped(raw).reason.startswith("malformed order from Amazon")


def test_packages_made_outside_the_hub_are_the_shop_references_and_count_as_shipped() -> None:
    # The merchant shipped one of three units in Seller Central with another carrier; Amazon's item
    # counts may lag behind its packages, and a cancelled package took nothing out.
    raw = amazon_order(
        status="PARTIALLY_SHIPPED",
        items=[order_item("11", "A", "B0A", 3, unfulfilled=3), order_item("22", "B", "B0B", 1, unfulfilled=1)],
        packages=[
            package("1", {"11": 1}),
            package("7", {"22": 1}, status="CANCELLED"),
            package("1", {"11": 1}),  # the same package twice is one reference
        ],
    )
    spapi_models.validate_response("orders_2026-01-01.json", "getOrder", 200, {"order": raw}, strict=True)

    order = mapped(raw)

    assert order.shop_references == ["1", "7"]
    assert [(i.external_id, i.quantity_ordered, i.quantity_unshipped) for i in order.items] == [("11", 3, 1), ("22", 1, 1)]


def test_item_counts_ahead_of_the_packages_are_believed() -> None:
    raw = amazon_order(items=[order_item("11", "A", "B0A", 3, unfulfilled=1)], packages=[package("1", {"11": 1})])

    assert mapped(raw).items[0].quantity_unshipped == 1


def test_without_the_packages_block_amazon_did_not_say_which_references_it_holds() -> None:
    raw = amazon_order()
    del raw["packages"]

    assert mapped(raw).shop_references is None
    assert mapped(amazon_order()).shop_references == []


def test_an_order_whose_sales_channel_names_no_marketplace_maps_without_one() -> None:
    raw = amazon_order(marketplace_id=None)
    spapi_models.validate_response("orders_2026-01-01.json", "getOrder", 200, {"order": raw}, strict=True)

    assert mapped(raw).marketplace is None
