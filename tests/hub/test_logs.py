"""Logs hold no secret and no personal data; `hub serve` writes text or one JSON object per line.

The flow is the merchant's whole journey against the simulator: connect through the consent page,
import, label, push. Everything logged at DEBUG is searched for the refresh and access tokens,
the app's client secret, the hub's API token and the recipients' names, streets and phones.
"""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.amazon.simulator import RunningSimulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from hub.app import create_app
from hub.keys import RUNTIME
from tests.hub.daemons import SIM_ORDERS as ORDERS
from tests.hub.daemons import Daemon, Merchant, daemons, hub_environment, one_seller_sim
from tests.waiting import eventually

__all__ = ["daemons", "one_seller_sim"]  # fixtures


def secrets_and_personal_data(sim: RunningSimulator, api_token: str) -> dict[str, str]:
    """Every value the logs must not hold, by what it is."""
    values = {"client secret": DEFAULT_CLIENT_SECRET, "API token": api_token}
    values |= {f"refresh token {n}": grant.refresh_token for n, grant in enumerate(sim.state.grants.values())}
    values |= {f"access token {n}": token for n, token in enumerate(sim.state.access_tokens)}
    for order in sim.state.orders.values():
        address = sim.state.detail(order).address
        values |= {f"{field} of {order.order_id}": address[field] for field in ("name", "addressLine1", "phone")}
    assert any(name.startswith("refresh token") for name in values) and any(name.startswith("access token") for name in values)
    return values


def leaks(text: str, values: dict[str, str]) -> list[str]:
    return [name for name, value in values.items() if value in text]


async def test_a_whole_api_flow_logs_no_token_secret_or_personal_data(
    settings: HubSettings, sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    amazon = {"endpoint": sim.url, "application_id": DEFAULT_APPLICATION_ID, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    fast = settings.model_copy(
        update={"connectors": {"amazon": amazon}, "jobs": settings.jobs.model_copy(update={"tick_seconds": 0.5})}
    )
    async with TestClient(TestServer(create_app(fast), host="127.0.0.1")) as client:
        pool = client.server.app[RUNTIME].db.pool
        token = await create_token(pool, (await create_account(pool, "Merchant")).id)
        headers = {"Authorization": f"Bearer {token}"}

        async def call(method: str, path: str, body: object = None, expect: int = 200) -> dict:
            response = await client.request(method, path, json=body, headers=headers)
            answer = await response.json()
            assert response.status == expect, answer
            return answer

        started = await call("POST", "/api/v1/connections", {"connector": "amazon", "marketplace": "NL"}, 201)
        async with aiohttp.ClientSession() as browser:
            callback = urlsplit(await approve(browser, started["authorize_url"]))
        assert (await client.get(f"{callback.path}?{callback.query}")).status == 200
        connection_id = started["connection"]["id"]
        await call("PATCH", f"/api/v1/connections/{connection_id}", {"update_tracking": True})
        run = await call("POST", "/api/v1/imports", {"connection_id": connection_id}, 202)
        await eventually(lambda: _state_of(call, f"/api/v1/imports/{run['id']}", "succeeded"))
        orders = (await call("GET", "/api/v1/orders"))["orders"]
        assert len(orders) == ORDERS and all(order["recipient"]["name"] for order in orders)
        for order in orders:
            label = await call("POST", "/api/v1/labels", {"order_id": order["id"], "label_id": f"L{order['id']}", "parcels": [{"tracking_number": f"GLS{order['id']}"}]}, 201)
            await eventually(lambda label=label: _parcel_confirmed(call, label["id"]))

    assert len(sim.state.confirmations) == ORDERS
    assert len(caplog.records) > 20, "the flow was logged at DEBUG"
    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert leaks(logged, secrets_and_personal_data(sim, token)) == []


async def test_hub_serve_writes_json_lines_without_secrets(
    settings: HubSettings, database_url: str, sim: RunningSimulator, daemons: Callable[..., Awaitable[Daemon]]
) -> None:
    daemon = await daemons(hub_environment(settings, sim, HUB_LOG__FORMAT="json", HUB_LOG__LEVEL="DEBUG"))
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool, aiohttp.ClientSession() as http:
        token = await create_token(pool, (await create_account(pool, "Merchant")).id)
        merchant = Merchant(http, token, sim)
        connection_id = await merchant.connect(daemon, sim.state.first_seller.seller_id)
        await merchant.import_orders(daemon, connection_id)
        for order in await merchant.orders(daemon):
            await merchant.label(daemon, order)
        await eventually(lambda: _true(len(sim.state.confirmations) == ORDERS))
    assert await daemon.stop(signal.SIGTERM) == 0

    lines = daemon.log().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) and {"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(entry["logger"] == "core.usecases.labels" and "pushed" in entry["message"] for entry in entries)
    assert any(entry["level"] == "DEBUG" for entry in entries)
    assert leaks("\n".join(lines), secrets_and_personal_data(sim, token)) == []


async def _state_of(call: Callable[..., Awaitable[dict]], path: str, wanted: str) -> bool:
    return (await call("GET", path))["state"] == wanted


async def _parcel_confirmed(call: Callable[..., Awaitable[dict]], label_id: int) -> bool:
    return (await call("GET", f"/api/v1/labels/{label_id}"))["parcels"][0]["push_state"] == "confirmed"


async def _true(value: object) -> bool:
    return bool(value)
