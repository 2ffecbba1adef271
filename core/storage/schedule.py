"""The import schedule: which connections are due, chosen and queued a batch at a time.

A connection is due when it imports (connected or in error), has no run queued or running, and
its interval (``import_interval_minutes``, 5 by default) has passed since its last run started.
Several processes tick at once: a batch is chosen under the rows' locks, skipping rows another
tick holds, and queued by a second statement that looks again (its snapshot is taken after the
locks, so it sees a run another tick committed meanwhile).
"""

from __future__ import annotations

import asyncpg

from core.storage.database import Db

_DUE = """
    c.state in ('connected', 'error')
    and not exists (
        select 1 from import_runs r where r.connection_id = c.id and r.state in ('queued', 'running')
    )
    and coalesce((
        select started_at from import_runs r where r.connection_id = c.id order by id desc limit 1
    ) + make_interval(mins => coalesce((c.settings->>'import_interval_minutes')::int, 5)) <= now(), true)
"""


async def due_connections(db: Db) -> list[int]:
    """Connections due an import now, by id."""
    return [row["id"] for row in await db.fetch(f"select c.id from connections c where {_DUE} order by c.id")]


async def lock_due(db: asyncpg.Connection, limit: int) -> list[int]:
    """Lock up to ``limit`` due connections to the transaction's end, skipping rows locked elsewhere."""
    rows = await db.fetch(
        f"select c.id from connections c where {_DUE} order by c.id limit $1 for update of c skip locked", limit
    )
    return [row["id"] for row in rows]


async def queue_runs(db: asyncpg.Connection, connection_ids: list[int], trigger: str) -> list[tuple[int, int]]:
    """Queue a run for each of the locked connections still due; return ``(run id, connection id)`` pairs."""
    rows = await db.fetch(
        f"""
        insert into import_runs (connection_id, trigger, state)
        select c.id, $2, 'queued' from connections c where c.id = any($1::bigint[]) and {_DUE}
        order by c.id
        returning id, connection_id
        """,
        connection_ids,
        trigger,
    )
    return [(row["id"], row["connection_id"]) for row in rows]
