"""The simulator's state: retailers, credentials, tokens, orders, shipments, process statuses,
subscriptions and deliveries, and the rules that change them.

One ``SimulatorState`` lives on the app under ``STATE``; in-process tests read and change it
directly, the admin API (``/_sim/``) does the same over HTTP. Everything runs on the app's event
loop, so a change is never interleaved with another.

Work that bol.com does asynchronously (shipments, transport changes, cancellations, subscription
changes, test messages) is accepted as a PENDING ``ProcessStatus`` carrying the work as an action.
It settles ``settle_delay`` seconds later on the simulated clock (or when the admin API says so):
the action runs, checks bol.com's business rules and either makes its change (SUCCESS) or returns
the ``errorMessage`` of a FAILURE; a fault may plan FAILURE or TIMEOUT instead (nothing changes).
Settling emits a ``PROCESS_STATUS`` event to the retailer's subscriptions. Settled statuses are
forgotten ``process_status_ttl`` seconds after completion (404, missing from lists).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import hmac
import itertools
import logging
import random
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .arrival import OrderCreate, build_order
from .clock import SimClock, bol_time, utc_time
from .config import SimulatorConfig
from .faults import FaultInjector
from .problems import BolProblem, dumps
from .ratelimit import RateLimiter
from .records import (
    FAILURE,
    FBB,
    SUCCESS,
    TIMEOUT,
    AccessToken,
    Client,
    Delivery,
    Order,
    OrderItem,
    ProcessStatus,
    Retailer,
    Shipment,
    Subscription,
    Transport,
)
from .seed import IdSource, demo_orders, demo_process_statuses, generate_orders, generate_retailers
from .webhooks import Deliverer, SigningKeys

log = logging.getLogger(__name__)

TOKEN_ISSUER = "https://login.bol.com"


class TokenRefused(Exception):
    """The token endpoint refuses: HTTP status, OAuth error code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ShipmentPlan:
    """A ``ShipmentRequest`` after its shape was checked."""

    items: tuple[tuple[str, int | None], ...]  # (orderItemId, units or None for all open units)
    reference: str | None
    transporter_code: str | None
    track_and_trace: str | None
    shipping_label_id: str | None


@dataclass(frozen=True)
class SubscriptionPlan:
    """A ``SubscriptionRequest`` after its shape was checked."""

    resources: tuple[str, ...]
    url: str
    subscription_type: str
    enabled: bool
    identity: str | None


class SimulatorState:
    """Everything the simulator knows, and the operations the routes and the admin API share."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._initial = config.model_copy(deep=True)
        self.closing = asyncio.Event()
        self.deliverer = Deliverer(self)
        self._changed = asyncio.Event()
        self.wake = asyncio.Event()  # the settler looks again at what is due
        self._load()

    def _load(self) -> None:
        config = self.config
        self.clock = SimClock(config.start_time, frozen=config.freeze_clock)
        self.clock.listen(self.wake.set)
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.limiter = RateLimiter(self.clock)
        self.keys = SigningKeys()
        self.ids = IdSource(random.Random(f"{config.seed}:ids"))
        self._token_key = secrets.token_bytes(32)
        self._sequence = itertools.count()
        retailers, clients = generate_retailers(config)
        self.retailers: dict[str, Retailer] = {r.retailer_id: r for r in retailers}
        self.clients: dict[str, Client] = {c.client_id: c for c in clients}
        self.unknown_token_requests: Counter[str] = Counter()
        self.tokens: dict[str, AccessToken] = {}
        self.orders: dict[str, Order] = {}
        self.items: dict[str, tuple[Order, OrderItem]] = {}
        self.shipments: dict[str, Shipment] = {}
        self.transports: dict[str, Shipment] = {}
        self.processes: dict[str, ProcessStatus] = {}
        self._by_entity: dict[tuple[str, str], list[str]] = {}  # (entity id, event type) -> ids, oldest first
        self._due: list[tuple[float, int, str]] = []
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.calls: Counter[str] = Counter()  # API calls per operation (after faults, before checks)
        now = self.clock.time()
        first = next(iter(self.retailers))
        for retailer in self.retailers.values():
            orders, shipments = generate_orders(config.seed, retailer, config.orders_per_retailer, now, self.ids)
            if config.demo_orders and retailer.retailer_id == first:
                extra_orders, extra_shipments = demo_orders(first, now, self.ids)
                orders, shipments = extra_orders + orders, extra_shipments + shipments
                for status in demo_process_statuses(first):
                    self._file_process(status)
            for order in orders:
                self._file_order(order)
            for shipment in shipments:
                self._file_shipment(shipment)

    def reset(self) -> None:
        """Back to the seeded start: configuration, clock, world, faults, keys, buckets, counts."""
        for name in SimulatorConfig.model_fields:
            setattr(self.config, name, getattr(self._initial, name))
        self._load()
        self.notify()

    # -- waiting for changes ----------------------------------------------------------------------

    def notify(self) -> None:
        """Wake everyone waiting in ``wait_for``."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (checked after every change); TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                await self._changed.wait()

    # -- credentials and tokens -------------------------------------------------------------------

    def add_client(self, retailer_id: str, client_id: str | None = None, client_secret: str | None = None) -> Client:
        """New API credentials for a retailer (the Seller Dashboard's "Aanmaken")."""
        self.retailer(retailer_id)
        client_id = client_id or str(uuid.UUID(int=self.ids.rng.getrandbits(128), version=4))
        if client_id in self.clients and not self.clients[client_id].deleted:
            raise ValueError(f"client {client_id} exists")
        client = Client(client_id, client_secret or secrets.token_urlsafe(48), retailer_id)
        self.clients[client_id] = client
        return client

    def delete_client(self, client_id: str) -> Client:
        """Delete credentials: no new tokens, and the tokens already given stop working."""
        client = self.clients[client_id]
        client.deleted = True
        for token in [t for t in self.tokens.values() if t.client_id == client_id]:
            del self.tokens[token.token]
        return client

    def issue_token(self, client_id: str | None, client_secret: str | None) -> AccessToken:
        """A bearer token for good client credentials (counted per client id), else ``TokenRefused``."""
        client = self.clients.get(client_id or "")
        if client is None:
            self.unknown_token_requests[client_id or ""] += 1
            raise TokenRefused(401, "invalid_client", "Bad client credentials")
        client.token_requests += 1
        if client.deleted or not hmac.compare_digest((client_secret or "").encode(), client.client_secret.encode()):
            client.refused += 1
            raise TokenRefused(401, "invalid_client", "Bad client credentials")
        client.tokens_issued += 1
        return self._token(client)

    def token_for(self, retailer_id: str | None = None) -> str:
        """A valid bearer token for a retailer without the token endpoint (a shortcut for tests; not counted)."""
        retailer_id = retailer_id or next(iter(self.retailers))
        client = next(c for c in self.clients.values() if c.retailer_id == retailer_id and not c.deleted)
        return self._token(client).token

    def _token(self, client: Client) -> AccessToken:
        now = self.clock.time()
        issued = int(now)
        claims = {
            "iss": TOKEN_ISSUER, "sub": client.client_id, "scopes": "RETAILER",
            "aid": f"CLNTC:{client.client_id} SLR:{client.retailer_id}",
            "iat": issued, "exp": issued + self.config.token_ttl + 1, "jti": secrets.token_hex(8),
        }
        header = {"alg": "HS256", "typ": "JWT", "kid": "bol-simulator"}
        signing_input = f"{_b64url(dumps(header).encode())}.{_b64url(dumps(claims).encode())}"
        mac = hmac.new(self._token_key, signing_input.encode(), hashlib.sha256).digest()
        token = AccessToken(f"{signing_input}.{_b64url(mac)}", client.client_id, client.retailer_id,
                            now, now + self.config.token_ttl)
        self.tokens[token.token] = token
        return token

    def authenticate(self, authorization: str | None) -> AccessToken:
        """The token of an ``Authorization: Bearer`` header, or a 401 ``BolProblem`` as bol.com answers."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise BolProblem(401, "Unauthorized", "Full authentication is required to access this resource.",
                             bare=True)
        token = self.tokens.get(value.strip())
        if token is None:
            raise BolProblem(401, "Invalid JWT", "The access token is not valid.", bare=True)
        if self.clock.time() >= token.expires:
            raise self.expired_jwt(token.expires)
        return token

    def expired_jwt(self, expired_at: float) -> BolProblem:
        """The 401 of an expired token, worded as bol.com's (jjwt's) message."""
        now = self.clock.time()
        return BolProblem(
            401, "Expired JWT",
            f"JWT expired at {utc_time(expired_at)}. Current time: {utc_time(now)}, "
            f"a difference of {int((now - expired_at) * 1000)} milliseconds. Allowed clock skew: 0 milliseconds.",
            bare=True,
        )

    def expire_tokens(self, client_id: str | None = None) -> int:
        """Let every token (of one client) expire now; returns how many."""
        now = self.clock.time()
        count = 0
        for token in self.tokens.values():
            if (client_id is None or token.client_id == client_id) and token.expires > now:
                token.expires = now
                count += 1
        return count

    def retailer(self, retailer_id: str) -> Retailer:
        """A retailer by id (KeyError if unknown)."""
        retailer = self.retailers.get(retailer_id)
        if retailer is None:
            raise KeyError(f"unknown retailer {retailer_id}")
        return retailer

    @property
    def first_retailer(self) -> Retailer:
        """The first retailer (``DEFAULT_RETAILER_ID``)."""
        return next(iter(self.retailers.values()))

    # -- orders -----------------------------------------------------------------------------------

    def _file_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        for item in order.items:
            self.items[item.order_item_id] = (order, item)
            self.ids.used.add(item.order_item_id)
        self.ids.used.add(order.order_id)

    def order(self, order_id: str, retailer_id: str | None = None) -> Order:
        """An order by id, of that retailer if one is named (KeyError otherwise)."""
        order = self.orders.get(order_id)
        if order is None or (retailer_id is not None and order.retailer_id != retailer_id):
            raise KeyError(f"unknown order {order_id}")
        return order

    def item(self, order_item_id: str, retailer_id: str | None = None) -> tuple[Order, OrderItem]:
        """An order item and its order, of that retailer if one is named (KeyError otherwise)."""
        found = self.items.get(order_item_id)
        if found is None or (retailer_id is not None and found[0].retailer_id != retailer_id):
            raise KeyError(f"unknown order item {order_item_id}")
        return found

    def orders_of(self, retailer_id: str) -> list[Order]:
        """The retailer's orders, newest placed first."""
        found = [o for o in self.orders.values() if o.retailer_id == retailer_id]
        found.sort(key=lambda o: (-o.placed, o.order_id))
        return found

    def new_order(self, spec: OrderCreate | None = None, **fields: Any) -> Order:
        """An order placed now, drawn where ``spec`` (or ``OrderCreate(**fields)``) leaves it open; emits
        ``ORDER``/``ORDER_CREATED``. ``sim.state.new_order()`` is a new own-shipped order of the first retailer.
        """
        order, shipments = build_order(self, spec or OrderCreate(**fields))
        return self.add_order(order, shipments)

    def add_order(self, order: Order, shipments: Iterable[Shipment] = ()) -> Order:
        """File a new order (ids must be new) and its shipments; emit ``ORDER``/``ORDER_CREATED``."""
        if order.order_id in self.orders:
            raise ValueError(f"order {order.order_id} exists")
        self.retailer(order.retailer_id)
        item_ids = [item.order_item_id for item in order.items]
        if len(set(item_ids)) != len(item_ids):
            raise ValueError("the order's item ids are not unique")
        for item_id in item_ids:
            if item_id in self.items:
                raise ValueError(f"order item {item_id} exists")
        self._file_order(order)
        for shipment in shipments:
            self._file_shipment(shipment)
        self.emit(order.retailer_id, "ORDER", "ORDER_CREATED", order.order_id)
        self.notify()
        return order

    def update_order(self, order_id: str, shipment_details: dict[str, str] | None = None,
                     billing_details: dict[str, str] | None = None) -> Order:
        """The customer changes the order's addresses; its items count as changed now."""
        order = self.order(order_id)
        if shipment_details:
            order.shipment_details.update(shipment_details)
        if billing_details:
            order.billing_details = (order.billing_details or {}) | billing_details
        for item in order.items:
            self.touch(item)
        self.notify()
        return order

    def touch(self, item: OrderItem) -> None:
        """Stamp an item as changed now."""
        item.changed = max(item.changed, float(int(self.clock.time())))

    def request_cancellation(self, order_item_id: str) -> OrderItem:
        """The customer asks to cancel an item; emits ``ORDER``/``ORDER_ITEM_CANCELLATION_REQUEST``."""
        order, item = self.item(order_item_id)
        item.cancellation_request = True
        self.touch(item)
        self.emit(order.retailer_id, "ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", order.order_id)
        self.notify()
        return item

    def cancel_units(self, order_item_id: str, quantity: int | None = None) -> OrderItem:
        """Units of an item are cancelled (all open ones by default), as bol.com or the customer did."""
        _, item = self.item(order_item_id)
        units = item.open_quantity if quantity is None else quantity
        if not 0 < units <= item.open_quantity:
            raise ValueError(f"order item {order_item_id} has {item.open_quantity} open units; cannot cancel {units}")
        item.quantity_cancelled += units
        self.touch(item)
        self.notify()
        return item

    # -- shipments --------------------------------------------------------------------------------

    def _file_shipment(self, shipment: Shipment) -> None:
        self.shipments[shipment.shipment_id] = shipment
        self.transports[shipment.transport.transport_id] = shipment

    def shipment(self, shipment_id: str, retailer_id: str | None = None) -> Shipment:
        """A shipment by id, of that retailer if one is named (KeyError otherwise)."""
        shipment = self.shipments.get(shipment_id)
        if shipment is None or (retailer_id is not None and shipment.retailer_id != retailer_id):
            raise KeyError(f"unknown shipment {shipment_id}")
        return shipment

    def shipments_of(self, retailer_id: str, order_id: str | None = None) -> list[Shipment]:
        """The retailer's shipments (of one order), newest first."""
        found = [s for s in self.shipments.values()
                 if s.retailer_id == retailer_id and (order_id is None or s.order_id == order_id)]
        found.sort(key=lambda s: (-s.created, -int(s.shipment_id)))
        return found

    def shipments_made(self, order_item_id: str | None = None, order_id: str | None = None) -> list[Shipment]:
        """Shipments created through the API (not seeded), oldest first, for one item or order."""
        return [
            s for s in self.shipments.values()
            if s.process_status_id is not None
            and (order_item_id is None or any(i == order_item_id for i, _ in s.items))
            and (order_id is None or s.order_id == order_id)
        ]

    def shipment_counts(self, order_id: str | None = None) -> dict[str, int]:
        """Per order item, how many shipments the API created with it (seeded shipments left out)."""
        counts: Counter[str] = Counter()
        for shipment in self.shipments_made(order_id=order_id):
            counts.update({item_id for item_id, _ in shipment.items})
        return dict(counts)

    def accept_shipment(self, retailer_id: str, plan: ShipmentPlan, forced: str | None = None) -> ProcessStatus:
        """Accept a ShipmentRequest: a CREATE_SHIPMENT process status whose action ships."""
        item_ids = tuple(item_id for item_id, _ in plan.items)
        holder: list[ProcessStatus] = []
        status = self.accept(
            retailer_id, "CREATE_SHIPMENT", item_ids,
            f"Create shipment for order item{'s' if len(item_ids) > 1 else ''} {', '.join(item_ids)}.",
            lambda: self._ship(retailer_id, plan, holder[0]), forced,
        )
        holder.append(status)
        return status

    def _ship(self, retailer_id: str, plan: ShipmentPlan, status: ProcessStatus) -> str | None:
        resolved: list[tuple[Order, OrderItem, int]] = []
        for item_id, units in plan.items:
            found = self.items.get(item_id)
            if found is None or found[0].retailer_id != retailer_id:
                return f"Order item {item_id} does not exist."
            order, item = found
            if item.method == FBB:
                return f"Order item {item_id} is fulfilled by bol.com (FBB) and cannot be shipped by the retailer."
            if item.cancellation_request:
                return f"Order item {item_id} has a cancellation request from the customer."
            if item.vvb and plan.shipping_label_id is None:
                return f"Order item {item_id} is shipped via bol.com: confirm it with its shippingLabelId."
            if plan.shipping_label_id is not None and item.shipping_label_id != plan.shipping_label_id:
                return f"Shipping label {plan.shipping_label_id} does not belong to order item {item_id}."
            open_units = item.open_quantity
            if open_units <= 0:
                return f"Order item {item_id} has no open quantity left to ship."
            wanted = open_units if units is None else units
            if wanted > open_units:
                return f"Quantity {wanted} for order item {item_id} exceeds the open quantity {open_units}."
            resolved.append((order, item, wanted))
        if len({order.order_id for order, _, _ in resolved}) > 1:
            return "The order items of a shipment must belong to the same order."
        order = resolved[0][0]
        now = float(int(self.clock.time()))
        shipment = Shipment(
            shipment_id=self.ids.shipment_id(), retailer_id=retailer_id, order_id=order.order_id, created=now,
            reference=plan.reference, items=[(item.order_item_id, units) for _, item, units in resolved],
            transport=Transport(self.ids.transport_id(), plan.transporter_code, plan.track_and_trace,
                                plan.shipping_label_id),
            process_status_id=status.process_status_id,
        )
        for _, item, units in resolved:
            item.quantity_shipped += units
            self.touch(item)
        self._file_shipment(shipment)
        return None

    def accept_transport_change(self, retailer_id: str, transport_id: str, track_and_trace: str,
                                transporter_code: str | None, forced: str | None = None) -> ProcessStatus:
        """Accept a ChangeTransportRequest: CHANGE_TRANSPORT, entity = the transport id."""

        def change() -> str | None:
            shipment = self.transports.get(transport_id)
            if shipment is None or shipment.retailer_id != retailer_id:
                return f"Transport {transport_id} does not exist."
            shipment.transport.track_and_trace = track_and_trace
            if transporter_code is not None:
                shipment.transport.transporter_code = transporter_code
            return None

        return self.accept(retailer_id, "CHANGE_TRANSPORT", (transport_id,),
                           f"Change transport {transport_id}.", change, forced)

    def add_transport_event(self, shipment_id: str, event_code: str) -> Shipment:
        """A transporter reports on a parcel; emits ``SHIPMENT``/``UPDATE_TRANSPORT_EVENT``."""
        shipment = self.shipment(shipment_id)
        shipment.transport.events.append((event_code, float(int(self.clock.time()))))
        self.emit(shipment.retailer_id, "SHIPMENT", "UPDATE_TRANSPORT_EVENT", shipment_id)
        self.notify()
        return shipment

    def accept_cancellation(self, retailer_id: str, order_item_id: str, reason: str,
                            forced: str | None = None) -> ProcessStatus:
        """Accept a CancellationRequest for one item: CANCEL_ORDER, entity = the order item."""

        def cancel() -> str | None:
            found = self.items.get(order_item_id)
            if found is None or found[0].retailer_id != retailer_id:
                return f"Order item {order_item_id} does not exist."
            item = found[1]
            if item.method == FBB:
                return f"Order item {order_item_id} is fulfilled by bol.com (FBB): the retailer cannot cancel it."
            if item.open_quantity <= 0:
                return f"Order item {order_item_id} has no open quantity left to cancel."
            item.quantity_cancelled += item.open_quantity
            item.cancellation_request = False
            self.touch(item)
            return None

        return self.accept(retailer_id, "CANCEL_ORDER", (order_item_id,),
                           f"Cancel order item {order_item_id} ({reason}).", cancel, forced)

    # -- process statuses -------------------------------------------------------------------------

    def _file_process(self, status: ProcessStatus) -> None:
        self.processes[status.process_status_id] = status
        for entity in status.entity_ids or (status.entity_id,):
            self._by_entity.setdefault((entity, status.event_type), []).append(status.process_status_id)
        if status.pending and status.due is not None:
            heapq.heappush(self._due, (status.due, next(self._sequence), status.process_status_id))

    def accept(self, retailer_id: str, event_type: str, entity_ids: Iterable[str], description: str,
               action: Callable[[], str | None] | None, forced: str | None = None) -> ProcessStatus:
        """A new PENDING process status that settles after ``settle_delay`` (FAILURE/TIMEOUT if ``forced``)."""
        entities = tuple(dict.fromkeys(entity_ids))
        now = self.clock.time()
        delay = self.config.settle_delay
        status = ProcessStatus(
            process_status_id=self._process_status_id(now), retailer_id=retailer_id, entity_id=entities[0],
            event_type=event_type, description=description, created=float(int(now)),
            due=None if delay is None else now + delay, entity_ids=entities, forced=forced, action=action,
        )
        self._file_process(status)
        self.wake.set()
        self.notify()
        return status

    def _process_status_id(self, now: float) -> str:
        # UUID version 7 (time-ordered), the shape of bol.com's ids since 2026-05-12.
        rng = self.ids.rng
        value = (int(now * 1000) & (2**48 - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
        value |= 0b10 << 62 | rng.getrandbits(62)
        return str(uuid.UUID(int=value))

    def visible(self, status: ProcessStatus) -> bool:
        """False once a settled status is past its retention (then bol.com answers 404)."""
        if status.permanent or status.completed is None:
            return True
        return self.clock.time() < status.completed + self.config.process_status_ttl

    def process_status(self, process_status_id: str, retailer_id: str | None = None) -> ProcessStatus:
        """A visible process status (of that retailer if named), else KeyError."""
        self.settle_due()
        status = self.processes.get(process_status_id)
        if status is None or not self.visible(status):
            raise KeyError(f"unknown process status {process_status_id}")
        if retailer_id is not None and status.retailer_id != retailer_id:
            raise KeyError(f"unknown process status {process_status_id}")
        return status

    def process_statuses_of(self, retailer_id: str, entity_id: str, event_type: str) -> list[ProcessStatus]:
        """The visible statuses of an entity and event type, newest first."""
        self.settle_due()
        ids = self._by_entity.get((entity_id, event_type), [])
        found = [self.processes[i] for i in reversed(ids)]
        return [s for s in found if s.retailer_id == retailer_id and self.visible(s)]

    def next_due(self) -> float | None:
        """When the next automatic settling is due (simulated time), if any."""
        while self._due:
            status = self.processes.get(self._due[0][2])
            if status is not None and status.pending:
                return self._due[0][0]
            heapq.heappop(self._due)
        return None

    def settle_due(self) -> int:
        """Settle every pending status whose time has come; returns how many."""
        now = self.clock.time()
        settled = 0
        while self._due and self._due[0][0] <= now:
            _, _, process_status_id = heapq.heappop(self._due)
            status = self.processes.get(process_status_id)
            if status is not None and status.pending:
                self._settle(status, settled_at=status.due)
                settled += 1
        return settled

    def settle(
        self, process_status_id: str, outcome: str | None = None, error_message: str | None = None
    ) -> ProcessStatus:
        """Settle a pending status now: its own outcome, or FAILURE/TIMEOUT (nothing done) when given."""
        status = self.processes.get(process_status_id)
        if status is None:
            raise KeyError(f"unknown process status {process_status_id}")
        if not status.pending:
            raise ValueError(f"process status {process_status_id} is already {status.status}")
        if outcome not in (None, SUCCESS, FAILURE, TIMEOUT):
            raise ValueError(f"outcome must be SUCCESS, FAILURE or TIMEOUT, not {outcome}")
        self._settle(status, None if outcome == SUCCESS else outcome, error_message)
        return status

    def settle_all(self) -> int:
        """Settle every pending status now (the demo's fixed PENDING one stays); returns how many."""
        pending = [s for s in self.processes.values() if s.pending and not s.permanent]
        for status in pending:
            self._settle(status)
        return len(pending)

    def expire(self, process_status_id: str) -> None:
        """Forget a status now, as retention would (404 afterwards)."""
        status = self.processes.get(process_status_id)
        if status is None:
            raise KeyError(f"unknown process status {process_status_id}")
        if status.pending:
            raise ValueError(f"process status {process_status_id} is still PENDING")
        status.permanent = False
        status.completed = self.clock.time() - self.config.process_status_ttl

    def _settle(self, status: ProcessStatus, outcome: str | None = None, error_message: str | None = None,
                settled_at: float | None = None) -> None:
        # Settling when due counts from the due time, even when the clock jumped past it.
        planned = outcome or status.forced
        if planned in (FAILURE, TIMEOUT):
            status.status = planned
            if planned == FAILURE:
                status.error_message = error_message or (
                    f"Processing {status.event_type} for {status.entity_id} failed at bol.com. Please try again."
                )
        else:
            try:
                problem = status.action() if status.action is not None else None
            except Exception:  # a simulator bug must not stop the settler: the status fails instead
                log.exception("settling process status %s failed", status.process_status_id)
                problem = "Internal error of the simulator while processing the request."
            status.status = FAILURE if problem else SUCCESS
            status.error_message = problem
        status.action = None
        status.completed = self.clock.time() if settled_at is None else settled_at
        self.emit(status.retailer_id, "PROCESS_STATUS", status.status, status.process_status_id)
        self.notify()

    # -- subscriptions and events -----------------------------------------------------------------

    def subscription(self, subscription_id: str, retailer_id: str | None = None) -> Subscription:
        """A subscription by id, of that retailer if named (KeyError otherwise)."""
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or (retailer_id is not None and subscription.retailer_id != retailer_id):
            raise KeyError(f"unknown subscription {subscription_id}")
        return subscription

    def subscriptions_of(self, retailer_id: str) -> list[Subscription]:
        """The retailer's subscriptions, oldest first."""
        return [s for s in self.subscriptions.values() if s.retailer_id == retailer_id]

    def accept_subscription(self, retailer_id: str, plan: SubscriptionPlan, forced: str | None = None) -> ProcessStatus:
        """CREATE_SUBSCRIPTION: the subscription exists once the status settles; its id is the entity id."""
        subscription_id = self.ids.subscription_id()

        def create() -> str | None:
            self.subscriptions[subscription_id] = Subscription(
                subscription_id, retailer_id, list(plan.resources), plan.url, plan.subscription_type,
                plan.enabled, plan.identity,
            )
            return None

        return self.accept(retailer_id, "CREATE_SUBSCRIPTION", (subscription_id,),
                           f"Create subscription {subscription_id}.", create, forced)

    def accept_subscription_update(self, retailer_id: str, subscription_id: str, plan: SubscriptionPlan,
                                   forced: str | None = None) -> ProcessStatus:
        """UPDATE_SUBSCRIPTION: replaces the subscription; ``enabled: true`` re-enables a disabled one."""

        def update() -> str | None:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None or subscription.retailer_id != retailer_id:
                return f"Subscription {subscription_id} does not exist."
            subscription.resources = list(plan.resources)
            subscription.url = plan.url
            subscription.subscription_type = plan.subscription_type
            subscription.identity = plan.identity
            subscription.enabled = plan.enabled
            subscription.disabled_reason = None if plan.enabled else "disabled by the retailer"
            return None

        return self.accept(retailer_id, "UPDATE_SUBSCRIPTION", (subscription_id,),
                           f"Update subscription {subscription_id}.", update, forced)

    def accept_subscription_delete(self, retailer_id: str, subscription_id: str,
                                   forced: str | None = None) -> ProcessStatus:
        """DELETE_SUBSCRIPTION."""

        def delete() -> str | None:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None or subscription.retailer_id != retailer_id:
                return f"Subscription {subscription_id} does not exist."
            del self.subscriptions[subscription_id]
            return None

        return self.accept(retailer_id, "DELETE_SUBSCRIPTION", (subscription_id,),
                           f"Delete subscription {subscription_id}.", delete, forced)

    def accept_test_message(self, retailer_id: str, subscription_id: str, forced: str | None = None) -> ProcessStatus:
        """SEND_SUBSCRIPTION_TST_MSG: a ``TEST`` message goes to the subscription when it settles."""

        def send() -> str | None:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None or subscription.retailer_id != retailer_id:
                return f"Subscription {subscription_id} does not exist."
            if subscription.subscription_type == "WEBHOOK":
                self._deliver(subscription, "TEST", "TEST", subscription_id)
            return None

        return self.accept(retailer_id, "SEND_SUBSCRIPTION_TST_MSG", (subscription_id,),
                           f"Send a test message to subscription {subscription_id}.", send, forced)

    def disable_subscription(self, subscription_id: str, reason: str = "disabled by bol.com") -> Subscription:
        """Disable a subscription as bol.com does after failed deliveries."""
        subscription = self.subscription(subscription_id)
        subscription.enabled = False
        subscription.disabled_reason = reason
        self.notify()
        return subscription

    def delivery_failed(self, delivery: Delivery) -> None:
        """A delivery used up its retries: its subscription is disabled."""
        subscription = self.subscriptions.get(delivery.subscription_id)
        if subscription is not None and subscription.enabled:
            self.disable_subscription(
                subscription.subscription_id,
                f"delivery {delivery.delivery_id} failed {len(delivery.attempts)} times",
            )

    def emit(self, retailer_id: str, resource: str, event_type: str, resource_id: str) -> list[Delivery]:
        """Send an event to every enabled webhook subscription of the retailer for ``resource``."""
        return [self._deliver(s, resource, event_type, resource_id)
                for s in self.subscriptions_of(retailer_id) if s.wants(resource)]

    def _deliver(self, subscription: Subscription, resource: str, event_type: str, resource_id: str) -> Delivery:
        message = {
            "retailerId": int(subscription.retailer_id),
            "timeStamp": bol_time(self.clock.time()),
            "event": {"resource": resource, "type": event_type, "resourceId": resource_id,
                      "metadata": {}, "links": []},
        }
        body = dumps(message).encode()
        key_id, header = self.keys.sign(body)
        delivery = Delivery(
            delivery_id=len(self.deliveries) + 1, subscription_id=subscription.subscription_id,
            retailer_id=subscription.retailer_id, url=subscription.url, resource=resource, event_type=event_type,
            resource_id=resource_id, body=body, key_id=key_id, signature=header, created=self.clock.time(),
        )
        self.deliveries.append(delivery)
        self.deliverer.send(delivery)
        return delivery

    def redeliver(self, delivery_id: int) -> Delivery:
        """Send a delivery's exact body and signature again, as a new delivery (a duplicate)."""
        if not 1 <= delivery_id <= len(self.deliveries):
            raise KeyError(f"unknown delivery {delivery_id}")
        original = self.deliveries[delivery_id - 1]
        copy = Delivery(
            delivery_id=len(self.deliveries) + 1, subscription_id=original.subscription_id,
            retailer_id=original.retailer_id, url=original.url, resource=original.resource,
            event_type=original.event_type, resource_id=original.resource_id, body=original.body,
            key_id=original.key_id, signature=original.signature, created=self.clock.time(),
            duplicate_of=original.delivery_id,
        )
        self.deliveries.append(copy)
        self.deliverer.send(copy)
        self.notify()
        return copy

    def rotate_keys(self, retire_old: bool = False) -> str:
        """Sign with a new key from now on; returns the new key id."""
        key_id = self.keys.rotate(retire_old)
        self.notify()
        return key_id


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


STATE = web.AppKey("bol_simulator_state", SimulatorState)
