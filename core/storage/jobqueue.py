"""pgqueuer's tables in the hub's PostgreSQL: the queries over one connection, installing them, the queue's depth."""

from __future__ import annotations

import asyncpg
from pgqueuer import AsyncpgDriver, Queries


def queries(db: asyncpg.Connection) -> Queries:
    """pgqueuer's queries over one connection (inside the caller's transaction, if any)."""
    return Queries(AsyncpgDriver(db))


async def install_queue(db: asyncpg.Connection) -> None:
    """Create or upgrade pgqueuer's tables; call under the migration lock."""
    queue = queries(db)
    if await queue.schema_is_installed():
        await queue.upgrade()
    else:
        await queue.install()


async def depth(db: asyncpg.Connection | asyncpg.Pool) -> list[tuple[str, str, int]]:
    """How many jobs there are per entrypoint and status."""
    rows = await db.fetch("select entrypoint, status::text, count(*) as n from pgqueuer group by 1, 2")
    return [(row["entrypoint"], row["status"], row["n"]) for row in rows]
