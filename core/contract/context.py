"""What a connector receives with every hook call: its connection, credentials, settings, HTTP session, coordination."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretStr

from core.contract.models import Connection
from core.infra.coordination import Coordination, MemoryCoordination


def utc_now() -> datetime:
    """The current time, time-zone aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConnectorSetup:
    """What ``open_connector`` receives once per process: the connector's settings and the HTTP session.

    ``coordination`` (hub API v2) is shared with every other process on the hub's database, for
    state that belongs to the shop account rather than to the process: rate buckets and access
    tokens (see ``ConnectorContext``). The state ``open_connector`` returns may keep it.
    """

    connector: str
    settings: BaseModel
    http: aiohttp.ClientSession
    log: logging.Logger
    now: Callable[[], datetime] = field(default=utc_now)
    coordination: Coordination = field(default_factory=MemoryCoordination)


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a per-connection hook may use; connectors never touch the database.

    ``credentials`` are the connection's, decrypted (empty before the first connect).
    ``settings`` is the connector's own validated settings table. ``http`` is the hub's one
    shared ``aiohttp.ClientSession``. ``state`` is what the connector's ``open_connector``
    returned in this process (token caches, rate buckets), ``None`` if it keeps none.
    ``events_url`` is where the shop can post events for this connection (hub API v2), or
    ``None`` while the connection has none; it is ``http`` unless the hub's public URL is
    ``https``, and a connector decides whether its shop may use it. ``now`` is the clock,
    replaceable in tests.

    ``coordination`` (hub API v2) is what every process on the hub's database shares, where
    ``state`` is this process's own: token buckets (``take(key, rate, burst, max_wait)`` answers
    how long to wait before a call, ``throttled`` empties a bucket after a 429) and short-lived
    secrets (``secret(key, fetch)``: an access token fetched by one process at a time, stored
    encrypted, reused by all until it expires; ``forget`` drops one the shop refused). Keys are the
    connector's own; one round trip per call. Core always passes the shared one; a context built
    without it gets a ``MemoryCoordination`` of its own (one process only).
    """

    connection: Connection
    credentials: Mapping[str, SecretStr]
    settings: BaseModel
    http: aiohttp.ClientSession
    log: logging.LoggerAdapter[Any]
    now: Callable[[], datetime] = field(default=utc_now)
    state: Any = None
    events_url: str | None = None
    coordination: Coordination = field(default_factory=MemoryCoordination)

