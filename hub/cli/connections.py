"""`hub connections`: connect shops, list, show, reconnect, disconnect, settings.

Connect and reconnect follow the connector's declared connect style, never its name. Consent: the
command prints the shop's consent URL. Credentials: the command asks for the connector's fields
and connects once the shop accepts them. A non-secret field comes from ``--field NAME=VALUE``,
``--fields-file``, ``HUB_CONNECT_<NAME>`` or a prompt; a secret one only from a hidden prompt,
``--fields-file`` or ``HUB_CONNECT_<NAME>``, never from the command line (where shell history and
the process list would keep it).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import click

from core.contract.errors import ConnectorAuthFailed, InvalidInput
from core.contract.manifest import ConnectField, ConnectSpec
from core.contract.models import Connection
from core.infra.logs import register_secret
from core.storage import connections as store
from core.storage.accounts import get_account
from core.storage.imports import last_run
from core.usecases import connections as shop_connections
from core.usecases.lifecycle import ACTIONS
from hub.cli.base import ID, HubGroup, Runtime, echo_json, with_runtime

#: Environment variables that give connect fields: ``HUB_CONNECT_CLIENT_SECRET`` for ``client_secret``.
ENV_PREFIX = "HUB_CONNECT_"

FIELD_OPTIONS = [
    click.option(
        "--field", "field_args", multiple=True, metavar="NAME=VALUE",
        help="A connect field (repeat for more). Not for secrets: those are asked for hidden, or read from "
        "--fields-file or HUB_CONNECT_<NAME>.",
    ),
    click.option(
        "--fields-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="A JSON or TOML file with connect fields by name (secrets too; keep it private).",
    ),
]


F = TypeVar("F", bound=Callable[..., Any])


def field_options(function: F) -> F:
    """Add ``--field`` and ``--fields-file`` to a command."""
    for option in reversed(FIELD_OPTIONS):
        function = option(function)
    return function


@click.group(cls=HubGroup)
def connections() -> None:
    """Shop connections of carrier accounts."""


def _pairs(field_args: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    for arg in field_args:
        name, sep, value = arg.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"Write --field as NAME=VALUE, not {name.strip()[:40]!r}.")
        given[name.strip()] = value
    return given


def _read_fields_file(path: Path) -> dict[str, object]:
    """Fields from a JSON or TOML file (by its suffix; else whichever parses); never quotes its content."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"Cannot read the fields file {path}: {type(err).__name__}.") from err
    by_suffix: dict[str, list[Callable[[str], object]]] = {".json": [json.loads], ".toml": [tomllib.loads]}
    for parse in by_suffix.get(path.suffix.lower(), [json.loads, tomllib.loads]):
        try:
            data = parse(text)
        except (ValueError, tomllib.TOMLDecodeError):
            continue
        if isinstance(data, dict):
            return data
    raise InvalidInput(f"The fields file {path} is not a JSON object or a TOML table of fields by name.")


def _safe_ways(field: ConnectField) -> str:
    return f"type it at the hidden prompt, or put it in --fields-file PATH or {ENV_PREFIX}{field.name.upper()}"


def gather_fields(
    spec: ConnectSpec,
    field_args: tuple[str, ...],
    fields_file: Path | None,
    environ: Mapping[str, str] | None = None,
    shorthand: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The connect fields: ``--field``, then the file, then the environment, then a prompt (hidden for a secret).

    A secret given with ``--field`` is refused before anything else happens. Names the connector
    does not declare are passed on, so that core's check names them.
    """
    environ = os.environ if environ is None else environ
    given: dict[str, object] = dict(_pairs(field_args))
    for name in given:
        field = spec.field(name)
        if field is not None and field.secret:
            raise InvalidInput(
                f"{name} is a secret and the command line would keep it in your shell history: {_safe_ways(field)}."
            )
    for name, short in (shorthand or {}).items():
        if name in given:
            raise InvalidInput(f"Give {name} once: as --{name} or as --field {name}=..., not both.")
        given[name] = short
    from_file = _read_fields_file(fields_file) if fields_file else {}
    values: dict[str, object] = {**from_file, **given}
    for field in spec.fields:
        if values.get(field.name) in (None, ""):
            env_value = environ.get(ENV_PREFIX + field.name.upper())
            if env_value:
                values[field.name] = env_value
    for field in spec.fields:
        if values.get(field.name) in (None, "") and field.required:
            values[field.name] = _prompt(field)
    for field in spec.fields:
        value = values.get(field.name)
        if field.secret and isinstance(value, str):
            register_secret(value)
    return {name: value for name, value in values.items() if value not in (None, "")}


def _prompt(field: ConnectField) -> str:
    """Ask for one required field: hidden for a secret, a choice for a pick list."""
    if field.help or field.link:
        where = f" Find it at {field.link}" if field.link else ""
        click.echo(f"{field.label.en}: {field.help.en if field.help else ''}{where}".rstrip(), err=True)
    try:
        if field.secret:
            value = click.prompt(field.label.en, hide_input=True, err=True)
        elif field.choices:
            value = click.prompt(field.label.en, type=click.Choice(field.choices, case_sensitive=False), err=True)
        else:
            value = click.prompt(field.label.en, err=True)
    except click.Abort as err:
        how = _safe_ways(field) if field.secret else f"pass --field {field.name}=VALUE"
        raise InvalidInput(f"No value for {field.name}: {how}.") from err
    return str(value)


def _refused(err: ConnectorAuthFailed, values: Mapping[str, object], again: str) -> InvalidInput:
    reason = err.message.rstrip(". ")  # core masked the pasted values
    return InvalidInput(f"The shop refused these credentials: {reason}. Check them and run {again} again.")


def _connected_line(connection: Connection) -> str:
    return (
        f"Connection {connection.id} is {connection.state.value}: {connection.connector} account "
        f"{connection.external_account_id}. Import with `hub import --connection {connection.id}`."
    )


@connections.command()
@click.argument("connector")
@click.option("--account", required=True, help="Account name or id.")
@click.option("--marketplace", default=None, help="Shorthand for --field marketplace=CODE (such as NL or DE).")
@field_options
@with_runtime
async def connect(
    rt: Runtime, connector: str, account: str, marketplace: str | None, field_args: tuple[str, ...], fields_file: Path | None
) -> None:
    """Connect a shop: with its credentials (asked for), or by printing the consent URL to send the merchant to."""
    owner = await get_account(rt.db.pool, account)
    spec = shop_connections.connect_spec(rt, connector)
    shorthand = {"marketplace": marketplace.upper()} if marketplace else {}
    values = gather_fields(spec, field_args, fields_file, shorthand=shorthand)
    if spec.style == "credentials":
        try:
            connection = await shop_connections.connect_with_credentials(rt, owner.id, connector, values)
        except ConnectorAuthFailed as err:
            raise _refused(err, values, "`hub connections connect`") from err
        click.echo(_connected_line(connection))
        return
    connection, url = await shop_connections.start_connect(rt, owner.id, connector, values)
    click.echo(f"Connection {connection.id} is waiting for authorisation. Open this URL and confirm:")
    click.echo(url)
    click.echo("Then finish with: hub connections complete 'URL-YOU-WERE-SENT-BACK-TO'")


@connections.command()
@click.argument("callback_url")
@with_runtime
async def complete(rt: Runtime, callback_url: str) -> None:
    """Finish connecting from the URL the shop sent the browser back to."""
    params = dict(parse_qsl(urlsplit(callback_url).query))
    if "state" not in params:
        raise InvalidInput("That URL has no state parameter: paste the whole URL the shop redirected to.")
    connection = await shop_connections.complete_connect(rt, params)
    click.echo(f"Connection {connection.id} is connected to {connection.connector} account {connection.external_account_id}.")


@connections.command("list")
@click.option("--account", default=None, help="Only this account's (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_(rt: Runtime, account: str | None, as_json: bool) -> None:
    """List connections with their state."""
    owner = await get_account(rt.db.pool, account) if account else None
    found = await store.list_connections(rt.db.pool, owner.id if owner else None)
    if as_json:
        echo_json([c.model_dump(mode="json") for c in found])
        return
    if not found:
        click.echo("No connections yet: start one with `hub connections connect CONNECTOR --account NAME` (see `hub connectors list`).")
    for c in found:
        click.echo(f"{c.id:>5}  {c.connector:<10} {c.state.value:<22} {c.external_account_id or '-':<16} {c.reason or ''}")


@connections.command()
@click.argument("connection_id", type=ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def show(rt: Runtime, connection_id: int, as_json: bool) -> None:
    """Show one connection: state, reason, shop account, settings, last import."""
    connection = await store.get_connection(rt.db.pool, connection_id)
    run = await last_run(rt.db.pool, connection_id)
    if as_json:
        echo_json({**connection.model_dump(mode="json"), "last_import": run.__dict__ if run else None})
        return
    _print(connection)
    if run:
        click.echo(
            f"last import: #{run.id} {run.state} at {run.started_at:%Y-%m-%d %H:%M} "
            f"({run.new} new, {run.updated} updated, {run.skipped_total} skipped)"
        )


def _print(c: Connection) -> None:
    click.echo(f"connection {c.id}: {c.connector}, account {c.account_id}")
    click.echo(f"state: {c.state.value}" + (f" ({c.reason})" if c.reason else ""))
    if ACTIONS.get(c.state):
        click.echo(f"action: {ACTIONS[c.state]}")
    click.echo(f"shop account: {c.external_account_id or '-'}")
    click.echo(f"marketplaces: {', '.join(c.settings.marketplaces) or '-'}")
    click.echo(f"update tracking code in the shop: {'on' if c.settings.update_tracking else 'off'}")
    click.echo(f"import every {c.settings.import_interval_minutes} min")


@connections.command()
@click.argument("connection_id", type=ID)
@field_options
@with_runtime
async def reconnect(rt: Runtime, connection_id: int, field_args: tuple[str, ...], fields_file: Path | None) -> None:
    """Connect a connection again: new credentials for the same shop account (asked for), or the consent URL."""
    connection = await store.get_connection(rt.db.pool, connection_id)
    # A connector no longer installed goes the consent way, where core says what is wrong.
    installed = rt.connectors.get(connection.connector)
    spec = shop_connections.connect_spec(rt, connection.connector) if installed and installed.ok else ConnectSpec()
    if spec.style == "credentials":
        values = gather_fields(spec, field_args, fields_file)
        try:
            connection = await shop_connections.reconnect_with_credentials(rt, None, connection_id, values)
        except ConnectorAuthFailed as err:
            raise _refused(err, values, f"`hub connections reconnect {connection_id}`") from err
        click.echo(_connected_line(connection))
        return
    given: dict[str, object] = {**(_read_fields_file(fields_file) if fields_file else {}), **_pairs(field_args)}
    options = shop_connections.check_fields(spec, given, connection.connector) if given else None
    url = await shop_connections.start_reconnect(rt, None, connection_id, options)
    click.echo(url)


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def disable(rt: Runtime, connection_id: int) -> None:
    """Pause a connection: no imports and no tracking pushes until it is enabled again."""
    connection = await shop_connections.disable(rt, None, connection_id)
    click.echo(
        f"Connection {connection.id} is {connection.state.value}: enable it with `hub connections enable {connection.id}`."
    )


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def enable(rt: Runtime, connection_id: int) -> None:
    """Resume a disabled connection; its pending tracking pushes are queued again."""
    connection = await shop_connections.enable(rt, None, connection_id)
    click.echo(f"Connection {connection.id} is {connection.state.value}.")


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def disconnect(rt: Runtime, connection_id: int) -> None:
    """Disconnect a connection and forget its credentials."""
    connection = await shop_connections.disconnect(rt, None, connection_id)
    click.echo(f"Connection {connection.id} is {connection.state.value}.")


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def check(rt: Runtime, connection_id: int) -> None:
    """Check that a connection's credentials still work."""
    connection = await shop_connections.check(rt, None, connection_id)
    click.echo(f"Connection {connection.id} works ({connection.state.value}).")


@connections.command("set")
@click.argument("connection_id", type=ID)
@click.option("--update-tracking/--no-update-tracking", default=None, help="Send tracking codes to the shop.")
@click.option(
    "--marketplaces", default=None,
    help="Comma-separated marketplaces to import from, among those the connector offers (such as NL,DE).",
)
@click.option("--import-interval", type=int, default=None, help="Minutes between scheduled imports.")
@with_runtime
async def set_(
    rt: Runtime, connection_id: int, update_tracking: bool | None, marketplaces: str | None, import_interval: int | None
) -> None:
    """Change a connection's settings."""
    changes: dict[str, object] = {}
    if update_tracking is not None:
        changes["update_tracking"] = update_tracking
    if marketplaces is not None:
        changes["marketplaces"] = [m.strip() for m in marketplaces.split(",") if m.strip()]
    if import_interval is not None:
        changes["import_interval_minutes"] = import_interval
    if not changes:
        raise InvalidInput("Nothing to change: pass --update-tracking, --marketplaces or --import-interval.")
    _print(await shop_connections.change_settings(rt, None, connection_id, changes))
