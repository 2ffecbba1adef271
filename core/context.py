"""What a connector receives with every hook call: its connection, credentials, settings and HTTP session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretStr

from core.models import Connection


def utc_now() -> datetime:
    """The current time, time-zone aware, in UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ConnectorSetup:
    """What ``open_connector`` receives once per process: the connector's settings and the HTTP session."""

    connector: str
    settings: BaseModel
    http: aiohttp.ClientSession
    log: logging.Logger
    now: Callable[[], datetime] = field(default=utc_now)


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
    """

    connection: Connection
    credentials: Mapping[str, SecretStr]
    settings: BaseModel
    http: aiohttp.ClientSession
    log: logging.LoggerAdapter[Any]
    now: Callable[[], datetime] = field(default=utc_now)
    state: Any = None
    events_url: str | None = None

