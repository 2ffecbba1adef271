"""The simulator's state: sellers, orders and their indexes, grants, codes, tokens, confirmations.

One ``SimulatorState`` lives on the app under ``STATE``; in-process tests read and change it
directly, the admin API (``/_sim/``) does the same over HTTP. Every change to an order stamps its
``lastUpdatedTime`` with the simulated clock's now and moves it in the index, so an incremental
``lastUpdatedAfter`` cursor sees it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from .clock import SimClock, iso
from .config import SimulatorConfig
from .errors import AuthPageError, LwaError
from .faults import FaultInjector
from .marketplace import marketplace
from .ratelimit import SANDBOX_PLAN, USAGE_PLANS, RateLimiter, UsagePlan
from .records import (
    CANCELLED,
    CARRIER_CODES,
    MERCHANT,
    PARTIALLY_SHIPPED,
    SHIPPED,
    UNSHIPPED,
    Detail,
    Item,
    Order,
    Package,
    Seller,
)
from .seed import generate_orders, generate_sellers, make_detail

if TYPE_CHECKING:
    from .sandbox import SandboxCases

CODE_TTL = 300  # spapi_oauth_code: "Expires after five minutes"
ACCESS_TOKEN_TTL = 3600
AMAZON_STATE_TTL = 900  # amazon_state of the Login-URI flow; Amazon's lifetime is unverified
PAGE_TOKEN_TTL = 86_400  # pagination tokens expire after 24 hours


@dataclass
class AuthCode:
    """An ``spapi_oauth_code``: whose it is, for which redirect URI, when issued, whether used."""

    seller_id: str
    redirect_uri: str
    issued: float
    used: bool = False


@dataclass
class Grant:
    """A refresh token of one seller's authorisation of the app."""

    refresh_token: str
    seller_id: str
    issued: float
    revoked: bool = False


@dataclass
class AccessToken:
    """An LWA access token and the grant it came from."""

    token: str
    grant: Grant
    expires: float


@dataclass
class Confirmation:
    """One accepted confirmShipment call, as the admin API reports it."""

    time: int
    seller_id: str
    order_id: str
    package_reference_id: str
    action: str  # "created" or "updated"
    payload: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The confirmation as the admin API returns it."""
        return {
            "time": iso(self.time),
            "sellerId": self.seller_id,
            "orderId": self.order_id,
            "packageReferenceId": self.package_reference_id,
            "action": self.action,
            "payload": self.payload,
        }


class OrderIndex:
    """One seller's orders as (time, order id) keys sorted by last update and by creation."""

    def __init__(self) -> None:
        self.by_updated: list[tuple[int, str]] = []
        self.by_created: list[tuple[int, str]] = []

    def load(self, orders: Iterable[Order]) -> None:
        """Index many orders at once."""
        orders = list(orders)
        self.by_updated = sorted((o.updated, o.order_id) for o in orders)
        self.by_created = sorted((o.created, o.order_id) for o in orders)

    def add(self, order: Order) -> None:
        """Index a new order."""
        insort(self.by_updated, (order.updated, order.order_id))
        insort(self.by_created, (order.created, order.order_id))

    def moved(self, order: Order, old_updated: int) -> None:
        """Re-file an order whose last update moved from ``old_updated``."""
        key = (old_updated, order.order_id)
        position = bisect_left(self.by_updated, key)
        if position < len(self.by_updated) and self.by_updated[position] == key:
            del self.by_updated[position]
        insort(self.by_updated, (order.updated, order.order_id))

    def window(self, created: bool, after: float, before: float) -> tuple[list[tuple[int, str]], int, int]:
        """The sorted keys and the slice [lo, hi) with after <= time <= before."""
        keys = self.by_created if created else self.by_updated
        lo = bisect_left(keys, (after, ""))
        hi = bisect_right(keys, (before, "\uffff"))
        return keys, lo, hi


class SimulatorState:
    """Everything the simulator knows; methods are what tests and the admin API may use."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self._initial = (config or SimulatorConfig()).model_copy(deep=True)
        self._token_key = secrets.token_bytes(32)
        self.closing = asyncio.Event()
        self.sandbox: SandboxCases | None = None  # the static cases, in sandbox-cases mode
        self._build(self._initial.model_copy(deep=True))

    def _build(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = SimClock(config.start_time, frozen=config.freeze_clock)
        self.faults = FaultInjector(config.faults, config.seed)
        self.limiter = RateLimiter(self.clock)
        self.sellers: dict[str, Seller] = {
            s.seller_id: s for s in generate_sellers(config.seed, config.sellers, config.marketplaces)
        }
        self.orders: dict[str, Order] = {}
        self.indexes: dict[str, OrderIndex] = {}
        now = self.clock.seconds()
        for seller in self.sellers.values():
            batch = []
            for order in generate_orders(config.seed, seller, config.orders_per_seller, now, self.orders):
                self.orders[order.order_id] = order
                batch.append(order)
            self.indexes[seller.seller_id] = index = OrderIndex()
            index.load(batch)
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.amazon_states: dict[str, AuthCode] = {}
        self.confirmations: list[Confirmation] = []
        self._added = 0

    def reset(self) -> None:
        """Back to the state ``create_app`` made: reseeded orders, no grants, initial config."""
        self._build(self._initial.model_copy(deep=True))

    # -- sellers and orders ---------------------------------------------------------------------

    @property
    def first_seller(self) -> Seller:
        """The seller the consent page offers first."""
        return next(iter(self.sellers.values()))

    def seller(self, seller_id: str) -> Seller:
        """The seller with this id (KeyError if unknown)."""
        return self.sellers[seller_id]

    def order(self, order_id: str) -> Order:
        """The order with this id (KeyError if unknown)."""
        return self.orders[order_id]

    def detail(self, order: Order) -> Detail:
        """The order's detail: kept if it was changed, else generated from the seed."""
        return order.detail if order.detail is not None else make_detail(self.config.seed, order)

    def pin(self, order: Order) -> Detail:
        """Keep the order's detail from now on, so that changes to it last."""
        if order.detail is None:
            order.detail = make_detail(self.config.seed, order)
        return order.detail

    def touch(self, order: Order) -> None:
        """Stamp the order as updated now and re-file it in its seller's index."""
        old = order.updated
        order.updated = max(self.clock.seconds(), old)
        self.indexes[order.seller_id].moved(order, old)

    def add_order(
        self,
        seller_id: str | None = None,
        *,
        marketplace_code: str | None = None,
        status: str = UNSHIPPED,
        fulfilled_by: str = MERCHANT,
        programs: Iterable[str] = (),
        items: list[dict[str, Any]] | None = None,
        address: dict[str, str] | None = None,
        buyer: dict[str, str] | None = None,
        order_id: str | None = None,
        shows_marketplace: bool = True,
    ) -> Order:
        """Create an order created and updated now; what is not given is generated.

        ``shows_marketplace=False``: its ``salesChannel`` names no marketplace.
        """
        seller = self.sellers[seller_id] if seller_id else self.first_seller
        code = marketplace(marketplace_code).code if marketplace_code else seller.marketplaces[0]
        if code not in seller.marketplaces:
            raise ValueError(f"seller {seller.seller_id} does not sell in {code}")
        self._added += 1
        if order_id is None:
            order_id = f"999-{self._added:07d}-{secrets.randbelow(10**7):07d}"
        if order_id in self.orders:
            raise ValueError(f"order {order_id} exists")
        now = self.clock.seconds()
        order = Order(
            order_id, seller.seller_id, code, now, now, status, fulfilled_by, tuple(programs),
            shows_marketplace=shows_marketplace,
        )
        detail = make_detail(self.config.seed, order)
        if items:
            detail.items = [
                Item(
                    order_item_id=str(item.get("orderItemId") or f"{secrets.randbelow(9 * 10**13) + 10**13}"),
                    asin=item.get("asin", "B0SIMULATOR"),
                    sku=item.get("sku", f"SKU-{n + 1}"),
                    title=item.get("title", f"Item {n + 1}"),
                    quantity=int(item.get("quantity", 1)),
                    unit_price=str(item.get("unitPrice", "10.00")),
                )
                for n, item in enumerate(items)
            ]
        if address:
            detail.address.update(address)
        if buyer:
            detail.buyer.update(buyer)
        detail.packages.clear()
        order.detail = detail
        self.orders[order_id] = order
        self.indexes[seller.seller_id].add(order)
        return order

    def update_order(
        self,
        order_id: str,
        *,
        status: str | None = None,
        programs: Iterable[str] | None = None,
        address: dict[str, str] | None = None,
        buyer: dict[str, str] | None = None,
    ) -> Order:
        """Change an order as Amazon or the buyer would; it counts as updated now."""
        order = self.orders[order_id]
        detail = self.pin(order)
        if status is not None:
            order.status = status
        if programs is not None:
            order.programs = tuple(programs)
        if address:
            detail.address.update(address)
        if buyer:
            detail.buyer.update(buyer)
        self.touch(order)
        return order

    def cancel_order(self, order_id: str, reason: str = "BUYER_CANCELLED") -> Order:
        """Cancel an order (the buyer or Amazon did); it counts as updated now."""
        order = self.orders[order_id]
        self.pin(order).cancel_reason = reason
        order.status = CANCELLED
        self.touch(order)
        return order

    def save_package(self, order: Order, package: Package, payload: dict[str, Any]) -> str:
        """Store a confirmed package (a new one or an edit of the same reference) and restate the order."""
        detail = self.pin(order)
        ref = package.package_reference_id
        previous = detail.packages.get(ref)
        if previous is not None:
            package.created_time = previous.created_time
        detail.packages[ref] = package
        self._restate(order, detail)
        action = "updated" if previous is not None else "created"
        self.confirmations.append(
            Confirmation(self.clock.seconds(), order.seller_id, order.order_id, ref, action, payload)
        )
        return action

    def _restate(self, order: Order, detail: Detail) -> None:
        """Set the order's status from what its packages hold, and stamp it updated now."""
        shipped = [detail.shipped(item.order_item_id) for item in detail.items]
        if all(s >= item.quantity for s, item in zip(shipped, detail.items, strict=True)):
            order.status = SHIPPED
        elif any(shipped):
            order.status = PARTIALLY_SHIPPED
        else:
            order.status = UNSHIPPED
        self.touch(order)

    def add_package(
        self,
        order_id: str,
        items: dict[str, int] | None = None,
        *,
        reference: str | None = None,
        carrier_code: str = "DHL",
        carrier_name: str | None = None,
        tracking_number: str | None = None,
    ) -> Package:
        """A package the merchant made outside the hub (Seller Central, another carrier's tool).

        ``items`` (order item id -> units) defaults to one unit of the first item; ``reference``
        to the next number Amazon would assign. It is not a confirmShipment call (no
        confirmation is recorded); the order is restated and counts as updated now.
        """
        order = self.orders[order_id]
        detail = self.pin(order)
        if order.fulfilled_by != MERCHANT or order.status not in (UNSHIPPED, PARTIALLY_SHIPPED):
            raise ValueError(f"order {order_id} is {order.fulfilled_by} {order.status}: no package can be added")
        contents = dict(items) if items else {detail.items[0].order_item_id: 1}
        known = {item.order_item_id: item for item in detail.items}
        for item_id, quantity in contents.items():
            if item_id not in known:
                raise ValueError(f"order {order_id} has no item {item_id}")
            if quantity <= 0 or quantity > known[item_id].quantity - detail.shipped(item_id):
                raise ValueError(f"item {item_id} of order {order_id} has not {quantity} unit(s) left to ship")
        if reference is None:
            numbers = [int(r) for r in detail.packages if r.isascii() and r.isdigit()]
            reference = str(max(numbers, default=0) + 1)
        if reference in detail.packages:
            raise ValueError(f"order {order_id} has a package {reference} already")
        if carrier_code not in CARRIER_CODES or (carrier_code == "Other" and not carrier_name):
            raise ValueError(f"unknown carrier code {carrier_code!r} (Other needs a carrier name)")
        now = self.clock.seconds()
        package = Package(
            package_reference_id=reference,
            carrier_code=carrier_code,
            carrier_name=carrier_name,
            tracking_number=tracking_number or f"{secrets.randbelow(10**12):012d}",
            ship_time=now,
            created_time=now,
            items=contents,
            shipping_method="Standard",
            status="IN_TRANSIT",
            origin="seller_central",
        )
        detail.packages[reference] = package
        self._restate(order, detail)
        return package

    def confirmations_of(self, order_id: str | None = None, seller_id: str | None = None) -> list[Confirmation]:
        """Accepted confirmShipment calls, oldest first, optionally for one order or seller."""
        return [
            c for c in self.confirmations
            if (order_id is None or c.order_id == order_id) and (seller_id is None or c.seller_id == seller_id)
        ]

    # -- usage plans ----------------------------------------------------------------------------

    def usage_plan(self, operation: str) -> UsagePlan:
        """The plan of an operation (the sandbox's in sandbox-cases mode)."""
        return SANDBOX_PLAN if self.config.sandbox_cases else USAGE_PLANS[operation]

    def within_quota(self, seller_id: str, operation: str) -> bool:
        """Spend a token for this call; False means 429 (always True with rate limits off)."""
        if not self.config.rate_limits:
            return True
        return self.limiter.allow(seller_id, operation, self.usage_plan(operation))

    # -- authorisation ----------------------------------------------------------------------------

    def check_redirect_uri(self, redirect_uri: str | None) -> str:
        """The redirect URI to use, or an AuthPageError with Amazon's code (MD5110, MD5101)."""
        registered = self.config.redirect_uris
        if not redirect_uri:
            if not registered:
                raise AuthPageError("No redirect URI was given and the app has none registered.", "MD5101")
            return registered[0]
        if "#" in redirect_uri:
            raise AuthPageError("The redirect URI contains a fragment (#).", "MD5110")
        if registered:
            if redirect_uri not in registered:
                raise AuthPageError("The redirect URI is not registered for this application.", "MD5101")
            return redirect_uri
        url = _parse_url(redirect_uri)
        if url is None or url.scheme not in ("http", "https") or url.host not in ("127.0.0.1", "localhost", "::1"):
            raise AuthPageError(
                "The redirect URI is not registered for this application "
                "(with no registered URIs the simulator accepts http://127.0.0.1 and http://localhost).",
                "MD5101",
            )
        return redirect_uri

    def check_app(self, application_id: str | None, version: str | None) -> None:
        """An AuthPageError unless the app id is ours and a draft app is asked for with version=beta."""
        if application_id != self.config.application_id:
            raise AuthPageError(f"The application {application_id!r} was not found.")
        if self.config.draft and version != "beta":
            raise AuthPageError(
                "This application is in draft and can only be authorised with version=beta.", "MD1000"
            )

    def issue_code(self, seller_id: str, redirect_uri: str) -> str:
        """A fresh ``spapi_oauth_code`` for the seller, valid five minutes, single use."""
        self._known(seller_id)
        code = "AN" + secrets.token_urlsafe(15)
        self.codes[code] = AuthCode(seller_id, redirect_uri, self.clock.time())
        return code

    def redeem_code(self, code: str, redirect_uri: str) -> AccessToken:
        """Exchange a code for a new grant and access token, or LwaError invalid_grant."""
        entry = self.codes.get(code)
        if (
            entry is None
            or entry.used
            or self.clock.time() - entry.issued > CODE_TTL
            or entry.redirect_uri != redirect_uri
        ):
            raise LwaError(400, "invalid_grant", "The request has an invalid grant parameter : code")
        entry.used = True
        return self._access_token(self._new_grant(entry.seller_id))

    def refresh(self, refresh_token: str) -> AccessToken:
        """A new access token for a refresh token, or LwaError invalid_grant."""
        grant = self.grants.get(refresh_token)
        if grant is None:
            raise LwaError(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
        if grant.revoked:
            raise LwaError(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token. "
                "User may have revoked or didn't grant the permission.",
            )
        return self._access_token(grant)

    def grant(self, seller_id: str | None = None) -> str:
        """A refresh token for the seller without the consent page (a shortcut for tests)."""
        return self._new_grant(seller_id or self.first_seller.seller_id).refresh_token

    def issue_access_token(self, seller_id: str | None = None) -> str:
        """A valid access token for the seller without LWA (a shortcut for tests)."""
        grant = self._new_grant(seller_id or self.first_seller.seller_id)
        return self._access_token(grant).token

    def revoke(self, seller_id: str) -> int:
        """The seller removes the app in "Manage your apps": every grant and token stops working."""
        self._known(seller_id)
        revoked = 0
        for grant in self.grants.values():
            if grant.seller_id == seller_id and not grant.revoked:
                grant.revoked = True
                revoked += 1
        return revoked

    def authenticate(self, access_token: str | None) -> str | None:
        """The seller id of a valid access token, else None."""
        entry = self.access_tokens.get(access_token or "")
        if entry is None or entry.grant.revoked or self.clock.time() >= entry.expires:
            return None
        return entry.grant.seller_id

    def start_reauthorization(self, seller_id: str) -> str:
        """An ``amazon_state`` for the Login-URI flow of the seller."""
        self._known(seller_id)
        value = secrets.token_urlsafe(24)
        self.amazon_states[value] = AuthCode(seller_id, "", self.clock.time())
        return value

    def take_amazon_state(self, value: str | None) -> str:
        """The seller of a valid, unused ``amazon_state`` (used up by this call), or AuthPageError."""
        entry = self.amazon_states.get(value or "")
        if entry is None or entry.used or self.clock.time() - entry.issued > AMAZON_STATE_TTL:
            raise AuthPageError("The authorisation request is invalid or has expired. Start again from Seller Central.")
        entry.used = True
        return entry.seller_id

    def _known(self, seller_id: str) -> None:
        if seller_id not in self.sellers:
            raise KeyError(f"unknown seller {seller_id}")

    def _new_grant(self, seller_id: str) -> Grant:
        self._known(seller_id)
        grant = Grant("Atzr|" + secrets.token_urlsafe(72), seller_id, self.clock.time())
        self.grants[grant.refresh_token] = grant
        return grant

    def _access_token(self, grant: Grant) -> AccessToken:
        token = AccessToken("Atza|" + secrets.token_urlsafe(96), grant, self.clock.time() + ACCESS_TOKEN_TTL)
        self.access_tokens[token.token] = token
        return token

    # -- opaque tokens --------------------------------------------------------------------------

    def sign(self, payload: dict[str, Any]) -> str:
        """An opaque, tamper-proof token carrying ``payload``."""
        raw = json.dumps(payload, separators=(",", ":")).encode()
        mac = hmac.new(self._token_key, raw, hashlib.sha256).digest()[:12]
        # Standard base64 (+, /, =) like Amazon's tokens: a client must URL-encode it exactly once.
        return base64.b64encode(mac + raw).decode()

    def unsign(self, token: str) -> dict[str, Any] | None:
        """The payload of a token made by ``sign``, or None if it is not one."""
        try:
            blob = base64.b64decode(token, validate=True)
        except ValueError:
            return None
        mac, raw = blob[:12], blob[12:]
        if not hmac.compare_digest(mac, hmac.new(self._token_key, raw, hashlib.sha256).digest()[:12]):
            return None
        try:
            payload = json.loads(raw)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None


def _parse_url(text: str) -> URL | None:
    try:
        return URL(text)
    except ValueError:
        return None


STATE = web.AppKey("amazon_simulator_state", SimulatorState)
