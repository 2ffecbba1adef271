"""The routes shops send the merchant's browser to: the OAuth redirect and the Login URI.

``/connect/callback`` completes a connect or reconnect from the shop's parameters (the signed,
single-use ``state`` says which account and connection; a signed-in browser must be that
account's) and shows the result page in the merchant's language: connected, declined, expired,
or the error with its fix. ``/connect/login/{connector}`` is the Login URI a shop opens to
re-authorise (some shops ask for it every year): the connector's manifest names the parameter that
carries the shop account, the hub finds that live connection and lets the connector send the
browser back to the shop with a fresh ``state``. ``/settings/integrations/{id}/connected`` is the same
Connected page after a connect or reconnect with credentials (the form's POST redirects there, so
no secret travels in a URL and a reload sends nothing again).
"""

from __future__ import annotations

import logging

from aiohttp import web

from core.contract.errors import ConnectorAuthFailed, HubError, InvalidInput, NotFound
from core.contract.models import ConnectionState
from core.storage import connections as connection_store
from core.usecases import connections
from hub.api.errors import status_of
from hub.keys import RUNTIME
from hub.web.i18n import N_
from hub.web.integrations import connector_name
from hub.web.pages import account_of, error_page, page, render, see_other, session_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: The callback's URL carries the code and the state: no page of this flow sends a referrer.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}

RESULTS = {
    "declined": (
        N_("Not connected"),
        N_("You declined the authorisation in the shop, so nothing was connected. Click Connect to try again."),
    ),
    "expired": (
        N_("The link has expired"),
        N_("The authorisation took too long or this link was used already. Start again with Connect."),
    ),
    "error": (N_("Not connected"), N_("The shop's answer could not be used:")),
}


def result_page(
    request: web.Request, kind: str, status: int, message: str | None = None, **values: object
) -> web.Response:
    """The page a merchant lands on after the shop: what happened and what to do next."""
    heading, explanation = RESULTS.get(kind, (N_("Connected"), ""))
    response = render(
        request,
        "result.html",
        {"section": "integrations", "kind": kind, "heading": heading, "explanation": explanation, "message": message, **values},
        status=status,
    )
    response.headers.update(NO_REFERRER)
    return response


def _kind(err: HubError, params: dict[str, str]) -> str:
    if isinstance(err, ConnectorAuthFailed) and params.get("error"):
        return "declined"
    # core.usecases.oauth refuses a used or timed-out state with this wording; a forged one is an error.
    if isinstance(err, InvalidInput) and "expired" in err.message:
        return "expired"
    return "error"


@routes.get(connections.CALLBACK_PATH)
@page(public=True)
async def callback(request: web.Request) -> web.Response:
    """Complete a connect from the shop's redirect and show the result."""
    rt = request.app[RUNTIME]
    params = {key: value for key, value in request.query.items() if len(value) <= 4096}
    try:
        connection = await connections.complete_connect(rt, params, session_of(request).account_id)
    except HubError as err:
        status = status_of(err)
        if status >= 500:
            log.warning("connect callback failed: %s (%s)", err, err.detail)
        status = 400 if isinstance(err, ConnectorAuthFailed) else min(status, 502)
        return result_page(request, _kind(err, params), status, err.message)
    return result_page(
        request,
        "connected",
        200,
        connection_id=connection.id,
        connector_name=connector_name(rt, connection.connector),
        update_tracking=connection.settings.update_tracking,
    )


@routes.get(r"/settings/integrations/{id:\d{1,18}}/connected")
@page()
async def connected(request: web.Request) -> web.Response:
    """The Connected page of one of the account's connections (after a connect or reconnect with credentials)."""
    rt = request.app[RUNTIME]
    connection = await connection_store.get_connection(rt.db.pool, int(request.match_info["id"]), account_of(request))
    if connection.state is not ConnectionState.CONNECTED:
        return see_other(f"/settings/integrations/{connection.id}")
    return result_page(
        request,
        "connected",
        200,
        connection_id=connection.id,
        connector_name=connector_name(rt, connection.connector),
        update_tracking=connection.settings.update_tracking,
    )


@routes.get("/connect/login/{connector}")
@page(public=True)
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
        matches = await connection_store.live_connections_of(rt.db.pool, connector_id, account)
        if len(matches) != 1:
            raise NotFound("No single connection of this shop account: connect it from the carrier's pages first.")
        # The same path as Reconnect: the shop's parameters go to the connector as options, and a
        # call it refuses leaves no state behind (one transaction).
        url = await connections.start_reconnect(rt, None, matches[0].id, shop_params=dict(request.query))
    except HubError as err:
        status = 404 if isinstance(err, NotFound) else 400
        response = error_page(request, status, N_("Cannot re-authorise"), err.message)
        response.headers.update(NO_REFERRER)
        return response
    return web.Response(status=302, headers={"Location": url, **NO_REFERRER})
