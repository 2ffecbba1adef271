"""Shared fixtures: one embedded PostgreSQL per test session, a fresh migrated database per test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import asyncpg
import pytest

from core.infra.crypto import new_key
from core.infra.plugins import ENTRY_POINT_GROUP
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.database import embedded_url
from core.storage.migrate import migrate
from tests.contract.fake.shop import FakeShop, close_shop, open_shop

#: Fails, never skips, the tests that need a missing folder of shop API descriptions; see there.
pytest_plugins = ["tests.model_folders"]

TEMPLATE = "hub_template"

#: The fake connector's entry point (it is never installed as one).
FAKE = EntryPoint(name="fake", value="tests.contract.fake", group=ENTRY_POINT_GROUP)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """The URL of the session's embedded PostgreSQL (its maintenance database)."""
    # Not under pytest's tmp_path: pytest keeps that folder 0700, and as root the embedded
    # server runs as another user that must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="hub-test-pg-"))
    url, server = embedded_url(folder)
    yield url
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
async def template_url(pg_admin_url: str) -> str:
    """A database with every migration applied, copied for each test."""
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f"drop database if exists {TEMPLATE}")
        await admin.execute(f"create database {TEMPLATE}")
    finally:
        await admin.close()
    url = _with_database(pg_admin_url, TEMPLATE)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    return url


async def _create_database(pg_admin_url: str, template: str | None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f"create database {name}" + (f" template {template}" if template else ""))
    finally:
        await admin.close()
    return name


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A new database with no schema."""
    name = await _create_database(pg_admin_url, None)
    yield _with_database(pg_admin_url, name)
    await _drop(pg_admin_url, name)


@pytest.fixture
async def database_url(pg_admin_url: str, template_url: str) -> AsyncIterator[str]:
    """A new database with the current schema."""
    name = await _create_database(pg_admin_url, TEMPLATE)
    yield _with_database(pg_admin_url, name)
    await _drop(pg_admin_url, name)


async def _drop(pg_admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f"drop database if exists {name} with (force)")
    finally:
        await admin.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> HubSettings:
    """Settings for one test: its own database and data folder, a fixed encryption key."""
    return HubSettings(
        data_dir=tmp_path / "data",
        database={"url": database_url, "pool_min": 1, "pool_max": 5},
        security={"encryption_keys": [new_key()]},
    )


@pytest.fixture
async def runtime(settings: HubSettings) -> AsyncIterator[Runtime]:
    """A runtime on the test's database with the installed connectors."""
    async with open_runtime(settings) as rt:
        yield rt


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    """A fresh fake shop under the default name."""
    shop = open_shop("default")
    yield shop
    close_shop("default")
