"""Orders: ``GET /retailer/orders``, ``GET /retailer/orders/{order-id}`` and ``PUT /retailer/orders/cancellation``.

The list filters order *items* and shows each order with its matching items:
``fulfilment-method`` FBR (default), FBB or ALL; ``status`` OPEN (default: items with units left to
ship, including partly shipped ones and those with a cancellation request), SHIPPED (handled items
with shipped units) or ALL; ``change-interval-minute`` (1 to 60: items changed in the last N
minutes); ``latest-change-date`` (``YYYY-MM-DD``, Dutch date, at most three months back: items last
changed that day); ``vvb-only`` (``true``: only items with distribution party BOL). Pages of 50
orders (``page`` from 1), newest placed first (the order is the simulator's choice); no orders is
``{}``, as bol.com answers. A bad parameter is a 400 ``Problem`` naming it.

The detail is the full ``Order``: shipment details (``pickupPointName`` for pickup points), billing
details when the customer gave them, and per item the fulfilment (method, ``distributionParty``
when known, delivery dates, ``timeFrameType``), offer, product, quantities, prices and
``cancellationRequest``. Absent values are left out rather than sent as null.

A cancellation names exactly one item and a reason; it is accepted (202, ``CANCEL_ORDER``) and,
when it settles, cancels the item's open units or fails with an ``errorMessage``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from .clock import AMSTERDAM, bol_time
from .gateway import Call, operation, read_json
from .problems import bad_request, enum_reason, json_answer, not_found
from .process_status import render_process_status
from .query import boolean, choice, integer, page_number
from .records import BOL, CANCELLATION_REASONS, HANDLED, OPEN, Order, OrderItem
from .state import STATE

PAGE_SIZE = 50
HISTORY_DAYS = 92  # "up to 3 months of history"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@operation("get-orders")
async def get_orders(request: web.Request, call: Call) -> web.Response:
    """A page of the retailer's orders with the items that pass the filters."""
    state = request.app[STATE]
    query = request.query
    page = page_number(query)
    method = choice(query, "fulfilment-method", ("FBR", "FBB", "ALL"), "FBR")
    status = choice(query, "status", ("OPEN", "SHIPPED", "ALL"), "OPEN")
    now = state.clock.time()
    since = None
    if "change-interval-minute" in query:
        minutes = integer(query, "change-interval-minute")
        if not 1 <= minutes <= 60:
            raise bad_request(("change-interval-minute", "must be between 1 and 60"))
        since = now - minutes * 60
    day = None
    if "latest-change-date" in query:
        day = change_date(query["latest-change-date"], now)
    vvb_only = boolean(query, "vvb-only")

    def keep(item: OrderItem) -> bool:
        if method != "ALL" and item.method != method:
            return False
        if status == "OPEN" and item.fulfilment_status != OPEN:
            return False
        if status == "SHIPPED" and not (item.fulfilment_status == HANDLED and item.quantity_shipped > 0):
            return False
        if since is not None and item.changed < since:
            return False
        if day is not None and datetime.fromtimestamp(item.changed, AMSTERDAM).date() != day:
            return False
        return not (vvb_only and item.distribution_party != BOL)

    listed = []
    for order in state.orders_of(call.retailer_id):
        items = [item for item in order.items if keep(item)]
        if items:
            listed.append((order, items))
    chunk = listed[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    if not chunk:
        return json_answer({}, media_type=call.media_type)
    return json_answer({"orders": [reduced_order(order, items) for order, items in chunk]},
                       media_type=call.media_type)


@operation("get-order")
async def get_order(request: web.Request, call: Call) -> web.Response:
    """One order in full."""
    order_id = request.match_info["order_id"]
    try:
        order = request.app[STATE].order(order_id, call.retailer_id)
    except KeyError:
        raise not_found(f"Order with id {order_id} could not be found.") from None
    return json_answer(render_order(order), media_type=call.media_type)


@operation("cancel-order-item", body=True)
async def cancel_order_item(request: web.Request, call: Call) -> web.Response:
    """Accept the cancellation of one order item."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request(("body", "must be a CancellationRequest object"))
    lines = body.get("orderItems")
    if not isinstance(lines, list) or len(lines) != 1:
        raise bad_request(("orderItems", "exactly one order item must be given"))
    line = lines[0]
    if not isinstance(line, dict):
        raise bad_request(("orderItems[0]", "must be an object"))
    item_id = line.get("orderItemId")
    if not isinstance(item_id, str) or not item_id:
        raise bad_request(("orderItems[0].orderItemId", "must not be empty"))
    reason = line.get("reasonCode")
    if reason not in CANCELLATION_REASONS:
        raise bad_request(("orderItems[0].reasonCode", enum_reason(str(reason), CANCELLATION_REASONS)))
    state = request.app[STATE]
    status = state.accept_cancellation(call.retailer_id, item_id, reason, call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


# -- query parameters ----------------------------------------------------------------------------


def change_date(raw: str, now: float) -> date:
    """``latest-change-date``: a ``YYYY-MM-DD`` date at most three months back, or 400."""
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise bad_request(("latest-change-date", f"'{raw}' is not a date in the format YYYY-MM-DD.")) from None
    today = datetime.fromtimestamp(now, AMSTERDAM).date()
    if day < today - timedelta(days=HISTORY_DAYS):
        raise bad_request(("latest-change-date", "Up to 3 months of history is supported."))
    return day


# -- rendering ---------------------------------------------------------------------------------


def reduced_order(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """A ``ReducedOrder`` with the given items."""
    return {
        "orderId": order.order_id,
        "orderPlacedDateTime": bol_time(order.placed),
        "orderItems": [
            {
                "orderItemId": item.order_item_id,
                "ean": item.ean,
                "fulfilmentMethod": item.method,
                "fulfilmentStatus": item.fulfilment_status,
                "quantity": item.quantity,
                "quantityShipped": item.quantity_shipped,
                "quantityCancelled": item.quantity_cancelled,
                "cancellationRequest": item.cancellation_request,
                "latestChangedDateTime": bol_time(item.changed),
            }
            for item in items
        ],
    }


def render_order(order: Order) -> dict[str, Any]:
    """The full ``Order``."""
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "pickupPoint": order.pickup_point,
        "orderPlacedDateTime": bol_time(order.placed),
        "shipmentDetails": dict(order.shipment_details),
    }
    if order.billing_details is not None:
        body["billingDetails"] = dict(order.billing_details)
    body["orderItems"] = [render_item(item) for item in order.items]
    return body


def fulfilment(item: OrderItem) -> dict[str, Any]:
    """An item's ``OrderFulfilment``."""
    block: dict[str, Any] = {"method": item.method}
    if item.distribution_party is not None:
        block["distributionParty"] = item.distribution_party
    if item.exact_delivery_date is not None:
        block["exactDeliveryDate"] = item.exact_delivery_date
    elif item.latest_delivery_date is not None:
        block["latestDeliveryDate"] = item.latest_delivery_date
    if item.expiry_date is not None:
        block["expiryDate"] = item.expiry_date
    block["timeFrameType"] = item.time_frame_type
    return block


def offer(item: OrderItem) -> dict[str, Any]:
    """An item's ``OrderOffer``."""
    block = {"offerId": item.offer_id}
    if item.offer_reference is not None:
        block["reference"] = item.offer_reference
    return block


def render_item(item: OrderItem) -> dict[str, Any]:
    """An ``OrderOrderItem``."""
    discount = sum(amount for _, amount in item.discounts)
    body: dict[str, Any] = {
        "orderItemId": item.order_item_id,
        "cancellationRequest": item.cancellation_request,
        "fulfilment": fulfilment(item),
        "offer": offer(item),
        "product": {"ean": item.ean, "title": item.title},
        "quantity": item.quantity,
        "quantityShipped": item.quantity_shipped,
        "quantityCancelled": item.quantity_cancelled,
        "unitPrice": item.unit_price,
        "totalPrice": round(item.unit_price * item.quantity - discount, 2),
        "discounts": [{"title": title, "amount": amount} for title, amount in item.discounts],
        "commission": item.commission,
        "latestChangedDateTime": bol_time(item.changed),
    }
    if item.additional_services:
        body["additionalServices"] = [{"serviceType": service} for service in item.additional_services]
    return body
