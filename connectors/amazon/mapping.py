"""Orders API 2026-01-01 ``Order`` objects mapped to the hub's ``Order``, or skipped with a reason.

``map_order`` never raises: an order the carrier must not ship (Amazon-fulfilled, Easy Ship,
Ship+, pending, no delivery address) and anything malformed become a ``SkippedOrder`` whose
reason a merchant can read. What is left to ship counts Amazon's item quantities and its
``packages`` (made in Seller Central, by another tool or by the hub); the packages' references
become the order's ``shop_references``, which core never hands out again. Optional fields that are malformed (a price, a time window) are
dropped rather than costing the merchant the order. Reasons never quote Amazon's values, so
they hold no personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from pydantic import ValidationError

from connectors.amazon.const import (
    ALIAS_SELLER_ORDER_ID,
    PROGRAM_EASY_SHIP,
    PROGRAM_PRIME,
    PROGRAM_SHIP_PLUS,
)
from core.hubapi import Order, OrderStatus, SkippedOrder

log = logging.getLogger(__name__)

MISSING_ID = "(no orderId)"

STATUSES = {
    "UNSHIPPED": OrderStatus.OPEN,
    "PARTIALLY_SHIPPED": OrderStatus.PARTIALLY_SHIPPED,
    "SHIPPED": OrderStatus.SHIPPED,
    "CANCELLED": OrderStatus.CANCELLED,
}

SKIPPED_STATUSES = {
    "PENDING": "pending: Amazon has not released it for shipping yet (payment not authorised)",
    "PENDING_AVAILABILITY": "pre-order pending availability: not ready for shipping yet",
    "UNFULFILLABLE": "unfulfillable: Amazon says it cannot be shipped",
}

SKIPPED_PROGRAMS = {
    PROGRAM_EASY_SHIP: "Easy Ship: Amazon arranges the shipping",
    PROGRAM_SHIP_PLUS: "Ship+: shipped with Amazon's own labels, which take no other carrier's tracking",
    "IN_STORE_PICK_UP": "in-store pickup: there is no parcel to ship",
}

NO_ADDRESS = (
    "no delivery address: Amazon sent none (the app needs the Direct-to-Consumer Delivery role, "
    "and the merchant must reconnect after it was granted)"
)

ADDRESS_KINDS = {"RESIDENTIAL": "residential", "COMMERCIAL": "commercial", "PICKUP_POINT": "pickup_point"}


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def map_order(raw: Any) -> Order | SkippedOrder:
    """One Amazon order as a hub ``Order``, or a ``SkippedOrder`` with the reason; never raises."""
    order_id = _text(raw.get("orderId")) if isinstance(raw, dict) else None
    external_id = order_id or MISSING_ID
    try:
        if order_id is None:
            raise _Skip("malformed order from Amazon: no orderId")
        return _order(raw, order_id)
    except _Skip as skip:
        return SkippedOrder(external_id=external_id[:200], reason=skip.reason)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        reason = f"malformed order from Amazon: {where}: {first['msg']}"
        return SkippedOrder(external_id=external_id[:200], reason=reason)
    except Exception as err:  # noqa: BLE001 - mapping must never stop an import
        log.warning("unexpected %s mapping Amazon order %s", type(err).__name__, external_id)
        return SkippedOrder(external_id=external_id[:200], reason=f"malformed order from Amazon ({type(err).__name__})")


def map_orders(raws: Iterable[Any]) -> tuple[list[Order], list[SkippedOrder]]:
    """A page of Amazon orders split into orders and skips, each order id once (the last wins)."""
    orders: dict[str, Order] = {}
    skipped: dict[str, SkippedOrder] = {}
    for raw in raws:
        result = map_order(raw)
        orders.pop(result.external_id, None)
        skipped.pop(result.external_id, None)
        if isinstance(result, Order):
            orders[result.external_id] = result
        else:
            skipped[result.external_id] = result
    return list(orders.values()), list(skipped.values())


def _order(raw: dict[str, Any], order_id: str) -> Order:
    fulfillment = _dict(raw.get("fulfillment"))
    programs = {p for p in _list(raw.get("programs")) if isinstance(p, str) and "\x00" not in p}

    if _text(fulfillment.get("fulfilledBy")) == "AMAZON":
        raise _Skip("fulfilled by Amazon: Amazon ships it from its own warehouse")
    for program, reason in SKIPPED_PROGRAMS.items():
        if program in programs:
            raise _Skip(reason)
    amazon_status = _text(fulfillment.get("fulfillmentStatus"))
    if amazon_status in SKIPPED_STATUSES:
        raise _Skip(SKIPPED_STATUSES[amazon_status])
    status = STATUSES.get(amazon_status or "")
    if status is None:
        raise _Skip("malformed order from Amazon: no known fulfillment status")

    created_at = parse_time(raw.get("createdTime"))
    updated_at = parse_time(raw.get("lastUpdatedTime"))
    if created_at is None or updated_at is None:
        raise _Skip("malformed order from Amazon: createdTime or lastUpdatedTime missing or invalid")

    packages = _packages(raw)
    shipped = _shipped_in(packages or [])
    items = [_item(item, status, shipped) for item in _list(raw.get("orderItems"))]
    if not items:
        raise _Skip("malformed order from Amazon: no order items")

    recipient = _recipient(raw)
    if recipient is None and status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_SHIPPED):
        raise _Skip(NO_ADDRESS)

    channel = _dict(raw.get("salesChannel"))
    attributes = {
        "amazon_status": amazon_status or "",
        "marketplace_name": _text(channel.get("marketplaceName")) or "",
        "programs": ",".join(sorted(programs)),
    }
    # One validation of the whole order (pydantic's core walks the nested fields), not one per part.
    return Order.model_validate({
        "external_id": order_id,
        "reference": _seller_order_id(raw),
        "status": status,
        "created_at": created_at,
        "updated_at": updated_at,
        "marketplace": _text(channel.get("marketplaceId")),
        "recipient": recipient,
        "items": items,
        "ship_by": _window(fulfillment.get("shipByWindow")),
        "deliver_by": _window(fulfillment.get("deliverByWindow")),
        "service_level": _text(fulfillment.get("fulfillmentServiceLevel")),
        "is_prime": PROGRAM_PRIME in programs,
        "attributes": {key: value for key, value in attributes.items() if value},
        "shop_references": _references(packages),
    })


#: Package statuses whose items did not go out (their references are still Amazon's).
_NOT_SHIPPED = frozenset({"CANCELLED"})
#: The most package references kept per order (the hub's model holds at most 1000).
MAX_REFERENCES = 1000


def _packages(raw: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The order's packages (includedData PACKAGES), or ``None`` when Amazon did not send the block."""
    if "packages" not in raw:
        return None
    return [package for package in _list(raw.get("packages")) if isinstance(package, dict)]


def _references(packages: list[dict[str, Any]] | None) -> list[str] | None:
    """The packageReferenceIds Amazon holds for the order, made by the hub or not; ``None``: not asked for."""
    if packages is None:
        return None
    found = (_text(package.get("packageReferenceId")) for package in packages)
    return list(dict.fromkeys(reference[:200] for reference in found if reference))[:MAX_REFERENCES]


def _shipped_in(packages: list[dict[str, Any]]) -> dict[str, int]:
    """Units per order item in the order's packages that went out (not cancelled)."""
    shipped: dict[str, int] = {}
    for package in packages:
        if _text(_dict(package.get("packageStatus")).get("status")) in _NOT_SHIPPED:
            continue
        for line in _list(package.get("packageItems")):
            line = _dict(line)
            item_id, quantity = _text(line.get("orderItemId")), line.get("quantity")
            if item_id is not None and _count(quantity):
                shipped[item_id] = shipped.get(item_id, 0) + quantity
    return shipped


def _item(raw: Any, status: OrderStatus, in_packages: dict[str, int]) -> dict[str, Any]:
    """One order item as ``OrderItem``'s fields (validated with the order)."""
    item = _dict(raw)
    item_id = _text(item.get("orderItemId"))
    ordered = item.get("quantityOrdered")
    if item_id is None or not _count(ordered):
        raise _Skip("malformed order from Amazon: an item without orderItemId or quantityOrdered")
    product = _dict(item.get("product"))
    fulfillment = _dict(item.get("fulfillment"))
    unfulfilled, fulfilled = fulfillment.get("quantityUnfulfilled"), fulfillment.get("quantityFulfilled")
    if _count(unfulfilled):
        unshipped = unfulfilled
    elif _count(fulfilled):
        unshipped = max(0, ordered - fulfilled)
    else:
        unshipped = 0 if status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED) else ordered
    # What Amazon's packages hold went out, whatever the item's own counts say: never more is left.
    unshipped = max(0, min(unshipped, ordered - in_packages.get(item_id, 0)))
    return {
        "external_id": item_id,
        "sku": _text(product.get("sellerSku")),
        "product_id": _text(product.get("asin")),
        "title": _text(product.get("title")),
        "quantity_ordered": ordered,
        "quantity_unshipped": min(unshipped, ordered),
        "unit_price": _money(_dict(product.get("price")).get("unitPrice")),
    }


def _recipient(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The delivery address as ``Address``'s fields (validated with the order), or ``None`` when it is not one."""
    address = _dict(_dict(raw.get("recipient")).get("deliveryAddress"))
    lines = [line for line in (_text(address.get(f"addressLine{n}")) for n in (1, 2, 3)) if line]
    name, company = _text(address.get("name")), _text(address.get("companyName"))
    country = (_text(address.get("countryCode")) or "").upper()
    if not lines or not (name or company) or len(country) != 2 or not country.isalpha() or not country.isascii():
        return None
    return {
        "name": name,
        "company": company,
        "lines": lines,
        "postal_code": _text(address.get("postalCode")),
        "city": _text(address.get("city")),
        "region": _text(address.get("stateOrRegion")),
        "country_code": country,
        "phone": _text(address.get("phone")),
        "email": _text(_dict(raw.get("buyer")).get("buyerEmail")),
        "kind": ADDRESS_KINDS.get(_text(address.get("addressType")) or ""),
    }


def _seller_order_id(raw: dict[str, Any]) -> str | None:
    for alias in _list(raw.get("orderAliases")):
        alias = _dict(alias)
        if alias.get("aliasType") == ALIAS_SELLER_ORDER_ID and _text(alias.get("aliasId")):
            return _text(alias.get("aliasId"))
    return None


def _window(raw: Any) -> dict[str, datetime | None] | None:
    window = _dict(raw)
    earliest, latest = parse_time(window.get("earliestDateTime")), parse_time(window.get("latestDateTime"))
    if earliest is None and latest is None:
        return None
    return {"earliest": earliest, "latest": latest}


def _money(raw: Any) -> dict[str, Any] | None:
    money = _dict(raw)
    amount, currency = money.get("amount"), _text(money.get("currencyCode"))
    if not isinstance(amount, str) or currency is None:
        return None
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None
    if not value.is_finite() or len(currency) != 3 or not currency.isascii() or not currency.isupper():
        return None
    return {"amount": value, "currency": currency}


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from Amazon in UTC, or ``None`` when it is missing or invalid."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        # Amazon always sends UTC; a time without zone is read as UTC rather than lost.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one UTC cannot hold (year 1 or 9999 with an offset)
        return None


def amazon_time(value: datetime) -> str:
    """A time in Amazon's format: ISO 8601 UTC with ``Z``, whole seconds (rounded down)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The largest quantity stored (PostgreSQL ``integer``); a larger one makes the order malformed.
MAX_QUANTITY = 2**31 - 1


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_QUANTITY


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
        if text:
            return text
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
