"""The Amazon connector: Seller Central consent, MFN order import, tracking push (hub API v1).

The hooks here are thin; the work is in ``auth`` (connect, check, disconnect), ``importer`` and
``mapping`` (searchOrders into core orders), ``shipping`` (confirmShipment per parcel) and
``client`` (LWA, pacing, retries). ``state`` holds the process's access tokens and rate buckets;
tests replace it with ``ClientState(clock=...)`` to run Amazon's usage plans on a simulated clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from connectors.amazon import auth, importer, shipping
from connectors.amazon.client import ClientState, connection_api
from connectors.amazon.settings import settings_of
from core.context import ConnectorContext
from core.hookspecs import hookimpl
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

CONNECTOR_ID = "amazon"

#: Access tokens and token buckets shared by every hook call in this process.
state = ClientState()


@hookimpl
async def authorize(context: ConnectorContext, step: AuthStart | AuthCallback) -> AuthRedirect | Authorization:
    """Build the Seller Central consent (or Login-URI) redirect, or complete the callback."""
    settings = settings_of(context)
    if isinstance(step, AuthStart):
        return auth.start(context, settings, step)
    return await auth.complete(context, settings, state, step)


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """Refresh the access token and read the marketplace participations."""
    await auth.check(context, settings_of(context), state)


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """Yield pages of merchant-fulfilled orders from ``searchOrders``."""
    settings = settings_of(context)
    api = connection_api(context, settings, state)
    async for page in importer.import_orders(context, settings, api, cursor):
        yield page


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome] | None:
    """Confirm each parcel at Amazon; ``None`` for another connector's connection."""
    if context.connection.connector != CONNECTOR_ID:
        return None
    settings = settings_of(context)
    return await shipping.push_label(settings, connection_api(context, settings, state), order, label)


@hookimpl
async def disconnect(context: ConnectorContext) -> None:
    """Drop the connection's cached access token."""
    auth.forget(context, state)
