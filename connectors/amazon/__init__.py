"""The Amazon connector: Seller Central consent, MFN order import, tracking push (hub API v2).

The hooks here are thin; the work is in ``auth`` (connect, check, disconnect), ``importer`` and
``mapping`` (searchOrders into core orders), ``shipping`` (confirmShipment per parcel) and
``client`` (LWA, pacing, retries). ``open_connector`` gives each process (each runtime) its own
``ClientState``, which reaches the hooks as ``context.state``; its access tokens and rate buckets
live in core's coordination, shared by every process on the hub's database, so that N daemons keep
one seller's usage plan and refresh its token once. Tests put a ``ClientState(clock=...)`` there
to run Amazon's usage plans on a simulated clock, in the process alone. ``cli`` adds
``hub amazon``; ``demo`` is the shop ``hub demo`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from connectors.amazon import auth, importer, shipping
from connectors.amazon.client import ClientState, connection_api
from connectors.amazon.settings import AmazonSettings, settings_of
from core.hubapi import (
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorContext,
    ConnectorError,
    ConnectorSetup,
    Cursor,
    ImportPage,
    InvalidInput,
    Label,
    Order,
    ParcelOutcome,
    hookimpl,
)


def state_of(context: ConnectorContext) -> ClientState:
    """The process's ``ClientState`` in a hook's context (what ``open_connector`` returned)."""
    if isinstance(context.state, ClientState):
        return context.state
    raise ConnectorError(
        "The Amazon connector was not set up in this process; restart the hub and report it if it persists.",
        detail=f"context.state is {type(context.state).__name__}, not the ClientState of open_connector",
    )


@hookimpl
async def open_connector(setup: ConnectorSetup) -> ClientState:
    """A ``ClientState`` on the system clock whose access tokens and rate buckets are shared by
    every process on the hub's database (``setup.coordination``), unless ``shared_pacing`` is off."""
    settings = setup.settings
    shared = not isinstance(settings, AmazonSettings) or settings.shared_pacing
    return ClientState(coordination=setup.coordination if shared else None)


@hookimpl
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Build the Seller Central consent (or Login-URI) redirect, or complete the callback."""
    settings = settings_of(context)
    if isinstance(step, AuthStart):
        return auth.start(context, settings, step)
    if not isinstance(step, AuthCallback):
        raise InvalidInput("Amazon connects through Seller Central's consent page; it takes no pasted credentials.")
    return await auth.complete(context, settings, state_of(context), step)


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """Refresh the access token and read the marketplace participations."""
    await auth.check(context, settings_of(context), state_of(context))


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """Yield pages of merchant-fulfilled orders from ``searchOrders``."""
    settings = settings_of(context)
    api = connection_api(context, settings, state_of(context))
    async for page in importer.import_orders(context, settings, api, cursor):
        yield page


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """Confirm each parcel at Amazon, one confirmShipment per parcel."""
    settings = settings_of(context)
    api = connection_api(context, settings, state_of(context))
    asked = importer.marketplace_ids(context)
    return await shipping.push_label(settings, api, order, label, asked[0] if len(asked) == 1 else None)


@hookimpl
async def disconnect(context: ConnectorContext) -> None:
    """Drop the connection's cached access token."""
    await auth.forget(context, state_of(context))
