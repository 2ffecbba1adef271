"""`hub accounts`: the carrier's customers."""

from __future__ import annotations

import click

from core.storage.accounts import create_account, get_account, list_accounts
from core.storage.tokens import create_token
from hub.cli.base import HubGroup, Runtime, echo_json, with_runtime


@click.group(cls=HubGroup)
def accounts() -> None:
    """Carrier accounts, which own connections."""


@accounts.command("create")
@click.argument("name")
@with_runtime
async def create(rt: Runtime, name: str) -> None:
    """Create an account called NAME."""
    account = await create_account(rt.db.pool, name)
    click.echo(f"Created account {account.id} ({account.name}).")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_runtime
async def list_(rt: Runtime, as_json: bool) -> None:
    """List the accounts."""
    found = await list_accounts(rt.db.pool)
    if as_json:
        echo_json([{"id": a.id, "name": a.name, "created_at": a.created_at} for a in found])
        return
    for account in found:
        click.echo(f"{account.id:>5}  {account.name}")


@accounts.command()
@click.argument("account")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@with_runtime
async def token(rt: Runtime, account: str, name: str) -> None:
    """Create an API token for ACCOUNT (name or id); it is shown once."""
    owner = await get_account(rt.db.pool, account)
    click.echo(await create_token(rt.db.pool, owner.id, name))
