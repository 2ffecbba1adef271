"""The admin API under ``/_sim/``: plain JSON for tests, the contract kit's scenarios, benchmarks and the demo.

No token, no media type: send and read ``application/json``. Errors answer ``{"error": "..."}``
with 400 (bad input) or 404 (unknown id). Times are UTC (``2026-03-02T12:00:00Z``) unless a field
shows what the API shows. Every route also has an in-process twin on ``SimulatorState`` (named in
brackets) for tests that hold the simulator object.

World and clock::

    GET    /_sim/state                     summary: now, retailers with credentials, counts, faults,
                                           settle delay, signing key, token and call counts
    POST   /_sim/reset                     back to the seeded start: config, clock, orders, tokens,
                                           shipments, statuses, subscriptions, deliveries   [reset()]
    GET    /_sim/clock                     {"now": ..., "frozen": bool}
    POST   /_sim/clock/advance             {"seconds": 300} -> {"now": ...}; settles what became due
                                           [clock.advance(), then settle_due() to settle at once]
    PATCH  /_sim/config                    change behaviour while running, any of
                                           {"rateLimits": false, "settleDelay": 0.5 | null (null: only the
                                            admin API settles), "processStatusTtl": 172800,
                                            "deliveryRetries": 10, "retryInterval": 0.05,
                                            "deliveryTimeout": 10, "httpsOnly": false, "tokenTtl": 299}
                                           -> the whole config. A new settle delay applies to statuses
                                           accepted from then on.

Retailers, credentials and tokens::

    GET    /_sim/retailers                 {"retailers": [{"retailerId", "displayName", "active",
                                            "clients": [{"clientId", "clientSecret", "deleted"}]}]}
    PATCH  /_sim/retailers/{retailerId}    {"active": false}: API calls answer 403 "Account is not active"
    POST   /_sim/clients                   {"retailerId"?, "clientId"?, "clientSecret"?} -> 201 new
                                           credentials (generated where left out)           [add_client()]
    DELETE /_sim/clients/{clientId}        credentials deleted in the Seller Dashboard: POST /token answers
                                           invalid_client and the tokens given out answer 401 [delete_client()]
    GET    /_sim/tokens                    token requests per client id: {"clients": {"<clientId>":
                                            {"requests", "issued", "refused"}}, "unknownClients": {...},
                                            "active": n}                        [clients[id].token_requests]
    POST   /_sim/tokens/expire             {"clientId"?}: the tokens (of one client) expire now -> {"expired": n}
    GET    /_sim/calls                     API calls per operationId (after faults): {"calls": {...}}
                                                                                             [calls]

Orders (items by ``orderItemId`` across retailers; ids are unique in a world)::

    GET    /_sim/orders?retailerId=&limit= order summaries, newest placed first
    POST   /_sim/orders                    add an order placed now; emits ORDER/ORDER_CREATED -> 201 the
                                           order as below. Body (everything optional):
                                           {"retailerId", "orderId", "shape": "fbr" | "multi" | "pickup" | "fbb"
                                            | "vvb" | "cancel_request" | "partly_shipped" | "alphanumeric"
                                            | "shipped" | "mixed" | "belgian" | "appointment" | "no_party"
                                            | "business", "country": "NL" | "BE", "pickupPointName",
                                            "shipmentDetails": {...fields to override}, "billingDetails": {...},
                                            "items": [{"orderItemId", "ean", "title", "quantity", "unitPrice",
                                              "method": "FBR" | "FBB", "distributionParty": "RETAILER" | "BOL"
                                              | null, "cancellationRequest", "quantityCancelled",
                                              "shippingLabelId", "timeFrameType"}]}  [new_order(), OrderCreate]
    POST   /_sim/orders/generate           {"count": 10, "retailerId"?, "shape"?: "fbr"}: orders placed now,
                                           one ORDER_CREATED each -> 201 {"orderIds": [...]}
    GET    /_sim/orders/{orderId}          {"retailerId", "order": <the API's Order>, "shipments": [<the API's
                                            Shipment> + "processStatusId"], "shipmentCounts": {...}}
    PATCH  /_sim/orders/{orderId}          {"shipmentDetails": {...fields}, "billingDetails": {...fields}}: the
                                           customer changes an address; every item counts as changed now
                                                                                         [update_order()]
    PATCH  /_sim/order-items/{itemId}      {"cancellationRequest": true (emits ORDER/
                                            ORDER_ITEM_CANCELLATION_REQUEST) | false, "method": "FBR" | "FBB",
                                            "distributionParty": "RETAILER" | "BOL" | null,
                                            "shippingLabelId": "..."}          [request_cancellation()]
    POST   /_sim/order-items/{itemId}/cancel  {"quantity"?}: bol.com or the customer cancels units (all open
                                           units by default)                                [cancel_units()]

Shipments (count these to prove that nothing ships twice)::

    GET    /_sim/shipments?orderId=&orderItemId=&made=true   shipments as the API's Shipment plus
                                           "retailerId" and "processStatusId" (null for seeded ones);
                                           made=true: only those the API created            [shipments_made()]
    GET    /_sim/shipment-counts?orderId=  {"orderItems": {"<orderItemId>": n}}: shipments the API created
                                           per order item (seeded shipments left out)       [shipment_counts()]
    POST   /_sim/shipments/{id}/transport-events  {"eventCode": "AT_TRANSPORTER"}: a transporter reports;
                                           emits SHIPMENT/UPDATE_TRANSPORT_EVENT         [add_transport_event()]

Process statuses::

    GET    /_sim/process-statuses?status=&eventType=&entityId=   every status (expired ones too) as the
                                           API's ProcessStatus plus "retailerId", "entityIds", "due",
                                           "visible"
    POST   /_sim/process-statuses/settle   settle every pending status now -> {"settled": n} [settle_all()]
    POST   /_sim/process-statuses/{id}/settle   {} its own outcome now (the shipment is made, or FAILURE
                                           when a rule is broken), or {"status": "FAILURE", "errorMessage"?}
                                           / {"status": "TIMEOUT"}: ends so, nothing done       [settle()]
    POST   /_sim/process-statuses/{id}/expire   past retention now: 404 and missing from lists [expire()]

Faults (syntax in ``faults``)::

    GET    /_sim/faults                    active rules
    PUT    /_sim/faults                    replace: {"spec": "create-shipment:lost:next=1"} or {"faults": [rule]}
    POST   /_sim/faults                    add rules (same body)
    DELETE /_sim/faults                    clear

Subscriptions, keys and deliveries::

    GET    /_sim/subscriptions             every subscription plus "retailerId", "disabledReason"
    POST   /_sim/subscriptions/{id}/disable   {"reason"?}: disabled as bol.com does after failed deliveries
                                                                                 [disable_subscription()]
    GET    /_sim/signature-keys            {"current": "<keyId>", "signatureKeys": [KeySet]}
    POST   /_sim/signature-keys/rotate     {"retireOld": false}: sign with a new key id from now on; with
                                           retireOld the older keys are no longer published -> as GET
                                                                                          [rotate_keys()]
    GET    /_sim/deliveries?subscriptionId=&state=&resource=   messages sent, oldest first: {"deliveryId",
                                           "subscriptionId", "url", "resource", "type", "resourceId",
                                           "state": pending | delivered | failed | dropped, "keyId",
                                           "signature" (the header), "body" (the exact text signed),
                                           "attempts": [{"at", "status", "error"}], "duplicateOf"} [deliveries]
    POST   /_sim/deliveries/{id}/redeliver send the same body and signature again (a duplicate) -> 201
                                                                                          [redeliver()]

In-process, ``await state.wait_for(lambda: ..., timeout=5)`` waits for a condition without sleeping.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .arrival import OrderCreate
from .clock import utc_time
from .faults import FaultRule, parse_faults
from .orders import render_order
from .problems import dumps
from .process_status import render_process_status
from .records import (
    SETTLED,
    TRANSPORT_EVENT_CODES,
    Delivery,
    ProcessStatus,
    Shipment,
)
from .shipments import render_shipment
from .state import STATE, SimulatorState
from .subscriptions import render_subscription

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()


def json_response(body: Any, status: int = 200) -> web.Response:
    """A plain JSON answer."""
    return web.json_response(body, status=status, dumps=dumps)


def _admin(handler: Route) -> Route:
    @functools.wraps(handler)
    async def route(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except KeyError as err:
            return json_response({"error": str(err.args[0]) if err.args else "not found"}, 404)
        except (ValueError, ValidationError) as err:
            return json_response({"error": str(err)}, 400)

    return route


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigChange(_Strict):
    """Behaviour that may change while the simulator runs."""

    rateLimits: bool | None = None
    settleDelay: float | None = Field(default=None, ge=0)
    processStatusTtl: float | None = Field(default=None, gt=0)
    deliveryRetries: int | None = Field(default=None, ge=0)
    retryInterval: float | None = Field(default=None, ge=0)
    deliveryTimeout: float | None = Field(default=None, gt=0)
    httpsOnly: bool | None = None
    tokenTtl: int | None = Field(default=None, ge=1)


_CONFIG_FIELDS = {
    "rateLimits": "rate_limits", "settleDelay": "settle_delay", "processStatusTtl": "process_status_ttl",
    "deliveryRetries": "delivery_retries", "retryInterval": "retry_interval",
    "deliveryTimeout": "delivery_timeout", "httpsOnly": "https_only", "tokenTtl": "token_ttl",
}


class OrderChange(_Strict):
    """A change to an order's addresses."""

    shipmentDetails: dict[str, str] | None = None
    billingDetails: dict[str, str] | None = None


class ItemChange(_Strict):
    """A change to an order item; it counts as a change now."""

    cancellationRequest: bool | None = None
    method: Literal["FBR", "FBB"] | None = None
    distributionParty: Literal["RETAILER", "BOL"] | None = None
    shippingLabelId: str | None = None


# -- views -------------------------------------------------------------------------------------


def config_json(state: SimulatorState) -> dict[str, Any]:
    """The behaviour switches as the admin API shows them."""
    config = state.config
    return {
        "rateLimits": config.rate_limits, "settleDelay": config.settle_delay,
        "processStatusTtl": config.process_status_ttl, "deliveryRetries": config.delivery_retries,
        "retryInterval": config.retry_interval, "deliveryTimeout": config.delivery_timeout,
        "httpsOnly": config.https_only, "tokenTtl": config.token_ttl, "seed": config.seed,
    }


def retailers_json(state: SimulatorState) -> list[dict[str, Any]]:
    """Retailers with their credentials."""
    return [
        {
            "retailerId": retailer.retailer_id,
            "displayName": retailer.display_name,
            "companyName": retailer.company_name,
            "active": retailer.active,
            "orders": sum(1 for o in state.orders.values() if o.retailer_id == retailer.retailer_id),
            "clients": [{"clientId": c.client_id, "clientSecret": c.client_secret, "deleted": c.deleted}
                        for c in state.clients.values() if c.retailer_id == retailer.retailer_id],
        }
        for retailer in state.retailers.values()
    ]


def tokens_json(state: SimulatorState) -> dict[str, Any]:
    """Token requests per client id."""
    now = state.clock.time()
    return {
        "clients": {c.client_id: {"requests": c.token_requests, "issued": c.tokens_issued, "refused": c.refused}
                    for c in state.clients.values()},
        "unknownClients": dict(state.unknown_token_requests),
        "active": sum(1 for t in state.tokens.values() if t.expires > now),
    }


def shipment_json(state: SimulatorState, shipment: Shipment) -> dict[str, Any]:
    """A shipment as the API shows it, with its retailer and the process status that made it."""
    return render_shipment(state, shipment) | {"retailerId": shipment.retailer_id,
                                               "processStatusId": shipment.process_status_id}


def order_json(state: SimulatorState, order_id: str) -> dict[str, Any]:
    """An order as the API shows it, its shipments and the API-made shipments per item."""
    order = state.order(order_id)
    return {
        "retailerId": order.retailer_id,
        "order": render_order(order),
        "shipments": [shipment_json(state, s) for s in reversed(state.shipments_of(order.retailer_id, order_id))],
        "shipmentCounts": state.shipment_counts(order_id),
    }


def process_status_json(state: SimulatorState, status: ProcessStatus, base_url: str) -> dict[str, Any]:
    """A process status as the API shows it, with what only the simulator knows."""
    return render_process_status(status, base_url) | {
        "retailerId": status.retailer_id,
        "entityIds": list(status.entity_ids or (status.entity_id,)),
        "due": utc_time(status.due) if status.pending and status.due is not None else None,
        "visible": state.visible(status),
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery with its exact body, signature header and attempts."""
    return {
        "deliveryId": delivery.delivery_id, "subscriptionId": delivery.subscription_id,
        "retailerId": delivery.retailer_id, "url": delivery.url, "resource": delivery.resource,
        "type": delivery.event_type, "resourceId": delivery.resource_id, "state": delivery.state,
        "keyId": delivery.key_id, "signature": delivery.signature, "body": delivery.body.decode(),
        "created": utc_time(delivery.created), "attempts": [a.as_json() for a in delivery.attempts],
        "duplicateOf": delivery.duplicate_of,
    }


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("send a JSON object")
    return data


def _base(request: web.Request) -> str:
    return str(request.url.origin())


# -- world and clock ---------------------------------------------------------------------------


@routes.get("/_sim/state")
@_admin
async def get_state(request: web.Request) -> web.Response:
    """A summary of the whole simulator."""
    state = request.app[STATE]
    pending = sum(1 for s in state.processes.values() if s.pending)
    return json_response({
        "now": utc_time(state.clock.time()),
        "clockFrozen": state.clock.frozen,
        "config": config_json(state),
        "retailers": retailers_json(state),
        "orders": len(state.orders),
        "shipments": len(state.shipments),
        "shipmentsMade": len(state.shipments_made()),
        "processStatuses": {"pending": pending, "settled": len(state.processes) - pending},
        "subscriptions": len(state.subscriptions),
        "deliveries": len(state.deliveries),
        "signatureKey": state.keys.current_id,
        "faults": [rule.spec() for rule in state.faults.rules],
        "tokens": tokens_json(state),
        "calls": dict(state.calls),
    })


@routes.post("/_sim/reset")
@_admin
async def reset(request: web.Request) -> web.Response:
    """Back to the seeded start."""
    request.app[STATE].reset()
    return json_response({"reset": True})


@routes.get("/_sim/clock")
@_admin
async def get_clock(request: web.Request) -> web.Response:
    """The simulated time."""
    state = request.app[STATE]
    return json_response({"now": utc_time(state.clock.time()), "frozen": state.clock.frozen})


@routes.post("/_sim/clock/advance")
@_admin
async def advance_clock(request: web.Request) -> web.Response:
    """Move the simulated clock forward and settle what became due."""
    state = request.app[STATE]
    seconds = (await _body(request)).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise ValueError("give seconds as a number")
    state.clock.advance(float(seconds))
    state.settle_due()
    return json_response({"now": utc_time(state.clock.time())})


@routes.patch("/_sim/config")
@_admin
async def change_config(request: web.Request) -> web.Response:
    """Change behaviour switches."""
    state = request.app[STATE]
    change = ConfigChange.model_validate(await _body(request))
    for name, value in change.model_dump(exclude_unset=True).items():
        if value is None and name != "settleDelay":
            raise ValueError(f"{name} cannot be null")
        setattr(state.config, _CONFIG_FIELDS[name], value)
    state.wake.set()
    return json_response(config_json(state))


# -- retailers, credentials, tokens ------------------------------------------------------------


@routes.get("/_sim/retailers")
@_admin
async def list_retailers(request: web.Request) -> web.Response:
    """Retailers with their credentials."""
    return json_response({"retailers": retailers_json(request.app[STATE])})


@routes.patch("/_sim/retailers/{retailer_id}")
@_admin
async def change_retailer(request: web.Request) -> web.Response:
    """Activate or deactivate a retailer's account."""
    state = request.app[STATE]
    retailer = state.retailer(request.match_info["retailer_id"])
    body = await _body(request)
    if set(body) - {"active"} or not isinstance(body.get("active"), bool):
        raise ValueError('send {"active": true|false}')
    retailer.active = body["active"]
    return json_response(next(r for r in retailers_json(state) if r["retailerId"] == retailer.retailer_id))


@routes.post("/_sim/clients")
@_admin
async def add_client(request: web.Request) -> web.Response:
    """New credentials for a retailer."""
    state = request.app[STATE]
    body = await _body(request)
    if set(body) - {"retailerId", "clientId", "clientSecret"}:
        raise ValueError("allowed fields: retailerId, clientId, clientSecret")
    client = state.add_client(body.get("retailerId") or state.first_retailer.retailer_id,
                              body.get("clientId"), body.get("clientSecret"))
    return json_response({"clientId": client.client_id, "clientSecret": client.client_secret,
                          "retailerId": client.retailer_id}, 201)


@routes.delete("/_sim/clients/{client_id}")
@_admin
async def delete_client(request: web.Request) -> web.Response:
    """Delete credentials."""
    client = request.app[STATE].delete_client(request.match_info["client_id"])
    return json_response({"clientId": client.client_id, "deleted": True})


@routes.get("/_sim/tokens")
@_admin
async def get_tokens(request: web.Request) -> web.Response:
    """Token requests per client id."""
    return json_response(tokens_json(request.app[STATE]))


@routes.post("/_sim/tokens/expire")
@_admin
async def expire_tokens(request: web.Request) -> web.Response:
    """Let tokens expire now."""
    body = await _body(request)
    return json_response({"expired": request.app[STATE].expire_tokens(body.get("clientId"))})


@routes.get("/_sim/calls")
@_admin
async def get_calls(request: web.Request) -> web.Response:
    """API calls per operation."""
    return json_response({"calls": dict(request.app[STATE].calls)})


# -- orders ------------------------------------------------------------------------------------


@routes.get("/_sim/orders")
@_admin
async def list_orders(request: web.Request) -> web.Response:
    """Order summaries, newest placed first."""
    state = request.app[STATE]
    retailer_id = request.query.get("retailerId") or state.first_retailer.retailer_id
    state.retailer(retailer_id)
    limit = int(request.query.get("limit", "100"))
    found = []
    for order in state.orders_of(retailer_id)[:limit]:
        found.append({
            "orderId": order.order_id, "placed": utc_time(order.placed), "pickupPoint": order.pickup_point,
            "items": [{"orderItemId": i.order_item_id, "method": i.method, "distributionParty": i.distribution_party,
                       "status": i.fulfilment_status, "quantity": i.quantity, "quantityShipped": i.quantity_shipped,
                       "quantityCancelled": i.quantity_cancelled, "cancellationRequest": i.cancellation_request}
                      for i in order.items],
        })
    return json_response({"orders": found})


@routes.post("/_sim/orders")
@_admin
async def add_order(request: web.Request) -> web.Response:
    """Add an order placed now."""
    state = request.app[STATE]
    order_id = create_order(state, OrderCreate.model_validate(await _body(request)))
    return json_response(order_json(state, order_id), 201)


@routes.post("/_sim/orders/generate")
@_admin
async def generate(request: web.Request) -> web.Response:
    """Add generated orders placed now."""
    state = request.app[STATE]
    body = await _body(request)
    if set(body) - {"count", "retailerId", "shape"}:
        raise ValueError("allowed fields: count, retailerId, shape")
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
        raise ValueError("count must be a whole number from 1 to 10000")
    spec = OrderCreate(retailerId=body.get("retailerId"), shape=body.get("shape", "fbr"))
    return json_response({"orderIds": [create_order(state, spec) for _ in range(count)]}, 201)


def create_order(state: SimulatorState, new: OrderCreate) -> str:
    """File the order ``new`` asks for (see ``SimulatorState.new_order``); returns its id."""
    return state.new_order(new).order_id


@routes.get("/_sim/orders/{order_id}")
@_admin
async def get_order(request: web.Request) -> web.Response:
    """An order, its shipments and shipment counts."""
    return json_response(order_json(request.app[STATE], request.match_info["order_id"]))


@routes.patch("/_sim/orders/{order_id}")
@_admin
async def change_order(request: web.Request) -> web.Response:
    """Change an order's addresses; its items count as changed now."""
    state = request.app[STATE]
    change = OrderChange.model_validate(await _body(request))
    state.update_order(request.match_info["order_id"], change.shipmentDetails, change.billingDetails)
    return json_response(order_json(state, request.match_info["order_id"]))


@routes.patch("/_sim/order-items/{order_item_id}")
@_admin
async def change_item(request: web.Request) -> web.Response:
    """Change an order item (a customer's cancellation request, how it is fulfilled)."""
    state = request.app[STATE]
    order, item = state.item(request.match_info["order_item_id"])
    change = ItemChange.model_validate(await _body(request))
    given = change.model_dump(exclude_unset=True)
    if "method" in given:
        item.method = given["method"]
    if "distributionParty" in given:
        item.distribution_party = given["distributionParty"]
    if "shippingLabelId" in given:
        item.shipping_label_id = given["shippingLabelId"]
    if item.vvb and item.shipping_label_id is None:
        item.shipping_label_id = state.ids.uuid()
    state.touch(item)
    if given.get("cancellationRequest") is True and not item.cancellation_request:
        state.request_cancellation(item.order_item_id)
    elif given.get("cancellationRequest") is False:
        item.cancellation_request = False
    state.notify()
    return json_response(order_json(state, order.order_id))


@routes.post("/_sim/order-items/{order_item_id}/cancel")
@_admin
async def cancel_item(request: web.Request) -> web.Response:
    """Cancel units of an order item."""
    state = request.app[STATE]
    body = await _body(request)
    quantity = body.get("quantity")
    if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool)):
        raise ValueError("quantity must be a whole number")
    order, _ = state.item(request.match_info["order_item_id"])
    state.cancel_units(request.match_info["order_item_id"], quantity)
    return json_response(order_json(state, order.order_id))


# -- shipments ---------------------------------------------------------------------------------


@routes.get("/_sim/shipments")
@_admin
async def list_shipments(request: web.Request) -> web.Response:
    """Shipments, oldest first."""
    state = request.app[STATE]
    query = request.query
    if query.get("made") == "true":
        found = state.shipments_made(query.get("orderItemId"), query.get("orderId"))
    else:
        found = [
            s for s in state.shipments.values()
            if (query.get("orderId") is None or s.order_id == query["orderId"])
            and (query.get("orderItemId") is None or any(i == query["orderItemId"] for i, _ in s.items))
        ]
    return json_response({"shipments": [shipment_json(state, s) for s in found]})


@routes.get("/_sim/shipment-counts")
@_admin
async def shipment_counts(request: web.Request) -> web.Response:
    """Shipments the API created, per order item."""
    return json_response({"orderItems": request.app[STATE].shipment_counts(request.query.get("orderId"))})


@routes.post("/_sim/shipments/{shipment_id}/transport-events")
@_admin
async def transport_event(request: web.Request) -> web.Response:
    """A transporter reports on a shipment's parcel."""
    state = request.app[STATE]
    code = (await _body(request)).get("eventCode")
    if code not in TRANSPORT_EVENT_CODES:
        raise ValueError(f"eventCode must be one of {', '.join(TRANSPORT_EVENT_CODES)}")
    shipment = state.add_transport_event(request.match_info["shipment_id"], code)
    return json_response(shipment_json(state, shipment))


# -- process statuses --------------------------------------------------------------------------


@routes.get("/_sim/process-statuses")
@_admin
async def list_process_statuses(request: web.Request) -> web.Response:
    """Every process status, oldest first."""
    state = request.app[STATE]
    state.settle_due()
    query = request.query
    found = [
        s for s in state.processes.values()
        if (query.get("status") is None or s.status == query["status"])
        and (query.get("eventType") is None or s.event_type == query["eventType"])
        and (query.get("entityId") is None or query["entityId"] in (s.entity_ids or (s.entity_id,)))
    ]
    return json_response({"processStatuses": [process_status_json(state, s, _base(request)) for s in found]})


@routes.post("/_sim/process-statuses/settle")
@_admin
async def settle_all(request: web.Request) -> web.Response:
    """Settle every pending process status now."""
    return json_response({"settled": request.app[STATE].settle_all()})


@routes.post("/_sim/process-statuses/{process_status_id}/settle")
@_admin
async def settle(request: web.Request) -> web.Response:
    """Settle one process status now, with its own outcome or the one given."""
    state = request.app[STATE]
    body = await _body(request)
    if set(body) - {"status", "errorMessage"}:
        raise ValueError("allowed fields: status, errorMessage")
    outcome = body.get("status")
    if outcome is not None and outcome not in SETTLED:
        raise ValueError(f"status must be one of {', '.join(SETTLED)}")
    status = state.settle(request.match_info["process_status_id"], outcome, body.get("errorMessage"))
    return json_response(process_status_json(state, status, _base(request)))


@routes.post("/_sim/process-statuses/{process_status_id}/expire")
@_admin
async def expire(request: web.Request) -> web.Response:
    """Put a settled process status past its retention."""
    state = request.app[STATE]
    state.expire(request.match_info["process_status_id"])
    return json_response(process_status_json(state, state.processes[request.match_info["process_status_id"]],
                                              _base(request)))


# -- faults ------------------------------------------------------------------------------------


def _rules(body: dict[str, Any]) -> list[FaultRule]:
    if "spec" in body:
        return parse_faults(str(body["spec"]))
    return [FaultRule.model_validate(rule) for rule in body.get("faults", [])]


def _faults_json(state: SimulatorState) -> dict[str, Any]:
    return {"faults": [rule.model_dump(exclude_none=True) for rule in state.faults.rules]}


@routes.get("/_sim/faults")
@_admin
async def get_faults(request: web.Request) -> web.Response:
    """The active fault rules."""
    return json_response(_faults_json(request.app[STATE]))


@routes.put("/_sim/faults")
@_admin
async def set_faults(request: web.Request) -> web.Response:
    """Replace the fault rules."""
    state = request.app[STATE]
    state.faults.set(_rules(await _body(request)))
    return json_response(_faults_json(state))


@routes.post("/_sim/faults")
@_admin
async def add_faults(request: web.Request) -> web.Response:
    """Add fault rules."""
    state = request.app[STATE]
    state.faults.add(_rules(await _body(request)))
    return json_response(_faults_json(state))


@routes.delete("/_sim/faults")
@_admin
async def clear_faults(request: web.Request) -> web.Response:
    """Remove every fault rule."""
    request.app[STATE].faults.clear()
    return json_response({"faults": []})


# -- subscriptions, keys, deliveries -----------------------------------------------------------


@routes.get("/_sim/subscriptions")
@_admin
async def list_subscriptions(request: web.Request) -> web.Response:
    """Every subscription."""
    state = request.app[STATE]
    return json_response({"subscriptions": [
        render_subscription(s) | {"retailerId": s.retailer_id, "disabledReason": s.disabled_reason}
        for s in state.subscriptions.values()
    ]})


@routes.post("/_sim/subscriptions/{subscription_id}/disable")
@_admin
async def disable_subscription(request: web.Request) -> web.Response:
    """Disable a subscription as bol.com does."""
    state = request.app[STATE]
    reason = (await _body(request)).get("reason") or "disabled by bol.com"
    subscription = state.disable_subscription(request.match_info["subscription_id"], str(reason))
    return json_response(render_subscription(subscription) | {"retailerId": subscription.retailer_id,
                                                              "disabledReason": subscription.disabled_reason})


@routes.get("/_sim/signature-keys")
@_admin
async def get_keys(request: web.Request) -> web.Response:
    """The signing keys."""
    keys = request.app[STATE].keys
    return json_response({"current": keys.current_id, "signatureKeys": keys.published()})


@routes.post("/_sim/signature-keys/rotate")
@_admin
async def rotate_keys(request: web.Request) -> web.Response:
    """Sign with a new key from now on."""
    state = request.app[STATE]
    body = await _body(request)
    retire = body.get("retireOld", False)
    if not isinstance(retire, bool) or set(body) - {"retireOld"}:
        raise ValueError('send {"retireOld": true|false}')
    state.rotate_keys(retire)
    return json_response({"current": state.keys.current_id, "signatureKeys": state.keys.published()})


@routes.get("/_sim/deliveries")
@_admin
async def list_deliveries(request: web.Request) -> web.Response:
    """Messages sent, oldest first."""
    state = request.app[STATE]
    query = request.query
    found = [
        d for d in state.deliveries
        if (query.get("subscriptionId") is None or d.subscription_id == query["subscriptionId"])
        and (query.get("state") is None or d.state == query["state"])
        and (query.get("resource") is None or d.resource == query["resource"])
    ]
    return json_response({"deliveries": [delivery_json(d) for d in found]})


@routes.post("/_sim/deliveries/{delivery_id}/redeliver")
@_admin
async def redeliver(request: web.Request) -> web.Response:
    """Send a delivery again."""
    raw = request.match_info["delivery_id"]
    if not raw.isdigit():
        raise KeyError(f"unknown delivery {raw}")
    return json_response(delivery_json(request.app[STATE].redeliver(int(raw))), 201)
