"""A running hub app (API, callback routes, job workers) with the fake connector (consent) and the key shop connector (credentials)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.infra.plugins import ENTRY_POINT_GROUP, load_connector
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from hub.app import create_app
from hub.keys import RUNTIME
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop
from tests.contract.keyshop import shop as keyshops
from tests.contract.keyshop.shop import EventMessage, KeyShop

#: The key shop connector's entry point (it is never installed as one).
KEYSHOP = EntryPoint(name="keyshop", value="tests.contract.keyshop", group=ENTRY_POINT_GROUP)


class Api:
    """A test client that speaks for one account."""

    def __init__(self, client: TestClient, token: str, account_id: int) -> None:
        self.client, self.token, self.account_id = client, token, account_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.request(method, path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body

    @property
    def rt(self):  # noqa: ANN201
        return self.client.server.app[RUNTIME]


@pytest.fixture
def keyshop() -> Iterator[KeyShop]:
    """A fresh key shop under the default name (the key shop connector's default)."""
    shop = keyshops.open_shop("default")
    yield shop
    keyshops.close_shop("default")


async def post_event(client: TestClient, message: EventMessage) -> tuple[int, Any]:
    """Post a shop's event message to the hub as the shop would (no API token), by its URL's path."""
    response = await client.post(urlsplit(message.url).path, data=message.body, headers=message.headers)
    body = await response.json() if response.content_type == "application/json" else await response.text()
    return response.status, body


@asynccontextmanager
async def served(settings: HubSettings, *connectors: EntryPoint, **update: Any) -> AsyncIterator[TestClient]:
    """The hub app with these connectors on a test server, workers running and ticking fast (``update``: more settings)."""
    jobs = settings.jobs.model_copy(update={"tick_seconds": 0.5, "retry_base_seconds": 0.05})
    fast = settings.model_copy(update={"jobs": jobs, **update})
    app = create_app(fast, connectors=[load_connector(connector, fast) for connector in connectors])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
async def client(settings: HubSettings, shop: FakeShop, keyshop: KeyShop) -> AsyncIterator[TestClient]:
    """The app with the fake and the key shop connectors on a test server, workers running, ticking fast."""
    async with served(settings, FAKE, KEYSHOP) as test_client:
        yield test_client


async def new_api(client: TestClient, name: str) -> Api:
    """An account with a token, and a client acting for it."""
    rt = client.server.app[RUNTIME]
    account = await create_account(rt.db.pool, name)
    return Api(client, await create_token(rt.db.pool, account.id), account.id)


@pytest.fixture
async def api(client: TestClient) -> Api:
    """The main test account."""
    return await new_api(client, "Merchant One")


@pytest.fixture
async def other(client: TestClient) -> Api:
    """A second account, to check isolation."""
    return await new_api(client, "Merchant Two")
