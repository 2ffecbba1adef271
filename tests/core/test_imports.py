"""Imports end to end on PostgreSQL: page and cursor per transaction, resume, nothing twice."""

from __future__ import annotations

import asyncio

import pytest

from core.contract.errors import Conflict, ConnectorAuthFailed, ConnectorNotReady, NotFound
from core.contract.models import Connection, ConnectionState, OrderStatus
from core.infra.runtime import Runtime
from core.storage.connections import get_connection
from core.storage.imports import get_cursor
from core.storage.orders import PageCounts, count_orders, find_order, list_orders
from core.usecases import connections
from core.usecases.imports import ImportRefused, run_import, start_import
from tests.contract.fake.shop import FakeItem, FakeShop
from tests.core.conftest import connect


class Crash(BaseException):
    """Stands for the process dying between two pages."""


def crash_after(pages: int):  # noqa: ANN201
    def progress(_totals: PageCounts, done: int) -> None:
        if done == pages:
            raise Crash

    return progress


async def test_import_stores_every_page_with_its_cursor(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    for _ in range(5):
        shop.add_order()
    seen: list[tuple[int, int]] = []
    run = await run_import(fake_runtime, connection.id, progress=lambda totals, pages: seen.append((totals.new, pages)))
    assert (run.state, run.pages, run.new, run.updated, run.unchanged) == ("succeeded", 3, 5, 0, 0)
    assert seen == [(2, 1), (4, 2), (5, 3)]
    cursor = await get_cursor(fake_runtime.db.pool, connection.id)
    assert cursor.since == shop.now and cursor.page_token is None
    stored = await find_order(fake_runtime.db.pool, fake_runtime.vault, connection.id, "F-0003")
    assert stored.order.recipient and stored.order.recipient.city == "Amsterdam"


async def test_import_resumes_after_crash_without_duplicates(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(5):
        shop.add_order()
    with pytest.raises(Crash):
        await run_import(fake_runtime, connection.id, progress=crash_after(1))
    # The first page and its cursor were committed together; the run shows it did not finish.
    assert await count_orders(fake_runtime.db.pool, connection.id) == 2
    cursor = await get_cursor(fake_runtime.db.pool, connection.id)
    assert cursor.page_token is not None
    calls_before = len(shop.calls)
    run = await run_import(fake_runtime, connection.id)
    assert (run.new, run.updated, run.unchanged) == (3, 0, 0)
    assert await count_orders(fake_runtime.db.pool, connection.id) == 5
    # The resumed run asked only for what came after the stored position.
    assert len(shop.calls) - calls_before == 2
    states = [r["state"] for r in await fake_runtime.db.pool.fetch("select state from import_runs order by id")]
    assert states == ["interrupted", "succeeded"]


async def test_import_after_shop_failure_resumes_where_it_stopped(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(5):
        shop.add_order()
    shop.fail_next("5xx", after=1)
    with pytest.raises(ConnectorNotReady):
        await run_import(fake_runtime, connection.id)
    run = await run_import(fake_runtime, connection.id)
    assert run.new == 3 and await count_orders(fake_runtime.db.pool, connection.id) == 5
    assert (await get_connection(fake_runtime.db.pool, connection.id)).state is ConnectionState.CONNECTED


async def test_reimport_of_unchanged_orders_writes_nothing(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(4):
        shop.add_order()
    await run_import(fake_runtime, connection.id)
    before = await fake_runtime.db.pool.fetch("select id, xmin::text, updated_at from orders order by id")
    items_before = await fake_runtime.db.pool.fetch("select id, xmin::text from order_items order by id")
    # Forget the cursor: the next run sees every order again.
    await fake_runtime.db.pool.execute("delete from cursors")
    run = await run_import(fake_runtime, connection.id)
    assert (run.new, run.updated, run.unchanged) == (0, 0, 4)
    assert await fake_runtime.db.pool.fetch("select id, xmin::text, updated_at from orders order by id") == before
    assert await fake_runtime.db.pool.fetch("select id, xmin::text from order_items order by id") == items_before


async def test_changed_order_updates_and_cancelled_order_is_marked(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    first, second = shop.add_order(), shop.add_order()
    await run_import(fake_runtime, connection.id)
    shop.update_order(first.id, city="Utrecht")
    shop.cancel_order(second.id)
    run = await run_import(fake_runtime, connection.id)
    assert (run.new, run.updated) == (0, 2)
    changed = await find_order(fake_runtime.db.pool, fake_runtime.vault, connection.id, first.id)
    cancelled = await find_order(fake_runtime.db.pool, fake_runtime.vault, connection.id, second.id)
    assert changed.order.recipient.city == "Utrecht"
    assert cancelled.order.status is OrderStatus.CANCELLED
    assert await count_orders(fake_runtime.db.pool, connection.id) == 2


async def test_skipped_and_closed_orders_are_counted_by_reason_and_not_stored(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    shop.add_order()
    shop.add_order(skip_reason="shipped by the shop itself")
    shop.add_order(status="cancelled")
    run = await run_import(fake_runtime, connection.id)
    assert run.new == 1
    assert run.skipped == {"shipped by the shop itself": 1, "cancelled before import": 1}
    assert await count_orders(fake_runtime.db.pool, connection.id) == 1
    reasons = await fake_runtime.db.pool.fetch("select reason from skipped_orders order by external_id")
    assert sorted(r["reason"] for r in reasons) == ["cancelled before import", "shipped by the shop itself"]


async def test_future_cursor_imports_nothing(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    shop.add_order()
    await run_import(fake_runtime, connection.id)
    shop.add_order()
    shop.now = shop.now.replace(year=shop.now.year - 1)  # the shop's clock is behind the cursor
    run = await run_import(fake_runtime, connection.id)
    assert run.new == 0


async def test_refused_credentials_move_the_connection_to_auth_required(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    shop.add_order()
    shop.api_keys.clear()  # the merchant revoked the app in the shop
    with pytest.raises(ConnectorAuthFailed):
        await run_import(fake_runtime, connection.id)
    refreshed = await get_connection(fake_runtime.db.pool, connection.id)
    assert refreshed.state is ConnectionState.AUTH_REQUIRED
    with pytest.raises(Conflict, match="reconnect"):
        await run_import(fake_runtime, connection.id)
    assert await count_orders(fake_runtime.db.pool, connection.id) == 0


async def test_two_imports_of_one_connection_never_run_at_once(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(6):
        shop.add_order()
    started, release = asyncio.Event(), asyncio.Event()

    def hold(_totals: PageCounts, _pages: int) -> None:
        started.set()

    original = shop.search_orders

    async def slow_search(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if started.is_set():
            await release.wait()
        return await original(*args, **kwargs)

    shop.search_orders = slow_search  # type: ignore[method-assign]
    first = asyncio.create_task(run_import(fake_runtime, connection.id, progress=hold))
    await asyncio.wait_for(started.wait(), 10)
    with pytest.raises(Conflict, match="running already"):
        await run_import(fake_runtime, connection.id)
    release.set()
    run = await asyncio.wait_for(first, 10)
    assert run.new == 6


async def test_an_import_cancelled_midway_leaves_no_lock_in_the_pool(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(6):
        shop.add_order()
    started, hanging = asyncio.Event(), asyncio.Event()
    original = shop.search_orders

    async def hang_after_the_first_page(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if started.is_set():
            hanging.set()
            await asyncio.Event().wait()
        started.set()
        return await original(*args, **kwargs)

    shop.search_orders = hang_after_the_first_page  # type: ignore[method-assign]
    first = asyncio.create_task(run_import(fake_runtime, connection.id))
    await asyncio.wait_for(hanging.wait(), 10)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    shop.search_orders = original  # type: ignore[method-assign]
    # Every pooled connection is free of the import's lock: a new import of it runs at once.
    assert (await run_import(fake_runtime, connection.id)).state == "succeeded"
    held = await fake_runtime.db.pool.fetchval("select count(*) from pg_locks where locktype = 'advisory'")
    assert held == 0


async def test_an_import_stops_at_the_next_page_once_the_connection_is_disabled(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    for _ in range(6):
        shop.add_order()
    original, calls = shop.search_orders, []

    async def disabled_after_the_first_page(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 2:
            await connections.disable(fake_runtime, None, connection.id)
        return await original(*args, **kwargs)

    shop.search_orders = disabled_after_the_first_page  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="became disabled during the import"):
        await run_import(fake_runtime, connection.id)
    stored = await fake_runtime.db.pool.fetchval("select count(*) from orders")
    assert 0 < stored < 6, "the first page stands, nothing after the disable is written"
    run = await fake_runtime.db.pool.fetchrow("select state, error from import_runs order by id desc limit 1")
    assert run["state"] == "failed" and "became disabled" in run["error"]


async def test_orders_are_scoped_to_their_account(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    shop.add_order()
    await run_import(fake_runtime, connection.id)
    assert len(await list_orders(fake_runtime.db.pool, fake_runtime.vault, account_id=connection.account_id)) == 1
    assert await list_orders(fake_runtime.db.pool, fake_runtime.vault, account_id=connection.account_id + 1) == []


# Starting an import: the one decision the API and the pages share


async def test_start_import_queues_one_run_and_a_second_start_joins_it(
    fake_runtime: Runtime, connection: Connection
) -> None:
    first = await start_import(fake_runtime, connection.account_id, connection.id)
    assert (first.run.state, first.run.connection_id, first.joined) == ("queued", connection.id, False)
    again = await start_import(fake_runtime, connection.account_id, connection.id)
    assert (again.run.id, again.joined) == (first.run.id, True)
    jobs = await fake_runtime.db.pool.fetchval("select count(*) from pgqueuer where entrypoint = 'import'")
    assert jobs == 1


async def test_start_import_refuses_a_disabled_connection_and_queues_nothing(
    fake_runtime: Runtime, connection: Connection
) -> None:
    await connections.disable(fake_runtime, connection.account_id, connection.id)
    with pytest.raises(ImportRefused, match="Enable the connection again") as refused:
        await start_import(fake_runtime, connection.account_id, connection.id)
    assert refused.value.state is ConnectionState.DISABLED
    assert await fake_runtime.db.pool.fetchval("select count(*) from import_runs") == 0


async def test_start_import_of_another_accounts_connection_is_not_found(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    other = await connect(fake_runtime, shop, account="Other BV")
    with pytest.raises(NotFound):
        await start_import(fake_runtime, other.account_id, connection.id)
    assert await fake_runtime.db.pool.fetchval("select count(*) from import_runs") == 0


# Storing a page: new orders with their items in one statement, changed ones replaced


async def test_items_keep_the_shops_order_and_a_changed_order_gets_its_new_items(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    lines = [FakeItem(id=f"L{n}", sku=f"S{n}", title=f"Product {n}", quantity=n) for n in (3, 1, 2)]
    order = shop.add_order(items=lines)
    shop.add_order()
    await run_import(fake_runtime, connection.id)
    stored = await find_order(fake_runtime.db.pool, fake_runtime.vault, connection.id, order.id)
    assert [(i.external_id, i.quantity_ordered) for i in stored.order.items] == [("L3", 3), ("L1", 1), ("L2", 2)]
    shop.update_order(order.id, items=[FakeItem(id="L9", sku="S9", title="Product 9", quantity=9), lines[1]])
    run = await run_import(fake_runtime, connection.id)
    assert (run.new, run.updated, run.unchanged) == (0, 1, 0)
    stored = await find_order(fake_runtime.db.pool, fake_runtime.vault, connection.id, order.id)
    assert [(i.external_id, i.quantity_ordered) for i in stored.order.items] == [("L9", 9), ("L1", 1)]
    assert await fake_runtime.db.pool.fetchval("select count(*) from order_items") == 3
