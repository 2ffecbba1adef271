"""KeyShop: an in-memory shop shaped like bol.com, for the key shop connector (``tests.contract.keyshop``).

What makes it bol-like (``shared/reference/bol-contract.md``): the merchant pastes a client id and
secret, which buy short access tokens; open orders come as position-numbered pages of a live list
with no "updated after" filter; a shipment is answered with a process id that settles later
(PENDING, then SUCCESS, FAILURE or TIMEOUT) and there is no idempotency key, only the reference the
shop keeps with each shipment; events are posted, signed, to a subscribed URL.

It shares orders, clock, faults and call log with the fake shop (``MemoryShop``); a registry keeps
key shops by name, apart from the fake shops::

    shop = open_shop("default")                  # a fresh shop, one API client
    shop.add_order()                             # "K-0001", stamped now, last in the open list
    shop.fail_next("5xx")                        # as the fake: "5xx", "timeout", "429", "auth"
    shop.lose_next_answer()                      # the next shipment is made, its answer lost
    shop.settle(process_id, "SUCCESS")           # or "FAILURE"/"TIMEOUT" with a message
    shop.settle_after = 2                        # or: PENDING settles SUCCESS at its 2nd status query
    shop.shipment_count("K-0001", "1")           # standing shipments of a parcel reference
    await shop.deliver(session)                  # POST the queued events, signed, to the subscribed URL

The list of open orders holds the orders that are open or partly shipped, and shipped or cancelled
ones for 48 hours after that change (as bol.com shows handled orders), ordered by when they were
placed: a new order joins at the end, an order leaving the list moves every later one up a
position. Events carry the wall-clock time (they travel in real time); everything else runs on the
shop's clock (``shop.now``, see ``tests.contract.fake.shop``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp

from tests.contract.fake.shop import FakeItem, FakeOrder, MemoryShop, ShopError, ShopTimeout

#: The API client every new shop has: what the merchant pastes at Connect.
GOOD_CLIENT_ID = "keyshop-client-1"
GOOD_CLIENT_SECRET = "keyshop-secret-5b1f0c2e9d"

#: How long an access token lasts, in seconds (bol.com: 299).
TOKEN_SECONDS = 299
#: The most orders one page of the open list holds.
LIST_LIMIT = 50
#: How long shipped and cancelled orders stay in the open list.
HANDLED_VISIBLE = timedelta(hours=48)
#: Most process ids one bulk status query takes.
STATUS_QUERY_LIMIT = 1000

SIGNATURE_HEADER = "x-keyshop-signature"
TIMESTAMP_HEADER = "x-keyshop-timestamp"

ProcessState = Literal["PENDING", "SUCCESS", "FAILURE", "TIMEOUT"]
#: Process states after which a shipment does not stand (the shop refused or gave up).
REFUSED: tuple[ProcessState, ...] = ("FAILURE", "TIMEOUT")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 over ``<timestamp>.<body>`` with the subscription's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class TokenAnswer:
    """What the token endpoint answers."""

    access_token: str
    expires_in: int


@dataclass(frozen=True)
class Account:
    """The shop account the API client belongs to."""

    id: str
    name: str


@dataclass(frozen=True)
class OrderList:
    """One page of the open orders: copies of the orders, whether more follow, the shop's time."""

    orders: list[FakeOrder]
    more: bool
    server_time: datetime


@dataclass
class Process:
    """A process status: what became of a request the shop accepted (202)."""

    id: str
    event_type: Literal["CREATE_SHIPMENT", "CHANGE_TRANSPORT"]
    entity_id: str
    status: ProcessState = "PENDING"
    message: str | None = None
    queries: int = 0
    #: For CHANGE_TRANSPORT: the tracking number and process to restore if the change is refused.
    previous_tracking: str | None = None
    previous_process: str | None = None


@dataclass
class Shipment:
    """A shipment as the shop keeps it: the reference the caller sent, the process that made it
    (``created_by``) and the one that set its current tracking number (``process_id``)."""

    id: str
    order_id: str
    reference: str | None
    tracking_number: str
    carrier: str
    items: dict[str, int]
    created_by: str
    process_id: str


@dataclass(frozen=True)
class ShipmentInfo:
    """A shipment as the API shows it, with the state of the process that set its tracking number."""

    id: str
    order_id: str
    reference: str | None
    tracking_number: str
    process_id: str
    status: ProcessState
    message: str | None


@dataclass(frozen=True)
class ProcessInfo:
    """A process status as the API shows it."""

    id: str
    event_type: str
    entity_id: str
    status: ProcessState
    message: str | None


@dataclass
class Subscription:
    """Where the shop posts events, and the secret it signs them with."""

    id: str
    url: str
    secret: str
    resources: tuple[str, ...] = ("ORDER", "PROCESS_STATUS")


@dataclass(frozen=True)
class SubscriptionAnswer:
    """What ``subscribe`` answers: the subscription id and its signing secret."""

    id: str
    secret: str


@dataclass(frozen=True)
class EventMessage:
    """A signed event as it is posted: where to, the headers (lower case) and the raw body."""

    url: str
    event_id: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Pending:
    url: str
    event_id: str
    document: dict[str, Any]


class KeyShop(MemoryShop):
    """A bol-like shop in memory: API clients and tokens, the open-orders list, shipments with
    process statuses, subscriptions and signed events."""

    order_prefix = "K"

    def __init__(self, name: str = "default", now: datetime | None = None, settle_after: int | None = None) -> None:
        super().__init__(name, now)
        self.account = Account(id=f"keyshop-{name}", name=f"Key shop {name}")
        self.clients: dict[str, str] = {GOOD_CLIENT_ID: GOOD_CLIENT_SECRET}
        self.tokens: dict[str, tuple[str, datetime]] = {}
        self.shipments: dict[str, Shipment] = {}
        self.processes: dict[str, Process] = {}
        self.subscriptions: dict[str, Subscription] = {}
        #: A PENDING process settles SUCCESS at this many status queries; ``None``: only when told.
        self.settle_after = settle_after
        self._outbox: list[_Pending] = []
        self._shipment_ids = itertools.count(1)
        self._event_ids = itertools.count(1)

    # the merchant's side: API clients -----------------------------------------------------------

    def add_client(self) -> tuple[str, str]:
        """Create another API client (what the merchant does under API access): its id and secret."""
        client_id = f"keyshop-client-{len(self.clients) + 1}"
        self.clients[client_id] = secret = f"keyshop-secret-{secrets.token_hex(8)}"
        return client_id, secret

    def revoke_client(self, client_id: str) -> None:
        """Delete an API client: its secret and every token it bought stop working."""
        self.clients.pop(client_id, None)
        self.tokens = {token: value for token, value in self.tokens.items() if value[0] != client_id}

    def token_requests(self, client_id: str | None = None) -> int:
        """How many tokens were asked for (by ``client_id``)."""
        return sum(
            1
            for call in self.calls
            if call.operation == "request_token" and client_id in (None, call.args["client_id"])
        )

    # orders: changes raise ORDER events ---------------------------------------------------------

    def add_order(self, order_id: str | None = None, **kwargs: Any) -> FakeOrder:
        """As ``MemoryShop.add_order``; subscribers get an ORDER event."""
        order = super().add_order(order_id, **kwargs)
        self._emit("ORDER", "ORDER_CREATED", order.id)
        return order

    def update_order(self, order_id: str, **changes: Any) -> FakeOrder:
        """As ``MemoryShop.update_order``; subscribers get an ORDER event."""
        order = super().update_order(order_id, **changes)
        self._emit("ORDER", "ORDER_CHANGED", order.id)
        return order

    def open_list(self) -> list[FakeOrder]:
        """The live list the API pages through, in its order."""
        visible = [
            order
            for order in self.orders.values()
            if order.status in ("open", "partially_shipped") or order.updated_at > self.now - HANDLED_VISIBLE
        ]
        return sorted(visible, key=lambda order: (order.created_at, order.id))

    # shipments and processes, as the shop settles them -----------------------------------------

    def settle(self, process_id: str, status: ProcessState = "SUCCESS", message: str | None = None) -> None:
        """Settle a PENDING process; a refused shipment stops standing, a refused change restores the tracking."""
        process = self.processes[process_id]
        if status not in ("SUCCESS", "FAILURE", "TIMEOUT"):
            raise ValueError(f"a process settles SUCCESS, FAILURE or TIMEOUT, not {status!r}")
        if process.status != "PENDING":
            raise ValueError(f"process {process_id} is {process.status} already")
        process.status = status
        if status in REFUSED:
            process.message = message or f"The shop refused the request ({process.event_type})."
            if process.event_type == "CHANGE_TRANSPORT":
                shipment = self.shipments[process.entity_id]
                shipment.tracking_number = process.previous_tracking or shipment.tracking_number
                shipment.process_id = process.previous_process or shipment.process_id
        self._emit("PROCESS_STATUS", status, process.id)

    def pending_processes(self) -> list[str]:
        """The ids of the processes still PENDING, oldest first."""
        return [process.id for process in self.processes.values() if process.status == "PENDING"]

    def shipments_for(self, order_id: str, reference: str | None = None) -> list[Shipment]:
        """The shipments of an order (with ``reference``), refused ones included."""
        return [
            shipment
            for shipment in self.shipments.values()
            if shipment.order_id == order_id and (reference is None or shipment.reference == reference)
        ]

    def shipment_count(self, order_id: str, reference: str | None = None) -> int:
        """How many shipments of an order (with ``reference``) stand: made and not refused."""
        return sum(
            1
            for shipment in self.shipments_for(order_id, reference)
            if self.processes[shipment.created_by].status not in REFUSED
        )

    # events ---------------------------------------------------------------------------------------

    def message(
        self,
        url: str,
        resource: str,
        event_type: str,
        resource_id: str,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        event_id: str | None = None,
    ) -> EventMessage:
        """A signed message for the subscription at ``url``, not queued (tests craft forged or stale ones).

        ``timestamp``: seconds since the epoch (now by default); ``secret``: sign with this one instead.
        """
        subscription = self.subscriptions.get(url)
        if subscription is None and secret is None:
            raise ValueError(f"no subscription for {url}")
        event_id = event_id or self._next_event_id()
        document = self._document(event_id, resource, event_type, resource_id)
        return self._signed(url, event_id, document, secret or subscription.secret, timestamp)  # type: ignore[union-attr]

    def events_for(self, url: str | None = None) -> list[EventMessage]:
        """The queued events (for ``url``), signed now, oldest first; they stay queued until delivered."""
        messages = []
        for pending in self._outbox:
            subscription = self.subscriptions.get(pending.url)
            if subscription is not None and url in (None, pending.url):
                messages.append(self._signed(pending.url, pending.event_id, pending.document, subscription.secret))
        return messages

    async def deliver(self, session: aiohttp.ClientSession, url: str | None = None) -> list[tuple[str, int]]:
        """POST the queued events (for ``url``) to their subscription; those answered 2xx leave the queue.

        Returns ``(event_id, status)`` per message, in order.
        """
        answers = []
        for message in self.events_for(url):
            async with session.post(message.url, data=message.body, headers=message.headers) as response:
                answers.append((message.event_id, response.status))
            if 200 <= response.status < 300:
                self._outbox = [pending for pending in self._outbox if pending.event_id != message.event_id]
        return answers

    # the API the connector calls ------------------------------------------------------------------

    async def request_token(self, client_id: str, client_secret: str) -> TokenAnswer:
        """Trade the client id and secret for an access token of ``TOKEN_SECONDS``."""
        self._call("request_token", None, client_id=client_id)
        known = self.clients.get(client_id)
        if known is None or not hmac.compare_digest(known, client_secret):
            raise ShopError(401, "invalid_client: Bad client credentials")
        token = f"ks-at-{secrets.token_hex(12)}"
        self.tokens[token] = (client_id, self.now + timedelta(seconds=TOKEN_SECONDS))
        return TokenAnswer(access_token=token, expires_in=TOKEN_SECONDS)

    async def current_account(self, token: str) -> Account:
        """The shop account the token's client belongs to: the cheapest call there is."""
        self._call("current_account", token)
        return self.account

    async def list_open_orders(self, token: str, start: int, limit: int = LIST_LIMIT) -> OrderList:
        """Copies of the open list's orders at positions ``start`` to ``start + limit - 1``."""
        self._call("list_open_orders", token, start=start, limit=limit)
        if start < 0 or not 1 <= limit <= LIST_LIMIT:
            raise ShopError(400, f"start must be 0 or more and limit 1 to {LIST_LIMIT}")
        listed = self.open_list()
        page = [dataclasses.replace(order, items=list(order.items)) for order in listed[start : start + limit]]
        return OrderList(orders=page, more=len(listed) > start + limit, server_time=self.now)

    async def list_shipments(self, token: str, order_id: str) -> list[ShipmentInfo]:
        """The order's shipments that stand (made, or being made, and not refused)."""
        self._call("list_shipments", token, order_id=order_id)
        return [
            self._info(shipment)
            for shipment in self.shipments_for(order_id)
            if self.processes[shipment.created_by].status not in REFUSED
        ]

    async def create_shipment(
        self, token: str, order_id: str, reference: str, tracking_number: str, carrier: str, items: dict[str, int]
    ) -> ProcessInfo:
        """Make a shipment (no idempotency: every call makes one) and answer its PENDING process."""
        self._call("create_shipment", token, order_id=order_id, reference=reference, tracking_number=tracking_number)
        order = self.orders.get(order_id)
        if order is None:
            raise ShopError(404, f"order {order_id} not found")
        if order.status == "cancelled":
            raise ShopError(400, f"order {order_id} is cancelled")
        unknown = sorted(set(items) - {item.id for item in order.items})
        if unknown:
            raise ShopError(400, f"order {order_id} has no items {unknown}")
        if not reference or len(reference) > 90:
            raise ShopError(400, "shipmentReference must be 1 to 90 characters")
        process = self._process("CREATE_SHIPMENT", order_id)
        shipment_id = f"S-{next(self._shipment_ids):05d}"
        self.shipments[shipment_id] = Shipment(
            shipment_id, order_id, reference, tracking_number, carrier, dict(items), process.id, process.id
        )
        self._answer("create_shipment")
        return self._process_info(process)

    async def change_transport(self, token: str, shipment_id: str, tracking_number: str) -> ProcessInfo:
        """Give a shipment another tracking number; answers the change's PENDING process."""
        self._call("change_transport", token, shipment_id=shipment_id, tracking_number=tracking_number)
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise ShopError(404, f"shipment {shipment_id} not found")
        process = self._process("CHANGE_TRANSPORT", shipment_id)
        process.previous_tracking, shipment.tracking_number = shipment.tracking_number, tracking_number
        process.previous_process, shipment.process_id = shipment.process_id, process.id
        self._answer("change_transport")
        return self._process_info(process)

    async def process_statuses(self, token: str, process_ids: list[str]) -> list[ProcessInfo]:
        """Many process statuses in one call; unknown ids are left out. Each query counts towards ``settle_after``."""
        self._call("process_statuses", token, count=len(process_ids))
        if not 1 <= len(process_ids) <= STATUS_QUERY_LIMIT:
            raise ShopError(400, f"ask for 1 to {STATUS_QUERY_LIMIT} process statuses at a time")
        answers = []
        for process_id in process_ids:
            process = self.processes.get(process_id)
            if process is None:
                continue
            process.queries += 1
            if process.status == "PENDING" and self.settle_after is not None and process.queries >= self.settle_after:
                self.settle(process.id, "SUCCESS")
            answers.append(self._process_info(process))
        return answers

    async def subscribe(self, token: str, url: str) -> SubscriptionAnswer:
        """Post ORDER and PROCESS_STATUS events to ``url``; subscribing a URL again answers its subscription."""
        self._call("subscribe", token, url=url)
        if not url.startswith(("https://", "http://")):
            raise ShopError(400, "url must be an http(s) URL")
        subscription = self.subscriptions.get(url)
        if subscription is None:
            subscription = Subscription(id=f"sub-{len(self.subscriptions) + 1}", url=url, secret=secrets.token_hex(16))
            self.subscriptions[url] = subscription
        return SubscriptionAnswer(id=subscription.id, secret=subscription.secret)

    async def unsubscribe(self, token: str, url: str) -> None:
        """Stop posting events to ``url``; what was queued for it is dropped."""
        self._call("unsubscribe", token, url=url)
        self.subscriptions.pop(url, None)
        self._outbox = [pending for pending in self._outbox if pending.url != url]

    # ----------------------------------------------------------------------------------------------

    def _refusal(self, credential: str) -> str | None:
        held = self.tokens.get(credential)
        if held is None:
            return "Unauthorized: the access token is unknown"
        if held[1] <= self.now:
            return "Expired JWT: the access token has expired"
        return None

    def _process(self, event_type: Literal["CREATE_SHIPMENT", "CHANGE_TRANSPORT"], entity_id: str) -> Process:
        process = Process(id=str(uuid.uuid4()), event_type=event_type, entity_id=entity_id)
        self.processes[process.id] = process
        return process

    def _info(self, shipment: Shipment) -> ShipmentInfo:
        process = self.processes[shipment.process_id]
        return ShipmentInfo(
            shipment.id, shipment.order_id, shipment.reference, shipment.tracking_number,
            process.id, process.status, process.message,
        )  # fmt: skip

    @staticmethod
    def _process_info(process: Process) -> ProcessInfo:
        return ProcessInfo(process.id, process.event_type, process.entity_id, process.status, process.message)

    def _next_event_id(self) -> str:
        return f"evt-{self.name}-{next(self._event_ids):06d}"

    def _document(self, event_id: str, resource: str, event_type: str, resource_id: str) -> dict[str, Any]:
        return {
            "id": event_id,
            "account": self.account.id,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "event": {"resource": resource, "type": event_type, "resourceId": resource_id},
        }

    def _emit(self, resource: str, event_type: str, resource_id: str) -> None:
        for subscription in self.subscriptions.values():
            if resource in subscription.resources:
                event_id = self._next_event_id()
                document = self._document(event_id, resource, event_type, resource_id)
                self._outbox.append(_Pending(subscription.url, event_id, document))

    @staticmethod
    def _signed(
        url: str, event_id: str, document: dict[str, Any], secret: str, timestamp: float | None = None
    ) -> EventMessage:
        body = json.dumps(document, separators=(",", ":")).encode()
        stamp = str(int(time.time() if timestamp is None else timestamp))
        headers = {
            "content-type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
        }
        return EventMessage(url=url, event_id=event_id, headers=headers, body=body)


# the registry -------------------------------------------------------------------------------------

_shops: dict[str, KeyShop] = {}


def open_shop(name: str = "default", now: datetime | None = None, settle_after: int | None = None) -> KeyShop:
    """A fresh key shop under ``name``, replacing any key shop of that name (fake shops are apart)."""
    _shops[name] = shop = KeyShop(name, now, settle_after)
    return shop


def get_shop(name: str = "default") -> KeyShop | None:
    """The key shop registered under ``name``, or ``None``."""
    return _shops.get(name)


def close_shop(name: str) -> None:
    """Forget the key shop under ``name``; connections pointing at it answer "not ready"."""
    _shops.pop(name, None)


__all__ = [
    "GOOD_CLIENT_ID",
    "GOOD_CLIENT_SECRET",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOKEN_SECONDS",
    "Account",
    "EventMessage",
    "FakeItem",
    "FakeOrder",
    "KeyShop",
    "OrderList",
    "Process",
    "ProcessInfo",
    "Shipment",
    "ShipmentInfo",
    "ShopError",
    "ShopTimeout",
    "Subscription",
    "SubscriptionAnswer",
    "TokenAnswer",
    "close_shop",
    "get_shop",
    "open_shop",
    "sign",
]
