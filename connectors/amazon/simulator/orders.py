"""Orders API: 2026-01-01 ``searchOrders`` and ``getOrder``, v0 ``confirmShipment``.

searchOrders applies the rules that bite: exactly one of ``createdAfter`` / ``lastUpdatedAfter``
(and no mixing with the other axis' ``*Before``); ``*Before`` not before ``*After`` and at least two
minutes before now (else 400 ``InvalidInput``); filters ``fulfillmentStatuses``, ``fulfilledBy``,
``marketplaceIds`` (at most 50); ``maxResultsPerPage`` 1..100; ``paginationToken`` opaque, valid
24 hours, and only with the same other parameters (``maxResultsPerPage`` and ``includedData`` may
change). Orders come sorted by (time, order id) and only with a time at or before the Before bound,
which the response states (``lastUpdatedBefore`` / ``createdBefore``); an order changed while a
client pages moves past that bound, so it shows up in the next incremental window instead of
being lost. ``includedData`` decides which blocks appear; personal data only when the app holds
the Direct-to-Consumer Delivery role, and only for orders that are ready to ship or shipped.

confirmShipment validates as the model says and as Amazon is seen to behave (contract §5), stores
the package under its ``packageReferenceId`` (the same id edits it) and moves the order UNSHIPPED ->
PARTIALLY_SHIPPED -> SHIPPED; 204 on success.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, ValidationError

from .answers import json_response, orders_response
from .clock import iso, parse_iso
from .errors import SpApiError, invalid_input, not_found
from .gateway import operation
from .marketplace import BY_ID, MARKETPLACES, OTHER_MARKETPLACE_IDS
from .records import (
    AMAZON,
    CANCELLED,
    CARRIER_CODES,
    MERCHANT,
    PARTIALLY_SHIPPED,
    SHIPPED,
    STATUSES,
    UNSHIPPED,
    Detail,
    Order,
    Package,
)
from .state import PAGE_TOKEN_TTL, STATE, SimulatorState

INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION",
                 "FULFILLMENT", "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
FULFILLED_BY = (MERCHANT, AMAZON)
TWO_MINUTES = 120
MAX_MARKETPLACES = 50
_READY = frozenset({UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED})
_MARKETPLACE_ID = re.compile(r"^[a-zA-Z0-9]{1,50}$")


@dataclass(frozen=True)
class Search:
    """A searchOrders request, parsed and checked."""

    by_created: bool
    after: float
    before: float | None  # as given; None means "two minutes before now"
    statuses: frozenset[str] | None
    fulfilled_by: frozenset[str] | None
    marketplace_ids: frozenset[str] | None

    def fingerprint(self) -> str:
        """What a pagination token must be used with again (all but page size and includedData)."""
        parts = [self.by_created, self.after, self.before,
                 *(sorted(v) if v is not None else None
                   for v in (self.statuses, self.fulfilled_by, self.marketplace_ids))]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]

    def matches(self, order: Order) -> bool:
        """True when the order passes the filters (the time window is the index's job)."""
        market_id = MARKETPLACES[order.marketplace].marketplace_id
        return (
            (self.statuses is None or order.status in self.statuses)
            and (self.fulfilled_by is None or order.fulfilled_by in self.fulfilled_by)
            and (self.marketplace_ids is None or market_id in self.marketplace_ids)
        )


@operation("searchOrders")
async def search_orders(request: web.Request, seller_id: str) -> web.Response:
    """``GET /orders/2026-01-01/orders``."""
    state = request.app[STATE]
    query = request.query
    now = state.clock.time()
    search = parse_search(query, now)
    page_size = _page_size(query)
    included = _included(query)
    before = search.before if search.before is not None else float(int(now) - TWO_MINUTES)
    start_key: tuple[int, str] | None = None
    token = _one(query, "paginationToken")
    if token is not None:
        cursor = state.unsign(token)
        if cursor is None or cursor.get("s") != seller_id:
            raise invalid_input("Invalid paginationToken.", "The paginationToken is not valid for this request.")
        if now - cursor["t"] > PAGE_TOKEN_TTL:
            raise invalid_input("The paginationToken has expired.", "Pagination tokens expire after 24 hours.")
        if cursor["f"] != search.fingerprint():
            raise invalid_input(
                "Invalid paginationToken.",
                "Use the paginationToken with the same parameters as the request that returned it; "
                "only maxResultsPerPage and includedData may change.",
            )
        before = cursor["b"]
        start_key = (cursor["k"][0], cursor["k"][1])
    orders, last_key, more = find_orders(state, seller_id, search, before, page_size, start_key)
    pii = state.config.delivery_role
    body: dict[str, Any] = {"orders": [render_order(state, o, included, pii) for o in orders]}
    if more and last_key is not None:
        body["pagination"] = {"nextToken": state.sign(
            {"s": seller_id, "f": search.fingerprint(), "b": before, "k": list(last_key), "t": now}
        )}
    body["createdBefore" if search.by_created else "lastUpdatedBefore"] = iso(before)
    return orders_response(body)


def find_orders(
    state: SimulatorState,
    seller_id: str,
    search: Search,
    before: float,
    limit: int,
    start_key: tuple[int, str] | None,
) -> tuple[list[Order], tuple[int, str] | None, bool]:
    """One page of matching orders after ``start_key``, its last key, and whether more match."""
    keys, lo, hi = state.indexes[seller_id].window(search.by_created, search.after, before)
    if start_key is not None:
        lo = max(lo, bisect_right(keys, start_key))
    page: list[Order] = []
    last_key = None
    orders = state.orders
    for position in range(lo, hi):
        order = orders[keys[position][1]]
        if not search.matches(order):
            continue
        if len(page) == limit:
            return page, last_key, True
        page.append(order)
        last_key = keys[position]
    return page, last_key, False


def parse_search(query: MultiMapping[str], now: float) -> Search:
    """Check searchOrders' parameters against the rules; 400 InvalidInput for each breach."""
    by_created, after, before = parse_window(
        query, now, ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore"),
        "{} cannot be combined with {}.",
    )
    statuses = _list(query, "fulfillmentStatuses", STATUSES)
    fulfilled_by = _list(query, "fulfilledBy", FULFILLED_BY)
    marketplace_ids = _list(query, "marketplaceIds")
    if marketplace_ids is not None:
        if len(marketplace_ids) > MAX_MARKETPLACES:
            raise invalid_input(f"marketplaceIds takes at most {MAX_MARKETPLACES} values.")
        for value in marketplace_ids:
            if value not in BY_ID and value not in OTHER_MARKETPLACE_IDS:
                raise invalid_input(f"Invalid marketplaceId: {value}.")
    return Search(by_created, after, before, _set(statuses), _set(fulfilled_by), _set(marketplace_ids))


def parse_window(
    query: MultiMapping[str], now: float, names: tuple[str, str, str, str], mixed: str
) -> tuple[bool, float, float | None]:
    """The time window of an order search: (by creation time, after, before or None).

    ``names`` are the created after/before and updated after/before parameters; ``mixed`` is the
    message for a Before of the other axis, formatted with it and the After given. Exactly one After;
    a Before not before it and at least two minutes before now; 400 InvalidInput for each breach.
    """
    created_after_name, created_before_name, updated_after_name, updated_before_name = names
    created_after = _time(query, created_after_name)
    created_before = _time(query, created_before_name)
    updated_after = _time(query, updated_after_name)
    updated_before = _time(query, updated_before_name)
    if created_after is not None and updated_after is None:
        if updated_before is not None:
            raise invalid_input(mixed.format(updated_before_name, created_after_name))
        by_created, after, before = True, created_after, created_before
        window = (created_after_name, created_before_name)
    elif updated_after is not None and created_after is None:
        if created_before is not None:
            raise invalid_input(mixed.format(created_before_name, updated_after_name))
        by_created, after, before = False, updated_after, updated_before
        window = (updated_after_name, updated_before_name)
    else:
        raise invalid_input(f"Exactly one of {created_after_name} and {updated_after_name} must be provided.")
    if before is not None:
        if before < after:
            raise invalid_input(f"{window[1]} must be equal to or after {window[0]}.")
        if before > now - TWO_MINUTES:
            raise invalid_input(f"{window[1]} must be at least two minutes before the time of the request.")
    return by_created, after, before


@operation("getOrder")
async def get_order(request: web.Request, seller_id: str) -> web.Response:
    """``GET /orders/2026-01-01/orders/{orderId}``."""
    state = request.app[STATE]
    order = _own_order(state, request.match_info["orderId"], seller_id)
    included = _included(request.query)
    return json_response({"order": render_order(state, order, included, state.config.delivery_role)})


# -- rendering ---------------------------------------------------------------------------------


def render_order(state: SimulatorState, order: Order, included: frozenset[str], pii: bool) -> dict[str, Any]:
    """An order in the 2026-01-01 ``Order`` shape with the blocks ``included`` asks for."""
    detail = state.detail(order)
    market = MARKETPLACES[order.marketplace]
    currency = detail.currency
    body: dict[str, Any] = {"orderId": order.order_id}
    if detail.seller_order_id:
        body["orderAliases"] = [{"aliasId": detail.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
    body["createdTime"] = iso(order.created)
    body["lastUpdatedTime"] = iso(order.updated)
    if order.programs:
        body["programs"] = list(order.programs)
    body["salesChannel"] = (
        {"channelName": "AMAZON", "marketplaceId": market.marketplace_id, "marketplaceName": market.name}
        if order.shows_marketplace
        else {"channelName": "AMAZON"}  # the model requires only channelName
    )
    ready = pii and order.status in _READY
    if "BUYER" in included:
        buyer = {k: v for k, v in detail.buyer.items() if k in ("buyerCompanyName", "buyerPurchaseOrderNumber")}
        if ready:
            buyer["buyerName"] = detail.buyer["buyerName"]
            if order.fulfilled_by == MERCHANT:
                buyer["buyerEmail"] = detail.buyer["buyerEmail"]
        body["buyer"] = buyer
    if "RECIPIENT" in included:
        address = dict(detail.address)
        if not ready:
            for field in ("name", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone"):
                address.pop(field, None)
        elif order.fulfilled_by == AMAZON or (
            order.status == SHIPPED and state.clock.time() > detail.deliver_by[1]
        ):
            address.pop("phone", None)  # suppressed as the model's CustomerAddress.phone says
        body["recipient"] = {"deliveryAddress": address}
    shipped = _shipped(order, detail)
    if "PROCEEDS" in included:
        items_total = sum((Decimal(i.unit_price) * i.quantity for i in detail.items), Decimal(0))
        shipping = Decimal(detail.shipping_price)
        body["proceeds"] = {
            "grandTotal": _money(items_total + shipping, currency),
            "breakdowns": [
                {"type": "ITEM", "subtotal": _money(items_total, currency)},
                {"type": "SHIPPING", "subtotal": _money(shipping, currency)},
            ],
        }
    if "FULFILLMENT" in included:
        body["fulfillment"] = {
            "fulfillmentStatus": order.status,
            "fulfilledBy": order.fulfilled_by,
            "fulfillmentServiceLevel": detail.service_level,
            "shipByWindow": {"earliestDateTime": iso(detail.ship_by[0]), "latestDateTime": iso(detail.ship_by[1])},
            "deliverByWindow": {
                "earliestDateTime": iso(detail.deliver_by[0]), "latestDateTime": iso(detail.deliver_by[1]),
            },
        }
    items = []
    for item in detail.items:
        line: dict[str, Any] = {"orderItemId": item.order_item_id, "quantityOrdered": item.quantity}
        if item.transparency:
            line["programs"] = ["TRANSPARENCY"]
        line["product"] = {
            "asin": item.asin,
            "title": item.title,
            "sellerSku": item.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": {"unitPrice": {"amount": item.unit_price, "currencyCode": currency}},
        }
        if "PROCEEDS" in included:
            subtotal = _money(Decimal(item.unit_price) * item.quantity, currency)
            line["proceeds"] = {"proceedsTotal": subtotal, "breakdowns": [{"type": "ITEM", "subtotal": subtotal}]}
        if "CANCELLATION" in included and order.status == CANCELLED:
            line["cancellation"] = {"cancellationExecution": {
                "cancelledBy": "BUYER" if detail.cancel_reason == "BUYER_CANCELLED" else "SELLER",
                "cancelReason": detail.cancel_reason or "BUYER_CANCELLED",
            }}
        if "FULFILLMENT" in included:
            done = shipped.get(item.order_item_id, 0)
            line["fulfillment"] = {"quantityFulfilled": done, "quantityUnfulfilled": max(item.quantity - done, 0)}
        items.append(line)
    body["orderItems"] = items
    if "PACKAGES" in included and order.fulfilled_by == MERCHANT:
        body["packages"] = [render_package(p) for p in detail.packages.values()]
    return body


def render_package(package: Package) -> dict[str, Any]:
    """A package in the 2026-01-01 ``OrderPackage`` shape."""
    body: dict[str, Any] = {
        "packageReferenceId": package.package_reference_id,
        "createdTime": iso(package.created_time),
        "packageStatus": {"status": package.status},
        "carrier": package.carrier,
        "shipTime": iso(package.ship_time),
    }
    if package.shipping_method:
        body["shippingService"] = package.shipping_method
    body["trackingNumber"] = package.tracking_number
    items = []
    for item_id, quantity in package.items.items():
        entry: dict[str, Any] = {"orderItemId": item_id, "quantity": quantity}
        if package.transparency_codes.get(item_id):
            entry["transparencyCodes"] = list(package.transparency_codes[item_id])
        items.append(entry)
    body["packageItems"] = items
    return body


def _shipped(order: Order, detail: Detail) -> dict[str, int]:
    if order.fulfilled_by == AMAZON:
        return {i.order_item_id: i.quantity for i in detail.items} if order.status == SHIPPED else {}
    return {i.order_item_id: detail.shipped(i.order_item_id) for i in detail.items}


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


# -- confirmShipment ----------------------------------------------------------------------------


class _ItemIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    orderItemId: str
    quantity: int
    transparencyCodes: list[str] | None = None


class _PackageIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    packageReferenceId: str
    carrierCode: str
    carrierName: str | None = None
    shippingMethod: str | None = None
    trackingNumber: str
    shipDate: str
    shipFromSupplySourceId: str | None = None
    orderItems: list[_ItemIn]


class _ConfirmIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    marketplaceId: str
    packageDetail: _PackageIn
    codCollectionMethod: Literal["DirectPayment"] | None = None


@operation("confirmShipment")
async def confirm_shipment(request: web.Request, seller_id: str) -> web.Response:
    """``POST /orders/v0/orders/{orderId}/shipmentConfirmation``: 204 once the package is stored."""
    state = request.app[STATE]
    order = _own_order(state, request.match_info["orderId"], seller_id)
    try:
        payload = await request.json()
    except ValueError:
        raise invalid_input("The request body is not valid JSON.") from None
    try:
        confirmation = _ConfirmIn.model_validate(payload)
    except ValidationError as err:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise invalid_input(f"Invalid input: {problems[0]}", "; ".join(problems)) from None
    package = _check_confirmation(state, order, confirmation)
    state.save_package(order, package, payload)
    return web.Response(status=204)


def _check_confirmation(state: SimulatorState, order: Order, request: _ConfirmIn) -> Package:
    detail = state.detail(order)
    pkg = request.packageDetail
    market_id = MARKETPLACES[order.marketplace].marketplace_id
    if not _MARKETPLACE_ID.match(request.marketplaceId):
        raise invalid_input("MarketplaceId: is invalid, must match ^[a-zA-Z0-9]{1,50}$.")
    if request.marketplaceId != market_id:
        raise invalid_input(f"MarketplaceId {request.marketplaceId} does not match the order's marketplace.")
    reference = pkg.packageReferenceId
    if not (reference.isascii() and reference.isdigit()) or int(reference) <= 0:
        raise invalid_input("PackageReferenceId: is invalid, must be a positive numeric value.")
    try:
        ship_time = parse_iso(pkg.shipDate)
    except ValueError:
        raise invalid_input("ShipDate: is invalid, must be an ISO 8601 date-time.", f"Got {pkg.shipDate!r}.") from None
    if pkg.carrierCode not in CARRIER_CODES:
        raise invalid_input(
            f"CarrierCode: {pkg.carrierCode!r} is not a valid carrier code.",
            "Use a carrier code from Seller Central's list, or Other with carrierName.",
        )
    if pkg.carrierCode == "Other" and not (pkg.carrierName or "").strip():
        raise invalid_input("CarrierName: is required when CarrierCode is Other.")
    if not pkg.trackingNumber.strip():
        raise invalid_input("TrackingNumber: is required.")
    if not pkg.orderItems:
        raise invalid_input("OrderItems: at least one order item is required.")
    items = {item.order_item_id: item for item in detail.items}
    contents: dict[str, int] = {}
    codes: dict[str, list[str]] = {}
    for line in pkg.orderItems:
        if line.orderItemId not in items:
            raise invalid_input(
                "OrderItemId is invalid, please obtain the value through the getOrderItems API or Manage Orders page",
                f"Unknown orderItemId {line.orderItemId}.",
            )
        if line.orderItemId in contents:
            raise invalid_input(f"OrderItemId {line.orderItemId} appears more than once in the package.")
        if line.quantity <= 0:
            raise invalid_input(f"Quantity: is invalid for orderItemId {line.orderItemId}, must be positive.")
        contents[line.orderItemId] = line.quantity
        if line.transparencyCodes:
            codes[line.orderItemId] = list(line.transparencyCodes)
    if order.fulfilled_by == AMAZON:
        raise invalid_input("The order is fulfilled by Amazon; its shipment cannot be confirmed.")
    if "FBM_SHIP_PLUS" in order.programs:
        raise invalid_input("Shipments of Ship+ orders are confirmed by Amazon; confirmShipment is not allowed.")
    if order.status == CANCELLED:
        raise invalid_input("The order has been cancelled; its shipment cannot be confirmed.")
    if order.status not in _READY:
        raise invalid_input(f"The order is not ready to ship (status {order.status}).")
    ref = pkg.packageReferenceId
    if order.status == SHIPPED and ref not in detail.packages:
        raise SpApiError(
            400, "GeneralError",
            "Failed to create package due to not finding a matching package or order already fulfilled",
            "PackageToUpdateNotFound",
        )
    for item_id, quantity in contents.items():
        open_units = items[item_id].quantity - detail.shipped(item_id, excluding=ref)
        if quantity > open_units:
            raise invalid_input(
                f"Quantity {quantity} for orderItemId {item_id} exceeds the {open_units} unit(s) not yet shipped."
            )
    now = state.clock.seconds()
    return Package(
        package_reference_id=ref,
        carrier_code=pkg.carrierCode,
        carrier_name=pkg.carrierName,
        tracking_number=pkg.trackingNumber,
        ship_time=int(ship_time),
        created_time=now,
        items=contents,
        shipping_method=pkg.shippingMethod,
        ship_from_supply_source_id=pkg.shipFromSupplySourceId,
        transparency_codes=codes,
    )


# -- parameters ---------------------------------------------------------------------------------


def _own_order(state: SimulatorState, order_id: str, seller_id: str) -> Order:
    order = state.orders.get(order_id)
    if order is None or order.seller_id != seller_id:
        raise not_found(f"Order {order_id} was not found.")
    return order


def _one(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise invalid_input(f"{name} was given more than once; send one comma-separated value.")
    if not values:
        return None
    if values[0] == "":
        raise invalid_input(f"{name} is empty.")
    return values[0]


def _time(query: MultiMapping[str], name: str) -> float | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise invalid_input(f"{name} is not a valid ISO 8601 date-time.", f"Got {value!r}.") from None


def _list(query: MultiMapping[str], name: str, allowed: tuple[str, ...] | None = None) -> list[str] | None:
    value = _one(query, name)
    if value is None:
        return None
    items = value.split(",")
    for item in items:
        if item == "":
            raise invalid_input(f"{name} has an empty value.")
        if allowed is not None and item not in allowed:
            raise invalid_input(f"{name} has an invalid value {item!r}.", f"Allowed: {', '.join(allowed)}.")
    return items


def _set(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values is not None else None


def _page_size(query: MultiMapping[str]) -> int:
    value = _one(query, "maxResultsPerPage")
    if value is None:
        return 100
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 100:
        raise invalid_input("maxResultsPerPage must be an integer between 1 and 100.", f"Got {value!r}.")
    return int(value)


def _included(query: MultiMapping[str]) -> frozenset[str]:
    return frozenset(_list(query, "includedData", INCLUDED_DATA) or ())
