"""Bad callbacks with the real Amazon connector against the simulator: a 4xx page, credentials untouched.

The simulator's LWA makes codes single use and valid five minutes (its clock is moved on for the
expired case). Cases: an expired code, a replayed code, a consent given for another seller than
the connection's (a callback meant for another shop account), a declined consent, a missing or
malformed ``selling_partner_id``, and Login-URI calls for an unknown seller, without
``amazon_state`` or with a ``amazon_callback_uri`` outside Seller Central (an open redirect).
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.infra.crypto import new_key
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.usecases import connections
from hub.app import create_app
from hub.keys import RUNTIME
from tests.conftest import TEMPLATE, _create_database, _drop, _with_database
from tests.reliability.snapshot import changes, snapshot

STATE_USED = r"oauth_states\[[^\]]+\]\.used_at changed"
REASON = r"connections\[\d+\]\.reason changed"


@dataclass
class AmazonWorld:
    """The hub with Amazon, the simulator with two sellers, one connected and one pending connection."""

    client: TestClient
    sim: RunningSimulator
    account_id: int
    connection_id: int  # connected to the first seller
    pending_connection_id: int
    used_callback: dict[str, str]  # the completed connect's parameters

    @property
    def rt(self) -> Runtime:
        return self.client.server.app[RUNTIME]

    @property
    def sellers(self) -> list[str]:
        return list(self.sim.state.sellers)

    async def consent(self, connection_id: int, seller: str | None = None) -> dict[str, str]:
        """Start a (re)connect and approve it at the simulator's consent page; the callback's parameters."""
        url = await connections.start_reconnect(self.rt, self.account_id, connection_id)
        async with aiohttp.ClientSession() as browser:
            back = await approve(browser, url, seller_id=seller)
        return dict(parse_qsl(urlsplit(back).query))

    async def state(self, connection_id: int) -> str:
        """A fresh signed state for a connection (its consent URL is not visited)."""
        url = await connections.start_reconnect(self.rt, self.account_id, connection_id)
        return dict(parse_qsl(urlsplit(url).query))["state"]


@pytest.fixture(scope="module")
async def amazon_world(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AmazonWorld]:
    name = await _create_database(pg_admin_url, TEMPLATE)
    async with run_simulator(SimulatorConfig(sellers=2, orders_per_seller=3, marketplaces=["NL"])) as sim:
        settings = HubSettings(
            data_dir=Path(tmp_path_factory.mktemp("amazon")) / "data",
            database={"url": _with_database(pg_admin_url, name), "pool_min": 1, "pool_max": 5},
            security={"encryption_keys": [new_key()]},
            jobs={"enabled": False},
            connectors={
                "amazon": {
                    "endpoint": sim.url,
                    "application_id": DEFAULT_APPLICATION_ID,
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                }
            },
        )
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            rt = client.server.app[RUNTIME]
            account = await create_account(rt.db.pool, "Amazon merchant")
            connection, url = await connections.start_connect(rt, account.id, "amazon", {"marketplace": "NL"})
            async with aiohttp.ClientSession() as browser:
                used = dict(parse_qsl(urlsplit(await approve(browser, url)).query))
            response = await client.get("/connect/callback", params=used)
            assert response.status == 200, await response.text()
            pending, _ = await connections.start_connect(rt, account.id, "amazon", {"marketplace": "NL"})
            yield AmazonWorld(client, sim, account.id, connection.id, pending.id, used)
    await _drop(pg_admin_url, name)


@dataclass
class Visit:
    path: str
    params: dict[str, str]
    allowed: tuple[str, ...] = ()
    after_consent: Callable[[], None] = field(default=lambda: None)


async def expired_code(world: AmazonWorld) -> Visit:
    params = await world.consent(world.pending_connection_id)
    return Visit("/connect/callback", params, (STATE_USED, REASON), lambda: world.sim.state.clock.advance(301))


async def replayed_code(world: AmazonWorld) -> Visit:
    params = {**world.used_callback, "state": await world.state(world.pending_connection_id)}
    return Visit("/connect/callback", params, (STATE_USED, REASON))


async def consent_for_another_seller(world: AmazonWorld) -> Visit:
    params = await world.consent(world.connection_id, seller=world.sellers[1])
    return Visit("/connect/callback", params, (STATE_USED,))


async def declined_consent(world: AmazonWorld) -> Visit:
    params = {"state": await world.state(world.pending_connection_id), "error": "access_denied"}
    return Visit("/connect/callback", params, (STATE_USED, REASON))


async def missing_seller_id(world: AmazonWorld) -> Visit:
    params = await world.consent(world.pending_connection_id)
    params.pop("selling_partner_id")
    return Visit("/connect/callback", params, (STATE_USED,))


async def malformed_seller_id(world: AmazonWorld) -> Visit:
    params = await world.consent(world.pending_connection_id)
    params["selling_partner_id"] = "A1;drop table orders"
    return Visit("/connect/callback", params, (STATE_USED,))


async def forged_state_with_a_valid_code(world: AmazonWorld) -> Visit:
    params = await world.consent(world.pending_connection_id)
    params["state"] = params["state"][:-2] + "xx"
    return Visit("/connect/callback", params)


async def login_unknown_seller(world: AmazonWorld) -> Visit:
    params = {"selling_partner_id": "AUNKNOWN", "amazon_state": "s", "amazon_callback_uri": world.sim.url + "/apps/authorize/confirm"}
    return Visit("/connect/login/amazon", params)


async def login_without_amazon_state(world: AmazonWorld) -> Visit:
    params = {"selling_partner_id": world.sellers[0], "amazon_callback_uri": world.sim.url + "/apps/authorize/confirm"}
    return Visit("/connect/login/amazon", params)


async def login_redirect_outside_seller_central(world: AmazonWorld) -> Visit:
    params = {"selling_partner_id": world.sellers[0], "amazon_state": "s", "amazon_callback_uri": "https://evil.example/steal"}
    return Visit("/connect/login/amazon", params)


async def login_without_seller(world: AmazonWorld) -> Visit:
    return Visit("/connect/login/amazon", {"amazon_state": "s"})


CASES: list[tuple[Callable[[AmazonWorld], Awaitable[Visit]], int, str]] = [
    (expired_code, 400, "code expired or was already used"),
    (replayed_code, 400, "code expired or was already used"),
    (consent_for_another_seller, 400, "is not the one of connection"),
    (declined_consent, 400, "declined"),
    (missing_seller_id, 400, "selling_partner_id"),
    (malformed_seller_id, 400, "selling_partner_id"),
    (forged_state_with_a_valid_code, 400, "invalid"),
    (login_unknown_seller, 404, "No single connection"),
    (login_without_amazon_state, 400, "amazon_state"),
    (login_redirect_outside_seller_central, 400, "Seller Central"),
    (login_without_seller, 400, "shop account parameter"),
]


@pytest.mark.parametrize(("prepare", "status", "says"), CASES, ids=[c[0].__name__.replace("_", "-") for c in CASES])
async def test_bad_amazon_callback_gets_a_4xx_page_and_keeps_the_credentials(
    amazon_world: AmazonWorld, prepare: Callable[[AmazonWorld], Awaitable[Visit]], status: int, says: str
) -> None:
    visit = await prepare(amazon_world)
    visit.after_consent()
    pool = amazon_world.rt.db.pool
    before = await snapshot(pool)
    response = await amazon_world.client.get(visit.path, params=visit.params, allow_redirects=False)
    text = html.unescape(await response.text())
    assert (response.status, response.content_type) == (status, "text/html"), text[:800]
    assert "Location" not in response.headers
    assert says.lower() in text.lower() and "Traceback" not in text, text[-2500:]
    unexpected = [line for line in changes(before, await snapshot(pool)) if not any(re.fullmatch(p, line) for p in visit.allowed)]
    assert unexpected == []
