"""The scheduler: a connection is due once per interval, however many processes tick at once."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from core.contract.models import Connection
from core.infra.queue import due_imports, enqueue_import, enqueue_push, schedule_due_imports
from core.infra.runtime import Runtime
from core.usecases import connections
from core.usecases.imports import run_import
from tests.contract.fake.shop import FakeShop
from tests.core.conftest import connect


async def queued_runs(rt: Runtime, connection_id: int) -> int:
    return await rt.db.pool.fetchval(
        "select count(*) from import_runs where connection_id = $1 and state = 'queued'", connection_id
    )


async def test_a_connected_connection_without_runs_is_due_once(fake_runtime: Runtime, connection: Connection) -> None:
    assert await due_imports(fake_runtime.db.pool) == [connection.id]
    assert await schedule_due_imports(fake_runtime.db.pool) == 1
    assert await schedule_due_imports(fake_runtime.db.pool) == 0
    assert await queued_runs(fake_runtime, connection.id) == 1


async def test_processes_ticking_at_once_queue_one_import(fake_runtime: Runtime, connection: Connection, settings) -> None:  # noqa: ANN001
    url = settings.database.url.get_secret_value()
    pools = [await asyncpg.create_pool(url, min_size=1, max_size=2) for _ in range(3)]
    try:
        counts = await asyncio.gather(*(schedule_due_imports(pool) for pool in pools))
    finally:
        for pool in pools:
            await pool.close()
    assert sorted(counts) == [0, 0, 1]
    assert await queued_runs(fake_runtime, connection.id) == 1


async def test_a_run_finished_meanwhile_makes_the_connection_not_due(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.add_order()
    seen_due = await due_imports(fake_runtime.db.pool)
    # Another process queued and finished the import after this tick read the due list.
    await run_import(fake_runtime, connection.id)

    async def stale(_db: object, _limit: int) -> list[int]:
        return seen_due

    monkeypatch.setattr("core.storage.schedule.most_overdue", stale)
    assert await schedule_due_imports(fake_runtime.db.pool) == 0
    assert await queued_runs(fake_runtime, connection.id) == 0


async def test_due_connections_are_queued_a_batch_at_a_time_each_with_its_job(
    fake_runtime: Runtime, shop: FakeShop
) -> None:
    connected = [await connect(fake_runtime, shop, f"Shop {n} BV") for n in range(5)]
    assert await schedule_due_imports(fake_runtime.db.pool, batch=2) == 5
    assert await schedule_due_imports(fake_runtime.db.pool, batch=2) == 0
    for connection in connected:
        assert await queued_runs(fake_runtime, connection.id) == 1
    jobs = await fake_runtime.db.pool.fetch("select payload from pgqueuer where entrypoint = 'import'")
    payloads = sorted((p["connection_id"], p["run_id"]) for p in (json.loads(job["payload"]) for job in jobs))
    runs = await fake_runtime.db.pool.fetch(
        "select connection_id, id from import_runs where state = 'queued' order by connection_id"
    )
    assert payloads == [(run["connection_id"], run["id"]) for run in runs]
    assert [connection_id for connection_id, _ in payloads] == sorted(c.id for c in connected)


async def test_a_disabled_connection_or_one_importing_is_not_queued(fake_runtime: Runtime, shop: FakeShop) -> None:
    disabled, importing, due = [await connect(fake_runtime, shop, f"Shop {n} BV") for n in range(3)]
    await connections.disable(fake_runtime, None, disabled.id)
    async with fake_runtime.db.pool.acquire() as db, db.transaction():
        await enqueue_import(db, importing.id, "manual")
    assert await schedule_due_imports(fake_runtime.db.pool) == 1
    assert await queued_runs(fake_runtime, due.id) == 1
    assert await queued_runs(fake_runtime, disabled.id) == 0


async def test_the_queue_is_filled_up_to_its_limit_most_overdue_first(fake_runtime: Runtime, shop: FakeShop) -> None:
    connected = [await connect(fake_runtime, shop, f"Shop {n} BV") for n in range(4)]
    pool = fake_runtime.db.pool
    # The last connection imported long ago, the first three never: those come first, by id.
    await pool.execute(
        "insert into import_runs (connection_id, trigger, state, started_at, finished_at) "
        "values ($1, 'schedule', 'succeeded', now() - interval '1 day', now() - interval '1 day')",
        connected[3].id,
    )
    assert await schedule_due_imports(pool, batch=1, queue_max=2) == 2
    assert [await queued_runs(fake_runtime, c.id) for c in connected] == [1, 1, 0, 0]
    # The workers took nothing: the queue is full, so the next tick queues nothing.
    assert await schedule_due_imports(pool, batch=1, queue_max=2) == 0
    await pool.execute("update import_runs set state = 'running' where state = 'queued'")
    assert await schedule_due_imports(pool, batch=5, queue_max=2) == 2
    assert [await queued_runs(fake_runtime, c.id) for c in connected] == [0, 0, 1, 1]


async def test_a_longer_interval_makes_a_connection_due_later(fake_runtime: Runtime, connection: Connection) -> None:
    await fake_runtime.db.pool.execute(
        "insert into import_runs (connection_id, trigger, state, started_at, finished_at) "
        "values ($1, 'schedule', 'succeeded', now() - interval '10 minutes', now() - interval '10 minutes')",
        connection.id,
    )
    assert await due_imports(fake_runtime.db.pool) == [connection.id]
    await connections.change_settings(fake_runtime, None, connection.id, {"import_interval_minutes": 60})
    assert await due_imports(fake_runtime.db.pool) == []
    await connections.change_settings(fake_runtime, None, connection.id, {"import_interval_minutes": 5})
    assert await due_imports(fake_runtime.db.pool) == [connection.id]


async def test_imports_are_queued_behind_pushes(fake_runtime: Runtime, shop: FakeShop) -> None:
    scheduled, manual = [await connect(fake_runtime, shop, f"Shop {n} BV") for n in range(2)]
    async with fake_runtime.db.pool.acquire() as db, db.transaction():
        await enqueue_import(db, manual.id, "manual")
        await enqueue_push(db, 1)
    await schedule_due_imports(fake_runtime.db.pool)
    jobs = await fake_runtime.db.pool.fetch("select entrypoint, priority from pgqueuer order by priority desc, id")
    assert [job["entrypoint"] for job in jobs] == ["push", "import", "import"]
    assert jobs[0]["priority"] > jobs[1]["priority"] == jobs[2]["priority"]
