"""`hub db`: migrations."""

from __future__ import annotations

import asyncio

import click

from core.storage.database import open_database
from core.storage.migrate import migrate as apply
from core.storage.migrate import status as read_status
from hub.cli.base import HubGroup, settings_of


@click.group(cls=HubGroup)
def db() -> None:
    """The database: migrations and their status."""


@db.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending migrations (safe to run from several processes at once)."""

    async def main() -> None:
        database = await open_database(settings_of(ctx))
        try:
            done = await apply(database.pool)
        finally:
            await database.close()
        click.echo(f"Applied {len(done)} migration(s)." if done else "The database is up to date.")

    asyncio.run(main())


@db.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show each migration and when it was applied."""

    async def main() -> None:
        database = await open_database(settings_of(ctx))
        try:
            entries = await read_status(database.pool)
        finally:
            await database.close()
        for entry in entries:
            when = entry.applied_at.isoformat(timespec="seconds") if entry.applied_at else "pending"
            click.echo(f"{entry.version:04d}_{entry.name:<30} {when}")

    asyncio.run(main())
