"""The Connect and Reconnect forms, rendered from what each connector declares (its manifest's ``[connect]``).

Consent style: the declared options (a pick list such as the marketplace), then off to the shop's
consent page. Credentials style: a text input per field and a password input per secret field,
labels and help in the page's language, a link to where the merchant finds each value; core checks
them with the shop before anything is stored. A field at fault keeps the merchant on the form with
the message beside it (400); the shop's refusal shows its reason on the form, to try again. A
secret is never put back into the form, never in a URL (POST only; success redirects to a page
that carries none), never in a message.

Nothing here depends on which connector it is: only on its declared style and fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.contract.errors import ConnectorAuthFailed, HubError, InvalidInput
from core.contract.manifest import ConnectField, ConnectSpec
from core.contract.models import Connection
from core.infra.logs import MASK, mask
from core.infra.plugins import LoadedConnector
from core.storage import connections as connection_store
from core.usecases import connections
from hub.api.errors import status_of
from hub.keys import RUNTIME
from hub.web.i18n import N_
from hub.web.integrations import CONNECTION, CONNECTOR, COUNTRIES, connector_name, shop_name
from hub.web.pages import LANG, account_of, page, render, see_other, translator

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: Localised messages for a field at fault, by what is wrong with the value.
MISSING = N_("{label}: fill this in.")
NOT_A_CHOICE = N_("{label}: choose one from the list.")
MALFORMED = N_("{label}: at most {max} characters, without line breaks or control characters.")
REFUSED = N_("The shop did not accept these details:")


@dataclass
class FieldView:
    """One field as the form shows it, in the page's language; ``value`` is empty for a secret."""

    name: str
    label: str
    help: str | None
    secret: bool
    required: bool
    choices: list[tuple[str, str]]
    link: str | None
    max_length: int
    value: str = ""
    error: str | None = None


@dataclass
class FormView:
    """What the connect form template needs besides the fields."""

    connector_id: str
    connector_name: str
    style: str
    action: str
    heading: str
    fields: list[FieldView] = field(default_factory=list)
    shop_account: str | None = None


def _field_view(request: web.Request, f: ConnectField, value: str, error: str | None) -> FieldView:
    lang, t = request[LANG], translator(request)
    # Marketplace codes show with their country's name.
    choices = [(code, f"{code} – {t(COUNTRIES[code])}" if code in COUNTRIES else code) for code in f.choices]
    return FieldView(
        name=f.name,
        label=f.label.in_language(lang),
        help=f.help.in_language(lang) if f.help else None,
        secret=f.secret,
        required=f.required,
        choices=choices,
        link=f.link,
        max_length=f.max_length,
        value="" if f.secret else value,
        error=error,
    )


def _field_error(request: web.Request, f: ConnectField, value: str, err: InvalidInput) -> str:
    """The message beside a field at fault, in the page's language (core's own words when it is none of these)."""
    t = translator(request)
    label = f.label.in_language(request[LANG])
    if not value.strip():
        return t(MISSING, label=label)
    if f.choices and value.strip().upper() not in f.choices and value.strip() not in f.choices:
        return t(NOT_A_CHOICE, label=label)
    if len(value.strip()) > f.max_length or not value.strip().isprintable():
        return t(MALFORMED, label=label, max=f.max_length)
    return err.message


def _submitted(spec: ConnectSpec, form: Any) -> dict[str, object]:
    """The declared fields' values from a posted form (anything else in it is ignored)."""
    return {f.name: form.get(f.name) for f in spec.fields if form.get(f.name) is not None}


def _scrubbed(message: str, values: dict[str, object]) -> str:
    """``message`` with no value the merchant typed for a secret (nor any secret the hub knows)."""
    for value in values.values():
        if isinstance(value, str) and value:
            message = message.replace(value, MASK)
    return mask(message)


def _render_form(
    request: web.Request,
    view: FormView,
    spec: ConnectSpec,
    values: dict[str, object] | None = None,
    field_errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    values = values or {}
    for f in spec.fields:
        value = values.get(f.name)
        shown = value if isinstance(value, str) else ""
        if f.choices and not shown:
            shown = f.choices[0]
        view.fields.append(_field_view(request, f, shown, (field_errors or {}).get(f.name)))
    return render(request, "connect.html", {"section": "integrations", "form": view, "error": error}, status=status)


async def _failed(
    request: web.Request, view: FormView, spec: ConnectSpec, values: dict[str, object], err: HubError
) -> web.Response:
    """The form again after a failed connect: beside the field at fault, or the shop's reason above."""
    if isinstance(err, InvalidInput) and err.field and spec.field(err.field):
        declared = spec.field(err.field)
        assert declared is not None
        raw = values.get(err.field)
        message = _field_error(request, declared, raw if isinstance(raw, str) else "", err)
        return _render_form(request, view, spec, values, {err.field: _scrubbed(message, values)}, status=400)
    if isinstance(err, ConnectorAuthFailed):
        reason = f"{translator(request)(REFUSED)} {_scrubbed(err.message, values)}"
        return _render_form(request, view, spec, values, error=reason, status=400)
    status = status_of(err)
    if status >= 500:
        log.warning("%s %s failed: %s (%s)", request.method, request.path, err, err.detail)
    return _render_form(request, view, spec, values, error=_scrubbed(err.message, values), status=min(status, 503))


def _spec_of(connector: LoadedConnector) -> ConnectSpec:
    return connector.manifest.connect if connector.manifest else ConnectSpec()


def _connect_view(request: web.Request, connector: LoadedConnector) -> FormView:
    name = connector.manifest.name if connector.manifest else connector.id
    return FormView(
        connector_id=connector.id,
        connector_name=name,
        style=_spec_of(connector).style,
        action=f"/settings/integrations/{connector.id}/connect",
        heading=translator(request)(N_("Connect {name}"), name=name),
    )


@routes.get(f"/settings/integrations/{CONNECTOR}/connect")
@page()
async def connect_form(request: web.Request) -> web.Response:
    """Connect: the connector's form (options before its consent page, or the credentials to paste)."""
    connector = request.app[RUNTIME].connector(request.match_info["connector"])
    spec = _spec_of(connector)
    # A link may pre-select an option (?marketplace=DE); never a secret.
    preset: dict[str, object] = {f.name: request.query[f.name] for f in spec.fields if not f.secret and f.name in request.query}
    if any(f.choices and preset.get(f.name) not in f.choices for f in spec.fields if f.name in preset):
        preset = {}
    return _render_form(request, _connect_view(request, connector), spec, preset)


@routes.post(f"/settings/integrations/{CONNECTOR}/connect")
@page()
async def connect(request: web.Request) -> web.Response:
    """Connect in the connector's style: off to the consent page, or connected once the shop accepts the credentials."""
    rt = request.app[RUNTIME]
    connector = rt.connector(request.match_info["connector"])
    spec = _spec_of(connector)
    values = _submitted(spec, await request.post())
    view = _connect_view(request, connector)
    try:
        if spec.style == "credentials":
            connection = await connections.connect_with_credentials(rt, account_of(request), connector.id, values)
            return see_other(f"/settings/integrations/{connection.id}/connected")
        _, url = await connections.start_connect(rt, account_of(request), connector.id, values)
    except HubError as err:
        return await _failed(request, view, spec, values, err)
    return see_other(url)


async def _own(request: web.Request) -> Connection:
    connection_id = int(request.match_info["id"])
    return await connection_store.get_connection(request.app[RUNTIME].db.pool, connection_id, account_of(request))


async def _reconnect_view(request: web.Request, connection: Connection) -> tuple[FormView, ConnectSpec]:
    rt = request.app[RUNTIME]
    connector = rt.connector(connection.connector)
    name = connector_name(rt, connection.connector)
    view = FormView(
        connector_id=connector.id,
        connector_name=name,
        style=_spec_of(connector).style,
        action=f"/settings/integrations/{connection.id}/reconnect",
        heading=translator(request)(N_("Reconnect {name}"), name=name),
        shop_account=await shop_name(rt, connection),
    )
    return view, _spec_of(connector)


@routes.get(f"/settings/integrations/{CONNECTION}/reconnect")
@page()
async def reconnect_form(request: web.Request) -> web.Response:
    """Reconnect a credentials connection: the same form, for new credentials of the same shop account."""
    connection = await _own(request)
    view, spec = await _reconnect_view(request, connection)
    if spec.style != "credentials":
        return see_other(f"/settings/integrations/{connection.id}")
    return _render_form(request, view, spec)


@routes.post(f"/settings/integrations/{CONNECTION}/reconnect")
@page()
async def reconnect(request: web.Request) -> web.Response:
    """Reconnect: new credentials checked with the shop, or off to the shop's consent page for the same connection."""
    rt = request.app[RUNTIME]
    connection = await _own(request)
    view, spec = await _reconnect_view(request, connection)
    if spec.style != "credentials":
        url = await connections.start_reconnect(rt, account_of(request), connection.id)
        return see_other(url)
    form = await request.post()
    if not any(f.name in form for f in spec.fields):
        # A Reconnect button, not the form: show the form.
        return see_other(f"/settings/integrations/{connection.id}/reconnect")
    values = _submitted(spec, form)
    try:
        await connections.reconnect_with_credentials(rt, account_of(request), connection.id, values)
    except HubError as err:
        return await _failed(request, view, spec, values, err)
    return see_other(f"/settings/integrations/{connection.id}/connected")
