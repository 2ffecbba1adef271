"""Amazon's yearly re-authorisation through the Login URI, end to end with the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.connections import list_connections
from core.usecases import connections
from hub.app import create_app
from hub.keys import RUNTIME


@pytest.fixture
async def hub_and_sim(settings: HubSettings, unused_tcp_port: int) -> AsyncIterator[tuple[TestClient, RunningSimulator]]:
    public = f"http://127.0.0.1:{unused_tcp_port}"
    config = SimulatorConfig(sellers=1, orders_per_seller=5, marketplaces=["NL"], login_uri=f"{public}/connect/login/amazon")
    async with run_simulator(config) as sim:
        hub_settings = settings.model_copy(
            update={
                "server": settings.server.model_copy(update={"public_url": public}),
                "jobs": settings.jobs.model_copy(update={"enabled": False}),
                "connectors": {
                    "amazon": {
                        "endpoint": sim.url,
                        "application_id": DEFAULT_APPLICATION_ID,
                        "client_id": DEFAULT_CLIENT_ID,
                        "client_secret": DEFAULT_CLIENT_SECRET,
                    }
                },
            }
        )
        async with TestClient(TestServer(create_app(hub_settings), host="127.0.0.1", port=unused_tcp_port)) as client:
            yield client, sim


async def test_login_uri_reauthorises_the_known_connection(hub_and_sim: tuple[TestClient, RunningSimulator]) -> None:
    client, sim = hub_and_sim
    rt = client.server.app[RUNTIME]
    account = await create_account(rt.db.pool, "Merchant")
    _, url = await connections.start_connect(rt, account.id, "amazon", {"marketplace": "NL"})
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
        async with browser.get(callback) as response:
            assert response.status == 200 and "Connected" in await response.text()
        # A year on: the seller clicks Re-Authorize in Seller Central's "Manage your apps".
        async with browser.get(f"{sim.url}/_sim/reauthorize", allow_redirects=False) as response:
            login = response.headers["Location"]
        async with browser.get(login, allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            back_to_amazon = response.headers["Location"]
        assert back_to_amazon.startswith(sim.url + "/apps/authorize/confirm")
        async with browser.get(back_to_amazon, allow_redirects=False) as response:
            final = response.headers["Location"]
        async with browser.get(final) as response:
            assert response.status == 200 and "Connected" in await response.text()
    (connection,) = await list_connections(rt.db.pool, account.id)
    assert connection.state.value == "connected"
    events = await rt.db.pool.fetchval("select count(*) from connection_events where connection_id = $1", connection.id)
    assert events == 3  # pending, connected, connected again


async def test_login_uri_refuses_an_unknown_seller_and_a_foreign_callback(hub_and_sim: tuple[TestClient, RunningSimulator]) -> None:
    client, sim = hub_and_sim
    response = await client.get("/connect/login/amazon", params={"selling_partner_id": "AUNKNOWN", "amazon_state": "x", "amazon_callback_uri": sim.url + "/apps/authorize/confirm"}, allow_redirects=False)
    assert response.status == 404 and "connect it" in await response.text()
    response = await client.get("/connect/login/nope", params={"selling_partner_id": "A"}, allow_redirects=False)
    assert response.status == 404 and "Unknown connector" in await response.text()
