"""Retention thins the import run history: empty scheduled runs soon, the rest after days, never a connection's latest."""

from __future__ import annotations

from core.contract.models import Connection
from core.infra.runtime import Runtime
from core.storage.schedule import prune_runs
from core.usecases.retention import delete_expired_personal_data


async def add_run(rt: Runtime, connection: Connection, trigger: str, state: str, new: int, hours_ago: float) -> int:
    return await rt.db.pool.fetchval(
        """
        insert into import_runs (connection_id, trigger, state, new, started_at, finished_at)
        values ($1, $2, $3, $4, now() - make_interval(secs => $5), now() - make_interval(secs => $5))
        returning id
        """,
        connection.id, trigger, state, new, hours_ago * 3600,
    )


async def runs(rt: Runtime, connection: Connection) -> list[int]:
    rows = await rt.db.pool.fetch("select id from import_runs where connection_id = $1 order by id", connection.id)
    return [row["id"] for row in rows]


async def test_empty_scheduled_runs_go_after_hours_the_rest_after_days_the_latest_never(
    fake_runtime: Runtime, connection: Connection
) -> None:
    await add_run(fake_runtime, connection, "schedule", "succeeded", 0, hours_ago=3)
    old_work = await add_run(fake_runtime, connection, "schedule", "succeeded", 4, hours_ago=3)
    old_manual = await add_run(fake_runtime, connection, "manual", "succeeded", 0, hours_ago=3)
    old_failed = await add_run(fake_runtime, connection, "schedule", "failed", 0, hours_ago=3)
    await add_run(fake_runtime, connection, "manual", "succeeded", 9, hours_ago=24 * 40)
    fresh_empty = await add_run(fake_runtime, connection, "schedule", "succeeded", 0, hours_ago=0.1)
    latest_old_empty = await add_run(fake_runtime, connection, "schedule", "succeeded", 0, hours_ago=5)

    assert await prune_runs(fake_runtime.db.pool, quiet_hours=1, keep_days=30, batch=1) == 2
    assert await runs(fake_runtime, connection) == [old_work, old_manual, old_failed, fresh_empty, latest_old_empty]
    assert await prune_runs(fake_runtime.db.pool, quiet_hours=1, keep_days=30) == 0


async def test_the_retention_job_thins_the_history(fake_runtime: Runtime, connection: Connection) -> None:
    empty = await add_run(fake_runtime, connection, "schedule", "succeeded", 0, hours_ago=2)
    latest = await add_run(fake_runtime, connection, "schedule", "succeeded", 0, hours_ago=1.5)
    await delete_expired_personal_data(fake_runtime)
    assert empty not in await runs(fake_runtime, connection)
    assert await runs(fake_runtime, connection) == [latest]
