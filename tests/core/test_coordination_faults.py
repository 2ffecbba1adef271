"""A database fault in core's coordination reads as a passing fault, never as the connector's own failure."""

from __future__ import annotations

import asyncpg
import pytest

from core.contract.errors import ConnectorAuthFailed, TransientError
from core.infra.coordination import DatabaseCoordination
from core.infra.crypto import Vault, new_key


@pytest.fixture
async def gone(database_url: str) -> DatabaseCoordination:
    """Coordination whose database went away (its pool closed)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    return DatabaseCoordination(pool, Vault([new_key().encode()]))


async def test_pacing_without_a_database_is_a_transient_error(gone: DatabaseCoordination) -> None:
    with pytest.raises(TransientError, match="database did not answer") as raised:
        await gone.take("shop:seller:confirm", 2.0, 10.0)
    assert isinstance(raised.value.__cause__, asyncpg.InterfaceError)
    with pytest.raises(TransientError):
        await gone.throttled("shop:seller:confirm", 2.0, 10.0)
    with pytest.raises(TransientError):
        await gone.forget("shop:seller:token")


async def test_a_secret_without_a_database_is_a_transient_error(gone: DatabaseCoordination) -> None:
    async def fetch() -> tuple[str, float]:
        raise AssertionError("no fetch without the database")

    with pytest.raises(TransientError, match="database did not answer"):
        await gone.secret("shop:seller:token", fetch)


async def test_the_shops_own_refusal_passes_unchanged(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        coordination = DatabaseCoordination(pool, Vault([new_key().encode()]))

        async def refused() -> tuple[str, float]:
            raise ConnectorAuthFailed("the refresh token was revoked")

        with pytest.raises(ConnectorAuthFailed):
            await coordination.secret("shop:seller:token", refused)
    finally:
        await pool.close()


async def test_a_fetch_timing_out_is_not_blamed_on_the_database(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        coordination = DatabaseCoordination(pool, Vault([new_key().encode()]))

        async def slow() -> tuple[str, float]:
            raise TimeoutError("the token endpoint did not answer")  # an OSError on Python 3.11

        with pytest.raises(TimeoutError, match="token endpoint"):
            await coordination.secret("shop:seller:token", slow)
    finally:
        await pool.close()
