"""The JSON API under /api/v1: connectors, connections, imports, orders, labels; and the shops' event route.

Every route under /api/v1 but the OpenAPI description needs ``Authorization: Bearer <token>`` and
sees only the token's account: another account's ids answer 404. Connecting follows the
connector's declared connect style (``GET /connectors``), never its name: ``consent`` answers
with the shop's consent URL, ``credentials`` checks the pasted fields with the shop and answers
with the connected connection. ``POST /events/{token}`` (hub.api.events) is public: shops post
there, and the connector verifies each message.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from core.contract.errors import InvalidInput
from core.contract.manifest import ConnectSpec
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import imports as import_store
from core.storage import labels as label_store
from core.storage import orders as order_store
from core.storage.tokens import account_for
from core.usecases import connections, imports
from core.usecases.labels import record_label, retry_label
from hub.api import events
from hub.api.errors import Handler, error_response, int_param, read_body
from hub.api.presenters import connection_out, connector_out, import_out, label_out, order_out
from hub.api.schemas import (
    ConnectIn,
    ConnectionList,
    ConnectorList,
    ConnectOut,
    ImportIn,
    LabelIn,
    OrderList,
    ReconnectIn,
    ReconnectOut,
    SettingsIn,
)
from hub.keys import ACCOUNT, RUNTIME

PREFIX = "/api/v1"
routes = web.RouteTableDef()


def reply(body: BaseModel, status: int = 200) -> web.Response:
    """A pydantic body as JSON."""
    return web.json_response(text=body.model_dump_json(), status=status)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a valid API token on /api/v1 (but for the OpenAPI description)."""
    if request.path.startswith(PREFIX + "/") and request.path != PREFIX + "/openapi.json":
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error_response(401, "unauthorized", "Send an API token: Authorization: Bearer <token> (create one with `hub accounts token`).")
        account_id = await account_for(request.app[RUNTIME].db.pool, token.strip())
        if account_id is None:
            return error_response(401, "unauthorized", "The API token is unknown or revoked: create one with `hub accounts token`.")
        request[ACCOUNT] = account_id
    return await handler(request)


@routes.get(PREFIX + "/connectors")
async def list_connectors(request: web.Request) -> web.Response:
    """Installed connectors ("All integrations") with their connect style and fields."""
    rt = request.app[RUNTIME]
    return reply(ConnectorList(connectors=[connector_out(c) for c in rt.connectors.values()]))


@routes.get(PREFIX + "/connections")
async def list_connections(request: web.Request) -> web.Response:
    """The caller's connections."""
    found = await connection_store.list_connections(request.app[RUNTIME].db.pool, request[ACCOUNT])
    return reply(ConnectionList(connections=[connection_out(c) for c in found]))


def _name(rt: Runtime, connector_id: str) -> str:
    manifest = rt.connector(connector_id).manifest
    return manifest.name if manifest else connector_id


def _fields(body: ConnectIn) -> dict[str, str]:
    fields = dict(body.fields)
    if body.marketplace:
        if "marketplace" in fields:
            raise InvalidInput("Give the marketplace once: in fields or as marketplace, not both.", field="marketplace")
        fields["marketplace"] = body.marketplace.upper()
    return fields


@routes.post(PREFIX + "/connections")
async def start_connection(request: web.Request) -> web.Response:
    """Connect a shop in its connector's style: a pending connection and the consent URL, or connected with credentials."""
    body = await read_body(request, ConnectIn)
    rt, account_id = request.app[RUNTIME], request[ACCOUNT]
    fields = _fields(body)
    if connections.connect_spec(rt, body.connector).style == "credentials":
        connected = await connections.connect_with_credentials(rt, account_id, body.connector, fields)
        return reply(ConnectOut(connection=connection_out(connected), authorize_url=None), status=201)
    connection, url = await connections.start_connect(rt, account_id, body.connector, fields)
    return reply(ConnectOut(connection=connection_out(connection), authorize_url=url), status=201)


@routes.get(PREFIX + r"/connections/{id:\d+}")
async def get_connection(request: web.Request) -> web.Response:
    """One connection."""
    connection = await connection_store.get_connection(
        request.app[RUNTIME].db.pool, int_param(request, "id"), request[ACCOUNT]
    )
    return reply(connection_out(connection))


@routes.patch(PREFIX + r"/connections/{id:\d+}")
async def change_connection(request: web.Request) -> web.Response:
    """Change a connection's settings."""
    body = await read_body(request, SettingsIn)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change: send update_tracking, marketplaces or import_interval_minutes.")
    connection = await connections.change_settings(request.app[RUNTIME], request[ACCOUNT], int_param(request, "id"), changes)
    return reply(connection_out(connection))


@routes.post(PREFIX + r"/connections/{id:\d+}/reconnect")
async def reconnect(request: web.Request) -> web.Response:
    """Reconnect in the connector's style: new credentials checked with the shop, or the URL to authorise again."""
    rt, account_id = request.app[RUNTIME], request[ACCOUNT]
    connection_id = int_param(request, "id")
    # The body is optional: a consent reconnect needs none.
    fields = dict((await read_body(request, ReconnectIn)).fields) if request.body_exists else {}
    connection = await connection_store.get_connection(rt.db.pool, connection_id, account_id)
    # A connector no longer installed goes the consent way, where core says what is wrong.
    installed = rt.connectors.get(connection.connector)
    spec = connections.connect_spec(rt, connection.connector) if installed and installed.ok else ConnectSpec()
    if spec.style == "credentials":
        connected = await connections.reconnect_with_credentials(rt, account_id, connection_id, fields)
        return reply(ReconnectOut(authorize_url=None, connection=connection_out(connected)))
    options = connections.check_fields(spec, fields, _name(rt, connection.connector)) if fields else None
    url = await connections.start_reconnect(rt, account_id, connection_id, options)
    return reply(ReconnectOut(authorize_url=url))


@routes.post(PREFIX + r"/connections/{id:\d+}/disable")
async def disable(request: web.Request) -> web.Response:
    """Pause a connection: no imports, no pushes, until it is enabled again."""
    connection = await connections.disable(request.app[RUNTIME], request[ACCOUNT], int_param(request, "id"))
    return reply(connection_out(connection))


@routes.post(PREFIX + r"/connections/{id:\d+}/enable")
async def enable(request: web.Request) -> web.Response:
    """Resume a disabled connection; its pending pushes are queued again."""
    connection = await connections.enable(request.app[RUNTIME], request[ACCOUNT], int_param(request, "id"))
    return reply(connection_out(connection))


@routes.delete(PREFIX + r"/connections/{id:\d+}")
async def disconnect(request: web.Request) -> web.Response:
    """Disconnect a connection; its orders stay."""
    connection = await connections.disconnect(request.app[RUNTIME], request[ACCOUNT], int_param(request, "id"))
    return reply(connection_out(connection))


@routes.post(PREFIX + "/imports")
async def start_import(request: web.Request) -> web.Response:
    """Start an import ("Start import"); returns the run to follow. A running one is returned as is."""
    body = await read_body(request, ImportIn)
    started = await imports.start_import(request.app[RUNTIME], request[ACCOUNT], body.connection_id)
    return reply(import_out(started.run), status=202)


@routes.get(PREFIX + r"/imports/{id:\d+}")
async def get_import(request: web.Request) -> web.Response:
    """Follow an import: state, live counts, error."""
    run = await import_store.get_run(request.app[RUNTIME].db.pool, int_param(request, "id"), request[ACCOUNT])
    return reply(import_out(run))


@routes.get(PREFIX + "/orders")
async def list_orders(request: web.Request) -> web.Response:
    """The caller's orders, oldest first, a page at a time."""
    rt = request.app[RUNTIME]
    status = request.query.get("status")
    if status not in (None, "open", "partially_shipped", "shipped", "cancelled"):
        raise InvalidInput("status must be open, partially_shipped, shipped or cancelled.")
    limit = int_param(request, "limit", 50, 1, 500)
    connection_id = int_param(request, "connection_id", 0)
    found = await order_store.list_orders(
        rt.db.pool,
        rt.vault,
        account_id=request[ACCOUNT],
        connection_id=connection_id or None,
        status=status,
        limit=limit,
        after_id=int_param(request, "after", 0),
    )
    next_after = found[-1].id if len(found) == limit else None
    labels = await order_store.labels_of_orders(rt.db.pool, [o.id for o in found])  # one statement for the page
    return reply(OrderList(orders=[order_out(o, labels[o.id]) for o in found], next_after=next_after))


@routes.get(PREFIX + r"/orders/{id:\d+}")
async def get_order(request: web.Request) -> web.Response:
    """One order with its labels and their push states."""
    rt = request.app[RUNTIME]
    stored = await order_store.get_order(rt.db.pool, rt.vault, int_param(request, "id"), request[ACCOUNT])
    labels = await order_store.labels_of_orders(rt.db.pool, [stored.id])
    return reply(order_out(stored, labels[stored.id]))


@routes.post(PREFIX + "/labels")
async def report_label(request: web.Request) -> web.Response:
    """The platform created a label: store it and queue its tracking push (idempotent by label_id)."""
    body = await read_body(request, LabelIn)
    rt = request.app[RUNTIME]
    # LabelIn checked what NewLabel would (one definition of a label, core.usecases.labels).
    label, created = await record_label(rt, body.order_id, body.new_label(), account_id=request[ACCOUNT])
    return reply(label_out(label), status=201 if created else 200)


@routes.get(PREFIX + r"/labels/{id:\d+}")
async def get_label(request: web.Request) -> web.Response:
    """One label with its parcels' push states."""
    label = await label_store.get_label(request.app[RUNTIME].db.pool, int_param(request, "id"), request[ACCOUNT])
    return reply(label_out(label))


@routes.post(PREFIX + r"/labels/{id:\d+}/retry")
async def retry(request: web.Request) -> web.Response:
    """Queue a label's failed parcels for another push."""
    rt = request.app[RUNTIME]
    label_id = int_param(request, "id")
    return reply(label_out(await retry_label(rt, label_id, request[ACCOUNT])), status=202)


# Shop events: public (the shop cannot sign in), outside /api/v1; see hub.api.events.
routes.post(events.ROUTE)(events.receive)

__all__ = ["routes", "auth_middleware"]
