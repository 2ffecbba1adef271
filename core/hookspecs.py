"""The hub API v1: the hooks a connector implements.

Every implementation is ``async def`` (``import_orders`` is an async generator). Core's
``HookRunner`` (core.hooks) is the only caller: it sends owner-only hooks to the connection's own
connector, applies timeouts, and broadcasts ``on_label_created`` with failures isolated. Specs
change only by adding arguments; arguments are never keyword-only (pluggy drops those).
See docs/hooks.md for the walk-through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pluggy

from core.context import ConnectorContext
from core.models import (
    AuthCallback,
    Authorization,
    AuthRedirect,
    AuthStart,
    Cursor,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
)

PROJECT = "hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback
) -> AuthRedirect | Authorization:
    """Run one leg of the connect flow for a connection.

    Dispatched to: the connection's own connector only.

    Core calls it twice per connect or reconnect: first with ``AuthStart`` when the merchant clicks
    Connect (or Reconnect), then with ``AuthCallback`` when the shop redirects the browser back to
    the hub. Core creates, signs and checks ``state`` itself; a callback reaches the connector only
    after its ``state`` was verified and consumed.

    :param context: the connection (state ``pending_authorization`` or ``auth_required``), its
        current credentials (empty on a first connect), the connector's settings and the HTTP
        session.
    :param step: ``AuthStart`` (``state`` to carry, ``redirect_uri`` to come back to, ``options``
        such as the chosen ``marketplace``) or ``AuthCallback`` (``params`` the shop sent to the
        redirect URI).
    :returns: for ``AuthStart``, an ``AuthRedirect`` with the shop's consent URL; for
        ``AuthCallback``, an ``Authorization`` with the shop account id, the credentials to store
        (core encrypts them) and the marketplaces found.
    :raises core.errors.ConnectorAuthFailed: the shop refused the grant (declined, expired or used
        code); the connection stays where it was and the merchant may try again.
    :raises core.errors.InvalidInput: the callback parameters are missing or malformed.
    :raises core.errors.TransientError: the shop is unreachable; the merchant may retry.

    Added in hub API v1.
    """


@hookspec
async def check_connection(context: ConnectorContext) -> None:
    """Prove that the stored credentials still work, with the cheapest call the shop offers.

    Dispatched to: the connection's own connector only.

    Core calls it after a connect, when the merchant asks for a check, and before resuming jobs of
    a connection that was in ``error``.

    :param context: the connection with its decrypted credentials.
    :returns: nothing when the credentials work.
    :raises core.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` with a Reconnect action.
    :raises core.errors.ConnectorNotReady: the shop is down; the state does not change.
    :raises core.errors.RateLimited: the shop throttled the call; the state does not change.

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
        future yields nothing.
    :returns: an async iterator of ``ImportPage``: the orders to store or update (cancelled ones
        with status ``cancelled``), the orders skipped with a reason (for example shipped by the
        shop itself), and the cursor after this page. An unchanged order yielded again is written
        as nothing new.
    :raises core.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` and its jobs pause.
    :raises core.errors.TransientError: the shop failed or throttled; the run stops after the pages
        already stored and is retried with backoff.

    Added in hub API v1.
    """


@hookspec
async def on_label_created(
    context: ConnectorContext, order: Order, label: Label
) -> list[ParcelOutcome] | None:
    """Send a label's tracking codes to the shop, so that it marks the order shipped.

    Broadcast to: every connector, each with its own context; failures are isolated. A connector
    that does not own ``context.connection`` returns ``None`` and makes no call (its context has no
    credentials).

    Core calls it when a label is created for an imported order and the connection's setting
    "update the tracking code in the shop" is on, and again on retry for the parcels still
    pending. It must be idempotent per parcel: ``Parcel.reference`` is stable and a repeated call
    with it must edit, never duplicate, the parcel in the shop.

    :param context: the owning connection with credentials, or a foreign one without.
    :param order: the stored order, with its items' external ids.
    :param label: the label with only the parcels still to push; each with tracking number and
        the items and quantities it carries.
    :returns: one ``ParcelOutcome`` per parcel: ``confirmed``, ``failed`` (the shop rejected it;
        ``message`` is kept for the merchant) or ``retry`` (transient; ``retry_after`` if known);
        ``None`` when the connection is not this connector's.
    :raises core.errors.ConnectorAuthFailed: credentials refused; the connection moves to
        ``auth_required`` and the push waits for a reconnect.
    :raises core.errors.TransientError: nothing was pushed; core retries all parcels later.

    Added in hub API v1.
    """


@hookspec
async def disconnect(context: ConnectorContext) -> None:
    """Let go of a connection that the merchant disconnects.

    Dispatched to: the connection's own connector only.

    Core calls it before it deletes the stored credentials. Drop cached tokens; revoke the grant
    where the shop allows it. Errors are logged and do not stop the disconnect.

    :param context: the connection with its credentials.
    :returns: nothing.

    Added in hub API v1.
    """
