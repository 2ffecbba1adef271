"""The import schedule: which connections are due, chosen and queued a batch at a time; and the
run history it leaves, thinned by retention.

A connection is due when it imports (connected or in error), has no run queued or running, and
its interval (``import_interval_minutes``, 5 by default) has passed since its last run started
(or was queued): ``import_schedule.next_import_at``, which triggers keep and an index orders, so
a tick reads the due connections, not every connection.
The scheduler reads the most overdue connections once per tick (one scan), then takes them a
batch at a time. Several processes tick at once: a batch's rows are locked, skipping rows another
tick holds, and queued by a second statement that looks again (its snapshot is taken after the
locks, so it sees a run another tick committed meanwhile).
"""

from __future__ import annotations

import asyncpg

from core.storage.database import Db

# import_schedule holds each connection's next import time, kept by triggers (migration 0008):
# its latest run's start plus its interval, '-infinity' before its first run.
_DUE = """
    s.next_import_at <= now()
    and c.state in ('connected', 'error')
    and not exists (
        select 1 from import_runs r where r.connection_id = c.id and r.state in ('queued', 'running')
    )
"""

_DUE_FROM = "import_schedule s join connections c on c.id = s.connection_id"


async def due_connections(db: Db) -> list[int]:
    """Connections due an import now, by id."""
    return [row["id"] for row in await db.fetch(f"select c.id from {_DUE_FROM} where {_DUE} order by c.id")]


async def queued_runs(db: Db) -> int:
    """How many import runs are queued (not yet running), for every connection."""
    return await db.fetchval("select count(*) from import_runs where state = 'queued'")


async def most_overdue(db: Db, limit: int) -> list[int]:
    """Up to ``limit`` connections due an import now, most overdue first (never imported first of all)."""
    rows = await db.fetch(
        f"select c.id from {_DUE_FROM} where {_DUE} order by s.next_import_at, s.connection_id limit $1", limit
    )
    return [row["id"] for row in rows]


async def lock_due(db: asyncpg.Connection, connection_ids: list[int]) -> list[int]:
    """Lock those of the connections still due to the transaction's end, skipping rows locked elsewhere."""
    rows = await db.fetch(
        f"select c.id from {_DUE_FROM} where c.id = any($1::bigint[]) and {_DUE} order by c.id "
        "for update of c skip locked",
        connection_ids,
    )
    return [row["id"] for row in rows]


async def queue_runs(db: asyncpg.Connection, connection_ids: list[int], trigger: str) -> list[tuple[int, int]]:
    """Queue a run for each of the locked connections still due; return ``(run id, connection id)`` pairs."""
    rows = await db.fetch(
        f"""
        insert into import_runs (connection_id, trigger, state)
        select c.id, $2, 'queued' from {_DUE_FROM} where c.id = any($1::bigint[]) and {_DUE}
        order by c.id
        returning id, connection_id
        """,
        connection_ids,
        trigger,
    )
    return [(row["id"], row["connection_id"]) for row in rows]


#: The runs a pass of ``prune_runs`` may delete, less each connection's latest.
_PRUNE = """
    delete from import_runs where id in (
        select r.id from import_runs r
        where {which}
          and exists (select 1 from import_runs n where n.connection_id = r.connection_id and n.id > r.id)
        limit $2
    )
"""

#: Scheduled runs that succeeded and stored nothing (their own index, migration 0007).
_QUIET = """
    r.finished_at < now() - make_interval(secs => $1)
    and r.trigger = 'schedule' and r.state = 'succeeded' and r.new = 0 and r.updated = 0
"""

_OLD = "r.finished_at < now() - make_interval(days => $1)"


async def prune_runs(db: Db, quiet_hours: float, keep_days: int, batch: int = 10_000) -> int:
    """Delete finished runs no longer worth keeping, a batch per statement; return how many.

    A scheduled run that succeeded and stored nothing goes after ``quiet_hours``; any other run
    (it stored orders, failed, or a person or an event asked for it) after ``keep_days``. Each
    connection's latest run stays whatever its age: the schedule counts from it. Each kind is
    found through its own index, so a pass reads what it deletes, not the history it keeps.
    """
    deleted = 0
    for which, age in ((_QUIET, quiet_hours * 3600), (_OLD, keep_days)):
        while True:
            status = await db.execute(_PRUNE.format(which=which), age, batch)
            count = int(status.split()[-1])
            deleted += count
            if count < batch:
                break
    return deleted
