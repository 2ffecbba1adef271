"""The push job a label's insert writes itself is the job pgqueuer's own enqueue writes.

``core.storage.jobqueue.PUSH_JOB`` inserts into pgqueuer's tables to save a round trip per label;
a pgqueuer release that changes what a queued job looks like (a new column, another status, a
log row it no longer writes) must fail here, not strand labels without a push.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from core.storage.jobqueue import PUSH_JOB, queries

#: Columns that differ between any two jobs.
VOLATILE = {"id", "job_id", "created", "updated", "execute_after", "heartbeat", "payload"}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


def steady(row: asyncpg.Record) -> dict[str, Any]:
    return {key: value for key, value in dict(row).items() if key not in VOLATILE}


async def test_the_labels_push_job_is_the_job_pgqueuer_enqueues(db: asyncpg.Connection) -> None:
    [by_pgqueuer] = await queries(db).enqueue("push", b'{"label_id": 7}')
    await db.execute(f"with label as (select 8::bigint as id), {PUSH_JOB} select 1")
    jobs = await db.fetch("select * from pgqueuer order by id")
    assert [job["id"] for job in jobs][0] == by_pgqueuer
    assert len(jobs) == 2
    assert steady(jobs[1]) == steady(jobs[0])
    assert [bytes(job["payload"]) for job in jobs] == [b'{"label_id": 7}', b'{"label_id": 8}']
    logs = await db.fetch("select * from pgqueuer_log order by id")
    assert [log["job_id"] for log in logs] == [job["id"] for job in jobs]
    assert steady(logs[1]) == steady(logs[0])
