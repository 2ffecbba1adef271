"""The hub API v2: the hooks a connector implements.

Every implementation is ``async def`` (``import_orders`` is an async generator). Core's
``HookRunner`` (core.infra.hooks) is the only caller: it sends every hook to one connector only, the
connection's own (or, for ``open_connector`` and ``close_connector``, the connector being set up),
and applies timeouts. Specs change only by adding arguments; arguments are never keyword-only
(pluggy drops them). Connectors import these names from ``core.hubapi``, never from here.
See docs/hooks.md for the walk-through and what changed from v1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pluggy

from core.contract.context import ConnectorContext, ConnectorSetup
from core.contract.models import (
    AcceptedParcel,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
    ShopEvent,
)

PROJECT = "hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Run one step of the connect flow for a connection, in the connector's connect style.

    Dispatched to: the connection's own connector only.

    Connect style ``consent`` (the manifest's ``[connect] style``): core calls it twice per
    connect or reconnect, first with ``AuthStart`` when the merchant clicks Connect (or
    Reconnect), then with ``AuthCallback`` when the shop redirects the browser back to the hub.
    Core creates, signs and checks ``state`` itself; a callback reaches the connector only after
    its ``state`` was verified and consumed.

    Connect style ``credentials``: core calls it once, with ``AuthCredentials``, when the merchant
    submits the fields the manifest declares (on the Connect page, in the CLI or the API), before
    anything is stored. The connector checks them with the shop and names the shop account; a
    refusal keeps the merchant on the form with the shop's reason. A reconnect is the same call
    with new credentials for the same shop account.

    :param context: the connection (on a credentials connect, a connection not yet stored, id 0),
        its current credentials (empty on a first connect), the connector's settings, its
        per-process ``state``, the HTTP session and ``events_url``.
    :param step: ``AuthStart`` (``state`` to carry, ``redirect_uri`` to come back to, ``options``
        from the connect form's fields, such as ``marketplace``), ``AuthCallback`` (``params`` the
        shop sent to the redirect URI) or ``AuthCredentials`` (``fields`` the merchant entered).
    :returns: for ``AuthStart``, an ``AuthRedirect`` with the shop's consent URL; for
        ``AuthCallback`` and ``AuthCredentials``, an ``Authorization`` with the shop account id
        that keys the connection, the credentials to store (core encrypts them) and the
        marketplaces found.
    :raises core.contract.errors.ConnectorAuthFailed: the shop refused the grant or the credentials
        (declined, expired or used code; a wrong secret); nothing is stored, the connection stays
        where it was and the merchant may try again.
    :raises core.contract.errors.InvalidInput: the callback parameters or fields are missing or malformed.
    :raises core.contract.errors.TransientError: the shop is unreachable; the merchant may retry.

    Added in hub API v1; ``AuthCredentials`` added in v2.
    """


@hookspec
async def check_connection(context: ConnectorContext) -> None:
    """Prove that the stored credentials still work, with the cheapest call the shop offers.

    Dispatched to: the connection's own connector only.

    Core calls it when the merchant asks for a check (Check on the Integration details page,
    ``hub connections check``, the API); a connection in ``error`` or ``auth_required`` whose check
    passes is connected again.

    :param context: the connection with its decrypted credentials.
    :returns: nothing when the credentials work.
    :raises core.contract.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` with a Reconnect action.
    :raises core.contract.errors.ConnectorNotReady: the shop is down; the state does not change.
    :raises core.contract.errors.RateLimited: the shop throttled the call; the state does not change.

    Added in hub API v1.
    """


@hookspec
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """Yield the orders the merchant must ship, page by page, from ``cursor`` on.

    Dispatched to: the connection's own connector only. An async generator.

    Core calls it for a scheduled or merchant-started import. After each page core writes the
    page's orders, its skipped orders and its cursor in one transaction, so a crash loses at most
    the page in flight and the next run resumes from the last stored cursor. Core owns the
    cursor: the connector never stores anything itself.

    :param context: the connection (state ``connected``), credentials and settings.
    :param cursor: where the last run stopped; ``Cursor()`` on a first import (the connector then
        looks back its configured window). ``cursor.since`` never moves backwards; a cursor in the
        future yields nothing. A shop without an "updated after" filter scans its open orders in
        full: ``since`` is when the previous complete scan started and ``page_token`` the scan's
        position; a list that moves while it is read (position-numbered pages) must be read with
        an overlap, stepping back when orders have left it, so that no order is skipped; an order
        that changes during a scan is yielded by the next one. docs/hooks.md shows both ways.
    :returns: an async iterator of ``ImportPage``: the orders to store or update (cancelled ones
        with status ``cancelled``), the orders skipped with a reason (for example shipped by the
        shop itself), and the cursor after this page. An unchanged order yielded again is written
        as nothing new.
    :raises core.contract.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` and its jobs pause.
    :raises core.contract.errors.TransientError: the shop failed or throttled; the run stops after the pages
        already stored and is retried with backoff.

    Added in hub API v1.
    """


@hookspec
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """Send a label's tracking codes to the shop, so that it marks the order shipped.

    Dispatched to: the connection's own connector only (v1 broadcast it to every connector).

    Core calls it when a label is created for an imported order and the connection's setting
    "update the tracking code in the shop" is on, and again on retry for the parcels still
    pending. It must never create a second shipment in the shop for one parcel:
    ``Parcel.reference`` is stable per parcel. Where the shop takes an idempotency key or edits
    by reference (Amazon), send the reference again. Where it has none (bol.com), a call may be a
    repeat after a lost answer or a crash: first find out what happened to the reference (the
    order's shipments at the shop) and send only what the shop does not have yet.

    :param context: the owning connection with its credentials.
    :param order: the stored order, with its items' external ids.
    :param label: the label with only the parcels still to push; each with tracking number and
        the items and quantities it carries.
    :returns: one ``ParcelOutcome`` per parcel: ``confirmed``; ``accepted`` (the shop took it and
        settles it later: give ``shop_reference``, core asks ``check_parcels`` until it settles,
        spending no push attempt); ``failed`` (the shop rejected it; ``message`` is kept for the
        merchant); ``retry`` (transient; ``retry_after`` if known).
    :raises core.contract.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` and the push waits for a reconnect.
    :raises core.contract.errors.TransientError: nothing is known to be pushed; core retries all parcels
        later, with the same references.

    Added in hub API v1; owner-only and the ``accepted`` outcome in v2.
    """


@hookspec
async def check_parcels(context: ConnectorContext, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
    """Ask the shop how parcels it accepted earlier have settled.

    Dispatched to: the connection's own connector only. Required when ``on_label_created`` can
    answer ``accepted``.

    Core calls it for a connection's accepted parcels (up to 100 at a time, ask the shop in bulk
    where it can), with backoff from ``retry_after`` and the number of checks, and at once when a
    shop event names them (``EventMeaning.settled``). It spends no push attempt.

    :param context: the owning connection with its credentials.
    :param parcels: the accepted parcels, each with the ``shop_reference`` its push returned.
    :returns: a ``ParcelOutcome`` for each ``shop_reference`` it knows more about, with
        ``shop_reference`` set (it applies to every parcel with that shop reference; ``reference``
        is informative): ``confirmed``, ``failed`` (with the shop's message; the merchant may
        retry), or ``accepted`` again (still processing; ``retry_after`` suggests when to ask
        next). A shop reference left out, or answered ``retry``, is asked about again after a
        backoff; so are all of them when the hook raises. A parcel still unsettled after
        ``jobs.settle_max_hours`` is failed by core (the merchant's retry pushes it again, and the
        push looks up what the shop has first).
    :raises core.contract.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required``.
    :raises core.contract.errors.TransientError: the shop could not tell; core asks again later.

    Added in hub API v2.
    """


@hookspec
async def receive_event(context: ConnectorContext, event: ShopEvent) -> EventMeaning:
    """Verify a message the shop posted to the connection's event route, and say what it means.

    Dispatched to: the connection's own connector only.

    Core calls it for a POST to ``context.events_url`` once it has found the connection by the
    URL's token and the connection's posts this minute are within ``events.per_minute``, before it
    stores or queues anything. The connector verifies the message (its signature against the
    shop's keys, its age) and reads it. Core then ignores an ``event_id`` it has seen for this
    connection and acts through its jobs: an import when ``import_orders``, a check of the
    ``settled`` parcels. For a disabled connection, or one waiting for a reconnect, the event is
    remembered and nothing is queued. Polling stays the source of truth: an event only makes the
    hub look sooner.

    :param context: the owning connection with its credentials.
    :param event: the raw message: lower-case headers, the body bytes, when it arrived.
    :returns: an ``EventMeaning``.
    :raises core.contract.errors.EventRejected: unsigned, forged, stale or replayed; answered 401 and
        nothing changes.
    :raises core.contract.errors.InvalidInput: a well-signed message the connector cannot read; answered
        400.

    Added in hub API v2.
    """


@hookspec
async def open_connector(setup: ConnectorSetup) -> Any:
    """Set up what the connector keeps in this process: token caches, rate-limit state, clients.

    Dispatched to: the connector being set up only.

    Core calls it once per process for each loaded connector, when the runtime opens (the daemon,
    each CLI command, each test runtime), before any other hook of the connector. What it returns
    reaches every later hook as ``context.state`` and ``close_connector``. Keep no module globals:
    two runtimes in one process (tests, benchmarks) each get their own state.

    :param setup: the connector id, its validated settings, the hub's HTTP session, a logger and
        the clock.
    :returns: the connector's state object, or ``None``.
    :raises Exception: the connector is listed as failed (``hub connectors list``) and not used.

    Added in hub API v2.
    """


@hookspec
async def close_connector(setup: ConnectorSetup, state: Any) -> None:
    """Release what ``open_connector`` set up: close clients, cancel tasks.

    Dispatched to: the connector being closed only.

    Core calls it once when the runtime closes, after the last hook call and before the HTTP
    session closes. Errors are logged.

    :param setup: as given to ``open_connector``.
    :param state: what ``open_connector`` returned.
    :returns: nothing.

    Added in hub API v2.
    """


@hookspec
async def disconnect(context: ConnectorContext) -> None:
    """Let go of a connection that the merchant disconnects.

    Dispatched to: the connection's own connector only.

    Core calls it before it deletes the stored credentials. Drop cached tokens; unsubscribe from
    the shop's events and revoke the grant where the shop allows it. Errors are logged and do not
    stop the disconnect.

    Core also calls it for a connection it never stored (``context.connection.id`` is 0), when it
    refuses a credentials connect after ``authorize`` accepted it (the shop account is connected
    already): undo only what ``authorize`` set up for ``context.events_url`` (a subscription);
    never revoke the credentials, which the live connection of that shop account uses.

    :param context: the connection with its credentials.
    :returns: nothing.

    Added in hub API v1.
    """


def _spec_names() -> tuple[str, ...]:
    return tuple(name for name, value in list(globals().items()) if hasattr(value, f"{PROJECT}_spec"))


#: Every hook of the hub API, in the order of this module.
HOOK_NAMES: tuple[str, ...] = _spec_names()

#: The hooks every connector implements; the others are optional.
REQUIRED_HOOKS: tuple[str, ...] = ("authorize", "import_orders", "on_label_created")

#: The version of the hub API these specs describe; manifests say which one they were written for.
HUB_API_VERSION = 2
