"""The hub app with Amazon, the fake and the key shop connectors and the workers, and merchants with their own cookie jars.

Also a bol.com simulator (``bol_sim``) and bol.com's settings on it (``bol_app``), for the hubs that load bol.com.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from connectors.bol.simulator import RunningSimulator, SimulatorConfig, run_simulator
from core.infra.plugins import ENTRY_POINT_GROUP
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from hub.keys import RUNTIME
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop
from tests.contract.keyshop.shop import KeyShop
from tests.hub.api.conftest import KEYSHOP, keyshop, served

__all__ = ["keyshop"]  # the key shop fixture, for the pages' tests too

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Merchant:
    """A browser without JavaScript: its own cookies, forms posted with the page's CSRF token."""

    def __init__(self, client: TestClient, token: str, account_id: int) -> None:
        self.client, self.token, self.account_id = client, token, account_id
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    @property
    def rt(self):  # noqa: ANN201
        return self.client.server.app[RUNTIME]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        """GET a page (following redirects) and remember its CSRF token."""
        async with self.http.get(self.url(path), **kwargs) as response:
            text = await response.text()
            found = CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return response.status, text

    async def post(self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = None, follow: bool = True) -> tuple[int, str, str]:
        """POST a form with the last page's CSRF token (or ``csrf``); returns status, body and the final URL."""
        fields = {"csrf_token": self.csrf if csrf is None else csrf, **(data or {})}
        async with self.http.post(self.url(path), data=fields, allow_redirects=follow) as response:
            text = await response.text()
            found = CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            location = response.headers.get("Location", str(response.url))
            return response.status, text, location

    async def sign_in(self) -> None:
        await self.get("/signin")
        status, text, _ = await self.post("/signin", {"token": self.token})
        assert status == 200 and ("All integrations" in text or "Alle integraties" in text), (status, text)

    async def close(self) -> None:
        await self.http.close()


#: Amazon's entry point, configured for a Seller Central that is never reached by these tests.
AMAZON = EntryPoint(name="amazon", value="connectors.amazon", group=ENTRY_POINT_GROUP)
AMAZON_APP = {
    "endpoint": "http://127.0.0.1:9",
    "application_id": "amzn1.sellerapps.app.hub-simulator",
    "client_id": "amzn1.application-oa2-client.hubsimulator",
    "client_secret": "simulator-secret",
}


def bol_app(sim: RunningSimulator) -> dict[str, Any]:
    """bol.com's settings on the simulator: every endpoint there, webhooks to the hub's http://127.0.0.1 allowed."""
    return {"endpoint": sim.url, "webhooks_allow_loopback": True}


@pytest.fixture
async def bol_sim() -> AsyncIterator[RunningSimulator]:
    """A bol.com simulator without orders (a test adds its own) whose process statuses settle when the test says so."""
    config = SimulatorConfig(orders_per_retailer=0, demo_orders=False, settle_delay=None, retry_interval=0.5)
    async with run_simulator(config) as sim:
        yield sim


@pytest.fixture
async def client(settings: HubSettings, shop: FakeShop, keyshop: KeyShop) -> AsyncIterator[TestClient]:
    """The hub on a test server with Amazon, the fake and the key shop connectors, workers running and ticking fast."""
    async with served(settings, AMAZON, FAKE, KEYSHOP, connectors={"amazon": AMAZON_APP}) as test_client:
        yield test_client


async def new_merchant(client: TestClient, name: str) -> Merchant:
    rt = client.server.app[RUNTIME]
    account = await create_account(rt.db.pool, name)
    return Merchant(client, await create_token(rt.db.pool, account.id), account.id)


@asynccontextmanager
async def signed_in(client: TestClient, name: str) -> AsyncIterator[Merchant]:
    """A new account's merchant, signed in, its browser closed at the end."""
    m = await new_merchant(client, name)
    try:
        await m.sign_in()
        yield m
    finally:
        await m.close()


@pytest.fixture
async def merchant(client: TestClient) -> AsyncIterator[Merchant]:
    """A signed-in merchant."""
    async with signed_in(client, "Bakkerij Jansen") as m:
        yield m


@pytest.fixture
async def other(client: TestClient) -> AsyncIterator[Merchant]:
    """A second signed-in merchant, to check isolation."""
    async with signed_in(client, "Fietsenwinkel De Vries") as m:
        yield m


async def connect_fake(m: Merchant, shop: FakeShop) -> int:
    """Connect the fake shop through the pages: Connect, the shop's consent, the callback."""
    await m.get("/settings/integrations/fake/connect")
    status, _, location = await m.post("/settings/integrations/fake/connect", {}, follow=False)
    assert status == 303 and "fake-shop.invalid/consent" in location, location
    params = shop.consent(location)
    status, text = await m.get("/connect/callback?" + urlencode(params))
    assert status == 200, text
    found = re.search(r'href="/settings/integrations/(\d+)"', text)
    assert found, text
    return int(found.group(1))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
