"""Background jobs on pgqueuer, in the hub's own PostgreSQL.

Three entrypoints: ``import`` (one connection's import run), ``push`` (one label's tracking
codes) and ``retention`` (delete personal data of orders closed long enough). A job is enqueued in
the same transaction as the data that causes it, so nothing is lost between the two; dedupe keys
keep one queued job per connection or label. Workers in several processes share the queue (pgqueuer
dequeues with SKIP LOCKED and re-picks the jobs of a worker whose heartbeat stopped). pgqueuer's
LISTEN/NOTIFY wakes a worker the moment a job is enqueued, so a push starts without polling delay.

Failures: a ``TransientError`` asks pgqueuer for a retry after exponential backoff (or the shop's
``retry_after``); after ``jobs.push_max_attempts`` the label's pending parcels become ``failed``
with the last message, and the merchant can retry them. ``ConnectorAuthFailed`` pauses the work:
the connection is in auth_required and its pushes and imports are enqueued again on reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from pgqueuer import Job, QueueManager
from pgqueuer.errors import RetryRequested

from core.errors import Conflict, ConnectorAuthFailed, HubError, NotFound, TransientError
from core.imports import ImportRunning, run_import
from core.labels import push_label
from core.models import PushState
from core.runtime import Runtime
from core.queue import IMPORT, PUSH, RETENTION, enqueue_retention, queries, schedule_due_imports
from core.storage import labels as label_store

log = logging.getLogger(__name__)

#: How often the retention job runs.
RETENTION_EVERY = timedelta(hours=1)


def backoff(rt: Runtime, attempts: int, retry_after: float | None = None) -> timedelta:
    """The delay before the next attempt: the shop's ``retry_after`` or exponential, capped."""
    jobs = rt.settings.jobs
    seconds = min(jobs.retry_base_seconds * 2**attempts, jobs.retry_max_seconds)
    return timedelta(seconds=max(seconds, retry_after or 0))


async def run_push_job(rt: Runtime, job: Job) -> None:
    """Push one label; retry transient failures, give up visibly after the last attempt."""
    label_id = json.loads(job.payload or b"{}")["label_id"]
    try:
        await push_label(rt, label_id)
    except NotFound:
        log.warning("push job %s: label %s is gone", job.id, label_id)
    except Conflict as err:
        raise RetryRequested(delay=backoff(rt, 0), reason=str(err)) from err
    except ConnectorAuthFailed as err:
        log.info("push of label %s waits for a reconnect: %s", label_id, err)
    except TransientError as err:
        if job.attempts + 1 >= rt.settings.jobs.push_max_attempts:
            await _give_up(rt, label_id, f"gave up after {job.attempts + 1} attempts: {err}")
            return
        raise RetryRequested(delay=backoff(rt, job.attempts, err.retry_after), reason=str(err)) from err
    except HubError as err:
        # Not transient (a configuration or connector fault): visible on the parcels, retryable.
        await _give_up(rt, label_id, str(err))


async def _give_up(rt: Runtime, label_id: int, message: str) -> None:
    label = await label_store.get_label(rt.db.pool, label_id)
    for parcel in label.parcels_in(PushState.PENDING):
        await label_store.record_outcome(rt.db.pool, label_id, parcel.reference, PushState.FAILED, message)
    log.warning("push of label %s failed for good: %s", label_id, message)


async def run_import_job(rt: Runtime, job: Job) -> None:
    """Run one queued import; retry transient failures with backoff."""
    payload = json.loads(job.payload or b"{}")
    connection_id, run_id = payload["connection_id"], payload.get("run_id")
    try:
        await run_import(rt, connection_id, trigger=payload.get("trigger", "job"), run_id=run_id)
    except ConnectorAuthFailed:
        return  # the run is recorded as failed and the connection waits for a reconnect
    except ImportRunning as err:
        raise RetryRequested(delay=backoff(rt, 0), reason=str(err)) from err
    except Conflict as err:
        await _close_queued_run(rt, run_id, str(err))
    except TransientError as err:
        if job.attempts + 1 >= rt.settings.jobs.import_max_attempts:
            return  # the run shows the error; the next scheduled import starts afresh
        # The same run id runs again: start_run sets it back to running.
        raise RetryRequested(delay=backoff(rt, job.attempts, err.retry_after), reason=str(err)) from err
    except HubError as err:
        await _close_queued_run(rt, run_id, str(err))


async def _close_queued_run(rt: Runtime, run_id: int | None, reason: str) -> None:
    if run_id is not None:
        await rt.db.pool.execute(
            "update import_runs set state = 'failed', error = $2, finished_at = now() where id = $1 and state = 'queued'",
            run_id,
            reason,
        )


def build_queue(rt: Runtime, db: asyncpg.Connection) -> QueueManager:
    """A pgqueuer QueueManager on a dedicated connection, with the hub's entrypoints."""
    manager = QueueManager(queries(db))

    @manager.entrypoint(PUSH)
    async def push(job: Job) -> None:
        await run_push_job(rt, job)

    @manager.entrypoint(IMPORT)
    async def import_(job: Job) -> None:
        await run_import_job(rt, job)

    @manager.entrypoint(RETENTION, concurrency_limit=1)
    async def retention(job: Job) -> None:
        await delete_expired_personal_data(rt)

    return manager


@asynccontextmanager
async def running_workers(rt: Runtime) -> AsyncIterator[QueueManager]:
    """Run the queue workers and the scheduler until the block ends, then drain what runs."""
    db = await asyncpg.connect(rt.db.url)
    manager = build_queue(rt, db)
    jobs = rt.settings.jobs
    worker = asyncio.create_task(
        manager.run(
            dequeue_timeout=timedelta(seconds=jobs.tick_seconds),
            batch_size=max(1, jobs.concurrency // 2),
            max_concurrent_tasks=max(2, jobs.concurrency),
            heartbeat_timeout=timedelta(seconds=jobs.heartbeat_seconds),
        ),
        name="hub-queue",
    )
    worker.add_done_callback(_report_stop)
    ticker = asyncio.create_task(_tick(rt), name="hub-scheduler")
    try:
        yield manager
    finally:
        ticker.cancel()
        manager.shutdown.set()
        await asyncio.gather(ticker, worker, return_exceptions=True)
        await db.close()


def _report_stop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("the job worker stopped: %r; restart the process", task.exception())


async def _tick(rt: Runtime) -> None:
    """Queue due imports and the retention job, every ``tick_seconds``."""
    while True:
        try:
            await schedule_due_imports(rt.db.pool)
            async with rt.db.pool.acquire() as db:
                await enqueue_retention(db, RETENTION_EVERY)
        except (OSError, asyncpg.PostgresError, HubError) as err:
            log.warning("scheduler tick failed, trying again: %s", err)
        await asyncio.sleep(rt.settings.jobs.tick_seconds)
