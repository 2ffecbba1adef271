"""Core end-to-end fixtures: a runtime with the fake connector over an in-memory FakeShop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.contract.models import Connection
from core.infra.plugins import load_connector
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.usecases import connections
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop


@pytest.fixture
async def fake_runtime(settings: HubSettings, shop: FakeShop) -> AsyncIterator[Runtime]:
    """A runtime whose only connector is the fake one."""
    async with open_runtime(settings, connectors=[load_connector(FAKE, settings)]) as rt:
        yield rt


async def connect(rt: Runtime, shop: FakeShop, account: str = "Shop BV") -> Connection:
    """Create an account and connect it to the fake shop through both legs of authorisation."""
    owner = await create_account(rt.db.pool, account)
    _, url = await connections.start_connect(rt, owner.id, "fake", {"marketplace": "NL"})
    return await connections.complete_connect(rt, shop.consent(url))


@pytest.fixture
async def connection(fake_runtime: Runtime, shop: FakeShop) -> Connection:
    """A connected fake-shop connection."""
    return await connect(fake_runtime, shop)
