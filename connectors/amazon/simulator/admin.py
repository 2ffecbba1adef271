"""The admin API under ``/_sim/``: JSON endpoints for tests, benchmarks and the demo.

    GET    /_sim/state                          summary: clock, app, sellers, order counts, faults
    POST   /_sim/reset                          back to the seeded start (config, orders, grants)
    GET    /_sim/clock                          {"now": ...}
    POST   /_sim/clock/advance                  {"seconds": 180} -> {"now": ...}
    GET    /_sim/app                            the registered app (client secret included)
    PATCH  /_sim/app                            {"draft": true, "clientSecret": "...", "redirectUris": [...],
                                                 "loginUri": "...", "deliveryRole": false,
                                                 "rateLimits": false, "applicationName": "..."}
    GET    /_sim/sellers                        sellers with marketplaces and active grants
    POST   /_sim/sellers/{sellerId}/grant       refresh + access token without consent (shortcut)
    POST   /_sim/sellers/{sellerId}/revoke      the seller removes the app: grants stop working
    GET    /_sim/reauthorize?seller=...         Login-URI re-authorisation (a browser redirect)
    GET    /_sim/orders?sellerId&status&fulfilledBy&limit   order summaries
    POST   /_sim/orders                         add an order (see OrderCreate)
    GET    /_sim/orders/{orderId}               full state: the order with every block, confirmations
    PATCH  /_sim/orders/{orderId}               change status, programs, address, buyer
    POST   /_sim/orders/{orderId}/cancel        {"reason": "..."} optional
    POST   /_sim/orders/{orderId}/packages      a package made outside the hub (see PackageCreate)
    GET    /_sim/confirmations?orderId&sellerId accepted confirmShipment calls
    GET    /_sim/faults                         active rules
    PUT    /_sim/faults                         replace: {"spec": "searchOrders:503:0.2"} or {"faults": [rule, ...]}
    POST   /_sim/faults                         add rules (same body)
    DELETE /_sim/faults                         clear

Errors answer ``{"error": "..."}`` with 400 (bad input) or 404 (unknown seller or order).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .answers import json_response
from .clock import iso
from .faults import FaultRule, parse_faults
from .orders import INCLUDED_DATA, render_order
from .records import STATUSES
from .state import STATE, SimulatorState

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()


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


class ItemCreate(_Strict):
    """An order line of a new order."""

    orderItemId: str | None = None
    asin: str = "B0SIMULATE"
    sku: str | None = None
    title: str = "Simulated item"
    quantity: int = Field(default=1, ge=1)
    unitPrice: str = "10.00"


class PackageCreate(_Strict):
    """A package the merchant made outside the hub (Seller Central, another carrier): not a confirmShipment call."""

    packageReferenceId: str | None = None  # default: the next number Amazon would assign
    carrierCode: str = "DHL"
    carrierName: str | None = None
    trackingNumber: str | None = None
    items: dict[str, int] | None = None  # orderItemId -> units; default one unit of the first item


class OrderCreate(_Strict):
    """A new order; what is left out is generated from the seed.

    ``marketplaceIdShown`` false: its ``salesChannel`` names no marketplace. ``packages``: made
    outside the hub after the order was created (they restate its status).
    """

    sellerId: str | None = None
    marketplace: str | None = None  # code (NL) or marketplace id
    orderId: str | None = None
    status: Literal["PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED"] = "UNSHIPPED"
    fulfilledBy: Literal["MERCHANT", "AMAZON"] = "MERCHANT"
    programs: list[str] = Field(default_factory=list)
    items: list[ItemCreate] | None = None
    address: dict[str, str] | None = None
    buyer: dict[str, str] | None = None
    marketplaceIdShown: bool = True
    packages: list[PackageCreate] = Field(default_factory=list)


class OrderChange(_Strict):
    """A change to an order; it counts as an update now."""

    status: str | None = None
    programs: list[str] | None = None
    address: dict[str, str] | None = None
    buyer: dict[str, str] | None = None


class AppChange(_Strict):
    """A change to the registered app."""

    applicationName: str | None = None
    clientSecret: str | None = None
    redirectUris: list[str] | None = None
    loginUri: str | None = None
    draft: bool | None = None
    deliveryRole: bool | None = None
    rateLimits: bool | None = None


_APP_FIELDS = {
    "applicationName": "application_name", "clientSecret": "client_secret", "redirectUris": "redirect_uris",
    "loginUri": "login_uri", "draft": "draft", "deliveryRole": "delivery_role", "rateLimits": "rate_limits",
}


def app_json(state: SimulatorState) -> dict[str, Any]:
    """The registered app as the admin API shows it."""
    config = state.config
    return {
        "applicationId": config.application_id,
        "applicationName": config.application_name,
        "clientId": config.client_id,
        "clientSecret": config.client_secret,
        "redirectUris": config.redirect_uris,
        "loginUri": config.login_uri,
        "draft": config.draft,
        "deliveryRole": config.delivery_role,
        "rateLimits": config.rate_limits,
        "sandboxCases": config.sandbox_cases,
    }


def sellers_json(state: SimulatorState) -> list[dict[str, Any]]:
    """Sellers with their marketplaces, order counts and active grants."""
    return [
        {
            "sellerId": seller.seller_id,
            "storeName": seller.store_name,
            "marketplaces": list(seller.marketplaces),
            "orders": len(state.indexes[seller.seller_id].by_updated),
            "activeGrants": sum(
                1 for g in state.grants.values() if g.seller_id == seller.seller_id and not g.revoked
            ),
        }
        for seller in state.sellers.values()
    ]


def order_json(state: SimulatorState, order_id: str) -> dict[str, Any]:
    """The full state of an order: every block, personal data included, and its confirmations."""
    order = state.order(order_id)
    return {
        "sellerId": order.seller_id,
        "marketplace": order.marketplace,
        "order": render_order(state, order, frozenset(INCLUDED_DATA), pii=True),
        "packageOrigins": {ref: package.origin for ref, package in state.detail(order).packages.items()},
        "confirmations": [c.as_json() for c in state.confirmations_of(order_id=order_id)],
    }


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("send a JSON object")
    return data


@routes.get("/_sim/state")
@_admin
async def get_state(request: web.Request) -> web.Response:
    """A summary of the whole simulator."""
    state = request.app[STATE]
    return json_response({
        "now": iso(state.clock.time()),
        "clockFrozen": state.clock.frozen,
        "app": app_json(state),
        "sellers": sellers_json(state),
        "faults": [rule.spec() for rule in state.faults.rules],
        "confirmations": len(state.confirmations),
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
    return json_response({"now": iso(request.app[STATE].clock.time())})


@routes.post("/_sim/clock/advance")
@_admin
async def advance_clock(request: web.Request) -> web.Response:
    """Move the simulated clock forward."""
    body = await _body(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise ValueError("give seconds as a number")
    return json_response({"now": iso(request.app[STATE].clock.advance(float(seconds)).timestamp())})


@routes.get("/_sim/app")
@_admin
async def get_app(request: web.Request) -> web.Response:
    """The registered app."""
    return json_response(app_json(request.app[STATE]))


@routes.patch("/_sim/app")
@_admin
async def change_app(request: web.Request) -> web.Response:
    """Change the registered app: draft, secret, redirect URIs, Login URI, role, rate limits."""
    state = request.app[STATE]
    change = AppChange.model_validate(await _body(request))
    for name, value in change.model_dump(exclude_unset=True).items():
        setattr(state.config, _APP_FIELDS[name], value)
    return json_response(app_json(state))


@routes.get("/_sim/sellers")
@_admin
async def list_sellers(request: web.Request) -> web.Response:
    """The sellers."""
    return json_response({"sellers": sellers_json(request.app[STATE])})


@routes.post("/_sim/sellers/{seller_id}/grant")
@_admin
async def grant(request: web.Request) -> web.Response:
    """Authorise the app for a seller without the consent page."""
    state = request.app[STATE]
    refresh_token = state.grant(request.match_info["seller_id"])
    access = state.refresh(refresh_token)
    return json_response({
        "sellerId": request.match_info["seller_id"],
        "refresh_token": refresh_token,
        "access_token": access.token,
        "expires_in": int(access.expires - state.clock.time()),
    })


@routes.post("/_sim/sellers/{seller_id}/revoke")
@_admin
async def revoke(request: web.Request) -> web.Response:
    """The seller revokes the app."""
    revoked = request.app[STATE].revoke(request.match_info["seller_id"])
    return json_response({"sellerId": request.match_info["seller_id"], "revokedGrants": revoked})


@routes.get("/_sim/orders")
@_admin
async def list_orders(request: web.Request) -> web.Response:
    """Order summaries, newest update first, filtered by seller, status and who fulfils them."""
    state = request.app[STATE]
    query = request.query
    seller_id = query.get("sellerId") or state.first_seller.seller_id
    if seller_id not in state.sellers:
        raise KeyError(f"unknown seller {seller_id}")
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status}")
    fulfilled_by = query.get("fulfilledBy")
    limit = int(query.get("limit", "100"))
    found = []
    for _, order_id in reversed(state.indexes[seller_id].by_updated):
        order = state.orders[order_id]
        if (status is None or order.status == status) and (fulfilled_by is None or order.fulfilled_by == fulfilled_by):
            found.append({
                "orderId": order.order_id, "status": order.status, "fulfilledBy": order.fulfilled_by,
                "marketplace": order.marketplace, "programs": list(order.programs),
                "createdTime": iso(order.created), "lastUpdatedTime": iso(order.updated),
            })
            if len(found) >= limit:
                break
    return json_response({"orders": found})


@routes.post("/_sim/orders")
@_admin
async def add_order(request: web.Request) -> web.Response:
    """Add an order created now."""
    state = request.app[STATE]
    new = OrderCreate.model_validate(await _body(request))
    order = state.add_order(
        new.sellerId,
        marketplace_code=new.marketplace,
        status=new.status,
        fulfilled_by=new.fulfilledBy,
        programs=new.programs,
        items=[item.model_dump(exclude_none=True) for item in new.items] if new.items else None,
        address=new.address,
        buyer=new.buyer,
        order_id=new.orderId,
        shows_marketplace=new.marketplaceIdShown,
    )
    for package in new.packages:
        _add_package(state, order.order_id, package)
    return json_response(order_json(state, order.order_id), 201)


def _add_package(state: SimulatorState, order_id: str, package: PackageCreate) -> None:
    state.add_package(
        order_id,
        package.items,
        reference=package.packageReferenceId,
        carrier_code=package.carrierCode,
        carrier_name=package.carrierName,
        tracking_number=package.trackingNumber,
    )


@routes.get("/_sim/orders/{order_id}")
@_admin
async def get_order(request: web.Request) -> web.Response:
    """The full state of an order."""
    return json_response(order_json(request.app[STATE], request.match_info["order_id"]))


@routes.patch("/_sim/orders/{order_id}")
@_admin
async def change_order(request: web.Request) -> web.Response:
    """Change an order."""
    state = request.app[STATE]
    change = OrderChange.model_validate(await _body(request))
    if change.status is not None and change.status not in STATUSES:
        raise ValueError(f"unknown status {change.status}")
    order_id = request.match_info["order_id"]
    state.update_order(order_id, status=change.status, programs=change.programs,
                       address=change.address, buyer=change.buyer)
    return json_response(order_json(state, order_id))


@routes.post("/_sim/orders/{order_id}/cancel")
@_admin
async def cancel_order(request: web.Request) -> web.Response:
    """Cancel an order."""
    state = request.app[STATE]
    body = await _body(request)
    order_id = request.match_info["order_id"]
    state.cancel_order(order_id, str(body.get("reason", "BUYER_CANCELLED")))
    return json_response(order_json(state, order_id))


@routes.post("/_sim/orders/{order_id}/packages")
@_admin
async def add_package(request: web.Request) -> web.Response:
    """Add a package made outside the hub (the merchant in Seller Central, another carrier's tool)."""
    state = request.app[STATE]
    order_id = request.match_info["order_id"]
    _add_package(state, order_id, PackageCreate.model_validate(await _body(request)))
    return json_response(order_json(state, order_id), 201)


@routes.get("/_sim/confirmations")
@_admin
async def confirmations(request: web.Request) -> web.Response:
    """Accepted confirmShipment calls, oldest first."""
    state = request.app[STATE]
    found = state.confirmations_of(request.query.get("orderId"), request.query.get("sellerId"))
    return json_response({"confirmations": [c.as_json() for c in found]})


@routes.get("/_sim/faults")
@_admin
async def get_faults(request: web.Request) -> web.Response:
    """The active fault rules."""
    return json_response({"faults": [r.model_dump(exclude_none=True) for r in request.app[STATE].faults.rules]})


@routes.put("/_sim/faults")
@_admin
async def set_faults(request: web.Request) -> web.Response:
    """Replace the fault rules."""
    state = request.app[STATE]
    state.faults.set(_rules(await _body(request)))
    return json_response({"faults": [r.model_dump(exclude_none=True) for r in state.faults.rules]})


@routes.post("/_sim/faults")
@_admin
async def add_faults(request: web.Request) -> web.Response:
    """Add fault rules."""
    state = request.app[STATE]
    state.faults.add(_rules(await _body(request)))
    return json_response({"faults": [r.model_dump(exclude_none=True) for r in state.faults.rules]})


@routes.delete("/_sim/faults")
@_admin
async def clear_faults(request: web.Request) -> web.Response:
    """Remove every fault rule."""
    request.app[STATE].faults.clear()
    return json_response({"faults": []})


def _rules(body: dict[str, Any]) -> list[FaultRule]:
    if "spec" in body:
        return parse_faults(str(body["spec"]))
    return [FaultRule.model_validate(rule) for rule in body.get("faults", [])]
