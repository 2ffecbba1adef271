"""Fixtures for the bol.com connector's tests: a fake clock, the connector's state, contexts.

The HTTP session and the mocks every connector's tests use are in tests/connectors/conftest.py.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime

import aiohttp
import pytest
from pydantic import SecretStr

from connectors.bol.client import BolApi, BolState, connection_api
from connectors.bol.settings import BolSettings
from core.hubapi import (
    Connection,
    ConnectionSettings,
    ConnectionState,
    ConnectorContext,
)
from tests.connectors.bol.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    RETAILER_ID,
    FakeClock,
    bol_settings,
)


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> BolState:
    """The connector's process state (what ``open_connector`` returns) on the fake clock, with repeatable jitter."""
    return BolState(clock=clock, rng=random.Random(4))


MakeContext = Callable[..., ConnectorContext]


@pytest.fixture
def make_context(http: aiohttp.ClientSession, state: BolState) -> MakeContext:
    """Build a hook context for a bol.com connection, with ``state``; keyword arguments change its parts."""

    def make(
        *,
        settings: BolSettings | None = None,
        credentials: dict[str, str] | None = None,
        external_account_id: str | None = RETAILER_ID,
        connection_id: int = 7,
        events_url: str | None = None,
        now: Callable[[], datetime] = lambda: NOW,
    ) -> ConnectorContext:
        connection = Connection(
            id=connection_id,
            account_id=1,
            connector="bol",
            state=ConnectionState.CONNECTED,
            external_account_id=external_account_id,
            settings=ConnectionSettings(update_tracking=True),
        )
        stored = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET} if credentials is None else credentials
        return ConnectorContext(
            connection=connection,
            credentials={key: SecretStr(value) for key, value in stored.items()},
            settings=settings or bol_settings(),
            http=http,
            log=logging.LoggerAdapter(logging.getLogger("connectors.bol"), {"connection_id": connection_id}),
            now=now,
            state=state,
            events_url=events_url,
        )

    return make


@pytest.fixture
def api(make_context: MakeContext, state: BolState) -> BolApi:
    """The API client of the default connection."""
    context = make_context()
    return connection_api(context, context.settings, state)  # type: ignore[arg-type]
