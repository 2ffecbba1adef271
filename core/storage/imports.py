"""Import runs with their counts, and the cursor of each connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.contract.errors import NotFound
from core.contract.models import Cursor
from core.storage.database import Db
from core.storage.orders import PageCounts


@dataclass(frozen=True)
class ImportRun:
    """One import of one connection: state, counts, error."""

    id: int
    connection_id: int
    trigger: str
    state: str
    pages: int
    new: int
    updated: int
    unchanged: int
    skipped: dict[str, int]
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def skipped_total(self) -> int:
        """All skipped orders, whatever the reason."""
        return sum(self.skipped.values())


#: First key of the two-key session advisory lock that guards a connection's import.
IMPORT_LOCK = 0x696D70  # "imp"


async def try_import_lock(db: asyncpg.Connection, connection_id: int) -> bool:
    """Take the connection's import lock on this session, if no other session holds it."""
    return bool(await db.fetchval("select pg_try_advisory_lock($1, $2)", IMPORT_LOCK, connection_id))


async def release_import_lock(db: asyncpg.Connection, connection_id: int) -> None:
    """Release the connection's import lock held by this session."""
    await db.fetchval("select pg_advisory_unlock($1, $2)", IMPORT_LOCK, connection_id)


async def get_cursor(db: Db, connection_id: int) -> Cursor:
    """The stored cursor, or an empty one before the first import."""
    row = await db.fetchrow("select since, page_token from cursors where connection_id = $1", connection_id)
    return Cursor(since=row["since"], page_token=row["page_token"]) if row else Cursor()


async def set_cursor(db: Db, connection_id: int, cursor: Cursor) -> None:
    """Store the cursor; call in the same transaction as the page it follows."""
    await db.execute(
        """
        insert into cursors (connection_id, since, page_token) values ($1, $2, $3)
        on conflict (connection_id) do update set since = excluded.since, page_token = excluded.page_token,
                                                  updated_at = now()
        -- the watermark never moves backwards, whatever a slower worker writes
        where cursors.since is null or excluded.since >= cursors.since
        """,
        connection_id,
        cursor.since,
        cursor.page_token,
    )


async def queue_run(db: Db, connection_id: int, trigger: str) -> int:
    """Record an import that a job will run."""
    return await db.fetchval(
        "insert into import_runs (connection_id, trigger, state) values ($1, $2, 'queued') returning id",
        connection_id,
        trigger,
    )


async def open_run(db: Db, connection_id: int) -> int | None:
    """The queued or running import of a connection, if any."""
    return await db.fetchval(
        "select id from import_runs where connection_id = $1 and state in ('queued', 'running') order by id limit 1",
        connection_id,
    )


async def queued_run(db: Db, connection_id: int) -> int | None:
    """The queued (not yet running) import of a connection, if any."""
    return await db.fetchval(
        "select id from import_runs where connection_id = $1 and state = 'queued' order by id limit 1", connection_id
    )


async def start_run(db: Db, connection_id: int, trigger: str, run_id: int | None = None) -> int:
    """Mark a run running (creating it if needed); runs a crashed process left running become 'interrupted'.

    Call only while holding the connection's import lock.
    """
    await db.execute(
        """
        update import_runs set state = 'interrupted', finished_at = now(), error = 'the import was interrupted'
        where connection_id = $1 and state = 'running' and id is distinct from $2
        """,
        connection_id,
        run_id,
    )
    if run_id is not None:
        await db.execute("update import_runs set state = 'running', started_at = now() where id = $1", run_id)
        return run_id
    return await db.fetchval(
        "insert into import_runs (connection_id, trigger) values ($1, $2) returning id", connection_id, trigger
    )


async def add_page(db: Db, run_id: int, counts: PageCounts) -> None:
    """Add one stored page's counts to the run; call in the page's transaction."""
    await db.execute(
        """
        update import_runs set pages = pages + 1, new = new + $2, updated = updated + $3,
               unchanged = unchanged + $4,
               skipped = (select coalesce(jsonb_object_agg(key, total), '{}'::jsonb) from (
                   select key, sum(value::int) as total from (
                       select * from jsonb_each_text(skipped) union all select * from jsonb_each_text($5::jsonb)
                   ) parts group by key) summed)
        where id = $1
        """,
        run_id,
        counts.new,
        counts.updated,
        counts.unchanged,
        counts.skipped,
    )


async def finish_run(db: Db, run_id: int, state: str, error: str | None = None) -> ImportRun:
    """Mark a run finished (succeeded or failed) and return it."""
    row = await db.fetchrow(
        "update import_runs set state = $2, error = $3, finished_at = now() where id = $1 returning *",
        run_id,
        state,
        error,
    )
    return ImportRun(**dict(row))


async def fail_open_run(db: Db, run_id: int, reason: str) -> None:
    """Mark a run that is still queued or running as failed, with the reason."""
    await db.execute(
        "update import_runs set state = 'failed', error = $2, finished_at = now() "
        "where id = $1 and state in ('queued', 'running')",
        run_id,
        reason,
    )


async def get_run(db: Db, run_id: int, account_id: int | None = None) -> ImportRun:
    """One import run; with ``account_id``, only that account's."""
    row = await db.fetchrow(
        """
        select r.* from import_runs r join connections c on c.id = r.connection_id
        where r.id = $1 and ($2::bigint is null or c.account_id = $2)
        """,
        run_id,
        account_id,
    )
    if row is None:
        raise NotFound(f"No import run {run_id}.")
    return ImportRun(**dict(row))


async def last_run(db: Db, connection_id: int) -> ImportRun | None:
    """The newest import run of a connection."""
    row = await db.fetchrow(
        "select * from import_runs where connection_id = $1 order by id desc limit 1", connection_id
    )
    return ImportRun(**dict(row)) if row else None

