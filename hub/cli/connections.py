"""`hub connections`: connect shops, list, show, reconnect, disconnect, settings."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import click

from core import authorization
from core.errors import InvalidInput
from core.lifecycle import ACTIONS
from core.models import Connection
from core.storage import connections as store
from core.storage.accounts import get_account
from core.storage.imports import last_run
from hub.cli.base import ID, HubGroup, Runtime, echo_json, with_runtime


@click.group(cls=HubGroup)
def connections() -> None:
    """Shop connections of carrier accounts."""


@connections.command()
@click.argument("connector")
@click.option("--account", required=True, help="Account name or id.")
@click.option("--marketplace", default=None, help="Marketplace country code, such as NL or DE.")
@with_runtime
async def connect(rt: Runtime, connector: str, account: str, marketplace: str | None) -> None:
    """Start connecting a shop: prints the URL to send the merchant to."""
    owner = await get_account(rt.db.pool, account)
    options = {"marketplace": marketplace.upper()} if marketplace else {}
    connection, url = await authorization.start_connect(rt, owner.id, connector, options)
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
    connection = await authorization.complete_connect(rt, params)
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
        click.echo("No connections yet: start one with `hub connections connect amazon --account NAME`.")
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
@with_runtime
async def reconnect(rt: Runtime, connection_id: int) -> None:
    """Authorise a connection again: prints the URL to send the merchant to."""
    url = await authorization.start_reconnect(rt, None, connection_id)
    click.echo(url)


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def disable(rt: Runtime, connection_id: int) -> None:
    """Pause a connection: no imports and no tracking pushes until it is enabled again."""
    connection = await authorization.disable(rt, None, connection_id)
    click.echo(
        f"Connection {connection.id} is {connection.state.value}: enable it with `hub connections enable {connection.id}`."
    )


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def enable(rt: Runtime, connection_id: int) -> None:
    """Resume a disabled connection; its pending tracking pushes are queued again."""
    connection = await authorization.enable(rt, None, connection_id)
    click.echo(f"Connection {connection.id} is {connection.state.value}.")


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def disconnect(rt: Runtime, connection_id: int) -> None:
    """Disconnect a connection and forget its credentials."""
    connection = await authorization.disconnect(rt, None, connection_id)
    click.echo(f"Connection {connection.id} is {connection.state.value}.")


@connections.command()
@click.argument("connection_id", type=ID)
@with_runtime
async def check(rt: Runtime, connection_id: int) -> None:
    """Check that a connection's credentials still work."""
    connection = await authorization.check(rt, None, connection_id)
    click.echo(f"Connection {connection.id} works ({connection.state.value}).")


@connections.command("set")
@click.argument("connection_id", type=ID)
@click.option("--update-tracking/--no-update-tracking", default=None, help="Send tracking codes to the shop.")
@click.option("--marketplaces", default=None, help="Comma-separated marketplace ids to import from.")
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
    _print(await authorization.change_settings(rt, None, connection_id, changes))
