"""Data protection: secrets and personal data are never in clear in the database or the logs, key
rotation keeps old data readable, and personal data goes after the retention period.

The journey is the whole Amazon one through the hub's API and callback route, with the job
workers running: connect at the simulator's consent page, import, two labels, their tracking
pushes confirmed at Amazon. The values looked for come from the simulator (its grants, access
tokens and client secret; its admin API's view of each imported order's recipient and buyer).
The database is read as a dump would show it (every row of every table as text, bytea decoded);
the logs twice, raw as caplog captures them at DEBUG and as ``hub serve`` writes them in JSON.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.contract.errors import ConfigError
from core.contract.models import Address, ConnectionSettings, Order, OrderItem, OrderStatus
from core.infra.crypto import Vault, new_key
from core.infra.logs import setup_logging
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings, LogSettings
from core.storage import connections as connection_store
from core.storage.accounts import create_account
from core.storage.orders import get_order, save_page
from core.storage.rekey import reencrypt
from core.usecases.retention import delete_expired_personal_data
from hub.app import create_app
from hub.cli import main
from tests.hub.api.conftest import Api, new_api
from tests.reliability.snapshot import dump
from tests.waiting import eventually

#: Shorter values (a house number, "NL") could appear anywhere by chance.
MIN_LENGTH = 5


@dataclass
class Journey:
    """What the journey left behind, and the values that must not be in clear."""

    api: Api
    sim: RunningSimulator
    secrets: dict[str, str]  # what -> value
    orders: int
    confirmed: int


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Logging as ``hub serve`` sets it up in JSON at DEBUG, into a buffer; restored afterwards."""
    root, access = logging.getLogger(), logging.getLogger("aiohttp.access")
    saved = (root.handlers[:], root.level, access.level)
    setup_logging(LogSettings(level="DEBUG", format="json"))
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level = saved[0], saved[1]
    access.setLevel(saved[2])


def amazon(sim: RunningSimulator) -> dict[str, str]:
    return {"endpoint": sim.url, "application_id": DEFAULT_APPLICATION_ID, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}


async def personal_data(sim: RunningSimulator, order_ids: list[str]) -> dict[str, str]:
    """The recipient's and buyer's personal data of these orders, as the simulator's admin API has them."""
    found: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        for order_id in order_ids:
            async with session.get(f"{sim.url}/_sim/orders/{order_id}") as response:
                order = (await response.json())["order"]
            address = order.get("recipient", {}).get("deliveryAddress", {})
            buyer = order.get("buyer", {})
            for key, value in [*address.items(), *buyer.items()]:
                if key in ("name", "addressLine1", "addressLine2", "addressLine3", "phone", "buyerEmail", "buyerName"):
                    found[f"{order_id} {key}"] = value
    return {what: value for what, value in found.items() if len(value) >= MIN_LENGTH}


@asynccontextmanager
async def amazon_journey(settings: HubSettings) -> AsyncIterator[Journey]:
    """The Amazon journey through the hub's API; the hub and the simulator stay up inside the block."""
    async with run_simulator(SimulatorConfig(sellers=1, orders_per_seller=30, marketplaces=["NL"])) as sim:
        jobs = settings.jobs.model_copy(update={"tick_seconds": 0.5, "retry_base_seconds": 0.05})
        hub = settings.model_copy(update={"jobs": jobs, "connectors": {"amazon": amazon(sim)}})
        async with TestClient(TestServer(create_app(hub), host="127.0.0.1")) as client:
            api = await new_api(client, "Data protection merchant")
            status, started = await api.call("POST", "/api/v1/connections", json={"connector": "amazon", "marketplace": "NL"})
            assert status == 201, started
            async with aiohttp.ClientSession() as browser:
                back = await approve(browser, started["authorize_url"])
            response = await client.get("/connect/callback", params=dict(parse_qsl(urlsplit(back).query)))
            assert response.status == 200, await response.text()
            connection_id = started["connection"]["id"]
            await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
            status, run = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})
            assert status == 202, run

            async def imported() -> bool:
                return (await api.call("GET", f"/api/v1/imports/{run['id']}"))[1]["state"] == "succeeded"

            await eventually(imported)
            _, listed = await api.call("GET", "/api/v1/orders", params={"limit": "500"})
            labels = []
            for n, order in enumerate(listed["orders"][:2], start=1):
                body = {"order_id": order["id"], "label_id": f"DP-{n}", "parcels": [{"tracking_number": f"GLSDP{n}"}]}
                status, label = await api.call("POST", "/api/v1/labels", json=body)
                assert status == 201, label
                labels.append(label["id"])

            async def confirmed() -> bool:
                states = [(await api.call("GET", f"/api/v1/labels/{lid}"))[1]["parcels"][0]["push_state"] for lid in labels]
                return states == ["confirmed"] * len(labels)

            await eventually(confirmed)
            secrets = {
                "client secret": DEFAULT_CLIENT_SECRET,
                "hub API token": api.token,
                **{f"refresh token {n}": token for n, token in enumerate(sim.state.grants)},
                **{f"access token {n}": token for n, token in enumerate(sim.state.access_tokens)},
                **await personal_data(sim, [o["external_id"] for o in listed["orders"]]),
            }
            yield Journey(api, sim, secrets, len(listed["orders"]), len(sim.state.confirmations))


def found_in(text: str, secrets: dict[str, str]) -> list[str]:
    """Which secrets appear in ``text``."""
    return [what for what, value in secrets.items() if value in text]


async def test_database_dump_and_logs_of_the_amazon_journey_hold_no_secret_or_personal_data(
    settings: HubSettings, caplog: pytest.LogCaptureFixture, json_log: io.StringIO
) -> None:
    # caplog's handler before the JSON one: it formats each record before the SecretFilter masks it,
    # so caplog holds the raw log and the buffer what `hub serve` would write.
    root = logging.getLogger()
    root.handlers.sort(key=lambda handler: getattr(handler, "stream", None) is json_log)
    caplog.set_level(logging.DEBUG)
    async with amazon_journey(settings) as journey:
        text = await dump(journey.api.rt.db.pool)
    assert journey.orders >= 5 and journey.confirmed == 2
    assert any(w.startswith("refresh token") for w in journey.secrets) and any(w.startswith("access token") for w in journey.secrets)
    personal = [w for w in journey.secrets if w.endswith((" name", " addressLine1", " phone"))]
    assert len(personal) >= 2 * journey.orders, sorted(journey.secrets)
    assert "Data protection merchant" in text and "GLSDP1" in text  # the dump does hold the data
    assert found_in(text, journey.secrets) == []
    raw = caplog.text
    assert "authorised" in raw and "pushed" in raw  # the logs do tell the journey
    assert found_in(raw, journey.secrets) == []
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert len(lines) >= len(raw.splitlines()) // 2 and {"time", "level", "logger", "message"} <= set(lines[0])
    assert found_in(json_log.getvalue(), journey.secrets) == []


def order(external_id: str, name: str, status: OrderStatus = OrderStatus.OPEN) -> Order:
    now = datetime.now(UTC)
    return Order(
        external_id=external_id,
        status=status,
        created_at=now,
        updated_at=now,
        recipient=Address(name=name, lines=[f"{name}straat 1"], postal_code="1234 AB", city="Utrecht", country_code="NL", phone="+31612345678"),
        items=[OrderItem(external_id=f"{external_id}-1", quantity_ordered=1, quantity_unshipped=1)],
    )


async def stored_world(rt: Runtime) -> tuple[int, dict[str, int]]:
    """A connection with credentials and three orders with recipients; the connection id and order ids."""
    account = await create_account(rt.db.pool, "Rotation merchant")
    async with rt.db.pool.acquire() as db, db.transaction():
        connection = await connection_store.create_connection(db, account.id, "amazon", ConnectionSettings())
        await connection_store.store_authorization(
            db, rt.vault, connection.id, "A1SELLER", {"refresh_token": "Atzr|rotation-secret"}, None, ConnectionSettings()
        )
        await save_page(db, rt.vault, connection.id, [order("O-1", "Anna"), order("O-2", "Bram"), order("O-3", "Cees")], [])
    rows = await rt.db.pool.fetch("select id, external_id from orders where connection_id = $1", connection.id)
    return connection.id, {row["external_id"]: row["id"] for row in rows}


def with_keys(settings: HubSettings, *keys: str) -> HubSettings:
    """The settings with these encryption keys, newest first."""
    security = type(settings.security).model_validate({**settings.security.model_dump(), "encryption_keys": list(keys)})
    return settings.model_copy(update={"security": security})


async def test_data_written_with_key_a_stays_readable_with_b_a_and_after_rotation_with_b_alone(settings: HubSettings) -> None:
    key_a, key_b = settings.security.encryption_keys[0].get_secret_value(), new_key()
    async with open_runtime(settings) as rt:
        connection_id, orders = await stored_world(rt)
    async with open_runtime(with_keys(settings, key_b, key_a)) as rt:
        assert (await connection_store.load_credentials(rt.db.pool, rt.vault, connection_id))["refresh_token"] == "Atzr|rotation-secret"
        assert (await get_order(rt.db.pool, rt.vault, orders["O-2"])).order.recipient.name == "Bram"
        counts = await reencrypt(rt.db.pool, rt.vault, batch=2)  # two batches of orders
    assert counts == {"connections.credentials": 1, "orders.recipient": 3, "orders.recipient_tokens": 3}
    async with open_runtime(with_keys(settings, key_b)) as rt:
        assert (await connection_store.load_credentials(rt.db.pool, rt.vault, connection_id))["refresh_token"] == "Atzr|rotation-secret"
        assert [(await get_order(rt.db.pool, rt.vault, oid)).order.recipient.name for oid in orders.values()] == ["Anna", "Bram", "Cees"]
        token = await rt.db.pool.fetchval("select recipient from orders where id = $1", orders["O-1"])
    with pytest.raises(ConfigError, match="old key"):
        Vault([key_a.encode()]).decrypt(token)  # nothing is left under key A


async def test_rotation_without_the_old_key_stops_with_a_message_and_keeps_the_data(settings: HubSettings) -> None:
    async with open_runtime(settings) as rt:
        connection_id, _ = await stored_world(rt)
        before = await rt.db.pool.fetchval("select credentials from connections where id = $1", connection_id)
    async with open_runtime(with_keys(settings, new_key())) as rt:
        with pytest.raises(ConfigError, match="keep the old key"):
            await reencrypt(rt.db.pool, rt.vault)
        assert await rt.db.pool.fetchval("select credentials from connections where id = $1", connection_id) == before


async def test_cli_rotate_keys_reencrypts_with_the_newest_key(settings: HubSettings, tmp_path: Path) -> None:
    key_a, key_b = settings.security.encryption_keys[0].get_secret_value(), new_key()
    async with open_runtime(settings) as rt:
        connection_id, orders = await stored_world(rt)
    (tmp_path / "hub.toml").write_text("", encoding="utf-8")
    env = {
        "HUB_CONFIG": str(tmp_path / "hub.toml"),
        "HUB_DATABASE__URL": settings.database.url.get_secret_value(),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_SECURITY__ENCRYPTION_KEYS": json.dumps([key_b, key_a]),
    }
    result = await asyncio.to_thread(CliRunner().invoke, main, ["config", "rotate-keys"], env=env)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 credentials and 3 recipients" in result.output
    async with open_runtime(with_keys(settings, key_b)) as rt:
        assert (await connection_store.load_credentials(rt.db.pool, rt.vault, connection_id))["refresh_token"] == "Atzr|rotation-secret"
        assert (await get_order(rt.db.pool, rt.vault, orders["O-3"])).order.recipient.name == "Cees"


async def test_personal_data_is_gone_after_the_retention_period_and_the_order_stays(settings: HubSettings) -> None:
    async with open_runtime(settings) as rt:
        _, orders = await stored_world(rt)
        days = rt.settings.jobs.retention_days
        await rt.db.pool.execute(
            "update orders set status = 'shipped', closed_at = now() - make_interval(days => $2) where id = $1", orders["O-1"], days + 1
        )
        await rt.db.pool.execute(
            "update orders set status = 'shipped', closed_at = now() - make_interval(days => $2) where id = $1", orders["O-2"], days - 1
        )
        before = await rt.db.pool.fetchrow("select * from orders where id = $1", orders["O-1"])
        assert await delete_expired_personal_data(rt) == 1
        after = await rt.db.pool.fetchrow("select * from orders where id = $1", orders["O-1"])
        # The recipient goes, and the search tokens made from it (they are personal data too); the rest stays.
        assert before["recipient_tokens"] and after["recipient"] is None and after["recipient_tokens"] is None
        personal = ("recipient", "recipient_tokens")
        assert {k: v for k, v in after.items() if k not in personal} == {k: v for k, v in before.items() if k not in personal}
        kept = await get_order(rt.db.pool, rt.vault, orders["O-1"])
        assert kept.order.recipient is None and [i.external_id for i in kept.order.items] == ["O-1-1"]
        assert (await get_order(rt.db.pool, rt.vault, orders["O-2"])).order.recipient.name == "Bram"  # not yet due
        assert (await get_order(rt.db.pool, rt.vault, orders["O-3"])).order.recipient.name == "Cees"  # still open
        assert await delete_expired_personal_data(rt) == 0  # nothing left to delete
