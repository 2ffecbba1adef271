"""The bol.com connector: pasted client credentials, FBR order import, shipments settled by process status (hub API v2).

The hooks here are thin; the work is in ``auth`` (connect, check, disconnect), ``importer`` and
``mapping`` (the order list and details into core orders, with the cursor bol.com's API needs),
``shipping`` (one shipment per parcel, exactly once, and the process statuses), ``events``
(signed webhooks), ``subscription`` and ``client`` (tokens, pacing, retries, errors).
``open_connector`` gives each process its own ``BolState``, which reaches the hooks as
``context.state``; its tokens, rate buckets and signature keys live in core's coordination, shared
by every process on the hub's database. ``cli`` adds ``hub bol``; ``demo`` is the shop
``hub demo`` runs; ``simulator`` is bol.com on 127.0.0.1 for both and for the tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from connectors.bol import auth, events, importer, shipping, subscription
from connectors.bol.client import BolState, connection_api, state_of
from connectors.bol.settings import settings_of
from core.hubapi import (
    AcceptedParcel,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorContext,
    ConnectorSetup,
    Cursor,
    EventMeaning,
    ImportPage,
    InvalidInput,
    Label,
    Order,
    ParcelOutcome,
    ShopEvent,
    hookimpl,
)


@hookimpl
async def open_connector(setup: ConnectorSetup) -> BolState:
    """A ``BolState`` on the system clock whose tokens, rate buckets and signature keys are shared by every
    process on the hub's database (``setup.coordination``)."""
    return BolState(coordination=setup.coordination)


@hookimpl
async def close_connector(setup: ConnectorSetup, state: BolState) -> None:
    """Nothing to close: the process holds no sessions or tasks of its own, and what it shares is in core's coordination."""


@hookimpl
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Check the pasted Client ID and secret with bol.com; key the connection by the retailer id."""
    if not isinstance(step, AuthCredentials):
        raise InvalidInput(
            "bol.com connects with the Client ID and secret from the bol.com Seller Dashboard "
            "(Instellingen > Diensten > API instellingen): paste them on the Connect form."
        )
    return await auth.connect(context, settings_of(context), state_of(context), step)


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """A token and the retailer account; the event subscription made sure of."""
    await auth.check(context, settings_of(context), state_of(context))


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """Yield pages of the orders the merchant ships itself (FBR, distribution party RETAILER)."""
    settings, state = settings_of(context), state_of(context)
    api = connection_api(context, settings, state)
    await subscription.ensure_now_and_then(context, settings, state, api)
    async for page in importer.import_orders(context, settings, api, cursor):
        yield page


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """Create one bol.com shipment per parcel (GLS track and trace), never a second one."""
    settings, state = settings_of(context), state_of(context)
    api = connection_api(context, settings, state)
    return await shipping.push_label(settings, api, order, label, context.coordination)


@hookimpl
async def check_parcels(context: ConnectorContext, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
    """Ask bol.com in one bulk call how the parcels' process statuses settled."""
    settings, state = settings_of(context), state_of(context)
    return await shipping.check_parcels(connection_api(context, settings, state), parcels, context.now())


@hookimpl
async def receive_event(context: ConnectorContext, event: ShopEvent) -> EventMeaning:
    """Verify a webhook message's signature and read it: an import, or a settled process status."""
    settings, state = settings_of(context), state_of(context)
    return await events.receive(context, settings, state, connection_api(context, settings, state), event)


@hookimpl
async def disconnect(context: ConnectorContext) -> None:
    """Unsubscribe the connection's events and forget its token."""
    await auth.disconnect(context, settings_of(context), state_of(context))
