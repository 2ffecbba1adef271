"""The key shop connector: hub API v2 over an in-memory, bol-like ``KeyShop`` (``tests.contract.keyshop.shop``).

The contract kit's second subject, with the fake connector (``tests.contract.fake``): where the
fake connects by consent, confirms at once and filters orders by update time, the key shop takes
pasted client credentials, settles shipments later (202 and a process status), has no
idempotency key, no "updated after" filter, and signs the events it posts. It imports only
``core.hubapi`` and its own package. It is never installed as an entry point; register it
yourself (``runner.register("keyshop", keyshop)``, or an ``EntryPoint(name="keyshop",
value="tests.contract.keyshop", group="hub.connectors")``) and open a shop
(``tests.contract.keyshop.shop.open_shop``) under the name its settings give.

Behaviour, hook by hook:

- ``open_connector``: a ``TokenCache`` (``tests.contract.keyshop.tokens``) for the process, one
  access token per client id, reused until ``token_margin_seconds`` before it expires, refreshed
  once on a 401; ``close_connector`` clears it. No module globals.
- ``authorize``: only ``AuthCredentials`` (``client_id``, ``client_secret``). Always asks the shop
  for a new token with them (a cached one would let a wrong secret pass); a refusal raises
  ``ConnectorAuthFailed`` saying where to find or make new ones. Returns the shop's account id and
  ``{client_id, client_secret}``; when ``context.events_url`` is set, it subscribes the shop to
  that URL first and keeps the subscription's signing secret as ``event_secret``.
- ``check_connection``: one ``current_account`` call.
- ``import_orders``: the shop lists open orders (and handled ones for 48 h) by position, ordered
  by when they were placed, ``page_size`` at a time, with no filter on update time; see "Full
  scans" below.
- ``on_label_created``: there is no idempotency key, so it first reads the order's shipments (one
  call per label) and, for a parcel whose reference the shop already holds in a shipment that
  stands, answers from that shipment's process status instead of making another (a repeat after
  a lost answer or a crash); a changed tracking number changes that shipment's transport. Else it
  makes a shipment. The shop answers with a PENDING process: outcome ``accepted`` with the process
  id as ``shop_reference`` and ``retry_after`` = ``check_after_seconds``. A transient failure on
  the first parcel raises (core retries the label, and the lookup finds what was made); on a
  later one it gives that parcel ``retry``; a refusal gives ``failed``.
- ``check_parcels``: one bulk ``process_statuses`` call for every parcel asked about: SUCCESS
  ``confirmed``; FAILURE and TIMEOUT ``failed`` with the shop's message; PENDING ``accepted``
  again; a process the shop no longer knows ``failed``, so that the merchant's retry looks the
  shipment up.
- ``receive_event``: the message must carry ``x-keyshop-timestamp`` (seconds since the epoch,
  within ``event_max_age_seconds`` of when it arrived) and ``x-keyshop-signature``
  (``sha256=`` + HMAC-SHA256 of ``<timestamp>.<body>`` with ``event_secret``); anything else
  raises ``EventRejected``. ``ORDER`` means import now; ``PROCESS_STATUS`` settles its process id.
- ``disconnect``: unsubscribes the events URL and forgets the client's token.

Full scans. The open list has no "updated after" filter and changes while it is read. A run reads
it from position 0 to the end; the cursor's ``since`` is the time the previous complete scan
started (by the shop's clock, from its answer), and the run yields only orders changed after it.
The page token holds the scan's start, the next position and the list key (placed, id) of the last
order read. So that nothing is missed:

- an order added or changed while a scan runs is stamped after the scan's start, which becomes
  the next run's ``since``: the next run yields it even when this one read it before the change or
  not at all;
- an order leaving the list moves the later ones up, so a plain "next position" would skip some.
  Each page is asked for from one position before the next, and must begin with an order at or
  before the last one read; if it does not, orders before it have left, and the connector steps
  back a page at a time until it does. The list is ordered by a key that never changes, so orders
  after the last key read are exactly the ones still to read.

A resumed run (from a page cursor) continues the same scan, and its start still becomes the next
``since``; a cursor in the future yields nothing and is kept.

Shop errors map through ``error_for_status``: 401 ``ConnectorAuthFailed``, 429 ``RateLimited``,
5xx and timeouts ``ConnectorNotReady``, other 4xx ``ConnectorRejected``. A connection whose shop
is not open answers ``ConnectorNotReady``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import SecretStr

from core.hubapi import (
    AcceptedParcel,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    ConnectorSetup,
    Cursor,
    EventMeaning,
    EventRejected,
    ImportPage,
    InvalidInput,
    Label,
    Order,
    Parcel,
    ParcelOutcome,
    ShopEvent,
    SkippedOrder,
    TransientError,
    error_for_status,
    hookimpl,
)
from tests.contract.keyshop.settings import KeyshopSettings
from tests.contract.keyshop.shop import (
    LIST_LIMIT,
    REFUSED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    FakeOrder,
    KeyShop,
    ProcessInfo,
    ShipmentInfo,
    ShopError,
    ShopTimeout,
    get_shop,
)
from tests.contract.keyshop.tokens import TokenCache
from tests.contract.orders import order_of

#: The id the key shop connector is registered under, as in its manifest.
CONNECTOR_ID = "keyshop"

T = TypeVar("T")

_REFUSED_CREDENTIALS = (
    "Key shop refused this client ID and secret. Copy both again from the shop's settings under API access, "
    "or create new ones there."
)
_RECONNECT = (
    "Key shop refused the stored client ID and secret: create new ones in the shop's settings under API access "
    "and reconnect under Settings > Integrations."
)


# per-process state ------------------------------------------------------------------------------


@hookimpl
async def open_connector(setup: ConnectorSetup) -> TokenCache:
    """A token cache for this process."""
    settings = KeyshopSettings.model_validate(setup.settings, from_attributes=True)
    return TokenCache(timedelta(seconds=settings.token_margin_seconds))


@hookimpl
async def close_connector(setup: ConnectorSetup, state: Any) -> None:
    """Forget the cached tokens."""
    if isinstance(state, TokenCache):
        state.clear()


# connecting -------------------------------------------------------------------------------------


@hookimpl
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Check pasted client credentials with the shop; subscribe its events when the hub has a route for them."""
    if not isinstance(step, AuthCredentials):
        raise InvalidInput("Key shop connects with a client ID and secret, not through a consent page.")
    client_id = _field(step, "client_id", "Client ID")
    client_secret = _field(step, "client_secret", "Client secret")
    api = _Api(context, client_id, client_secret, refused=_REFUSED_CREDENTIALS)
    with _shop_errors("authorize", api):
        await api.token(fresh=True)
        account = await api.call(api.shop.current_account)
        credentials = {"client_id": SecretStr(client_id), "client_secret": SecretStr(client_secret)}
        if context.events_url:
            subscription = await api.call(api.shop.subscribe, context.events_url)
            credentials["event_secret"] = SecretStr(subscription.secret)
    context.log.info(
        "key shop account %s authorised, events %s",
        account.id, "subscribed" if context.events_url else "not subscribed",
    )  # fmt: skip
    return Authorization(external_account_id=account.id, credentials=credentials, display_name=account.name)


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """One ``current_account`` call with the stored credentials."""
    api = _api(context)
    with _shop_errors("check_connection", api):
        await api.call(api.shop.current_account)


@hookimpl
async def disconnect(context: ConnectorContext) -> None:
    """Unsubscribe the events URL and forget the client's token."""
    api = _api(context)
    if context.events_url:
        with _shop_errors("disconnect", api):
            await api.call(api.shop.unsubscribe, context.events_url)
    api.cache.drop(api.client_id)


# orders -----------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """Where a full scan of the open list stands; its page token."""

    after: datetime | None  # yield orders changed after this: the start of the previous complete scan
    started: datetime | None = None  # the shop's time at this scan's first page
    position: int = 0  # where the next page begins in the list
    last: tuple[datetime, str] | None = None  # the list key of the last order read

    def token(self) -> str:
        return json.dumps({
            "after": self.after.isoformat() if self.after else None,
            "started": self.started.isoformat() if self.started else None,
            "position": self.position,
            "last": [self.last[0].isoformat(), self.last[1]] if self.last else None,
        })  # fmt: skip

    @classmethod
    def resume(cls, token: str) -> _Scan:
        try:
            data = json.loads(token)
            last = data["last"]
            return cls(
                after=datetime.fromisoformat(data["after"]) if data["after"] else None,
                started=datetime.fromisoformat(data["started"]) if data["started"] else None,
                position=int(data["position"]),
                last=(datetime.fromisoformat(last[0]), str(last[1])) if last else None,
            )
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise InvalidInput(
                "The stored import position is unreadable; start the import from its last complete run."
            ) from err


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """A full scan of the open list, yielding the orders changed after ``cursor.since`` (see the module docstring)."""
    settings, api = _settings(context), _api(context)
    scan = _Scan.resume(cursor.page_token) if cursor.page_token else _Scan(after=cursor.since)
    while True:
        with _shop_errors("import_orders", api):
            read, more = await _next_page(api, scan, settings.page_size)
        changed = [order for order in read if scan.after is None or order.updated_at > scan.after]
        if more:
            next_cursor = Cursor(since=scan.after, page_token=scan.token())
        else:
            assert scan.started is not None  # the first page set it
            next_cursor = Cursor(since=max(scan.started, scan.after) if scan.after else scan.started)
        page = ImportPage(
            orders=[order_of(order) for order in changed if not order.skip_reason],
            skipped=[SkippedOrder(external_id=order.id, reason=order.skip_reason) for order in changed if order.skip_reason],
            cursor=next_cursor,
        )
        context.log.debug(
            "key shop page read %d orders, %d changed, next position %d, more: %s",
            len(read), len(changed), scan.position, more,
        )  # fmt: skip
        yield page
        if not more:
            return


async def _next_page(api: _Api, scan: _Scan, size: int) -> tuple[list[FakeOrder], bool]:
    """The orders after ``scan.last`` in the next page of the list, and whether more follow; moves ``scan`` on."""
    start = scan.position - 1 if scan.last else scan.position
    while True:
        listing = await api.call(api.shop.list_open_orders, start, min(size + (1 if scan.last else 0), LIST_LIMIT))
        scan.started = scan.started or listing.server_time
        if scan.last is None or start == 0 or (listing.orders and _key(listing.orders[0]) <= scan.last):
            break
        # Orders before this position left the list since the last page and the rest moved up: look back.
        start = max(start - size, 0)
    fresh = [order for order in listing.orders if scan.last is None or _key(order) > scan.last]
    scan.position = start + len(listing.orders)
    if fresh:
        scan.last = _key(fresh[-1])
    return fresh, listing.more


def _key(order: FakeOrder) -> tuple[datetime, str]:
    return (order.created_at, order.id)


# tracking -------------------------------------------------------------------------------------


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """Look up the order's shipments, then answer, change or make one per parcel (see the module docstring)."""
    settings, api = _settings(context), _api(context)
    with _shop_errors("on_label_created", api):
        shipments = await api.call(api.shop.list_shipments, order.external_id)
    standing = {shipment.reference: shipment for shipment in shipments}
    outcomes: list[ParcelOutcome] = []
    for parcel in label.parcels:
        try:
            with _shop_errors("on_label_created", api):
                outcome = await _push_parcel(api, settings, order, label, parcel, standing.get(parcel.reference))
        except ConnectorAuthFailed:
            raise
        except TransientError as err:
            if not outcomes:
                raise
            outcome = ParcelOutcome(reference=parcel.reference, state="retry", message=err.message, retry_after=err.retry_after)
        except ConnectorError as err:
            outcome = ParcelOutcome(reference=parcel.reference, state="failed", message=err.message)
        outcomes.append(outcome)
    context.log.debug(
        "pushed %d parcels of a label, %d looked up",
        len(outcomes), sum(p.reference in standing for p in label.parcels),
    )  # fmt: skip
    return outcomes


async def _push_parcel(
    api: _Api, settings: KeyshopSettings, order: Order, label: Label, parcel: Parcel, existing: ShipmentInfo | None
) -> ParcelOutcome:
    if existing is not None and existing.tracking_number == parcel.tracking_number:
        return _outcome(parcel.reference, existing.process_id, existing.status, existing.message, settings)
    if existing is not None:
        process = await api.call(api.shop.change_transport, existing.id, parcel.tracking_number)
    else:
        items = {item.item_external_id: item.quantity for item in parcel.items}
        process = await api.call(
            api.shop.create_shipment, order.external_id, parcel.reference, parcel.tracking_number, label.carrier, items
        )
    return _outcome(parcel.reference, process.id, process.status, process.message, settings)


@hookimpl
async def check_parcels(context: ConnectorContext, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
    """One bulk status query for every parcel's process id."""
    settings, api = _settings(context), _api(context)
    with _shop_errors("check_parcels", api):
        statuses: list[ProcessInfo] = await api.call(api.shop.process_statuses, sorted({p.shop_reference for p in parcels}))
    known = {status.id: status for status in statuses}
    outcomes = []
    for parcel in {p.shop_reference: p for p in parcels}.values():  # one outcome per process asked about
        status = known.get(parcel.shop_reference)
        if status is None:
            outcomes.append(ParcelOutcome(
                reference=parcel.reference, state="failed", shop_reference=parcel.shop_reference,
                message="Key shop no longer knows this shipment's process. Push the label again: the hub looks up "
                "what the shop holds before it sends anything.",
            ))  # fmt: skip
        else:
            outcomes.append(_outcome(parcel.reference, status.id, status.status, status.message, settings))
    context.log.debug("checked %d accepted parcels", len(parcels))
    return outcomes


def _outcome(reference: str, process_id: str, status: str, message: str | None, settings: KeyshopSettings) -> ParcelOutcome:
    if status == "SUCCESS":
        return ParcelOutcome(reference=reference, state="confirmed", shop_reference=process_id)
    if status in REFUSED:
        return ParcelOutcome(
            reference=reference, state="failed", shop_reference=process_id, message=message or "Key shop refused the shipment."
        )
    return ParcelOutcome(
        reference=reference, state="accepted", shop_reference=process_id, retry_after=settings.check_after_seconds
    )


# events -----------------------------------------------------------------------------------------


@hookimpl
async def receive_event(context: ConnectorContext, event: ShopEvent) -> EventMeaning:
    """Verify the signature and age of a posted event, then read it."""
    secret = context.credentials.get("event_secret")
    if secret is None:
        raise EventRejected("This connection has no Key shop event subscription; reconnect it to receive events.")
    signature, stamp = event.headers.get(SIGNATURE_HEADER), event.headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise EventRejected("The event carries no Key shop signature.", detail="signature or timestamp header missing")
    try:
        signed_at = int(stamp)
    except ValueError as err:
        raise EventRejected("The event's timestamp is unreadable.", detail=f"timestamp {stamp[:40]!r}") from err
    age = event.received_at.timestamp() - signed_at
    if abs(age) > _settings(context).event_max_age_seconds:
        raise EventRejected("The event is too old (or from the future): a replay is refused.", detail=f"age {age:.0f} s")
    expected = "sha256=" + hmac.new(
        secret.get_secret_value().encode(), stamp.encode() + b"." + event.body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape")):
        raise EventRejected("The event's signature does not match: it was not sent by Key shop.")
    try:
        document = json.loads(event.body)
        event_id = str(document["id"])
        resource, resource_id = document["event"]["resource"], str(document["event"]["resourceId"])
    except (ValueError, TypeError, KeyError) as err:
        raise InvalidInput("A signed Key shop event could not be read.", detail=str(err)) from err
    context.log.debug("key shop event %s about %s", event_id, resource)
    if resource == "ORDER":
        return EventMeaning(event_id=event_id, import_orders=True)
    if resource == "PROCESS_STATUS":
        return EventMeaning(event_id=event_id, settled=[resource_id])
    return EventMeaning(event_id=event_id)


# helpers --------------------------------------------------------------------------------------


def _settings(context: ConnectorContext) -> KeyshopSettings:
    return KeyshopSettings.model_validate(context.settings, from_attributes=True)


def _field(step: AuthCredentials, name: str, label: str) -> str:
    value = step.fields.get(name)
    if value is None or not value.get_secret_value().strip():
        raise InvalidInput(f"Enter the {label} from Key shop's settings under API access.", field=name)
    return value.get_secret_value().strip()


def _api(context: ConnectorContext) -> _Api:
    """The shop's API with the connection's stored credentials."""
    client_id, secret = context.credentials.get("client_id"), context.credentials.get("client_secret")
    return _Api(
        context,
        client_id.get_secret_value() if client_id else "",
        secret.get_secret_value() if secret else "",
        refused=_RECONNECT,
    )


class _Api:
    """The shop for one hook call: calls carry a token from the process's cache, bought anew once on a 401."""

    def __init__(self, context: ConnectorContext, client_id: str, secret: str, *, refused: str) -> None:
        if not isinstance(context.state, TokenCache):
            raise ConnectorError(
                "The Key shop connector was not set up in this process; restart the hub and report it if it persists.",
                detail=f"context.state is {type(context.state).__name__}, not the TokenCache of open_connector",
            )
        self.context, self.client_id, self.refused = context, client_id, refused
        self.cache: TokenCache = context.state
        self._secret = secret
        self._shop: KeyShop | None = None

    @property
    def shop(self) -> KeyShop:
        """The shop the settings name; "not ready" while it is not open."""
        if self._shop is None:
            name = _settings(self.context).shop
            shop = get_shop(name)
            if shop is None:
                raise ConnectorNotReady(
                    f"Key shop {name!r} is not open; the hub will retry.",
                    detail="open it with tests.contract.keyshop.shop.open_shop",
                )
            self._shop = shop
        return self._shop

    async def token(self, *, fresh: bool = False) -> str:
        """An access token for the client: the cached one, or one bought now."""

        async def buy() -> tuple[str, float]:
            answer = await self.shop.request_token(self.client_id, self._secret)
            return answer.access_token, answer.expires_in

        return await self.cache.token(self.client_id, self._secret, self.context.now, buy, fresh=fresh)

    async def call(self, operation: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``operation(token, *args)``; on a 401 the token is replaced once and the call repeated."""
        token = await self.token()
        try:
            return await operation(token, *args)
        except ShopError as err:
            if err.status != 401:
                raise
            self.cache.drop(self.client_id, token)
        return await operation(await self.token(fresh=True), *args)


_MESSAGES = {429: "Key shop throttled the hub; it retries shortly."}


@contextmanager
def _shop_errors(hook: str, api: _Api) -> Iterator[None]:
    """Shop errors as core errors, the shop's answer kept as the detail."""
    try:
        yield
    except ShopTimeout as err:
        raise ConnectorNotReady("Key shop did not answer in time; the hub will retry.", detail=f"{hook}: {err}") from err
    except ShopError as err:
        if err.status == 401:
            raise ConnectorAuthFailed(api.refused, detail=f"{hook}: {err}") from err
        message = _MESSAGES.get(err.status) or (
            "Key shop is not answering; the hub will retry."
            if err.status >= 500
            else f"Key shop rejected the request: {err.message}."
        )
        raise error_for_status(err.status, message, detail=f"{hook}: {err}", retry_after=err.retry_after) from err


__all__ = [
    "CONNECTOR_ID",
    "KeyshopSettings",
    "authorize",
    "check_connection",
    "check_parcels",
    "close_connector",
    "disconnect",
    "import_orders",
    "on_label_created",
    "open_connector",
    "receive_event",
]
