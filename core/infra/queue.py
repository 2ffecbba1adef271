"""The job queue's write side: enqueue jobs in the caller's transaction (pgqueuer).

Kept apart from core.usecases.jobs (the handlers) so that use cases can enqueue without importing the
workers. Pushes and imports carry no dedupe key (a label's lease and a connection's import lock
keep them single); the retention job and each connection's settle job have one, so at most one of
each is queued or running.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TypeAlias

import asyncpg

from core.storage import connections as connection_store
from core.storage import imports as import_store
from core.storage import labels as label_store
from core.storage import schedule as schedule_store
from core.storage.jobqueue import queries

IMPORT, PUSH, RETENTION, SETTLE = "import", "push", "retention", "settle"

#: Imports are dequeued after pushes, checks and retention waiting with them (pgqueuer takes the
#: highest priority first; the others have 0). Imports a process picked already and that wait for
#: one of its import slots still count among the jobs it picks at once, so a push queued after a
#: large round can wait for some of them.
IMPORT_PRIORITY = -1

#: The queue writes in the caller's transaction: always a connection, never the pool.
Connection: TypeAlias = asyncpg.Connection


async def enqueue_push(db: Connection, label_id: int, delay: float = 0) -> None:
    """Enqueue a label's push in the caller's transaction.

    No dedupe key: a second job for the same label is harmless (the push takes a lease on the
    label and sends only parcels still pending), while a dedupe key would drop a retry queued while the
    previous job is finishing.
    """
    await queries(db).enqueue(
        PUSH,
        json.dumps({"label_id": label_id}).encode(),
        execute_after=timedelta(seconds=delay) if delay else None,
    )


async def enqueue_import(db: Connection, connection_id: int, trigger: str, again_if_running: bool = False) -> int:
    """Queue an import of a connection and return its run id; an import queued or running already is returned instead.

    ``again_if_running``: a run already running may have read past what prompted this one (a shop
    event about an order that changed just now), so one more run is queued behind it, unless one
    is queued already. Call in a transaction: the connection row is locked so that two processes
    never queue twice.
    """
    await connection_store.lock_row(db, connection_id)
    existing = await import_store.open_run(db, connection_id)
    if existing is not None and again_if_running:
        existing = await import_store.queued_run(db, connection_id)
    if existing is not None:
        return existing
    run_id = await import_store.queue_run(db, connection_id, trigger)
    # No dedupe key: the job of the previous run may still be finishing; the row lock above and
    # the import's own lock keep one import per connection.
    await queries(db).enqueue(
        IMPORT,
        json.dumps({"connection_id": connection_id, "run_id": run_id, "trigger": trigger}).encode(),
        IMPORT_PRIORITY,
    )
    return run_id


async def enqueue_settle(db: Connection, connection_id: int) -> None:
    """Queue a check of a connection's due accepted parcels (``check_parcels``) now, unless one is queued already.

    One queued or running check per connection (dedupe key): it takes every parcel that is due.
    Never queued for later (a delayed job would hold the dedupe key and keep an event's "now"
    waiting): a parcel's ``check_after`` says when it is due, and the scheduler queues a check
    for every connection with parcels due (``schedule_due_settles``), so none waits longer than a
    tick once due.
    """
    await queries(db).enqueue(
        SETTLE,
        json.dumps({"connection_id": connection_id}).encode(),
        dedupe_key=f"settle:{connection_id}",
        on_conflict="skip",
    )


async def enqueue_retention(db: Connection, delay: timedelta = timedelta(0)) -> None:
    """Queue the retention job unless it is queued already."""
    await queries(db).enqueue(RETENTION, None, execute_after=delay, dedupe_key="retention", on_conflict="skip")


async def schedule_due_settles(pool: asyncpg.Pool) -> int:
    """Queue a check for every working connection with accepted parcels due; return how many connections.

    A check queued or running already (the dedupe key) makes the new one a no-op.
    """
    due = await label_store.connections_due_checks(pool)
    for connection_id in due:
        async with pool.acquire() as db:
            await enqueue_settle(db, connection_id)
    return len(due)


async def resume_connection(db: Connection, connection_id: int) -> int:
    """After a reconnect: enqueue the pushes of the connection's labels still pending; return how many.

    Its accepted parcels are asked about by the scheduler's next tick.
    """
    label_ids = await label_store.labels_with_pending(db, connection_id)
    for label_id in label_ids:
        await enqueue_push(db, label_id)
    return len(label_ids)


#: How many due connections one scheduler statement takes: each batch is one transaction (two
#: statements and one enqueue), short enough that a tick never holds many row locks for long.
SCHEDULE_BATCH = 500

#: The most import runs the scheduler leaves queued (all processes together): when the workers
#: fall behind, the most overdue connections wait in the database, not as jobs, and a connection
#: whose import is overdue never queues twice. 10,000 queued per 15-second tick allow 660 imports
#: a second, twice what 100,000 connections on a 5-minute schedule ask.
SCHEDULE_QUEUE_MAX = 10_000


async def due_imports(db: Connection | asyncpg.Pool) -> list[int]:
    """Connections importing (connected or in error) whose interval has passed since their last run started."""
    return await schedule_store.due_connections(db)


async def schedule_due_imports(
    pool: asyncpg.Pool, batch: int = SCHEDULE_BATCH, queue_max: int = SCHEDULE_QUEUE_MAX
) -> int:
    """Queue an import for the connections that are due, most overdue first; return how many were queued.

    One read of the most overdue (as many as ``queue_max`` less the runs queued already), then a
    batch at a time. Several processes tick at once: a batch's rows are locked (rows another tick
    holds are skipped) and queued only if still due, so each connection is queued once per interval.
    """
    queued = 0
    room = queue_max - await schedule_store.queued_runs(pool)
    due = await schedule_store.most_overdue(pool, room) if room > 0 else []
    for start in range(0, len(due), batch):
        async with pool.acquire() as db, db.transaction():
            chosen = await schedule_store.lock_due(db, due[start : start + batch])
            runs = await schedule_store.queue_runs(db, chosen, "schedule") if chosen else []
            if runs:
                # No dedupe key, as for enqueue_import: the row locks keep one run per connection.
                await queries(db).enqueue(
                    [IMPORT] * len(runs),
                    [
                        json.dumps({"connection_id": connection_id, "run_id": run_id, "trigger": "schedule"}).encode()
                        for run_id, connection_id in runs
                    ],
                    [IMPORT_PRIORITY] * len(runs),
                )
        queued += len(runs)
    return queued
