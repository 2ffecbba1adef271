"""The running hub: settings, database, vault, connectors, hook runner and HTTP session together.

The CLI and the daemon both open one ``Runtime`` and pass it to the use cases (core.usecases.connections,
core.usecases.imports, core.usecases.labels). Resources come up in order and go down in reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
from pydantic import BaseModel, SecretStr

from core.contract.context import ConnectorContext, ConnectorSetup, utc_now
from core.contract.errors import NotFound
from core.contract.models import Connection
from core.infra.coordination import Coordination, DatabaseCoordination
from core.infra.crypto import Vault, open_vault
from core.infra.hooks import HookRunner
from core.infra.logs import register_secret, register_settings_secrets
from core.infra.plugins import LoadedConnector, load_connectors
from core.infra.settings import HubSettings
from core.storage import connections as connection_store
from core.storage.database import Database, open_database
from core.storage.migrate import migrate

log = logging.getLogger(__name__)

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=15)

#: Where shops post a connection's events: ``<public_url>/events/<event token>`` (hub API v2).
EVENTS_PATH = "/events/"


class ConnectionLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the connection id."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Add the connection id."""
        return f"connection {(self.extra or {}).get('connection_id')}: {msg}", kwargs


@dataclass
class MinuteCounter:
    """Counts per key in the current minute of this process (a cheap gate before costlier work)."""

    minute: int = -1
    counts: dict[str, int] = field(default_factory=dict)

    def admit(self, key: str, limit: int, now: float) -> bool:
        """Count one more for ``key``; whether it stays within ``limit`` this minute."""
        minute = int(now // 60)
        if minute != self.minute:
            self.minute, self.counts = minute, {}
        self.counts[key] = count = self.counts.get(key, 0) + 1
        return count <= limit


@dataclass
class Runtime:
    """Everything the use cases need, opened once per process."""

    settings: HubSettings
    db: Database
    vault: Vault
    runner: HookRunner
    connectors: dict[str, LoadedConnector]
    http: aiohttp.ClientSession
    now: Callable[[], datetime] = field(default=utc_now)
    #: What each connector's ``open_connector`` returned in this process, by connector id.
    connector_states: dict[str, Any] = field(default_factory=dict)
    #: Posts to each event route this minute, verified or not (core.usecases.events).
    event_posts: MinuteCounter = field(default_factory=MinuteCounter)
    #: Credentials connects tried this minute, per account (core.usecases.connections).
    connect_attempts: MinuteCounter = field(default_factory=MinuteCounter)
    #: Token buckets and secrets shared with every process on this database (``None``: made on first use).
    coordination: Coordination | None = None

    def connector(self, connector_id: str) -> LoadedConnector:
        """A loaded connector by id; NotFound names the installed ones."""
        connector = self.connectors.get(connector_id)
        if connector is None or not connector.ok:
            usable = ", ".join(sorted(c for c, info in self.connectors.items() if info.ok)) or "none"
            raise NotFound(f"Unknown connector {connector_id!r}: installed are {usable} (see `hub connectors list`).")
        return connector

    def coordination_of(self, connector_id: str) -> Coordination:
        """The coordination shared with every process on this database, under the connector's own keys."""
        if self.coordination is None:
            self.coordination = DatabaseCoordination(self.db.pool, self.vault)
        return self.coordination.scoped(connector_id)

    def settings_of(self, connector_id: str) -> BaseModel:
        """A loaded connector's validated settings."""
        settings = self.connector(connector_id).settings
        if settings is None:  # a loaded connector always has them; see core.infra.plugins.load_connector
            raise NotFound(f"Connector {connector_id!r} has no settings loaded: see `hub connectors list`.")
        return settings

    async def context(self, connection: Connection, db: asyncpg.Connection | None = None) -> ConnectorContext:
        """The context for a hook call of the connection's own connector, with its credentials.

        ``db``: read the credentials on this connection (a caller inside a transaction must not
        take a second connection from the pool, or a busy pool deadlocks).
        """
        credentials, event_token = await connection_store.load_access(db or self.db.pool, self.vault, connection.id)
        return self.context_with(connection, credentials, event_token)

    def context_with(
        self, connection: Connection, credentials: dict[str, Any], event_token: str | None = None
    ) -> ConnectorContext:
        """The context for a hook call with the credentials given (a connect checks them before storing)."""
        connector_id = connection.connector
        for value in credentials.values():
            register_secret(str(value))
        if event_token:  # the events URL reaches connectors, which may log it
            register_secret(event_token)
        return ConnectorContext(
            connection=connection,
            credentials={key: SecretStr(str(value)) for key, value in credentials.items()},
            settings=self.settings_of(connector_id),
            http=self.http,
            log=ConnectionLog(logging.getLogger(f"connectors.{connector_id}"), {"connection_id": connection.id}),
            now=self.now,
            state=self.connector_states.get(connector_id),
            events_url=self.events_url(event_token) if event_token else None,
            coordination=self.coordination_of(connector_id),
        )

    def events_url(self, event_token: str) -> str:
        """The public URL where a shop posts a connection's events."""
        return self.settings.server.public_url.rstrip("/") + EVENTS_PATH + event_token

    def setup_of(self, connector_id: str) -> ConnectorSetup:
        """What ``open_connector`` and ``close_connector`` receive for a connector."""
        return ConnectorSetup(
            connector=connector_id,
            settings=self.settings_of(connector_id),
            http=self.http,
            log=logging.getLogger(f"connectors.{connector_id}"),
            now=self.now,
            coordination=self.coordination_of(connector_id),
        )


def register_connectors(runner: HookRunner, loaded: list[LoadedConnector]) -> dict[str, LoadedConnector]:
    """Register every loaded connector's hooks; a connector that fails is kept with its error."""
    for connector in loaded:
        if not connector.ok:
            continue
        try:
            runner.register(connector.id, connector.module)
            connector.hooks = runner.implemented(connector.id)
        except Exception as err:  # noqa: BLE001 - one bad connector must not stop the hub
            connector.error = f"{type(err).__name__}: {err}"
            log.warning("connector %s not registered: %s", connector.id, connector.error)
    return {connector.id: connector for connector in loaded}


@asynccontextmanager
async def open_runtime(
    settings: HubSettings,
    *,
    apply_migrations: bool = True,
    connectors: list[LoadedConnector] | None = None,
    now: Callable[[], datetime] = utc_now,
) -> AsyncIterator[Runtime]:
    """Open the database (migrating it), the vault, the connectors and the HTTP session."""
    register_settings_secrets(settings)
    async with AsyncExitStack() as stack:
        db = await open_database(settings)
        stack.push_async_callback(db.close)
        if apply_migrations:
            await migrate(db.pool)
        vault = open_vault(settings)
        runner = HookRunner(settings.hooks)
        loaded = register_connectors(runner, load_connectors(settings) if connectors is None else connectors)
        http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT, trust_env=False)
        stack.push_async_callback(http.close)
        rt = Runtime(settings, db, vault, runner, loaded, http, now)
        await open_connectors(rt, stack)
        yield rt


async def open_connectors(rt: Runtime, stack: AsyncExitStack) -> None:
    """Run each usable connector's ``open_connector``; close them in reverse when ``stack`` closes.

    A connector whose setup fails is kept with its error (``hub connectors list``) and not used.
    """
    for connector_id, connector in rt.connectors.items():
        if not connector.ok:
            continue
        setup = rt.setup_of(connector_id)
        try:
            rt.connector_states[connector_id] = await rt.runner.open_connector(setup)
        except Exception as err:  # noqa: BLE001 - one bad connector must not stop the hub
            connector.error = f"{type(err).__name__}: {err}"
            log.warning("connector %s failed to open: %s", connector_id, connector.error)
            continue
        stack.push_async_callback(rt.runner.close_connector, setup, rt.connector_states[connector_id])
