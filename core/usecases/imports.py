"""Importing orders: starting one (the merchant's "Start import"), and running it: pages from the
connector, each stored with its cursor in one transaction.

``start_import`` is the one place that decides whether an import starts: the API and the pages
call it. A crash loses at most the page in flight; the next run resumes from the stored cursor and
repeats nothing. Two imports of one connection never run at once (a session advisory lock, which
PostgreSQL releases by itself when a process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from core.contract.errors import Conflict, ConnectorAuthFailed, HubError, InvalidInput
from core.contract.models import Connection, ConnectionState, Cursor
from core.infra import queue
from core.infra.metrics import IMPORTS, ORDERS
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import imports as store
from core.storage.database import DATABASE_FAULTS
from core.storage.imports import ImportRun
from core.storage.orders import PageCounts, PreparedPage, prepare_page, write_page
from core.usecases.connections import IMPORT, shop_answered
from core.usecases.lifecycle import ACTIONS

log = logging.getLogger(__name__)

Progress = Callable[[PageCounts, int], None]


class ImportRunning(Conflict):
    """An import of this connection is running in another worker."""


class ImportRefused(InvalidInput):
    """The connection cannot import in its state (disabled, or not connected); nothing was queued.

    ``state`` is the connection's state, for a page that says what to do in its own words.
    """

    def __init__(self, connection_id: int, state: ConnectionState) -> None:
        action = ACTIONS[state] or "connect the shop again with a new connection."
        super().__init__(f"Connection {connection_id} is {state.value}, so it cannot import: {action}")
        self.state = state


@dataclass(frozen=True)
class StartedImport:
    """What the caller of ``start_import`` is told: the run to follow, and whether it was there already."""

    run: ImportRun
    #: The connection's import was queued or running already: this is that one, not a new run.
    joined: bool


async def start_import(rt: Runtime, account_id: int | None, connection_id: int, trigger: str = "manual") -> StartedImport:
    """Start an import of a connection ("Start import"): queue a run for a job, or join the one queued or running.

    The one decision for the API and the pages. With ``account_id``, only that account's
    connection (else ``NotFound``). A connection that is not working (disabled, disconnected,
    waiting for a reconnect) raises ``ImportRefused`` and queues nothing. The state is read under
    the connection row's lock, in the transaction that queues the run: a disable committing
    meanwhile is either seen here or waits for the run to be queued (and the run then stops at its
    first page), and two starts at once queue one run.
    """
    async with rt.db.pool.acquire() as db, db.transaction():
        await connection_store.get_connection(db, connection_id, account_id)  # another account's: NotFound
        await connection_store.lock_row(db, connection_id)
        state = await connection_store.share_state(db, connection_id)
        if not state.working:
            raise ImportRefused(connection_id, state)
        joined = await store.open_run(db, connection_id) is not None
        run_id = await queue.enqueue_import(db, connection_id, trigger)
        run = await store.get_run(db, run_id)
    return StartedImport(run, joined)


async def run_import(
    rt: Runtime,
    connection_id: int,
    *,
    account_id: int | None = None,
    trigger: str = "manual",
    progress: Progress | None = None,
    run_id: int | None = None,
) -> ImportRun:
    """Import a connection's new and changed orders; return the finished run.

    ``progress`` is called after every stored page with the running totals and the page count.
    ``run_id`` is a run queued beforehand (by the API, for a job); without it a run is created.
    Raises ``Conflict`` when an import of this connection is running, and the connector's error
    (after recording it on the run) when the shop fails.
    """
    connection = await connection_store.get_connection(rt.db.pool, connection_id, account_id)
    if not connection.state.working:
        action = (
            f"enable it with `hub connections enable {connection_id}`."
            if connection.state is ConnectionState.DISABLED
            else f"reconnect it with `hub connections reconnect {connection_id}`."
        )
        raise Conflict(f"Connection {connection_id} is {connection.state.value}, not connected: {action}")
    # The lock and every write share one connection: if the connection dies, the lock goes with
    # it and so do the writes, so no second worker can import alongside a run that lost its lock.
    async with rt.db.pool.acquire() as db:
        released = False
        try:
            if not await store.try_import_lock(db, connection_id):
                released = True
                raise ImportRunning(
                    f"An import of connection {connection_id} is running already; wait for it to finish."
                )
            try:
                return await _run(rt, db, connection, trigger, progress, run_id)
            finally:
                if not db.is_closed():
                    await store.release_import_lock(db, connection_id)
                released = True
        finally:
            if not released:
                # The pool keeps sessions as they are: a lock that may still be held goes with its connection.
                db.terminate()


async def _run(
    rt: Runtime,
    db: asyncpg.Connection,
    connection: Connection,
    trigger: str,
    progress: Progress | None,
    run_id: int | None,
) -> ImportRun:
    connection_id = connection.id
    # Before the run starts: a connector that is gone or credentials that cannot be read must not
    # leave a run marked running.
    context = await rt.context(connection, db=db)
    run_id = await store.start_run(db, connection_id, trigger, run_id)
    totals, pages = PageCounts(), 0

    async def write(prepared: PreparedPage, cursor: Cursor) -> PageCounts:
        async with db.transaction():
            # Under the row's share lock: a merchant who disabled (or disconnected) the
            # connection meanwhile gets no more pages written.
            state = await connection_store.share_state(db, connection_id)
            if not state.working:
                raise Conflict(f"Connection {connection_id} became {state.value} during the import; it stopped.")
            counts = await write_page(db, connection_id, prepared)
            await store.set_cursor(db, connection_id, cursor)
            await store.add_page(db, run_id, counts)
        return counts

    def written(counts: PageCounts) -> None:
        nonlocal pages
        totals.add(counts)
        pages += 1
        _count_orders(connection.connector, counts)
        if progress:
            progress(totals, pages)

    # One page is written while the next is fetched and prepared (mapped, encrypted, its documents
    # built): the hub's work and PostgreSQL's overlap. The writes stay one after the other, each
    # page with its cursor in one transaction.
    writing: asyncio.Future[PageCounts] | None = None
    try:
        try:
            async for page in rt.runner.import_orders(context, await store.get_cursor(db, connection_id)):
                prepared = prepare_page(rt.vault, list(page.orders), list(page.skipped))
                if writing is not None:
                    written(await writing)
                writing = asyncio.ensure_future(write(prepared, page.cursor))
            if writing is not None:
                written(await writing)
        except BaseException as err:
            await _settle(writing, keep=isinstance(err, Exception), connector=connection.connector)
            raise
    except ConnectorAuthFailed as err:
        IMPORTS.labels(connection.connector, "auth_required").inc()
        log.warning("connection %s: import %s needs a reconnect: %s", connection_id, run_id, err)
        await store.finish_run(rt.db.pool, run_id, "failed", str(err))
        await shop_answered(rt, connection_id, IMPORT, err)
        raise
    except HubError as err:
        IMPORTS.labels(connection.connector, "failed").inc()
        log.warning("connection %s: import %s failed: %s", connection_id, run_id, err)
        await store.finish_run(rt.db.pool, run_id, "failed", str(err))
        raise
    except BaseException:
        IMPORTS.labels(connection.connector, "interrupted").inc()
        # Cancelled or crashed: the stored pages stand; the run shows it did not finish. The pool,
        # not the run's connection: that one may be what broke.
        await store.finish_run(rt.db.pool, run_id, "interrupted", "the import was interrupted")
        raise
    run = await store.finish_run(db, run_id, "succeeded")
    IMPORTS.labels(connection.connector, "succeeded").inc()
    if connection.state is ConnectionState.ERROR:
        # The run stands whatever happens here: a fault must not make the job run it again.
        with contextlib.suppress(*DATABASE_FAULTS):
            await shop_answered(rt, connection_id, IMPORT)
    log.info(
        "connection %s: import %s done: %s new, %s updated, %s unchanged, %s skipped",
        connection_id, run.id, run.new, run.updated, run.unchanged, run.skipped_total,
    )
    return run


async def _settle(writing: asyncio.Future[PageCounts] | None, *, keep: bool, connector: str) -> None:
    """The page write still in flight when a run stops: kept when the shop failed (it is a whole
    page, as before the failure), given up when the run is cancelled or crashes (as a process that
    dies loses the page in flight). Either way the connection is free for what comes next."""
    if writing is None or writing.done():
        return
    if not keep:
        writing.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):  # the run's own error is what the caller hears
        _count_orders(connector, await writing)


def _count_orders(connector: str, counts: PageCounts) -> None:
    ORDERS.labels(connector, "new").inc(counts.new)
    ORDERS.labels(connector, "updated").inc(counts.updated)
    ORDERS.labels(connector, "unchanged").inc(counts.unchanged)
    ORDERS.labels(connector, "skipped").inc(sum(counts.skipped.values()))
