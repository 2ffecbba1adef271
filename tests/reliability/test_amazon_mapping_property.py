"""hypothesis on the Amazon order mapping: any order the Orders API 2026-01-01 model allows either maps
into core's ``Order`` or is skipped with a reason, and ``map_order`` never raises.

The strategy is built from the model's ``Order`` definition (tests.reliability.model_strategy);
each drawn order is first checked against the model with jsonschema, so the strategy cannot drift
from what Amazon may send. A second, narrower strategy (still model-valid) draws orders the carrier
must ship, which must come out as an ``Order`` carrying the same ids, items and recipient. Fails,
naming HUB_SPAPI_MODELS, when Amazon's models are not present.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.amazon.mapping import STATUSES, map_order, map_orders
from core.contract.models import Order, SkippedOrder
from tests.connectors.amazon.spapi_models import FORMAT_CHECKER, load_model, models_available
from tests.reliability.model_strategy import from_definition

pytestmark = pytest.mark.spapi_models  # fails without the models (tests/model_folders.py)

MODEL = "orders_2026-01-01.json"
#: Examples per property: an order of the model has some hundred fields, so each costs some 30 ms.
ANY, SHIPPABLE, PAGES = 150, 60, 25
QUIET = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
#: Times of orders that exist: the model allows year 1 and 9999, which UTC may not hold.
RECENT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
    lambda moment: moment.isoformat().replace("+00:00", "Z")
)


def definitions() -> dict[str, Any]:
    return load_model(MODEL)["definitions"] if models_available() else {}


@functools.cache
def validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator({"definitions": definitions(), "allOf": [{"$ref": "#/definitions/Order"}]}, format_checker=FORMAT_CHECKER)


def any_order() -> st.SearchStrategy[dict[str, Any]]:
    """Every order the model allows."""
    return from_definition(definitions(), "Order") if models_available() else st.nothing()


def shippable_order() -> st.SearchStrategy[dict[str, Any]]:
    """Orders the carrier must ship: merchant-fulfilled, unshipped, with an address and distinct items."""
    if not models_available():
        return st.nothing()
    defs = definitions()
    item = from_definition(
        defs,
        "OrderItem",
        {("orderItemId",): st.from_regex(r"\A[0-9]{14}\Z"), ("quantityOrdered",): st.integers(1, 20)},
    )
    return from_definition(
        defs,
        "Order",
        {
            ("orderId",): st.from_regex(r"\A[0-9]{3}-[0-9]{7}-[0-9]{7}\Z"),
            ("createdTime",): RECENT,
            ("lastUpdatedTime",): RECENT,
            ("fulfillment", "fulfillmentStatus"): st.sampled_from(["UNSHIPPED", "PARTIALLY_SHIPPED"]),
            ("fulfillment", "fulfilledBy"): st.just("MERCHANT"),
            ("programs",): st.lists(st.sampled_from(["PRIME", "AMAZON_BUSINESS", "PREMIUM", "PREORDER"]), max_size=3),
            ("orderItems",): st.lists(item, min_size=1, max_size=3, unique_by=lambda i: i["orderItemId"]),
            ("recipient", "deliveryAddress", "name"): st.from_regex(r"\A[A-Z][a-zé]{2,9} [A-Z][a-zë]{2,11}\Z"),
            ("recipient", "deliveryAddress", "addressLine1"): st.from_regex(r"\A[A-Z][a-z]{3,12}straat [1-9][0-9]{0,2}\Z"),
            ("recipient", "deliveryAddress", "countryCode"): st.sampled_from(["NL", "DE", "BE", "FR"]),
        },
    )


@settings(max_examples=ANY, **QUIET)
@given(raw=any_order())
def test_any_order_the_model_allows_maps_to_an_order_or_a_skip_with_a_reason(raw: dict[str, Any]) -> None:
    assert not list(validator().iter_errors(raw)), "the strategy drew an order the model does not allow"
    result = map_order(raw)  # must not raise
    assert isinstance(result, (Order, SkippedOrder))
    if isinstance(result, SkippedOrder):
        assert result.reason.strip() and result.external_id
        # An order of the model never takes the catch-all for surprises ("malformed order from Amazon (TypeError)").
        assert not result.reason.startswith("malformed order from Amazon ("), result.reason
    else:
        assert result.external_id == raw["orderId"].strip()
        assert result.status is STATUSES[raw["fulfillment"]["fulfillmentStatus"]]
        Order.model_validate(result.model_dump())  # a valid Order, as core stores it


@settings(max_examples=SHIPPABLE, **QUIET)
@given(raw=shippable_order())
def test_an_order_the_carrier_must_ship_maps_to_an_order_with_its_items_and_recipient(raw: dict[str, Any]) -> None:
    assert not list(validator().iter_errors(raw))
    result = map_order(raw)
    assert isinstance(result, Order), result
    assert result.external_id == raw["orderId"]
    assert [item.external_id for item in result.items] == [item["orderItemId"] for item in raw["orderItems"]]
    assert all(0 <= item.quantity_unshipped <= item.quantity_ordered for item in result.items)
    address = raw["recipient"]["deliveryAddress"]
    assert result.recipient is not None
    assert (result.recipient.name, result.recipient.country_code) == (address["name"], address["countryCode"])
    assert result.recipient.lines[0] == address["addressLine1"]


@settings(max_examples=PAGES, **QUIET)
@given(page=st.lists(any_order(), max_size=5))
def test_a_page_of_any_orders_splits_into_orders_and_skips_with_each_id_once(page: list[dict[str, Any]]) -> None:
    orders, skipped = map_orders(page)
    ids = [o.external_id for o in orders] + [s.external_id for s in skipped]
    assert len(ids) == len(set(ids)) <= len(page)


def test_mapping_raises_nothing_for_values_outside_the_model() -> None:
    for raw in (None, [], "order", {"orderId": 5}, {"orderId": "1", "orderItems": "x"}, {"orderId": "1", "fulfillment": []}):
        assert isinstance(map_order(raw), SkippedOrder)
