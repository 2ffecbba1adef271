"""bol.com orders mapped to the hub's ``Order``, or skipped with a reason a merchant understands.

Only order items the merchant ships with its own carrier are imported: fulfilment method FBR
with distribution party RETAILER (an FBR item without a distribution party is imported too, and
logged). FBB items (bol.com ships them from its warehouse) and VVB items ("Verzenden via bol":
bol.com's own label) are left out; an order with nothing else is skipped. ``map_order`` never
raises: a malformed order becomes a ``SkippedOrder`` too. Reasons never quote bol.com's values,
so they hold no personal data and add up per reason on the import summary.

A customer's cancellation request (``cancellationRequest``) is shown and stops the shipment: the
item keeps its ordered quantity but none left to ship, and the order says so in its attributes
(core has no field for it yet). The push checks again at bol.com before confirming. Pickup-point
deliveries keep the pickup point's name (``Address.company``, kind ``pickup_point``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from connectors.bol.const import BOL, FBB, FBR
from core.hubapi import (
    Address,
    Money,
    Order,
    OrderItem,
    OrderStatus,
    SkippedOrder,
    TimeWindow,
)

log = logging.getLogger(__name__)

MISSING_ID = "(no orderId)"

SKIP_FBB = "Fulfilment by bol.com (FBB): bol.com ships it from its own warehouse, there is nothing for you to ship"
SKIP_VVB = (
    "Verzenden via bol (VVB): shipped with a label bought from bol.com, whose tracking bol.com knows already"
)
SKIP_NOT_OWN = "no item for you to ship: bol.com ships the items itself (FBB) or with its own label (VVB)"
SKIP_DONE = "nothing left to ship: every item was shipped or cancelled at bol.com before the hub saw the order"
NO_ADDRESS = "malformed order from bol.com: no delivery address"

#: Attributes the hub's pages and the push read (``Order.attributes``).
ATTR_CANCELLATION = "bol_cancellation_requested"
ATTR_NOTICE = "bol_notice"
ATTR_PICKUP_POINT = "bol_pickup_point"
ATTR_LEFT_OUT = "bol_items_left_out"
ATTR_TIME_FRAME = "bol_time_frame"

#: bol.com's dates are Dutch calendar days.
try:
    BOL_ZONE: timezone | ZoneInfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # no time zone database: Central European Time, without summer time
    BOL_ZONE = timezone(timedelta(hours=1))

#: The largest quantity stored (PostgreSQL ``integer``).
MAX_QUANTITY = 2**31 - 1


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def map_order(raw: Any, now: datetime) -> Order | SkippedOrder:
    """One ``Order`` from ``GET /retailer/orders/{id}`` as a hub ``Order``, or skipped with the reason; never raises.

    ``now`` stands in for the order time when bol.com sends none.
    """
    order_id = _text(raw.get("orderId")) if isinstance(raw, dict) else None
    external_id = (order_id or MISSING_ID)[:200]
    try:
        if order_id is None:
            raise _Skip("malformed order from bol.com: no orderId")
        return _order(raw, order_id, now)
    except _Skip as skip:
        return SkippedOrder(external_id=external_id, reason=skip.reason)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        return SkippedOrder(external_id=external_id, reason=f"malformed order from bol.com: {where}: {first['msg']}")
    except Exception as err:
        log.warning("unexpected %s mapping bol.com order %s", type(err).__name__, external_id)
        return SkippedOrder(external_id=external_id, reason=f"malformed order from bol.com ({type(err).__name__})")


def _order(raw: dict[str, Any], order_id: str, now: datetime) -> Order:
    items = [item for item in _list(raw.get("orderItems")) if isinstance(item, dict)]
    if not items:
        raise _Skip("malformed order from bol.com: no order items")
    own, left_out = [], {FBB: 0, BOL: 0}
    for item in items:
        kind = _fulfilment_kind(item)
        if kind is None:
            own.append(item)
        else:
            left_out[kind] += 1
    if not own:
        if left_out[FBB] and not left_out[BOL]:
            raise _Skip(SKIP_FBB)
        if left_out[BOL] and not left_out[FBB]:
            raise _Skip(SKIP_VVB)
        raise _Skip(SKIP_NOT_OWN)

    mapped = [_item(item) for item in own]
    requested = [
        _text(item.get("orderItemId")) or ""
        for item, line in zip(own, mapped, strict=True)
        if item.get("cancellationRequest") is True and _open(item) > 0
    ]
    if requested:
        # Nothing of a requested item is offered for a label: the customer asked to cancel it.
        mapped = [line.model_copy(update={"quantity_unshipped": 0}) if line.external_id in requested else line for line in mapped]
    status = _status(own)

    changed = [stamp for stamp in (parse_time(item.get("latestChangedDateTime")) for item in own) if stamp]
    created_at = parse_time(raw.get("orderPlacedDateTime")) or (min(changed) if changed else now)
    updated_at = max([created_at, *changed])

    details = _dict(raw.get("shipmentDetails"))
    pickup_point = raw.get("pickupPoint") is True
    recipient = _recipient(details, pickup_point)
    if recipient is None and status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_SHIPPED):
        raise _Skip(NO_ADDRESS)

    fulfilments = [_dict(item.get("fulfilment")) for item in own]
    attributes = {
        ATTR_PICKUP_POINT: (recipient.company or "") if pickup_point and recipient else "",
        ATTR_CANCELLATION: ",".join(requested),
        ATTR_NOTICE: _notice(requested, len(own)),
        ATTR_LEFT_OUT: _left_out(left_out),
        ATTR_TIME_FRAME: _first(_text(f.get("timeFrameType")) for f in fulfilments) or "",
    }
    return Order(
        external_id=order_id,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        recipient=recipient,
        items=mapped,
        deliver_by=_deliver_by(fulfilments),
        service_level=attributes[ATTR_TIME_FRAME] or None,
        attributes={key: value for key, value in attributes.items() if value},
    )


def _fulfilment_kind(item: dict[str, Any]) -> str | None:
    """``None`` for an item the merchant ships with its own carrier, else ``FBB`` or ``BOL`` (VVB)."""
    fulfilment = _dict(item.get("fulfilment"))
    method = _text(fulfilment.get("method")) or _text(item.get("fulfilmentMethod"))
    if method == FBB:
        return FBB
    party = _text(fulfilment.get("distributionParty"))
    if party == BOL:
        return BOL
    if method != FBR:
        raise _Skip("malformed order from bol.com: an item without a known fulfilment method")
    if party is None:
        log.info("bol.com order item %s has no distributionParty: imported as shipped by the retailer", item.get("orderItemId"))
    return None


def _open(item: dict[str, Any]) -> int:
    """Units of an item still to ship: ordered minus shipped minus cancelled."""
    quantity, shipped, cancelled = (_count(item.get(key)) for key in ("quantity", "quantityShipped", "quantityCancelled"))
    return max(0, quantity - shipped - cancelled)


def _item(raw: dict[str, Any]) -> OrderItem:
    item_id = _text(raw.get("orderItemId"))
    quantity = _count(raw.get("quantity"))
    if item_id is None or quantity < 1:
        raise _Skip("malformed order from bol.com: an item without orderItemId or quantity")
    product, offer = _dict(raw.get("product")), _dict(raw.get("offer"))
    return OrderItem(
        external_id=item_id,
        sku=_text(offer.get("reference")),
        product_id=_text(product.get("ean")),
        title=_text(product.get("title")),
        quantity_ordered=quantity,
        quantity_unshipped=min(_open(raw), quantity),
        unit_price=_money(raw.get("unitPrice")),
    )


def _status(items: list[dict[str, Any]]) -> OrderStatus:
    open_units = sum(_open(item) for item in items)
    shipped = sum(_count(item.get("quantityShipped")) for item in items)
    if open_units == 0:
        return OrderStatus.SHIPPED if shipped else OrderStatus.CANCELLED
    return OrderStatus.PARTIALLY_SHIPPED if shipped else OrderStatus.OPEN


def _recipient(details: dict[str, Any], pickup_point: bool) -> Address | None:
    street, number = _text(details.get("streetName")), _text(details.get("houseNumber"))
    extension = _text(details.get("houseNumberExtension"))
    country = (_text(details.get("countryCode")) or "").upper()
    name = " ".join(part for part in (_text(details.get("firstName")), _text(details.get("surname"))) if part) or None
    if not street or not (name or details.get("company")) or len(country) != 2 or not country.isascii() or not country.isalpha():
        return None
    house = number or ""
    if extension:
        house = f"{house}{extension}" if extension.startswith(("-", "/")) else f"{house} {extension}"
    lines = [f"{street} {house}".strip()]
    extra = _text(details.get("extraAddressInformation"))
    if extra:
        lines.append(extra)
    company = _text(details.get("company"))
    if pickup_point:
        # The parcel goes to the pickup point, for the customer: its name is what the label shows.
        company = _text(details.get("pickupPointName")) or company
    return Address(
        name=name,
        company=company,
        lines=lines,
        postal_code=_text(details.get("zipCode")),
        city=_text(details.get("city")),
        country_code=country,
        phone=_text(details.get("deliveryPhoneNumber")),
        email=_text(details.get("email")),
        kind="pickup_point" if pickup_point else ("commercial" if _text(details.get("company")) else "residential"),
    )


def _deliver_by(fulfilments: list[dict[str, Any]]) -> TimeWindow | None:
    """The delivery window: an exact delivery day, else the latest delivery day (the earliest of the items')."""
    exact = [day for day in (_day(f.get("exactDeliveryDate")) for f in fulfilments) if day]
    if exact:
        day = min(exact)
        return TimeWindow(earliest=datetime.combine(day, time.min, BOL_ZONE), latest=_end_of(day))
    latest = [day for day in (_day(f.get("latestDeliveryDate")) for f in fulfilments) if day]
    return TimeWindow(latest=_end_of(min(latest))) if latest else None


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), BOL_ZONE)


def _notice(requested: list[str], own_items: int) -> str:
    if not requested:
        return ""
    which = "this order" if len(requested) == own_items else f"{len(requested)} of its items"
    return (
        f"The customer asked bol.com to cancel {which}: do not ship it; accept or decline the request in the "
        "bol.com Seller Dashboard."
    )


def _left_out(left_out: dict[str, int]) -> str:
    parts = []
    if left_out[FBB]:
        parts.append(f"{left_out[FBB]} shipped by bol.com (FBB)")
    if left_out[BOL]:
        parts.append(f"{left_out[BOL]} with a bol.com label (VVB)")
    return ", ".join(parts)


def _money(value: Any) -> Money | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return Money(amount=amount, currency="EUR") if amount.is_finite() else None


def fingerprint(reduced: dict[str, Any]) -> str:
    """A short digest of what ``GET /retailer/orders`` lists for an order: it changes when the order does.

    Item ids, fulfilment, status, quantities, cancellation requests and the time of the latest
    change (which moves with an address change too), in a stable order.
    """
    parts = []
    for item in sorted(_list(reduced.get("orderItems")), key=lambda i: str(_dict(i).get("orderItemId"))):
        item = _dict(item)
        parts.append(
            "|".join(
                str(item.get(key))
                for key in (
                    "orderItemId", "fulfilmentMethod", "fulfilmentStatus", "quantity", "quantityShipped",
                    "quantityCancelled", "cancellationRequest", "latestChangedDateTime",
                )
            )
        )
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=4).hexdigest()


def fbb_only(reduced: dict[str, Any]) -> bool:
    """Whether every item of a listed order is fulfilled by bol.com (no detail needed to skip it)."""
    items = [_dict(item) for item in _list(reduced.get("orderItems"))]
    return bool(items) and all(item.get("fulfilmentMethod") == FBB for item in items)


def handled(reduced: dict[str, Any]) -> bool:
    """Whether every item of a listed order is shipped or cancelled (``fulfilmentStatus`` HANDLED)."""
    items = [_dict(item) for item in _list(reduced.get("orderItems"))]
    return bool(items) and all(item.get("fulfilmentStatus") == "HANDLED" for item in items)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from bol.com in UTC, or ``None`` when it is missing or invalid."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        # bol.com sends an offset; a time without one is Dutch time.
        return (parsed.replace(tzinfo=BOL_ZONE) if parsed.tzinfo is None else parsed).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _valid_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_QUANTITY


def _count(value: Any) -> int:
    return value if _valid_count(value) else 0


def _first(values: Iterable[str | None]) -> str | None:
    return next((value for value in values if value), None)


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # ids are strings, but an older answer may carry a number
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
        if text:
            return text
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
