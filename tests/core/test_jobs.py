"""The job workers in one process: no job lost to a small pool or a database fault, metrics kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import REGISTRY

from core.contract.errors import TransientError
from core.infra.plugins import load_connector
from core.infra.queue import due_imports, enqueue_import
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.usecases import connections
from core.usecases import jobs as jobs_module
from core.usecases.imports import run_import
from core.usecases.jobs import import_slots, job_slots, running_workers
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop
from tests.core.conftest import connect
from tests.waiting import eventually

LABELS = 12


@pytest.fixture
async def small_pool_runtime(settings: HubSettings, shop: FakeShop) -> AsyncIterator[Runtime]:
    """The fake connector on the smallest pool that runs jobs, with the default job concurrency."""
    small = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"pool_max": 3}),
            "jobs": settings.jobs.model_copy(update={"retry_base_seconds": 0.05}),
        }
    )
    async with open_runtime(small, connectors=[load_connector(FAKE, small)]) as rt:
        yield rt


async def labelled_orders(rt: Runtime, shop: FakeShop) -> None:
    """A connected shop with tracking updates on, and a label with its push job for each order."""
    connection = await connect(rt, shop)
    await connections.change_settings(rt, None, connection.id, {"update_tracking": True})
    for _ in range(LABELS):
        shop.add_order()
    await run_import(rt, connection.id)
    for order_id in [row["id"] for row in await rt.db.pool.fetch("select id from orders order by id")]:
        await create_label(rt, order_id, NewLabel(external_id=f"L{order_id}", parcels=[NewParcel(tracking_number=f"T{order_id}")]))


def pushes_started() -> float:
    return REGISTRY.get_sample_value("hub_job_latency_seconds_count", {"entrypoint": "push"}) or 0.0


@pytest.fixture
async def watch(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own: a stuck pool must not stop the test from seeing it."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def confirmed(watch: asyncpg.Connection) -> bool:
    return await watch.fetchval("select count(*) from parcels where push_state = 'confirmed'") == LABELS


def test_imports_leave_connections_for_an_import_to_finish_and_pushes_are_not_bound_by_the_pool(
    settings: HubSettings,
) -> None:
    def slots(pool_max: int, concurrency: int) -> tuple[int, int]:
        changed = settings.model_copy(update={
            "database": settings.database.model_copy(update={"pool_max": pool_max}),
            "jobs": settings.jobs.model_copy(update={"concurrency": concurrency}),
        })
        return job_slots(changed), import_slots(changed)

    assert (slots(10, 20), slots(30, 20), slots(3, 20), slots(10, 1)) == ((20, 8), (20, 20), (20, 1), (2, 1))


async def test_workers_on_a_small_pool_finish_every_push(
    small_pool_runtime: Runtime, shop: FakeShop, watch: asyncpg.Connection
) -> None:
    await labelled_orders(small_pool_runtime, shop)
    started_before = pushes_started()

    async with running_workers(small_pool_runtime):
        await eventually(lambda: confirmed(watch))

    assert len(shop.confirmations) == LABELS
    assert pushes_started() - started_before >= LABELS


async def test_pushes_hold_no_database_connection_while_the_shop_answers(
    small_pool_runtime: Runtime, shop: FakeShop, watch: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await labelled_orders(small_pool_runtime, shop)
    # Every push waits inside the shop until all of them are there: 12 pushes at once on a pool of 3.
    all_inside = asyncio.Barrier(LABELS)
    confirm = shop.confirm_shipment

    async def confirm_together(*args: object, **kwargs: object) -> None:
        await asyncio.wait_for(all_inside.wait(), 20)
        await confirm(*args, **kwargs)

    monkeypatch.setattr(shop, "confirm_shipment", confirm_together)
    async with running_workers(small_pool_runtime):
        await eventually(lambda: confirmed(watch))

    assert len(shop.confirmations) == LABELS


#: What a push meets while PostgreSQL stops: a session ended under a statement, and (asyncpg issue
#: 1069) the next use of a pooled connection whose session ended in the middle of an operation.
OUTAGE = [
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
]


@pytest.mark.parametrize("fault", OUTAGE, ids=lambda fault: type(fault).__name__)
async def test_a_push_that_meets_a_database_fault_runs_again_told_in_one_line(
    small_pool_runtime: Runtime,
    shop: FakeShop,
    watch: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: Exception,
) -> None:
    await labelled_orders(small_pool_runtime, shop)
    push_label = jobs_module.push_label
    failed: list[int] = []

    async def flaky(rt: Runtime, label_id: int) -> object:
        if len(failed) < 3:
            failed.append(label_id)
            raise fault
        return await push_label(rt, label_id)

    monkeypatch.setattr(jobs_module, "push_label", flaky)
    async with running_workers(small_pool_runtime):
        await eventually(lambda: confirmed(watch))

    assert len(failed) == 3 and len(shop.confirmations) == LABELS
    assert [r.getMessage() for r in caplog.records if r.exc_info] == [], "an outage is no bug: no traceback"
    assert caplog.text.count("it will run again") == 3


async def test_the_scheduler_ticks_on_after_a_database_fault(
    settings: HubSettings, shop: FakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"tick_seconds": 0.05})})
    schedule = jobs_module.schedule_due_imports
    ticks: list[int] = []

    async def flaky(pool: asyncpg.Pool) -> object:
        ticks.append(len(ticks))
        if len(ticks) <= len(OUTAGE):
            raise OUTAGE[len(ticks) - 1]
        return await schedule(pool)

    monkeypatch.setattr(jobs_module, "schedule_due_imports", flaky)
    async with open_runtime(fast, connectors=[load_connector(FAKE, fast)]) as rt, running_workers(rt):
        await eventually(lambda: _true(len(ticks) > len(OUTAGE) + 1))


async def test_the_worker_starts_again_on_a_new_connection_when_the_database_drops_its_sessions(
    settings: HubSettings, shop: FakeShop, watch: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    fast = settings.model_copy(
        update={"jobs": settings.jobs.model_copy(update={"tick_seconds": 0.5, "retry_base_seconds": 0.05})}
    )
    async with open_runtime(fast, connectors=[load_connector(FAKE, fast)]) as rt:
        connection = await connect(rt, shop)
        await connections.change_settings(rt, None, connection.id, {"update_tracking": True})
        for _ in range(LABELS):
            shop.add_order()
        await run_import(rt, connection.id)
        order_ids = [row["id"] for row in await rt.db.pool.fetch("select id from orders order by id")]

        async def label(order_id: int) -> None:
            new = NewLabel(external_id=f"L{order_id}", parcels=[NewParcel(tracking_number=f"T{order_id}")])
            await create_label(rt, order_id, new)

        async with running_workers(rt):
            await label(order_ids[0])
            await eventually(lambda: _confirmed_count(watch, 1))
            # What a PostgreSQL restart does to every session, the worker's LISTEN connection included.
            dropped = await watch.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            )
            assert dropped >= 2
            await eventually(lambda: _true("starting it again" in caplog.text))
            for order_id in order_ids[1:]:
                await label(order_id)
            await eventually(lambda: confirmed(watch))

    assert len(shop.confirmations) == LABELS


async def _confirmed_count(watch: asyncpg.Connection, expected: int) -> bool:
    return await watch.fetchval("select count(*) from parcels where push_state = 'confirmed'") == expected


async def _true(value: object) -> bool:
    return bool(value)


async def test_a_connection_whose_imports_keep_failing_is_in_error_until_one_succeeds(
    settings: HubSettings, shop: FakeShop, watch: asyncpg.Connection
) -> None:
    impatient = settings.model_copy(
        update={"jobs": settings.jobs.model_copy(update={"import_max_attempts": 2, "retry_base_seconds": 0.05})}
    )
    async with open_runtime(impatient, connectors=[load_connector(FAKE, impatient)]) as rt:
        connection = await connect(rt, shop)
        await connections.change_settings(rt, None, connection.id, {"update_tracking": True})
        shop.add_order()
        shop.fail_next("5xx", 2)
        async with running_workers(rt):
            async with rt.db.pool.acquire() as db, db.transaction():
                await enqueue_import(db, connection.id, "schedule")
            await eventually(lambda: _state_is(watch, connection.id, "error"))
        reason = await watch.fetchval("select reason from connections where id = $1", connection.id)
        assert reason.startswith("imports failed 2 times in a row:"), reason
        # In error the hub keeps importing on schedule, and pushing.
        await watch.execute("update import_runs set started_at = now() - interval '1 hour'")
        assert await due_imports(rt.db.pool) == [connection.id]
        await run_import(rt, connection.id)
        assert await _state_is(watch, connection.id, "connected")
        events = await watch.fetch(
            "select from_state, to_state from connection_events where connection_id = $1 order by id", connection.id
        )
        assert [tuple(e) for e in events][-2:] == [("connected", "error"), ("error", "connected")]


async def test_a_label_of_a_connection_in_error_is_pushed(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    await connections.change_settings(fake_runtime, None, connection.id, {"update_tracking": True})
    shop.add_order()
    await run_import(fake_runtime, connection.id)
    await connections.shop_answered(fake_runtime, connection.id, connections.IMPORT, TransientError("503"), in_a_row=5)
    order_id = await fake_runtime.db.pool.fetchval("select id from orders")
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T1")]))
    pushed = await push_label(fake_runtime, label.id)
    assert [p.push_state.value for p in pushed.parcels] == ["confirmed"]


async def _state_is(watch: asyncpg.Connection, connection_id: int, state: str) -> bool:
    return await watch.fetchval("select state from connections where id = $1", connection_id) == state


async def test_a_concurrency_of_one_runs_one_job_at_a_time(
    settings: HubSettings, shop: FakeShop, watch: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"concurrency": 1})})
    async with open_runtime(one, connectors=[load_connector(FAKE, one)]) as rt:
        await labelled_orders(rt, shop)
        push_label = jobs_module.push_label
        running, most = 0, 0

        async def counted(rt: Runtime, label_id: int) -> object:
            nonlocal running, most
            running += 1
            most = max(most, running)
            try:
                await asyncio.sleep(0.02)
                return await push_label(rt, label_id)
            finally:
                running -= 1

        monkeypatch.setattr(jobs_module, "push_label", counted)
        async with running_workers(rt):
            await eventually(lambda: confirmed(watch))
    assert most == 1
