"""Settings > All integrations, Integration details, Disable, Enable, Disconnect.

The pages call core's use cases directly (core.usecases.connections), scoped to the signed-in account:
another account's connection answers 404 like one that does not exist. The Connect and Reconnect
forms are in hub.web.connect_form.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from core.contract.errors import InvalidInput
from core.contract.models import Connection, ConnectionState
from core.infra.plugins import LoadedConnector
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import imports as import_store
from core.usecases import connections
from hub.keys import RUNTIME
from hub.web.i18n import N_, RUN_STATES, STATE_ACTIONS, STATE_NAMES
from hub.web.pages import account_of, page, render, see_other

routes = web.RouteTableDef()

CONNECTOR = r"{connector:[a-z][a-z0-9_]{1,31}}"
CONNECTION = r"{id:\d{1,18}}"

#: States shown on the integration card (a pending connection shows only while consent is open).
LIVE = (ConnectionState.CONNECTED, ConnectionState.AUTH_REQUIRED, ConnectionState.ERROR, ConnectionState.DISABLED)

#: Marketplace countries (a connector's manifest lists the codes it offers at Connect).
COUNTRIES = {
    "NL": N_("Netherlands"),
    "DE": N_("Germany"),
    "FR": N_("France"),
    "IT": N_("Italy"),
    "ES": N_("Spain"),
    "UK": N_("United Kingdom"),
    "BE": N_("Belgium"),
    "PL": N_("Poland"),
    "SE": N_("Sweden"),
    "IE": N_("Ireland"),
}

NOTICES = {
    "saved": N_("Settings saved."),
    "disconnected": N_("Disconnected. The orders imported before stay."),
}

LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}


@dataclass
class ConnectionView:
    """A connection as a card lists it, with its connector's connect style (how Reconnect works)."""

    id: int
    state: ConnectionState
    shop_name: str
    style: str = "consent"


@dataclass
class Card:
    """One installed connector on "All integrations"."""

    id: str
    name: str
    error: str | None
    connections: list[ConnectionView] = field(default_factory=list)


def connect_style(rt: Runtime, connector_id: str) -> str:
    """The connector's connect style, ``consent`` or ``credentials`` (consent when it is no longer installed)."""
    loaded = rt.connectors.get(connector_id)
    return loaded.manifest.connect.style if loaded and loaded.manifest else "consent"


def connector_name(rt: Runtime, connector_id: str) -> str:
    """The connector's display name (its id when it is no longer installed)."""
    loaded = rt.connectors.get(connector_id)
    return loaded.manifest.name if loaded and loaded.manifest else connector_id


async def shop_name(rt: Runtime, connection: Connection) -> str:
    """How the merchant recognises a connection: the shop's name for the account, or its id."""
    shown = await connection_store.display_name(rt.db.pool, connection.id)
    return shown or connection.external_account_id or f"#{connection.id}"


@routes.get("/settings/integrations")
@page()
async def all_integrations(request: web.Request) -> web.Response:
    """A card per installed connector: its logo, this account's connections and their states, Connect."""
    rt = request.app[RUNTIME]
    mine = await connection_store.list_connections(rt.db.pool, account_of(request))
    cards = []
    for connector in rt.connectors.values():
        card = Card(
            id=connector.id,
            name=connector.manifest.name if connector.manifest else connector.id,
            error=connector.error if not connector.ok else None,
        )
        for c in mine:
            if c.connector == connector.id and c.state in LIVE:
                card.connections.append(
                    ConnectionView(c.id, c.state, await shop_name(rt, c), connect_style(rt, c.connector))
                )
        cards.append(card)
    return render(
        request,
        "integrations.html",
        {**_names(), "section": "integrations", "cards": cards, "notice": NOTICES.get(request.query.get("done", ""))},
    )


@routes.get(f"/settings/integrations/{CONNECTOR}/logo")
async def logo(request: web.Request) -> web.Response:
    """The connector's logo from its package (a neutral badge when it ships none)."""
    connector = request.app[RUNTIME].connectors.get(request.match_info["connector"])
    if connector is None:
        raise web.HTTPNotFound()
    body, content_type = _logo(connector)
    return web.Response(
        body=body,
        content_type=content_type,
        headers={
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            # An SVG opened on its own runs no script and loads nothing.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def _logo(connector: LoadedConnector) -> tuple[bytes, str]:
    name = connector.manifest.logo if connector.manifest else None
    if name and connector.module is not None:
        path = PurePosixPath(name)
        kind = LOGO_TYPES.get(path.suffix.lower())
        if kind and len(path.parts) == 1:
            try:
                return resources.files(connector.module).joinpath(name).read_bytes(), kind
            except (FileNotFoundError, OSError):
                pass
    initial = html.escape((connector.manifest.name if connector.manifest else connector.id)[:1].upper())
    badge = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" width="120" height="120">'
        '<rect x="4" y="4" width="112" height="112" rx="22" fill="#41464b"/>'
        f'<text x="60" y="78" font-family="Helvetica, Arial, sans-serif" font-size="56" font-weight="700" '
        f'fill="#ffffff" text-anchor="middle">{initial}</text></svg>'
    )
    return badge.encode(), "image/svg+xml"


async def _details_page(
    request: web.Request, connection: Connection, error: str | None = None, status: int = 200
) -> web.Response:
    rt = request.app[RUNTIME]
    return render(
        request,
        "details.html",
        {
            **_names(),
            "section": "integrations",
            "connection": connection,
            "connector_name": connector_name(rt, connection.connector),
            "style": connect_style(rt, connection.connector),
            "display_name": await connection_store.display_name(rt.db.pool, connection.id),
            "marketplaces": ", ".join(connection.settings.marketplaces),
            # The connector's declared marketplaces, ticked where the connection imports from them.
            "marketplace_choices": connections.marketplace_choices(rt, connection.connector),
            "countries": COUNTRIES,
            "last_run": await import_store.last_run(rt.db.pool, connection.id),
            "notice": NOTICES.get(request.query.get("done", "")) if not error else None,
            "error": error,
        },
        status=status,
    )


def _names() -> dict[str, Any]:
    return {"state_names": STATE_NAMES, "state_actions": STATE_ACTIONS, "run_states": RUN_STATES}


async def _own(request: web.Request) -> Connection:
    connection_id = int(request.match_info["id"])
    return await connection_store.get_connection(request.app[RUNTIME].db.pool, connection_id, account_of(request))


@routes.get(f"/settings/integrations/{CONNECTION}")
@page()
async def details(request: web.Request) -> web.Response:
    """Integration details: state and reason, shop account, marketplaces, last import, settings."""
    return await _details_page(request, await _own(request))


@routes.post(f"/settings/integrations/{CONNECTION}/settings")
@page()
async def change_settings(request: web.Request) -> web.Response:
    """Save "Update the tracking code in the shop" and the import interval; bad input changes nothing."""
    connection = await _own(request)
    form = await request.post()
    try:
        changes = _settings_from(form)
        connection = await connections.change_settings(request.app[RUNTIME], account_of(request), connection.id, changes)
    except InvalidInput as err:
        return await _details_page(request, connection, error=err.message, status=400)
    return see_other(f"/settings/integrations/{connection.id}?done=saved")


def _settings_from(form: Any) -> dict[str, Any]:
    tracking = form.get("update_tracking")
    if tracking not in (None, "on"):
        raise InvalidInput(N_("“Update the tracking code in the shop” is either ticked or not."))
    interval = form.get("import_interval_minutes", "")
    if not isinstance(interval, str) or not interval.strip().isdigit() or not 1 <= int(interval) <= 1440:
        raise InvalidInput(N_("The import interval must be a whole number of minutes from 1 to 1440."))
    changes: dict[str, Any] = {"update_tracking": tracking == "on", "import_interval_minutes": int(interval)}
    if form.get("marketplaces_shown") == "on":  # the form offered the connector's marketplaces
        marketplaces = [code for code in form.getall("marketplaces", []) if isinstance(code, str)]
        if not marketplaces:
            raise InvalidInput(N_("Tick at least one marketplace to import orders from."))
        changes["marketplaces"] = marketplaces  # core refuses codes the connector does not declare
    return changes


@routes.post(f"/settings/integrations/{CONNECTION}/disable")
@page()
async def disable(request: web.Request) -> web.Response:
    """Disable: imports and tracking updates pause; the credentials stay."""
    connection = await _own(request)
    await connections.disable(request.app[RUNTIME], account_of(request), connection.id)
    return see_other(f"/settings/integrations/{connection.id}")


@routes.post(f"/settings/integrations/{CONNECTION}/enable")
@page()
async def enable(request: web.Request) -> web.Response:
    """Enable: imports go on by schedule and the waiting tracking updates are sent."""
    connection = await _own(request)
    await connections.enable(request.app[RUNTIME], account_of(request), connection.id)
    return see_other(f"/settings/integrations/{connection.id}")


@routes.post(f"/settings/integrations/{CONNECTION}/disconnect")
@page()
async def disconnect(request: web.Request) -> web.Response:
    """Disconnect, once the box is ticked: the hub forgets the credentials; imported orders stay."""
    connection = await _own(request)
    form = await request.post()
    if form.get("confirm") != "yes":
        error = N_("Tick “Yes, disconnect” to confirm; nothing was changed.")
        return await _details_page(request, connection, error=error, status=400)
    await connections.disconnect(request.app[RUNTIME], account_of(request), connection.id)
    return see_other("/settings/integrations?done=disconnected")

