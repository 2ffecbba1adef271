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
class ConnectorContext:
    """Everything a hook may use; connectors never touch the database.

    ``credentials`` is empty when the hook is broadcast to a connector that does not own the
    connection. ``settings`` is the connector's own validated settings table. ``http`` is the
    hub's one shared ``aiohttp.ClientSession``. ``now`` is the clock, replaceable in tests.
    """

    connection: Connection
    credentials: Mapping[str, SecretStr]
    settings: BaseModel
    http: aiohttp.ClientSession
    log: logging.LoggerAdapter[Any]
    now: Callable[[], datetime] = field(default=utc_now)

