"""pgqueuer's tables in the hub's PostgreSQL: the queries over one connection, installing them, the queue's depth."""

from __future__ import annotations

import asyncpg
from pgqueuer import AsyncpgDriver, Queries

#: A CTE that queues the push job of the label in a CTE named ``label``, for a statement that
#: inserts the label (``core.storage.labels.insert_label``): one round trip instead of two. It is
#: what pgqueuer's enqueue writes (the job row, queued now with priority 0, no dedupe key and JSON
#: null headers, and its "queued" log row); pgqueuer's trigger on the table sends the notice that
#: wakes a worker. The payload is the one ``core.infra.queue.enqueue_push`` sends;
#: tests/core/storage/test_jobqueue.py holds both writes side by side.
PUSH_JOB = """
    push_job as (
        insert into pgqueuer (priority, entrypoint, payload, status, headers)
        select 0, 'push', convert_to('{"label_id": ' || label.id || '}', 'UTF8'), 'queued', 'null'::jsonb from label
        returning id, entrypoint, priority
    ), push_job_logged as (
        insert into pgqueuer_log (job_id, status, entrypoint, priority)
        select id, 'queued', entrypoint, priority from push_job
    )
"""


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
