"""Migrations: idempotent, and safe when two processes apply them at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace

import asyncpg
import pytest

from core.contract.errors import StorageError
from core.storage.migrate import available, is_current, migrate, status


async def test_migrate_applies_every_migration_once(empty_database_url: str) -> None:
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        first = await migrate(pool)
        second = await migrate(pool)
        assert [m.version for m in first] == [m.version for m in available()]
        assert second == []
        assert await is_current(pool)
        assert all(entry.applied_at is not None for entry in await status(pool))
    finally:
        await pool.close()


async def test_status_before_migrating_shows_everything_pending(empty_database_url: str) -> None:
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=1)
    try:
        entries = await status(pool)
        assert entries and all(entry.applied_at is None for entry in entries)
        assert not await is_current(pool)
    finally:
        await pool.close()


async def test_concurrent_migrations_in_one_process_apply_once(empty_database_url: str) -> None:
    pools = [await asyncpg.create_pool(empty_database_url, min_size=1, max_size=1) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(pool) for pool in pools))
        assert sorted(len(applied) for applied in results) == [0, 0, 0, len(available())]
        count = await pools[0].fetchval("select count(*) from schema_migrations")
        assert count == len(available())
    finally:
        for pool in pools:
            await pool.close()


SCRIPT = """
import asyncio, sys
import asyncpg
from core.storage.migrate import migrate

async def main():
    pool = await asyncpg.create_pool(sys.argv[1], min_size=1, max_size=1)
    applied = await migrate(pool)
    await pool.close()
    print(len(applied))

asyncio.run(main())
"""


async def test_two_processes_migrating_at_once_are_safe(empty_database_url: str) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT, empty_database_url, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    applied = sorted(int(out.strip()) for out, _ in outputs)
    assert applied == [0, len(available())]


async def test_a_migration_edited_after_it_was_applied_is_refused(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        await migrate(pool)
        shipped = available()
        edited = [replace(shipped[0], sql=shipped[0].sql + "\n-- changed later\n"), *shipped[1:]]
        monkeypatch.setattr("core.storage.migrate.available", lambda: edited)
        with pytest.raises(StorageError, match=rf"{shipped[0].filename} was changed after this database applied it"):
            await migrate(pool)
    finally:
        await pool.close()


async def test_a_database_migrated_before_checksums_adopts_them(empty_database_url: str) -> None:
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        await migrate(pool)
        await pool.execute("alter table schema_migrations drop column checksum")
        assert await migrate(pool) == []
        recorded = dict(await pool.fetch("select version, checksum from schema_migrations"))
        assert recorded == {m.version: m.checksum for m in available()}
    finally:
        await pool.close()
