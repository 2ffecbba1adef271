"""The merchant's journey through core with the real Amazon connector and the simulator, on PostgreSQL.

Connect through the consent page, import, label (whole, split, multi-parcel), push, and see the
orders Shipped at Amazon with carrier GLS; a retried push edits its parcel; a revoked grant puts the
connection in auth required until the merchant reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from click.testing import CliRunner

from connectors.amazon.client import ClientState
from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.contract.errors import ConnectorAuthFailed
from core.contract.models import Connection, ConnectionState, OrderStatus, ParcelItem, PushState
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.connections import get_connection
from core.storage.orders import StoredOrder, list_orders
from core.usecases import connections
from core.usecases.imports import run_import
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label
from hub.cli import main


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """The simulator with Amazon's usage plans, one seller, NL only."""
    async with run_simulator(SimulatorConfig(sellers=1, orders_per_seller=60, marketplaces=["NL"])) as running:
        yield running


def amazon_table(sim: RunningSimulator) -> dict[str, Any]:
    return {
        "endpoint": sim.url,
        "application_id": DEFAULT_APPLICATION_ID,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }


@pytest.fixture
async def rt(settings: HubSettings, sim: RunningSimulator) -> AsyncIterator[Runtime]:
    """A runtime whose Amazon connector talks to the simulator."""
    async with open_runtime(settings.model_copy(update={"connectors": {"amazon": amazon_table(sim)}})) as runtime:
        yield runtime


async def connect(rt: Runtime, account_id: int | None = None) -> int:
    """Connect Amazon NL through the consent page as the merchant would."""
    account_id = account_id or (await create_account(rt.db.pool, "Amazon merchant")).id
    _, url = await connections.start_connect(rt, account_id, "amazon", {"marketplace": "NL"})
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
    connection = await connections.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)), account_id)
    await connections.change_settings(rt, account_id, connection.id, {"update_tracking": True})
    return connection.id


async def at_amazon(sim: RunningSimulator, order_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{sim.url}/_sim/orders/{order_id}") as response:
        return (await response.json())["order"]


async def open_orders(rt: Runtime, connection_id: int) -> list[StoredOrder]:
    return await list_orders(rt.db.pool, rt.vault, connection_id=connection_id, status=OrderStatus.OPEN.value, limit=500)


async def test_the_runtime_opens_the_amazon_connector_with_its_own_state(rt: Runtime) -> None:
    state = rt.connector_states["amazon"]
    assert isinstance(state, ClientState)
    connection = Connection(id=1, account_id=1, connector="amazon", state=ConnectionState.PENDING)
    assert rt.context_with(connection, {}).state is state


async def test_connect_import_label_shows_the_order_shipped_with_gls(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    connection = await get_connection(rt.db.pool, connection_id)
    assert connection.state is ConnectionState.CONNECTED and connection.settings.marketplaces == ["NL"]
    run = await run_import(rt, connection_id)
    assert run.new > 5 and run.state == "succeeded"
    stored = (await open_orders(rt, connection_id))[0]
    assert stored.order.recipient and stored.order.recipient.name and stored.order.recipient.lines
    label = await create_label(rt, stored.id, NewLabel(external_id="L-1", parcels=[NewParcel(tracking_number="GLS0001")]))
    pushed = await push_label(rt, label.id)
    assert [p.push_state for p in pushed.parcels] == [PushState.CONFIRMED]
    order = await at_amazon(sim, stored.order.external_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [(p["carrier"], p["trackingNumber"]) for p in order["packages"]] == [("GLS", "GLS0001")]


async def test_partial_then_multi_parcel_shipment(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    await run_import(rt, connection_id)
    stored = next(o for o in await open_orders(rt, connection_id) if len([i for i in o.order.items if i.quantity_unshipped]) > 1)
    first, *rest = [i for i in stored.order.items if i.quantity_unshipped]
    partial = NewParcel(tracking_number="GLSP1", items=[ParcelItem(item_external_id=first.external_id, quantity=first.quantity_unshipped)])
    await push_label(rt, (await create_label(rt, stored.id, NewLabel(external_id="L-1", parcels=[partial]))).id)
    assert (await at_amazon(sim, stored.order.external_id))["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    parcels = [
        NewParcel(tracking_number=f"GLSM{n}", items=[ParcelItem(item_external_id=item.external_id, quantity=item.quantity_unshipped)])
        for n, item in enumerate(rest, start=1)
    ]
    await push_label(rt, (await create_label(rt, stored.id, NewLabel(external_id="L-2", parcels=parcels))).id)
    order = await at_amazon(sim, stored.order.external_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert sorted(p["packageReferenceId"] for p in order["packages"]) == [str(n) for n in range(1, len(rest) + 2)]


async def test_retried_push_edits_its_parcel_instead_of_adding_one(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    await run_import(rt, connection_id)
    stored = (await open_orders(rt, connection_id))[0]
    label = await create_label(rt, stored.id, NewLabel(external_id="L-1", parcels=[NewParcel(tracking_number="GLS1")]))
    await push_label(rt, label.id)
    # A crash after Amazon's 204 but before the hub stored it: the parcel is pending again.
    await rt.db.pool.execute("update parcels set push_state = 'pending' where label_id = $1", label.id)
    await push_label(rt, label.id)
    order = await at_amazon(sim, stored.order.external_id)
    assert len(order["packages"]) == 1 and order["packages"][0]["packageReferenceId"] == "1"


async def test_revoked_grant_requires_reconnect_then_pushes_resume(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    await run_import(rt, connection_id)
    stored = (await open_orders(rt, connection_id))[0]
    label = await create_label(rt, stored.id, NewLabel(external_id="L-1", parcels=[NewParcel(tracking_number="GLS1")]))
    sim.state.revoke(sim.state.first_seller.seller_id)
    with pytest.raises(ConnectorAuthFailed, match="[Rr]econnect"):
        await push_label(rt, label.id)
    connection = await get_connection(rt.db.pool, connection_id)
    assert connection.state is ConnectionState.AUTH_REQUIRED
    await rt.db.pool.execute("delete from pgqueuer")  # the label's job ran and ended waiting for a reconnect
    url = await connections.start_reconnect(rt, connection.account_id, connection_id)
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
    await connections.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)), connection.account_id)
    assert (await get_connection(rt.db.pool, connection_id)).state is ConnectionState.CONNECTED
    pending = await rt.db.pool.fetchval("select count(*) from pgqueuer where entrypoint = 'push'")
    assert pending == 1  # the waiting push was queued again on reconnect
    pushed = await push_label(rt, label.id)
    assert pushed.parcels[0].push_state is PushState.CONFIRMED


def test_demo_runs_the_whole_journey(database_url: str, tmp_path) -> None:  # noqa: ANN001
    env = {"HUB_DATABASE__URL": database_url, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_CONFIG": ""}
    env["HUB_PLUGINS__ALLOW"] = '["amazon"]'  # Amazon's part of the demo alone, whatever else is installed
    result = CliRunner().invoke(main, ["demo", "--orders", "40", "--labels", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "connected to seller" in result.output
    assert result.output.count(": SHIPPED (GLS GLS") == 2
    steps = [line for line in result.output.splitlines() if line[:1].isdigit()]
    assert steps == [
        "1. Starting the Amazon simulator on 127.0.0.1",
        "2. Opening the database (configured server)",
        "3. Creating a carrier account",
        "4. Settings > All integrations > Amazon > Connect (marketplace NL)",
        "5. Shipping > Import from shop > Start import",
        "6. Creating labels for 2 orders; the hub sends each tracking code to Amazon",
        "7. Reading the orders back from Amazon (the simulator)",
    ]
    assert "Seller Central, LWA and SP-API at http://127.0.0.1:" in result.output
    assert "migrations applied; Amazon connector loaded" in result.output
    assert 'the merchant ticked "I direct Amazon to provide Hub demo access ..." and confirmed' in result.output
