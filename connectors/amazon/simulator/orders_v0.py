"""Orders API v0 reads: ``getOrders``, ``getOrderItems`` and ``getOrderAddress`` (deprecated by Amazon).

The classic loop most tools still run: ``getOrders`` pages, then ``getOrderItems`` and
``getOrderAddress`` per order. They read the same orders as searchOrders, through the same index.

getOrders needs ``MarketplaceIds`` (at most 50) and exactly one of ``CreatedAfter`` /
``LastUpdatedAfter`` (no mixing with the other axis' ``*Before``; ``*Before`` not before ``*After``
and at least two minutes before now), else 400 ``InvalidInput``; it filters by ``OrderStatuses``
(v0 names, mapped to the 2026-01-01 statuses; ``InvoiceUnconfirmed`` matches nothing, as the
simulator confirms every invoice) and ``FulfillmentChannels`` (``MFN`` merchant, ``AFN`` Amazon);
``MaxResultsPerPage`` 1..100, default 100. ``NextToken`` carries the query: when it is given, the
other filters are ignored, as the model says (``MarketplaceIds`` must still be present, being
required). Tokens are opaque, bound to the seller and valid 24 hours, like searchOrders'. The
declared filters the simulator does not model (``PaymentMethods``, ``BuyerEmail``,
``SellerOrderId``, ...) get 400 rather than being silently ignored. Orders carry no
``ShippingAddress`` or ``BuyerInfo``: real v0 serves them only with a Restricted Data Token.

getOrderItems lists every item on one page; prices are left out while the order is pending, as
the model says. getOrderAddress serves the personal fields (name, street lines, postal code,
phone) on the rules searchOrders applies to RECIPIENT: only with the Direct-to-Consumer Delivery
role and only for orders ready to ship or shipped; no phone for Amazon-fulfilled orders or after
the delivery window of a shipped one. Another seller's order, like an unknown one, is 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from .answers import json_response
from .clock import iso
from .errors import invalid_input
from .gateway import operation
from .marketplace import BY_ID, MARKETPLACES, OTHER_MARKETPLACE_IDS
from .orders import (
    MAX_MARKETPLACES,
    TWO_MINUTES,
    Search,
    _list,
    _one,
    _own_order,
    _shipped,
    find_orders,
    parse_window,
)
from .records import AMAZON, CANCELLED, MERCHANT, PARTIALLY_SHIPPED, PENDING, SHIPPED, UNSHIPPED, Order
from .state import PAGE_TOKEN_TTL, STATE, SimulatorState

# v0 OrderStatus -> the 2026-01-01 statuses it stands for.
V0_STATUSES: dict[str, tuple[str, ...]] = {
    "PendingAvailability": ("PENDING_AVAILABILITY",),
    "Pending": (PENDING,),
    "Unshipped": (UNSHIPPED,),
    "PartiallyShipped": (PARTIALLY_SHIPPED,),
    "Shipped": (SHIPPED,),
    "InvoiceUnconfirmed": (),
    "Canceled": (CANCELLED,),
    "Unfulfillable": ("UNFULFILLABLE",),
}
STATUS_NAMES = {status: name for name, statuses in V0_STATUSES.items() for status in statuses}
CHANNELS = {"MFN": MERCHANT, "AFN": AMAZON}
CHANNEL_NAMES = {fulfilled_by: channel for channel, fulfilled_by in CHANNELS.items()}
# 2026-01-01 fulfillmentServiceLevel -> v0 ShipmentServiceLevelCategory.
SERVICE_CATEGORIES = {
    "EXPEDITED": "Expedited", "FREE_ECONOMY": "FreeEconomy", "NEXT_DAY": "NextDay", "PRIORITY": "Priority",
    "SAME_DAY": "SameDay", "SECOND_DAY": "SecondDay", "SCHEDULED": "Scheduled", "STANDARD": "Standard",
}
# Declared by the model, not modelled here: answered with 400 instead of being ignored.
UNSUPPORTED_FILTERS = (
    "PaymentMethods", "BuyerEmail", "SellerOrderId", "EasyShipShipmentStatuses", "ElectronicInvoiceStatuses",
    "AmazonOrderIds", "ActualFulfillmentSupplySourceId", "IsISPU", "StoreChainStoreId",
    "EarliestDeliveryDateBefore", "EarliestDeliveryDateAfter", "LatestDeliveryDateBefore", "LatestDeliveryDateAfter",
)
TOKEN_KIND = "getOrders"  # in a NextToken's "f", where searchOrders keeps its fingerprint: never equal
_READY = frozenset({UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED})
_UNPRICED = frozenset({PENDING, "PENDING_AVAILABILITY"})
_ADDRESS_FIELDS = {
    "name": "Name", "companyName": "CompanyName", "addressLine1": "AddressLine1", "addressLine2": "AddressLine2",
    "addressLine3": "AddressLine3", "city": "City", "districtOrCounty": "County", "stateOrRegion": "StateOrRegion",
    "municipality": "Municipality", "postalCode": "PostalCode", "countryCode": "CountryCode", "phone": "Phone",
}
_ADDRESS_TYPES = {"RESIDENTIAL": "Residential", "COMMERCIAL": "Commercial"}  # v0 knows no pickup points
_PERSONAL = ("name", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone")


@operation("getOrders")
async def get_orders(request: web.Request, seller_id: str) -> web.Response:
    """``GET /orders/v0/orders``."""
    state = request.app[STATE]
    query = request.query
    now = state.clock.time()
    _marketplace_ids(query)  # required even with a NextToken
    token = _one(query, "NextToken")
    start_key: tuple[int, str] | None = None
    if token is None:
        search = parse_get_orders(query, now)
        before = search.before if search.before is not None else float(int(now) - TWO_MINUTES)
        page_size = _v0_page_size(query) or 100
    else:
        search, before, start_key, page_size = _resume(state, seller_id, token, now)
        page_size = _v0_page_size(query) or page_size
    orders, last_key, more = find_orders(state, seller_id, search, before, page_size, start_key)
    payload: dict[str, Any] = {"Orders": [render_v0_order(state, order) for order in orders]}
    if more and last_key is not None:
        payload["NextToken"] = state.sign({
            "s": seller_id, "f": TOKEN_KIND, "t": now, "b": before, "k": list(last_key), "n": page_size,
            "q": [search.by_created, search.after,
                  *(sorted(v) if v is not None else None
                    for v in (search.statuses, search.fulfilled_by, search.marketplace_ids))],
        })
    payload["CreatedBefore" if search.by_created else "LastUpdatedBefore"] = iso(before)
    return json_response({"payload": payload})


def parse_get_orders(query: MultiMapping[str], now: float) -> Search:
    """Check getOrders' filters against the model's rules; 400 InvalidInput for each breach."""
    for name in UNSUPPORTED_FILTERS:
        if name in query:
            raise invalid_input(
                f"{name} is not supported by the simulator.",
                "The simulator filters getOrders by MarketplaceIds, the time window, OrderStatuses and "
                "FulfillmentChannels only.",
            )
    by_created, after, before = parse_window(
        query, now, ("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore"),
        "{} cannot be set when {} is set.",
    )
    statuses = _list(query, "OrderStatuses", tuple(V0_STATUSES))
    channels = _list(query, "FulfillmentChannels", tuple(CHANNELS))
    return Search(
        by_created, after, before,
        None if statuses is None else frozenset(s for name in statuses for s in V0_STATUSES[name]),
        None if channels is None else frozenset(CHANNELS[c] for c in channels),
        frozenset(_marketplace_ids(query)),
    )


def _resume(
    state: SimulatorState, seller_id: str, token: str, now: float
) -> tuple[Search, float, tuple[int, str], int]:
    """The search, Before bound, last key and page size a NextToken carries."""
    cursor = state.unsign(token)
    if cursor is None or cursor.get("s") != seller_id or cursor.get("f") != TOKEN_KIND:
        raise invalid_input("Invalid NextToken.", "The NextToken is not valid for this request.")
    if now - cursor["t"] > PAGE_TOKEN_TTL:
        raise invalid_input("The NextToken has expired.", "Tokens expire after 24 hours.")
    by_created, after, statuses, fulfilled_by, marketplace_ids = cursor["q"]
    search = Search(by_created, after, None, *(None if v is None else frozenset(v)
                                               for v in (statuses, fulfilled_by, marketplace_ids)))
    return search, cursor["b"], (cursor["k"][0], cursor["k"][1]), cursor["n"]


def _marketplace_ids(query: MultiMapping[str]) -> list[str]:
    ids = _list(query, "MarketplaceIds")
    if ids is None:
        raise invalid_input("MarketplaceIds is required.")
    if len(ids) > MAX_MARKETPLACES:
        raise invalid_input(f"MarketplaceIds takes at most {MAX_MARKETPLACES} values.")
    for value in ids:
        if value not in BY_ID and value not in OTHER_MARKETPLACE_IDS:
            raise invalid_input(f"Invalid MarketplaceId: {value}.")
    return ids


def _v0_page_size(query: MultiMapping[str]) -> int | None:
    value = _one(query, "MaxResultsPerPage")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 100:
        raise invalid_input("MaxResultsPerPage must be an integer between 1 and 100.", f"Got {value!r}.")
    return int(value)


@operation("getOrderItems")
async def get_order_items(request: web.Request, seller_id: str) -> web.Response:
    """``GET /orders/v0/orders/{orderId}/orderItems``: every item on one page."""
    state = request.app[STATE]
    order = _own_order(state, request.match_info["orderId"], seller_id)
    if _one(request.query, "NextToken") is not None:
        raise invalid_input("Invalid NextToken.", "The order's items fit on one page; no NextToken was issued.")
    return json_response({"payload": {"AmazonOrderId": order.order_id, "OrderItems": render_v0_items(state, order)}})


@operation("getOrderAddress")
async def get_order_address(request: web.Request, seller_id: str) -> web.Response:
    """``GET /orders/v0/orders/{orderId}/address``."""
    state = request.app[STATE]
    order = _own_order(state, request.match_info["orderId"], seller_id)
    payload: dict[str, Any] = {"AmazonOrderId": order.order_id}
    company = state.detail(order).buyer.get("buyerCompanyName")
    if company:
        payload["BuyerCompanyName"] = company
    payload["ShippingAddress"] = render_v0_address(state, order, state.config.delivery_role)
    return json_response({"payload": payload})


# -- rendering ---------------------------------------------------------------------------------


def render_v0_order(state: SimulatorState, order: Order) -> dict[str, Any]:
    """An order in the v0 ``Order`` shape, without ShippingAddress and BuyerInfo (they need an RDT)."""
    detail = state.detail(order)
    market = MARKETPLACES[order.marketplace]
    category = SERVICE_CATEGORIES[detail.service_level]
    body: dict[str, Any] = {"AmazonOrderId": order.order_id}
    if detail.seller_order_id:
        body["SellerOrderId"] = detail.seller_order_id
    body["PurchaseDate"] = iso(order.created)
    body["LastUpdateDate"] = iso(order.updated)
    body["OrderStatus"] = STATUS_NAMES[order.status]
    body["FulfillmentChannel"] = CHANNEL_NAMES[order.fulfilled_by]
    body["SalesChannel"] = market.name
    body["ShipServiceLevel"] = category
    if order.status not in _UNPRICED:
        items_total = sum((Decimal(i.unit_price) * i.quantity for i in detail.items), Decimal(0))
        body["OrderTotal"] = _money(items_total + Decimal(detail.shipping_price), detail.currency)
    # The model's own Pending example counts no units; a cancelled order has none left to ship.
    counted = order.status not in _UNPRICED and order.status != CANCELLED
    shipped = sum(_shipped(order, detail).values()) if counted else 0
    body["NumberOfItemsShipped"] = shipped
    body["NumberOfItemsUnshipped"] = sum(i.quantity for i in detail.items) - shipped if counted else 0
    body["PaymentMethod"] = "Other"
    body["PaymentMethodDetails"] = ["Standard"]
    body["MarketplaceId"] = market.marketplace_id
    body["ShipmentServiceLevelCategory"] = category
    body["OrderType"] = "StandardOrder"
    if order.fulfilled_by == MERCHANT:  # "Only returned for seller-fulfilled orders"
        body["EarliestShipDate"] = iso(detail.ship_by[0])
        body["LatestShipDate"] = iso(detail.ship_by[1])
        if order.status not in _UNPRICED and order.status != CANCELLED:
            body["EarliestDeliveryDate"] = iso(detail.deliver_by[0])
            body["LatestDeliveryDate"] = iso(detail.deliver_by[1])
    body["IsBusinessOrder"] = "AMAZON_BUSINESS" in order.programs
    body["IsPrime"] = "PRIME" in order.programs
    body["IsPremiumOrder"] = "PREMIUM" in order.programs
    body["IsGlobalExpressEnabled"] = False
    body["IsReplacementOrder"] = False
    body["IsSoldByAB"] = False
    body["IsISPU"] = "IN_STORE_PICK_UP" in order.programs
    body["IsAccessPointOrder"] = detail.address.get("addressType") == "PICKUP_POINT"
    return body


def render_v0_items(state: SimulatorState, order: Order) -> list[dict[str, Any]]:
    """The order's items in the v0 ``OrderItem`` shape; no prices while the order is pending."""
    detail = state.detail(order)
    shipped = _shipped(order, detail)
    priced = order.status not in _UNPRICED
    items = []
    for position, item in enumerate(detail.items):
        line: dict[str, Any] = {
            "ASIN": item.asin,
            "SellerSKU": item.sku,
            "OrderItemId": item.order_item_id,
            "Title": item.title,
            "QuantityOrdered": item.quantity,
            "QuantityShipped": shipped.get(item.order_item_id, 0),
        }
        if priced:
            # ItemPrice is the unit price times the quantity; the order's shipping rides on its first item.
            line["ItemPrice"] = _money(Decimal(item.unit_price) * item.quantity, detail.currency)
            shipping = Decimal(detail.shipping_price) if position == 0 else Decimal(0)
            line["ShippingPrice"] = _money(shipping, detail.currency)
            line["IsGift"] = "false"
        line["ConditionId"] = "New"
        line["ConditionSubtypeId"] = "New"
        line["IsTransparency"] = item.transparency
        line["SerialNumberRequired"] = False
        items.append(line)
    return items


def render_v0_address(state: SimulatorState, order: Order, pii: bool) -> dict[str, str]:
    """The shipping address in the v0 ``Address`` shape, personal fields on searchOrders' RECIPIENT rules."""
    detail = state.detail(order)
    address = dict(detail.address)
    if not (pii and order.status in _READY):
        for field in _PERSONAL:
            address.pop(field, None)
    elif order.fulfilled_by == AMAZON or (order.status == SHIPPED and state.clock.time() > detail.deliver_by[1]):
        address.pop("phone", None)  # suppressed as the model's Address.Phone says
    body = {_ADDRESS_FIELDS[key]: value for key, value in address.items() if key in _ADDRESS_FIELDS}
    address_type = _ADDRESS_TYPES.get(address.get("addressType", ""))
    if address_type and "Name" in body:  # AddressType is restricted like the name
        body["AddressType"] = address_type
    return body


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": f"{amount:.2f}"}
