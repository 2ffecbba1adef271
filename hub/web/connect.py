"""The routes shops send the merchant's browser to: the OAuth redirect and the Login URI.

``/connect/callback`` completes a connect or reconnect from the shop's parameters (the signed,
single-use ``state`` says which account and connection). ``/connect/login/{connector}`` is the
Login URI a shop opens to re-authorise (Amazon does so every 365 days): the connector's manifest
names the parameter that carries the shop account, the hub finds that live connection and lets the
connector send the browser back to the shop with a fresh ``state``.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web

from core import authorization
from core.errors import ConnectorAuthFailed, HubError, InvalidInput, NotFound
from core.models import AuthStart, ConnectionState
from core.oauth import issue_state
from core.storage import connections as connection_store
from hub.keys import RUNTIME

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{title}</title></head>
<body><main><h1>{title}</h1><p>{message}</p></main></body></html>
"""


def page(title: str, message: str, status: int = 200) -> web.Response:
    """A minimal, escaped result page; no referrer leaks the code or state."""
    body = PAGE.format(title=html.escape(title), message=html.escape(message))
    return web.Response(text=body, status=status, content_type="text/html", headers={"Referrer-Policy": "no-referrer"})


@routes.get(authorization.CALLBACK_PATH)
async def callback(request: web.Request) -> web.Response:
    """Complete a connect from the shop's redirect."""
    params = {key: value for key, value in request.query.items() if len(value) <= 4096}
    try:
        connection = await authorization.complete_connect(request.app[RUNTIME], params)
    except ConnectorAuthFailed as err:
        return page("Not connected", str(err), 400)
    except HubError as err:
        status = 404 if isinstance(err, NotFound) else 400 if isinstance(err, InvalidInput) else 409
        return page("Not connected", err.message, status if status < 500 else 502)
    return page("Connected", f"Connection {connection.id} to {connection.connector} is connected.")


@routes.get("/connect/login/{connector}")
async def login(request: web.Request) -> web.StreamResponse:
    """The shop's Login URI: send the browser back to the shop to re-authorise a known connection."""
    rt = request.app[RUNTIME]
    connector_id = request.match_info["connector"]
    try:
        connector = rt.connector(connector_id)
        param = connector.manifest.login_account_param if connector.manifest else None
        account = request.query.get(param or "", "")
        if not param or not account:
            raise InvalidInput(f"{connector_id} re-authorisation needs the shop account parameter; start from the shop again.")
        matches = [
            c
            for c in await connection_store.list_connections(rt.db.pool)
            if c.connector == connector_id and c.external_account_id == account and c.state is not ConnectionState.DISCONNECTED
        ]
        if len(matches) != 1:
            raise NotFound("No single connection of this shop account: connect it from the carrier's pages first.")
        connection = matches[0]
        async with rt.db.pool.acquire() as db, db.transaction():
            state = await issue_state(db, rt.vault, connection.account_id, connection.id, rt.settings.security.state_ttl_seconds)
        step = AuthStart(state=state, redirect_uri=authorization.redirect_uri(rt), options=dict(request.query))
        redirect = await rt.runner.authorize(await rt.context(connection), step)
    except HubError as err:
        return page("Cannot re-authorise", err.message, 400 if not isinstance(err, NotFound) else 404)
    raise web.HTTPFound(redirect.url, headers={"Referrer-Policy": "no-referrer"})
