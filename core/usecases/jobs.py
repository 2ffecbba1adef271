"""Background jobs on pgqueuer, in the hub's own PostgreSQL.

Four entrypoints: ``import`` (one connection's import run), ``push`` (one label's tracking
codes), ``settle`` (ask a shop how a connection's accepted parcels settled) and ``retention``
(delete personal data of orders closed long enough, thin the import history). A job is enqueued
in the same transaction as the data that causes it, so nothing is lost between the two. Pushes and
imports carry no dedupe key (a label's lease and a connection's row lock and import lock keep them
single); ``settle`` and ``retention`` have one, so at most one of each is queued or running per
connection, or in all. Workers in several processes share the queue (pgqueuer
dequeues with SKIP LOCKED and re-picks the jobs of a worker whose heartbeat stopped). pgqueuer's
LISTEN/NOTIFY wakes a worker the moment a job is enqueued, so a push starts without polling delay.

Failures: a ``TransientError`` asks pgqueuer for a retry after exponential backoff (or the shop's
``retry_after``); after ``jobs.push_max_attempts`` the label's pending parcels become ``failed``
with the last message, and the merchant can retry them. ``ConnectorAuthFailed`` pauses the work:
the connection is in auth_required and its pushes and imports are enqueued again on reconnect.
What a shop's answer does to the connection is ``core.usecases.connections.shop_answered``. A
database or network fault outside the connector is retried the same way, never dropped.
If the worker's own connection is lost (PostgreSQL restarted), ``QueueWorker`` starts the worker
again on a new one, with backoff, without a restart of the process.

Shutdown (``running_workers``): the workers take no new job; running jobs get
``jobs.shutdown_seconds`` to finish, and those still running then are interrupted and queued again
at once. A process that dies instead leaves its jobs picked; any worker takes them again once their
heartbeat is ``jobs.heartbeat_seconds`` old. Either way a job runs again rather than never.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from pgqueuer import Job, QueueManager
from pgqueuer.errors import RetryRequested

from core.contract.errors import ConfigError, Conflict, ConnectorAuthFailed, HubError, NotFound, TransientError
from core.contract.models import PushState
from core.infra.metrics import JOB_DURATION, JOB_LATENCY, PUSHES
from core.infra.queue import (
    IMPORT,
    PUSH,
    RETENTION,
    SETTLE,
    enqueue_retention,
    schedule_due_imports,
    schedule_due_settles,
)
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.storage import imports as import_store
from core.storage import labels as label_store
from core.storage.database import DATABASE_FAULTS
from core.storage.jobqueue import queries
from core.usecases.connections import shop_answered
from core.usecases.imports import ImportRunning, run_import
from core.usecases.labels import PushRunning, push_label, settle_parcels
from core.usecases.retention import delete_expired_personal_data

log = logging.getLogger(__name__)

#: How often the retention job runs.
RETENTION_EVERY = timedelta(hours=1)

#: The longest wait before a lost queue worker starts again, seconds.
RECONNECT_MAX_SECONDS = 30.0


def backoff(rt: Runtime, attempts: int, retry_after: float | None = None) -> timedelta:
    """The delay before the next attempt: the shop's ``retry_after`` or exponential, capped."""
    jobs = rt.settings.jobs
    seconds = min(jobs.retry_base_seconds * 2**attempts, jobs.retry_max_seconds)
    return timedelta(seconds=max(seconds, retry_after or 0))


async def retry_or_give_up(rt: Runtime, job: Job, err: TransientError, max_attempts: int) -> None:
    """Ask pgqueuer to run the job again after a backoff; return only when this was its last attempt."""
    if job.attempts + 1 < max_attempts:
        raise RetryRequested(delay=backoff(rt, job.attempts, err.retry_after), reason=str(err)) from err


async def run_push_job(rt: Runtime, job: Job) -> None:
    """Push one label; retry transient failures, give up visibly after the last attempt."""
    label_id = json.loads(job.payload or b"{}")["label_id"]
    try:
        await push_label(rt, label_id)
    except NotFound:
        log.warning("push job %s: label %s is gone", job.id, label_id)
    except PushRunning as err:
        # Ask again once the other push's lease is over (it ends sooner when that push finishes).
        raise RetryRequested(delay=max(backoff(rt, 0), timedelta(seconds=err.retry_after)), reason=str(err)) from err
    except ConnectorAuthFailed as err:
        log.info("push of label %s waits until its connection works again: %s", label_id, err)
    except TransientError as err:
        await retry_or_give_up(rt, job, err, rt.settings.jobs.push_max_attempts)
        await _give_up(rt, label_id, f"gave up after {job.attempts + 1} attempts: {err}")
    except HubError as err:
        # Not transient (a configuration or connector fault): visible on the parcels, retryable.
        await _give_up(rt, label_id, str(err))


async def _give_up(rt: Runtime, label_id: int, message: str) -> None:
    label = await label_store.get_label(rt.db.pool, label_id)
    connector = await label_store.connector_of(rt.db.pool, label_id)
    for parcel in label.parcels_in(PushState.PENDING):
        await label_store.record_outcome(rt.db.pool, label_id, parcel.reference, PushState.FAILED, message)
        PUSHES.labels(connector or "-", "gave_up").inc()
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
        # The same run id runs again: start_run sets it back to running.
        await retry_or_give_up(rt, job, err, rt.settings.jobs.import_max_attempts)
        # The run shows the error; the connection says so until an import succeeds again, and
        # the schedule keeps trying.
        await shop_answered(rt, connection_id, IMPORT, err, in_a_row=job.attempts + 1)
    except HubError as err:
        await _close_queued_run(rt, run_id, str(err))


async def _close_queued_run(rt: Runtime, run_id: int | None, reason: str) -> None:
    if run_id is not None:
        await import_store.fail_open_run(rt.db.pool, run_id, reason)


Handler = Callable[[Runtime, Job], Awaitable[None]]


#: How many batches of due parcels one settle job asks about before it leaves the rest to the next.
SETTLE_ROUNDS = 10


async def run_settle_job(rt: Runtime, job: Job) -> None:
    """Ask the shop about one connection's accepted parcels, a batch at a time, while any are due.

    Parcels an event makes due while the job runs are asked about in its next round (a new job
    for them is not queued while this one runs: the dedupe key).
    """
    connection_id = json.loads(job.payload or b"{}")["connection_id"]
    try:
        for _ in range(SETTLE_ROUNDS):
            if not await settle_parcels(rt, connection_id):
                break
    except NotFound:
        log.warning("settle job %s: connection %s is gone", job.id, connection_id)
    except (ConnectorAuthFailed, TransientError):
        return  # recorded on the parcels (asked again after a backoff) or on the connection
    except HubError as err:
        log.warning("connection %s: checking accepted parcels failed: %s; asked again later", connection_id, err)


async def run_retention_job(rt: Runtime, job: Job) -> None:
    """Delete the personal data whose retention is over."""
    await delete_expired_personal_data(rt)


@dataclass
class Slots:
    """A process's limits on running jobs, kept across worker restarts.

    ``jobs`` caps all jobs at ``jobs.concurrency`` (pgqueuer itself runs at least two at once);
    ``imports`` caps imports at ``import_slots``. A job waiting for a slot is picked meanwhile.
    """

    jobs: asyncio.Semaphore
    imports: asyncio.Semaphore

    @classmethod
    def of(cls, settings: HubSettings) -> Slots:
        """The limits these settings ask for."""
        return cls(asyncio.Semaphore(settings.jobs.concurrency), asyncio.Semaphore(import_slots(settings)))


class Interruption:
    """The shutdown's last resort: once set, the running jobs are cancelled (and queued again), and so is any job started later.

    The jobs are tracked here, so that a job needs no watcher of its own.
    """

    def __init__(self) -> None:
        self._set = False
        self._works: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        """Whether the jobs were interrupted."""
        return self._set

    def set(self) -> None:
        """Cancel every running job, and every job started from now on."""
        self._set = True
        for work in list(self._works):
            work.cancel()

    def track(self, work: asyncio.Future[None]) -> None:
        """Cancel this job when the jobs are interrupted (at once, if they are)."""
        if self._set:
            work.cancel()
            return
        self._works.add(work)
        work.add_done_callback(self._works.discard)


def build_queue(
    rt: Runtime, db: asyncpg.Connection, interrupt: Interruption | None = None, slots: Slots | None = None
) -> QueueManager:
    """A pgqueuer QueueManager on a dedicated connection, with the hub's entrypoints.

    Setting ``interrupt`` stops the jobs running and queues them again. No entrypoint carries a
    pgqueuer concurrency limit: a limit makes every dequeue count the picked jobs of the whole
    queue. Jobs and imports are limited per process instead, by ``slots``.
    """
    manager = QueueManager(queries(db))
    interrupt = interrupt or Interruption()
    slots = slots or Slots.of(rt.settings)

    def limited(handler: Handler, *limits: asyncio.Semaphore) -> Handler:
        async def run(rt: Runtime, job: Job) -> None:
            taken: list[asyncio.Semaphore] = []
            try:
                for limit in limits:
                    await limit.acquire()
                    taken.append(limit)
                await handler(rt, job)
            finally:
                for limit in reversed(taken):
                    limit.release()

        return run

    handlers: dict[str, Handler] = {
        PUSH: limited(run_push_job, slots.jobs),
        IMPORT: limited(run_import_job, slots.jobs, slots.imports),
        RETENTION: limited(run_retention_job, slots.jobs),
        SETTLE: limited(run_settle_job, slots.jobs),
    }
    for entrypoint, handler in handlers.items():
        manager.entrypoint(entrypoint)(_supervised(rt, entrypoint, handler, interrupt))
    return manager


def _supervised(rt: Runtime, entrypoint: str, handler: Handler, interrupt: Interruption) -> Callable[[Job], Awaitable[None]]:
    """Wrap a handler: measure it, retry infrastructure faults, requeue it when interrupted.

    The handler runs in a task of its own, which the interruption cancels; a cancellation of
    this one (pgqueuer's) cancels it too.
    """

    async def run(job: Job) -> None:
        due = max(job.created, job.execute_after)
        JOB_LATENCY.labels(entrypoint).observe(max(0.0, (datetime.now(UTC) - due).total_seconds()))
        started = time.monotonic()
        work = asyncio.ensure_future(handler(rt, job))
        interrupt.track(work)
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if interrupt.is_set() and work.cancelled() and current is not None and not current.cancelling():
                log.info("%s job %s interrupted by the shutdown; queued again", entrypoint, job.id)
                raise RetryRequested(delay=timedelta(0), reason="interrupted by a shutdown") from None
            raise
        except DATABASE_FAULTS as err:
            log.warning("%s job %s failed on %s: %s; it will run again", entrypoint, job.id, type(err).__name__, err)
            raise RetryRequested(delay=backoff(rt, job.attempts), reason=f"{type(err).__name__}: {err}") from err
        finally:
            work.cancel()
            JOB_DURATION.labels(entrypoint).observe(time.monotonic() - started)

    return run


def job_slots(settings: HubSettings) -> int:
    """How many jobs pgqueuer picks at once in one process: ``jobs.concurrency``, at least two.

    Two is pgqueuer's minimum; ``Slots`` runs no more than ``jobs.concurrency`` of them at once.

    A push takes one pooled connection at a time and never while the shop answers, so pushes
    are not bounded by the pool; imports are (``import_slots``).
    """
    return max(2, settings.jobs.concurrency)


def import_slots(settings: HubSettings) -> int:
    """How many imports one process runs at once: as many as the pool allows.

    An import holds a pooled connection for its whole run (its lock and its writes) and may take
    a second one meanwhile; with at most ``pool_max - 2`` imports, connections are always left
    for an import to finish and for pushes and requests to go on.
    """
    pool_max = settings.database.pool_max
    if pool_max < 3:
        raise ConfigError(
            f"database.pool_max is {pool_max}: running jobs needs at least 3. Raise it, or serve with --no-jobs."
        )
    return max(1, min(settings.jobs.concurrency, pool_max - 2))


class QueueWorker:
    """This process's pgqueuer worker, kept alive: when its connection fails, it starts on a new one.

    The worker holds a dedicated connection (for LISTEN/NOTIFY and the queue's bookkeeping).
    When PostgreSQL restarts or the network drops it, pgqueuer's loop ends with an error; this
    starts a new worker on a new connection, waiting ``jobs.retry_base_seconds`` doubled per
    failure in a row (at most ``RECONNECT_MAX_SECONDS``). The jobs the lost worker had picked stay
    picked in the database, and the new worker takes them again once their heartbeat is
    ``jobs.heartbeat_seconds`` old, as after a crash.
    """

    def __init__(self, rt: Runtime, interrupt: Interruption) -> None:
        self.rt = rt
        self.interrupt = interrupt
        #: Since when (monotonic) the worker has been down after a failure; None while it runs.
        self.down_since: float | None = None
        self._stopping = asyncio.Event()
        self._manager: QueueManager | None = None
        # One for the process, whichever worker connection is current.
        self._slots = Slots.of(rt.settings)

    def stop(self) -> None:
        """Take no new job; ``run`` returns once the running jobs are done."""
        self._stopping.set()
        if self._manager is not None:
            self._manager.shutdown.set()

    async def run(self) -> None:
        """Run workers one after the other until ``stop``."""
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._run_once()
            except Exception as err:  # noqa: BLE001 - whatever ended it, the process needs a worker
                if self._stopping.is_set():
                    return
                self.down_since = self.down_since or time.monotonic()
                # A worker that ran a good while before it failed starts the backoff afresh.
                failures = 1 if time.monotonic() - started > RECONNECT_MAX_SECONDS else failures + 1
                delay = min(self.rt.settings.jobs.retry_base_seconds * 2 ** (failures - 1), RECONNECT_MAX_SECONDS)
                if isinstance(err, DATABASE_FAULTS):
                    log.warning(
                        "the job worker has no database connection (%s: %s); starting it again in %.1f s",
                        type(err).__name__, err, delay,
                    )
                else:
                    log.error("the job worker failed; starting it again in %.1f s", delay, exc_info=err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _run_once(self) -> None:
        jobs = self.rt.settings.jobs
        slots = job_slots(self.rt.settings)
        db = await asyncpg.connect(self.rt.db.url, timeout=self.rt.settings.database.connect_timeout)
        try:
            self._manager = build_queue(self.rt, db, self.interrupt, self._slots)
            if self._stopping.is_set():
                return
            if self.down_since is not None:
                log.info("the job worker runs again after %.1f s", time.monotonic() - self.down_since)
                self.down_since = None
            await self._manager.run(
                # LISTEN/NOTIFY wakes the worker for new jobs; the timeout only bounds a missed notice.
                dequeue_timeout=timedelta(seconds=jobs.tick_seconds),
                batch_size=max(1, slots // 2),
                max_concurrent_tasks=slots,
                heartbeat_timeout=timedelta(seconds=jobs.heartbeat_seconds),
            )
        finally:
            self._manager = None
            with contextlib.suppress(Exception):  # a broken connection is aborted by close()
                await db.close(timeout=5)


@asynccontextmanager
async def running_workers(rt: Runtime) -> AsyncIterator[QueueWorker]:
    """Run the queue worker and the scheduler until the block ends, then stop without losing a job.

    The worker stops taking jobs; running jobs get ``jobs.shutdown_seconds`` to finish, and the
    ones still running then are interrupted and queued again at once.
    """
    jobs = rt.settings.jobs
    interrupt = Interruption()
    queue_worker = QueueWorker(rt, interrupt)
    worker = asyncio.create_task(queue_worker.run(), name="hub-queue")
    ticker = asyncio.create_task(_tick(rt), name="hub-scheduler")
    try:
        yield queue_worker
    finally:
        ticker.cancel()
        queue_worker.stop()
        done, _ = await asyncio.wait((worker,), timeout=jobs.shutdown_seconds)
        if not done:
            log.warning("jobs still running after %g s: interrupting them; they are queued again", jobs.shutdown_seconds)
            interrupt.set()
        await asyncio.gather(ticker, worker, return_exceptions=True)


async def _tick(rt: Runtime) -> None:
    """Queue due imports, due checks of accepted parcels and the retention job, every ``tick_seconds``."""
    while True:
        try:
            await schedule_due_imports(rt.db.pool)
            await schedule_due_settles(rt.db.pool)
            async with rt.db.pool.acquire() as db:
                await enqueue_retention(db, RETENTION_EVERY)
        except (*DATABASE_FAULTS, HubError) as err:
            log.warning("scheduler tick failed, trying again: %s", err)
        await asyncio.sleep(rt.settings.jobs.tick_seconds)
