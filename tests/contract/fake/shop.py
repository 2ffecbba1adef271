"""FakeShop: an in-memory web shop for the fake connector, with a clock, faults and a call log.

Tests drive a shop directly and the fake connector talks to it through its "API" (the async
methods in the last section). A registry keeps shops by name; the connector's ``FakeSettings.shop``
says which one a connection uses::

    shop = open_shop("default")                     # a fresh, empty shop
    order = shop.add_order()                        # "F-0001", one item, stamped now
    shop.update_order(order.id, city="Utrecht")     # restamped later: the next import yields it again
    shop.fail_next("5xx", 2)                        # the next two API calls answer 503
    shop.fail_next("429", after=1)                  # the call after the next answers 429
    shop.lose_next_answer()                         # the next confirmation is made, its answer lost
    ... run an import through core ...
    shop.confirmations[("F-0001", "parcel-1")]      # what a label push left in the shop
    [call.operation for call in shop.calls]         # ["search_orders", "search_orders", ...]

``MemoryShop`` is what every in-memory shop shares (orders, clock, faults, call log); ``FakeShop``
adds the fake connector's API, and ``tests.contract.keyshop.shop.KeyShop`` the key shop's.

The clock: ``shop.now`` starts at the current time (whole seconds) and moves only when told
(``advance``) or when an order changes: every change moves it one second on and stamps the order
with it, so a change is always strictly later than any cursor the shop's clock produced before.
"""

from __future__ import annotations

import itertools
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

#: The API key every shop accepts until it is revoked.
GOOD_KEY = "good-key"

#: What ``fail_next`` can make the shop do instead of answering.
FaultKind = Literal["5xx", "timeout", "429", "auth"]

_STATUSES = ("open", "partially_shipped", "shipped", "cancelled")


class ShopError(Exception):
    """The shop answered an HTTP error status."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class ShopTimeout(TimeoutError):
    """The shop did not answer within the client's timeout."""


@dataclass
class FakeItem:
    """One order line."""

    id: str
    sku: str
    title: str
    quantity: int = 1
    price: Decimal = Decimal("9.95")


@dataclass
class FakeOrder:
    """An order as the shop keeps it. ``skip_reason`` set: the import reports it as skipped."""

    id: str
    created_at: datetime
    updated_at: datetime
    status: str = "open"
    items: list[FakeItem] = field(default_factory=list)
    name: str = "Jan Jansen"
    street: str = "Dorpsstraat 1"
    postal_code: str = "1234 AB"
    city: str = "Amsterdam"
    country: str = "NL"
    skip_reason: str | None = None


@dataclass
class Confirmation:
    """A parcel confirmed in the shop; a repeated reference edits it and counts ``edits``."""

    order_id: str
    reference: str
    tracking_number: str
    carrier: str
    items: dict[str, int]
    edits: int = 0


@dataclass
class Call:
    """One API call the shop received (failed ones included). ``args`` never hold the API key."""

    operation: str
    args: dict[str, Any]
    authorized: bool


@dataclass
class SearchResult:
    """One page of ``search_orders``: the orders, and whether more follow."""

    orders: list[FakeOrder]
    more: bool


class MemoryShop:
    """What every in-memory shop has: orders, a clock, queued faults and a call log.

    ``FakeShop`` and the key shop (``tests.contract.keyshop.shop``) add their own API on top.
    Order ids are ``<order_prefix>-0001``, ``<order_prefix>-0002``, ...
    """

    #: The first part of the ids ``add_order`` gives.
    order_prefix = "F"

    def __init__(self, name: str = "default", now: datetime | None = None) -> None:
        self.name = name
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.orders: dict[str, FakeOrder] = {}
        self.calls: list[Call] = []
        self._faults: deque[FaultKind | None] = deque()
        self._ids = itertools.count(1)
        self._lose = 0

    # the clock --------------------------------------------------------------------------------

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        """Move the shop's clock on (``advance(60)``, ``advance(days=1)``); returns the new now."""
        self.now += timedelta(seconds=seconds, **delta)
        return self.now

    def _stamp(self) -> datetime:
        return self.advance(1)

    # orders, as the merchant's customers and the merchant change them --------------------------

    def add_order(
        self,
        order_id: str | None = None,
        *,
        items: list[FakeItem] | None = None,
        status: str = "open",
        skip_reason: str | None = None,
        updated_at: datetime | None = None,
        **fields: Any,
    ) -> FakeOrder:
        """Add an order (one item unless ``items`` given), stamped now unless ``updated_at`` given.

        ``fields`` set the address: ``name``, ``street``, ``postal_code``, ``city``, ``country``.
        """
        order_id = order_id or f"{self.order_prefix}-{next(self._ids):04d}"
        if order_id in self.orders:
            raise ValueError(f"order {order_id} exists; use update_order")
        _check_status(status)
        stamp = updated_at or self._stamp()
        items = items or [FakeItem(id=f"{order_id}-1", sku=f"SKU-{order_id}", title="Fake product")]
        self.orders[order_id] = order = FakeOrder(
            id=order_id, created_at=stamp, updated_at=stamp, status=status, items=items, skip_reason=skip_reason, **fields
        )
        return order

    def update_order(self, order_id: str, **changes: Any) -> FakeOrder:
        """Change fields of an order (``city=...``, ``status=...``, ``skip_reason=...``) and restamp it."""
        order = self.orders[order_id]
        if "status" in changes:
            _check_status(changes["status"])
        for name, value in changes.items():
            if not hasattr(order, name) or name in ("id", "created_at", "updated_at"):
                raise ValueError(f"FakeOrder has no changeable field {name!r}")
            setattr(order, name, value)
        order.updated_at = self._stamp()
        return order

    def cancel_order(self, order_id: str) -> FakeOrder:
        """Cancel an order; the next import yields it with status ``cancelled``."""
        return self.update_order(order_id, status="cancelled")

    # faults -----------------------------------------------------------------------------------

    def fail_next(self, kind: FaultKind, n: int = 1, *, after: int = 0) -> None:
        """Make ``n`` API calls fail with ``kind``, after letting ``after`` calls through.

        ``"5xx"`` answers 503, ``"timeout"`` raises ``ShopTimeout``, ``"429"`` answers 429 with
        ``retry_after`` 1 s, ``"auth"`` answers 401 whatever the key. Faults queue up in order.
        """
        if kind not in ("5xx", "timeout", "429", "auth"):
            raise ValueError(f"unknown fault {kind!r}")
        self._faults.extend([None] * after + [kind] * n)

    def clear_faults(self) -> None:
        """Drop the faults still queued."""
        self._faults.clear()

    def lose_next_answer(self, n: int = 1) -> None:
        """The next ``n`` calls that change something (a confirmation, a shipment) do their work, then time out."""
        self._lose += n

    # ------------------------------------------------------------------------------------------

    def _refusal(self, credential: str) -> str | None:
        """Why an API call made with ``credential`` is refused (the 401's message), ``None`` if it is let in."""
        raise NotImplementedError

    def _call(self, operation: str, credential: str | None, **args: Any) -> None:
        """Log the call, then fail it with the next queued fault or a 401 for a credential not let in.

        ``credential`` ``None``: a call that needs none (such as a token request).
        """
        refusal = self._refusal(credential) if credential is not None else None
        authorized = credential is not None and refusal is None
        self.calls.append(Call(operation, args, authorized))
        fault = self._faults.popleft() if self._faults else None
        if fault == "5xx":
            raise ShopError(503, "Service unavailable")
        if fault == "timeout":
            raise ShopTimeout(f"{operation} timed out")
        if fault == "429":
            raise ShopError(429, "Too many requests", retry_after=1.0)
        if fault == "auth":  # refused whatever the credential, with the shop's words for a bad one
            raise ShopError(401, self._refusal("") or "Unauthorized")
        if refusal is not None:
            raise ShopError(401, refusal)

    def _answer(self, operation: str) -> None:
        """Lose the answer to a call that did its work, when told to (``lose_next_answer``)."""
        if self._lose:
            self._lose -= 1
            raise ShopTimeout(f"{operation} timed out after the shop had done it")


class FakeShop(MemoryShop):
    """The fake connector's shop: API keys, a consent page, confirmations by parcel reference."""

    def __init__(self, name: str = "default", now: datetime | None = None) -> None:
        super().__init__(name, now)
        self.api_keys: set[str] = {GOOD_KEY}
        self.confirmations: dict[tuple[str, str], Confirmation] = {}
        self._codes: dict[str, str] = {}

    # the API the connector calls --------------------------------------------------------------

    async def ping(self, api_key: str) -> None:
        """Succeed when the key is good: the cheapest call there is."""
        self._call("ping", api_key)

    async def search_orders(
        self,
        api_key: str,
        updated_after: datetime,
        updated_until: datetime,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> SearchResult:
        """Orders with ``updated_after < updated_at <= updated_until``, ordered by (updated_at, id),
        starting strictly after the position ``after``, at most ``limit``."""
        self._call("search_orders", api_key, updated_after=updated_after, updated_until=updated_until, after=after, limit=limit)
        found = sorted(
            (order for order in self.orders.values() if updated_after < order.updated_at <= updated_until),
            key=lambda order: (order.updated_at, order.id),
        )
        if after is not None:
            found = [order for order in found if (order.updated_at, order.id) > after]
        return SearchResult(orders=found[:limit], more=len(found) > limit)

    async def confirm_shipment(
        self, api_key: str, order_id: str, reference: str, tracking_number: str, carrier: str, items: dict[str, int]
    ) -> None:
        """Record a parcel as shipped; the same (order, reference) again edits it."""
        self._call("confirm_shipment", api_key, order_id=order_id, reference=reference, tracking_number=tracking_number)
        order = self.orders.get(order_id)
        if order is None:
            raise ShopError(404, f"order {order_id} not found")
        unknown = sorted(set(items) - {item.id for item in order.items})
        if unknown:
            raise ShopError(400, f"order {order_id} has no items {unknown}")
        key = (order_id, reference)
        previous = self.confirmations.get(key)
        self.confirmations[key] = Confirmation(
            order_id, reference, tracking_number, carrier, dict(items), edits=previous.edits + 1 if previous else 0
        )
        self._answer("confirm_shipment")

    async def exchange_code(self, code: str, client_secret: str) -> str:
        """Trade a one-time consent code for an API key."""
        self._call("exchange_code", None, code=code)
        if self._codes.pop(code, None) is None:
            raise ShopError(400, "invalid_grant: the code is unknown, used or expired")
        self.api_keys.add(GOOD_KEY)
        return GOOD_KEY

    async def revoke(self, api_key: str) -> None:
        """Revoke an API key (what the merchant does in the shop's app settings)."""
        self._call("revoke", api_key)
        self.api_keys.discard(api_key)

    # the consent page, as the merchant's browser sees it ----------------------------------------

    def consent(self, url: str) -> dict[str, str]:
        """The merchant approves on the consent page at ``url``: the callback parameters."""
        query = parse_qs(urlsplit(url).query)
        code = secrets.token_urlsafe(8)
        self._codes[code] = query["state"][0]
        return {"code": code, "state": query["state"][0]}

    # ------------------------------------------------------------------------------------------

    def _refusal(self, credential: str) -> str | None:
        return None if credential in self.api_keys else "Unauthorized: the API key is unknown or revoked"


def _check_status(status: str) -> None:
    if status not in _STATUSES:
        raise ValueError(f"status must be one of {_STATUSES}")


# the registry ---------------------------------------------------------------------------------

_shops: dict[str, FakeShop] = {}


def open_shop(name: str = "default", now: datetime | None = None) -> FakeShop:
    """A fresh, empty shop under ``name``, replacing any shop of that name."""
    _shops[name] = shop = FakeShop(name, now)
    return shop


def get_shop(name: str = "default") -> FakeShop | None:
    """The shop registered under ``name``, or ``None``."""
    return _shops.get(name)


def close_shop(name: str) -> None:
    """Forget the shop under ``name``; connections pointing at it answer "not ready"."""
    _shops.pop(name, None)


__all__ = [
    "GOOD_KEY",
    "Call",
    "Confirmation",
    "FakeItem",
    "FakeOrder",
    "FakeShop",
    "MemoryShop",
    "SearchResult",
    "ShopError",
    "ShopTimeout",
    "close_shop",
    "get_shop",
    "open_shop",
]
