"""Shipments and transports: ``POST``/``GET /retailer/shipments``, ``GET /retailer/shipments/{id}``,
``PUT /retailer/transports/{transport-id}``.

A ``ShipmentRequest`` is checked in two steps, as bol.com does. Its shape at once (400 with
``violations``): ``orderItems`` 1 to 100, each with a non-empty ``orderItemId`` (once per request)
and an optional ``quantity`` of at least 1; ``shipmentReference`` null or 1 to 90 characters;
exactly one of ``transport`` (with a known ``transporterCode``, ``GLS`` among them, and an optional
``trackAndTrace``) and ``shippingLabelId``. Then it is accepted (202, ``CREATE_SHIPMENT``, the
first order item as ``entityId``) and bol.com's rules are applied when the status settles, a
FAILURE with an ``errorMessage`` when one is broken: every item exists and belongs to the caller,
all belong to one order, none is FBB, none has a customer cancellation request, a VVB item
(distribution party BOL) goes with its own ``shippingLabelId`` and nothing else does, and each
quantity (all open units when left out) fits the open quantity at that moment. On SUCCESS the
shipment exists with a new ``shipmentId`` and ``transportId``, the items' ``quantityShipped`` grow
and an item with nothing left open becomes HANDLED. There is no idempotency: the same request sent
twice makes two shipments when the units allow it.

The list (``order-id``, or ``fulfilment-method`` FBR by default, not both; pages of 50, newest
first; ``{}`` when empty, like the order list) shows ``ReducedShipment``s; the detail a full
``Shipment``. In a shipment's items ``quantity`` is the ordered quantity of the order item and
``quantityShipped`` the units that went in this shipment. A shipment made without a reference
shows ``shipmentReference: ""`` (the field is required in bol.com's description).

A ``ChangeTransportRequest`` (``trackAndTrace`` required, ``transporterCode`` optional) is accepted
(202, ``CHANGE_TRANSPORT``, the transport id as ``entityId``) and changes the transport when it
settles, or fails for a transport the caller does not have.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .clock import bol_time
from .gateway import Call, operation, read_json
from .orders import fulfilment, offer
from .problems import bad_request, enum_reason, json_answer, not_found
from .process_status import render_process_status
from .query import choice, page_number
from .records import FBR, TRANSPORTER_CODES, Shipment
from .state import STATE, ShipmentPlan, SimulatorState

PAGE_SIZE = 50
MAX_ITEMS = 100
MAX_REFERENCE = 90


@operation("create-shipment", body=True)
async def create_shipment(request: web.Request, call: Call) -> web.Response:
    """Accept a shipment; it is made (or fails) when its process status settles."""
    plan = shipment_plan(await read_json(request))
    status = request.app[STATE].accept_shipment(call.retailer_id, plan, call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


def shipment_plan(body: Any) -> ShipmentPlan:
    """Check a ShipmentRequest's shape (400 listing every violation) and read it."""
    if not isinstance(body, dict):
        raise bad_request(("body", "must be a ShipmentRequest object"))
    problems: list[tuple[str, str]] = []
    lines = body.get("orderItems")
    items: list[tuple[str, int | None]] = []
    if not isinstance(lines, list) or not lines:
        problems.append(("orderItems", "must contain at least 1 order item"))
        lines = []
    elif len(lines) > MAX_ITEMS:
        problems.append(("orderItems", f"size must be between 1 and {MAX_ITEMS}"))
    seen: set[str] = set()
    for index, line in enumerate(lines):
        where = f"orderItems[{index}]"
        if not isinstance(line, dict):
            problems.append((where, "must be an object"))
            continue
        item_id = line.get("orderItemId")
        quantity = line.get("quantity")
        if not isinstance(item_id, str) or not item_id:
            problems.append((f"{where}.orderItemId", "must not be blank"))
            continue
        if item_id in seen:
            problems.append((f"{where}.orderItemId", f"order item {item_id} is given more than once"))
        seen.add(item_id)
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1):
            problems.append((f"{where}.quantity", "must be a whole number of at least 1"))
            continue
        items.append((item_id, quantity))
    reference = body.get("shipmentReference")
    if reference is not None and (not isinstance(reference, str) or not 1 <= len(reference) <= MAX_REFERENCE):
        problems.append(("shipmentReference", f"Only 'null' or non-empty strings of at most {MAX_REFERENCE} "
                                              "characters accepted."))
    label = body.get("shippingLabelId")
    if label is not None and (not isinstance(label, str) or not label):
        problems.append(("shippingLabelId", "Only 'null' or non-empty strings accepted."))
    transport = body.get("transport")
    code = track = None
    if transport is not None:
        if not isinstance(transport, dict):
            problems.append(("transport", "must be a TransportInstruction object"))
        else:
            code = transport.get("transporterCode")
            track = transport.get("trackAndTrace")
            if not isinstance(code, str) or not code:
                problems.append(("transport.transporterCode", "must not be blank"))
            elif code not in TRANSPORTER_CODES:
                problems.append(("transport.transporterCode", enum_reason(code, sorted(TRANSPORTER_CODES))))
            if track is not None and (not isinstance(track, str) or not track):
                problems.append(("transport.trackAndTrace", "Only 'null' or non-empty strings accepted."))
    if transport is not None and label is not None:
        problems.append(("shippingLabelId", "Give either a transport or a shippingLabelId, not both."))
    if transport is None and label is None:
        problems.append(("transport", "Give a transport (transporterCode, trackAndTrace) or a shippingLabelId."))
    if problems:
        raise bad_request(*problems)
    return ShipmentPlan(tuple(items), reference, code, track, label)


@operation("get-shipments")
async def get_shipments(request: web.Request, call: Call) -> web.Response:
    """A page of the retailer's shipments, of one order or one fulfilment method."""
    state = request.app[STATE]
    query = request.query
    page = page_number(query)
    order_id = query.get("order-id")
    if order_id is not None and "fulfilment-method" in query:
        raise bad_request(("fulfilment-method", "order-id is only valid without fulfilment-method."))
    if order_id is not None:
        found = state.shipments_of(call.retailer_id, order_id)
    else:
        method = choice(query, "fulfilment-method", ("FBR", "FBB"), FBR)
        found = [s for s in state.shipments_of(call.retailer_id) if method_of(state, s) == method]
    chunk = found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    if not chunk:
        return json_answer({}, media_type=call.media_type)
    return json_answer({"shipments": [reduced_shipment(state, s) for s in chunk]}, media_type=call.media_type)


@operation("get-shipment")
async def get_shipment(request: web.Request, call: Call) -> web.Response:
    """One shipment in full."""
    shipment_id = request.match_info["shipment_id"]
    state = request.app[STATE]
    try:
        shipment = state.shipment(shipment_id, call.retailer_id)
    except KeyError:
        raise not_found(f"Shipment with id {shipment_id} could not be found.") from None
    return json_answer(render_shipment(state, shipment), media_type=call.media_type)


@operation("add-transport-information-by-transport-id", body=True)
async def change_transport(request: web.Request, call: Call) -> web.Response:
    """Accept a new track and trace (and transporter) for a transport."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request(("body", "must be a ChangeTransportRequest object"))
    track = body.get("trackAndTrace")
    code = body.get("transporterCode")
    problems = []
    if not isinstance(track, str) or not track:
        problems.append(("trackAndTrace", "must not be blank"))
    if code is not None and (not isinstance(code, str) or code not in TRANSPORTER_CODES):
        problems.append(("transporterCode", enum_reason(str(code), sorted(TRANSPORTER_CODES))))
    if problems:
        raise bad_request(*problems)
    status = request.app[STATE].accept_transport_change(
        call.retailer_id, request.match_info["transport_id"], str(track), code, call.forced_outcome
    )
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


def method_of(state: SimulatorState, shipment: Shipment) -> str:
    """The fulfilment method of a shipment's items."""
    found = state.items.get(shipment.items[0][0])
    return found[1].method if found else FBR


def reduced_shipment(state: SimulatorState, shipment: Shipment) -> dict[str, Any]:
    """A ``ReducedShipment``."""
    order = state.orders[shipment.order_id]
    return {
        "shipmentId": shipment.shipment_id,
        "shipmentDateTime": bol_time(shipment.created),
        "shipmentReference": shipment.reference or "",
        "order": {"orderId": order.order_id, "orderPlacedDateTime": bol_time(order.placed)},
        "shipmentItems": [{"orderItemId": item_id, "ean": state.items[item_id][1].ean}
                          for item_id, _ in shipment.items],
        "transport": {"transportId": shipment.transport.transport_id},
    }


def render_shipment(state: SimulatorState, shipment: Shipment) -> dict[str, Any]:
    """A full ``Shipment``."""
    order = state.orders[shipment.order_id]
    items = []
    for item_id, units in shipment.items:
        item = state.items[item_id][1]
        block = fulfilment(item)
        shipment_fulfilment = {key: block[key] for key in ("method", "distributionParty", "latestDeliveryDate")
                               if key in block}
        items.append({
            "orderItemId": item_id,
            "fulfilment": shipment_fulfilment,
            "offer": offer(item),
            "product": {"ean": item.ean, "title": item.title},
            "quantity": item.quantity,
            "quantityShipped": units,
            "unitPrice": item.unit_price,
            "commission": item.commission,
        })
    transport = shipment.transport
    transport_block: dict[str, Any] = {"transportId": transport.transport_id}
    if transport.transporter_code is not None:
        transport_block["transporterCode"] = transport.transporter_code
    if transport.track_and_trace is not None:
        transport_block["trackAndTrace"] = transport.track_and_trace
    if transport.shipping_label_id is not None:
        transport_block["shippingLabelId"] = transport.shipping_label_id
    if transport.events:
        transport_block["transportEvents"] = [{"eventCode": code, "eventDateTime": bol_time(at)}
                                              for code, at in transport.events]
    body: dict[str, Any] = {
        "shipmentId": shipment.shipment_id,
        "shipmentDateTime": bol_time(shipment.created),
        "shipmentReference": shipment.reference or "",
        "pickupPoint": order.pickup_point,
        "order": {"orderId": order.order_id, "orderPlacedDateTime": bol_time(order.placed)},
        "shipmentDetails": dict(order.shipment_details),
    }
    if order.billing_details is not None:
        body["billingDetails"] = dict(order.billing_details)
    body["shipmentItems"] = items
    body["transport"] = transport_block
    return body
