"""Fixtures for the Amazon connector's tests: a fake clock, the connector's state, contexts.

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

from connectors.amazon.client import ClientState
from connectors.amazon.settings import AmazonSettings
from core.contract.context import ConnectorContext
from core.contract.models import Connection, ConnectionSettings, ConnectionState
from tests.connectors.amazon.fakes import DE, NL, NOW, REFRESH_TOKEN, SELLER, FakeClock, amazon_settings


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> ClientState:
    """The connector's process state (what ``open_connector`` returns) on the fake clock, with repeatable jitter."""
    return ClientState(clock=clock, rng=random.Random(4))


MakeContext = Callable[..., ConnectorContext]


@pytest.fixture
def make_context(http: aiohttp.ClientSession, state: ClientState) -> MakeContext:
    """Build a hook context for an Amazon connection, with ``state``; keyword arguments change its parts."""

    def make(
        *,
        settings: AmazonSettings | None = None,
        credentials: dict[str, str] | None = None,
        connector: str = "amazon",
        marketplaces: list[str] | None = None,
        external_account_id: str | None = SELLER,
        connection_state: ConnectionState = ConnectionState.CONNECTED,
        now: Callable[[], datetime] = lambda: NOW,
    ) -> ConnectorContext:
        connection = Connection(
            id=7,
            account_id=1,
            connector=connector,
            state=connection_state,
            external_account_id=external_account_id,
            settings=ConnectionSettings(
                update_tracking=True, marketplaces=[NL, DE] if marketplaces is None else marketplaces
            ),
        )
        stored = {"refresh_token": REFRESH_TOKEN, "region": "EU"} if credentials is None else credentials
        return ConnectorContext(
            connection=connection,
            credentials={key: SecretStr(value) for key, value in stored.items()},
            settings=settings or amazon_settings(),
            http=http,
            log=logging.LoggerAdapter(logging.getLogger("connectors.amazon"), {"connection_id": 7}),
            now=now,
            state=state,
        )

    return make
