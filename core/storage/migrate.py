"""Versioned plain-SQL migrations, applied in order under an advisory lock.

Files are ``NNNN_name.sql`` in ``core/storage/migrations``. Each runs in its own transaction and
is recorded in ``schema_migrations`` with the SHA-256 of its text, so a migration edited after a
database applied it is refused instead of silently differing. The advisory lock makes two
processes migrating at once safe: the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg

from core.contract.errors import StorageError
from core.storage.jobqueue import install_queue

log = logging.getLogger(__name__)

#: Arbitrary constant naming the hub's migration lock (pg_advisory_lock takes a bigint).
LOCK_KEY = 0x6875625F6D6967  # "hub_mig"

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """The SHA-256 of the file's text, recorded when it is applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        """The file's name."""
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationStatus:
    """A migration and when it was applied (None when pending)."""

    version: int
    name: str
    applied_at: datetime | None


def available() -> list[Migration]:
    """The migrations shipped with the hub, in order."""
    found = []
    for entry in resources.files("core.storage").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


async def _ensure_table(connection: asyncpg.Connection) -> None:
    await connection.execute(
        """
        create table if not exists schema_migrations (
            version     integer primary key,
            name        text not null,
            applied_at  timestamptz not null default now()
        )
        """
    )
    # Databases migrated before checksums were recorded get the column; their rows adopt the
    # files' checksums on the next migrate.
    await connection.execute("alter table schema_migrations add column if not exists checksum text")


async def _check_applied(connection: asyncpg.Connection, migrations: list[Migration]) -> set[int]:
    """The versions applied; refuse a shipped file that differs from the one applied."""
    rows = await connection.fetch("select version, checksum from schema_migrations")
    recorded = {row["version"]: row["checksum"] for row in rows}
    for migration in migrations:
        if migration.version not in recorded:
            continue
        if recorded[migration.version] is None:
            await connection.execute(
                "update schema_migrations set checksum = $2 where version = $1", migration.version, migration.checksum
            )
        elif recorded[migration.version] != migration.checksum:
            raise StorageError(
                f"Migration {migration.filename} was changed after this database applied it: restore the file as it "
                "was and put the change in a new migration."
            )
    return set(recorded)


async def migrate(pool: asyncpg.Pool) -> list[Migration]:
    """Apply pending migrations; return the ones this call applied."""
    applied: list[Migration] = []
    async with pool.acquire() as connection:
        released = False
        try:
            await connection.execute("select pg_advisory_lock($1)", LOCK_KEY)
            await _ensure_table(connection)
            migrations = available()
            done = await _check_applied(connection, migrations)
            for migration in migrations:
                if migration.version in done:
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                log.info("applied migration %04d_%s", migration.version, migration.name)
                applied.append(migration)
            # The job queue's tables are pgqueuer's own; it creates and upgrades them itself.
            await install_queue(connection)
            await connection.execute("select pg_advisory_unlock($1)", LOCK_KEY)
            released = True
        finally:
            if not released:
                # The pool keeps sessions as they are: the lock must not go back to it held.
                connection.terminate()
    return applied


async def status(pool: asyncpg.Pool) -> list[MigrationStatus]:
    """Every known migration with the time it was applied, or None."""
    async with pool.acquire() as connection:
        exists = await connection.fetchval("select to_regclass('schema_migrations') is not null")
        rows = await connection.fetch("select version, applied_at from schema_migrations") if exists else []
    applied = {row["version"]: row["applied_at"] for row in rows}
    return [MigrationStatus(m.version, m.name, applied.get(m.version)) for m in available()]


async def is_current(pool: asyncpg.Pool) -> bool:
    """True when every shipped migration is applied."""
    return all(entry.applied_at is not None for entry in await status(pool))
