"""Core with the Amazon connector, on PostgreSQL, against the simulator (Amazon's usage plans, real clock).

What the shop did outside the hub and what the hub did: packages made in Seller Central count as
shipped and their references are never reused, orders whose salesChannel names no marketplace
are confirmed under the one they were fetched under, a new connection imports every marketplace
the seller sells in and the merchant narrows them, and several processes on one database keep
one seller's usage plan and refresh its access token once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from connectors.amazon.const import MARKETPLACES
from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.faults import FaultRule
from connectors.amazon.simulator.merchant import approve
from core.contract.errors import InvalidInput, NotFound
from core.contract.models import ConnectionState, ParcelItem, PushState
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.connections import get_connection
from core.storage.orders import StoredOrder, find_order
from core.storage.tokens import create_token
from core.usecases import connections
from core.usecases.imports import run_import
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label
from hub.app import create_app
from hub.cli import main
from hub.keys import RUNTIME

ITEM, OTHER_ITEM = "50000000000001", "50000000000002"
SELLS_IN = ["NL", "DE", "FR", "BE"]
#: Past Amazon's two-minute margin, so that what was just added or changed is searchable.
SETTLE = 300


def amazon_table(sim: RunningSimulator) -> dict[str, Any]:
    return {
        "endpoint": sim.url,
        "application_id": DEFAULT_APPLICATION_ID,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """One seller on NL, DE, FR and BE, no orders yet, usage plans on, the real clock."""
    async with run_simulator(SimulatorConfig(sellers=1, orders_per_seller=0, marketplaces=SELLS_IN)) as running:
        yield running


@pytest.fixture
def hub_settings(settings: HubSettings, sim: RunningSimulator) -> HubSettings:
    return settings.model_copy(update={"connectors": {"amazon": amazon_table(sim)}})


@pytest.fixture
async def rt(hub_settings: HubSettings, sim: RunningSimulator) -> AsyncIterator[Runtime]:
    """A runtime whose clock is the simulator's (which tests move past Amazon's two-minute margin)."""
    async with open_runtime(hub_settings, now=sim.state.clock.now) as runtime:
        yield runtime


async def connect(rt: Runtime, account_id: int | None = None, picked: str = "NL") -> int:
    """Connect through the consent page, picking one marketplace on the Connect form; tracking on."""
    account_id = account_id or (await create_account(rt.db.pool, "Amazon merchant")).id
    _, url = await connections.start_connect(rt, account_id, "amazon", {"marketplace": picked})
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
    connection = await connections.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)), account_id)
    await connections.change_settings(rt, account_id, connection.id, {"update_tracking": True})
    return connection.id


async def imported(rt: Runtime, connection_id: int, order_id: str) -> StoredOrder:
    return await find_order(rt.db.pool, rt.vault, connection_id, order_id)


def packages_at_amazon(sim: RunningSimulator, order_id: str) -> dict[str, tuple[str, str, dict[str, int]]]:
    """reference -> (carrier, tracking number, items) of the order's packages at Amazon."""
    detail = sim.state.detail(sim.state.order(order_id))
    return {ref: (p.carrier, p.tracking_number, dict(p.items)) for ref, p in detail.packages.items()}


def label(external_id: str, tracking: str, *items: tuple[str, int]) -> NewLabel:
    """A one-parcel label; without items, everything still to ship."""
    parcel_items = [ParcelItem(item_external_id=item, quantity=quantity) for item, quantity in items] or None
    return NewLabel(external_id=external_id, parcels=[NewParcel(tracking_number=tracking, items=parcel_items)])


# -- 1 and 2: what was shipped outside the hub, and the references it used ----------------------------


async def test_all_items_left_counts_what_was_shipped_outside_the_hub_and_what_the_hub_sent_since(
    rt: Runtime, sim: RunningSimulator
) -> None:
    connection_id = await connect(rt)
    order = sim.state.add_order(marketplace_code="NL", items=[{"orderItemId": ITEM, "quantity": 3}])
    sim.state.add_package(order.order_id, {ITEM: 1}, carrier_code="DHL", tracking_number="DHL-ELSEWHERE")
    sim.state.clock.advance(SETTLE)
    await run_import(rt, connection_id)
    stored = await imported(rt, connection_id, order.order_id)
    assert stored.order.shop_references == ["1"] and stored.order.items[0].quantity_unshipped == 2

    first = await create_label(rt, stored.id, label("L-1", "GLS0001", (ITEM, 1)))
    assert [p.push_state for p in (await push_label(rt, first.id)).parcels] == [PushState.CONFIRMED]
    # No import since: Amazon's count of 2 left does not know the hub's parcel yet.
    rest = await create_label(rt, stored.id, label("L-2", "GLS0002"))

    assert [p.items for p in rest.parcels] == [[ParcelItem(item_external_id=ITEM, quantity=1)]]
    assert [p.push_state for p in (await push_label(rt, rest.id)).parcels] == [PushState.CONFIRMED]
    assert sim.state.order(order.order_id).status == "SHIPPED"
    assert packages_at_amazon(sim, order.order_id) == {
        "1": ("DHL", "DHL-ELSEWHERE", {ITEM: 1}),
        "2": ("GLS", "GLS0001", {ITEM: 1}),
        "3": ("GLS", "GLS0002", {ITEM: 1}),
    }
    confirmations = len(sim.state.confirmations)
    with pytest.raises(InvalidInput, match="nothing left to ship"):
        await create_label(rt, stored.id, label("L-3", "GLS0003"))
    assert len(sim.state.confirmations) == confirmations, "refused before anything was sent"


async def test_a_label_asking_for_more_than_is_left_is_refused_saying_why(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    order = sim.state.add_order(
        marketplace_code="NL",
        items=[{"orderItemId": ITEM, "quantity": 3}, {"orderItemId": OTHER_ITEM, "quantity": 1}],
    )
    sim.state.add_package(order.order_id, {ITEM: 1})
    sim.state.clock.advance(SETTLE)
    await run_import(rt, connection_id)
    stored = await imported(rt, connection_id, order.order_id)

    with pytest.raises(InvalidInput) as too_many:
        await create_label(rt, stored.id, label("L-0", "GLS0000", (ITEM, 3)))
    assert too_many.value.message == (
        f"Item {ITEM} of order {stored.id} has 2 left to ship, not 3: "
        "the shop reported 2 of 3 unshipped at the last import, hub parcels hold 0."
    )
    first = await create_label(rt, stored.id, label("L-1", "GLS0001", (ITEM, 1)))
    await push_label(rt, first.id)

    with pytest.raises(InvalidInput) as since:
        await create_label(rt, stored.id, label("L-2", "GLS0002", (ITEM, 2)))
    assert since.value.message == (
        f"Item {ITEM} of order {stored.id} has 1 left to ship, not 2: the shop reported 2 of 3 unshipped at the "
        "last import, hub parcels hold 1 (1 of them sent since, not counted by the shop yet)."
    )
    sim.state.clock.advance(SETTLE)
    await run_import(rt, connection_id)
    with pytest.raises(InvalidInput) as after_import:
        await create_label(rt, stored.id, label("L-2", "GLS0002", (ITEM, 2)))
    assert after_import.value.message.endswith(
        "has 1 left to ship, not 2: the shop reported 1 of 3 unshipped at the last import, hub parcels hold 1."
    )
    confirmations = len(sim.state.confirmations)
    done = await create_label(rt, stored.id, label("L-2", "GLS0002"))
    assert [(i.item_external_id, i.quantity) for i in done.parcels[0].items] == [(ITEM, 1), (OTHER_ITEM, 1)]
    assert len(sim.state.confirmations) == confirmations


async def test_a_hub_parcel_never_takes_a_reference_amazon_holds_and_keeps_its_own_through_retries(
    rt: Runtime, sim: RunningSimulator
) -> None:
    connection_id = await connect(rt)
    order = sim.state.add_order(marketplace_code="NL", items=[{"orderItemId": ITEM, "quantity": 4}])
    sim.state.add_package(order.order_id, {ITEM: 1}, tracking_number="DHL-1")
    sim.state.add_package(order.order_id, {ITEM: 1}, reference="5", tracking_number="DPD-5", carrier_code="DPD")
    sim.state.clock.advance(SETTLE)
    await run_import(rt, connection_id)
    stored = await imported(rt, connection_id, order.order_id)
    # The first confirmation is taken but its answer is lost: the client sends it again.
    sim.state.faults.add([FaultRule(operation="confirmShipment", kind="lost", next=1)])

    two = NewLabel(
        external_id="L-1",
        parcels=[NewParcel(tracking_number="GLS0001", items=[ParcelItem(item_external_id=ITEM, quantity=1)]),
                 NewParcel(tracking_number="GLS0002", items=[ParcelItem(item_external_id=ITEM, quantity=1)])],
    )
    created = await create_label(rt, stored.id, two)
    pushed = await push_label(rt, created.id)

    assert [(p.reference, p.push_state) for p in pushed.parcels] == [("6", PushState.CONFIRMED), ("7", PushState.CONFIRMED)]
    assert [(c.package_reference_id, c.action) for c in sim.state.confirmations_of(order.order_id)] == [
        ("6", "created"), ("6", "updated"), ("7", "created")
    ]
    assert packages_at_amazon(sim, order.order_id) == {
        "1": ("DHL", "DHL-1", {ITEM: 1}),
        "5": ("DPD", "DPD-5", {ITEM: 1}),
        "6": ("GLS", "GLS0001", {ITEM: 1}),
        "7": ("GLS", "GLS0002", {ITEM: 1}),
    }
    # Pushed again (a merchant's retry): the same references, an edit each, no new package.
    await connections.change_settings(rt, None, connection_id, {"update_tracking": True})
    async with rt.db.pool.acquire() as db:
        await db.execute("update parcels set push_state = 'pending' where label_id = $1", created.id)
    again = await push_label(rt, created.id)
    assert [p.reference for p in again.parcels] == ["6", "7"]
    assert set(packages_at_amazon(sim, order.order_id)) == {"1", "5", "6", "7"}


# -- 3: an order whose salesChannel names no marketplace -------------------------------------------


async def test_an_order_without_a_marketplace_id_is_confirmed_under_the_one_it_was_fetched_under(
    rt: Runtime, sim: RunningSimulator
) -> None:
    connection_id = await connect(rt)
    order = sim.state.add_order(marketplace_code="DE", shows_marketplace=False, items=[{"orderItemId": ITEM}])
    sim.state.clock.advance(SETTLE)

    await run_import(rt, connection_id)

    stored = await imported(rt, connection_id, order.order_id)
    assert stored.order.marketplace == MARKETPLACES["DE"].id
    created = await create_label(rt, stored.id, label("L-1", "GLS0001"))
    assert [p.push_state for p in (await push_label(rt, created.id)).parcels] == [PushState.CONFIRMED]
    [confirmation] = sim.state.confirmations_of(order.order_id)
    assert confirmation.payload["marketplaceId"] == MARKETPLACES["DE"].id


async def test_with_one_marketplace_the_order_takes_it_without_a_search(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    await connections.change_settings(rt, None, connection_id, {"marketplaces": ["BE"]})
    order = sim.state.add_order(marketplace_code="BE", shows_marketplace=False)
    sim.state.clock.advance(SETTLE)
    searches, within_quota = [0], sim.state.within_quota

    def counted(seller_id: str, operation: str) -> bool:
        searches[0] += operation == "searchOrders"
        return within_quota(seller_id, operation)

    sim.state.within_quota = counted  # type: ignore[method-assign]

    await run_import(rt, connection_id)

    assert (await imported(rt, connection_id, order.order_id)).order.marketplace == MARKETPLACES["BE"].id
    assert searches == [1], "the run's own search only"


# -- 4: every marketplace the seller sells in, narrowed by the merchant ------------------------------


async def test_a_new_connection_imports_from_every_marketplace_the_seller_sells_in(
    rt: Runtime, sim: RunningSimulator
) -> None:
    orders = {code: sim.state.add_order(marketplace_code=code).order_id for code in SELLS_IN}
    sim.state.clock.advance(SETTLE)

    connection_id = await connect(rt, picked="NL")

    connection = await get_connection(rt.db.pool, connection_id)
    assert connection.state is ConnectionState.CONNECTED
    assert connection.settings.marketplaces == SELLS_IN
    await run_import(rt, connection_id)
    for code, order_id in orders.items():
        assert (await imported(rt, connection_id, order_id)).order.marketplace == MARKETPLACES[code].id


async def test_the_merchant_narrows_the_marketplaces_and_unknown_codes_change_nothing(
    rt: Runtime, sim: RunningSimulator
) -> None:
    connection_id = await connect(rt)
    orders = {code: sim.state.add_order(marketplace_code=code).order_id for code in SELLS_IN}
    sim.state.clock.advance(SETTLE)

    narrowed = await connections.change_settings(rt, None, connection_id, {"marketplaces": ["be", "NL", "BE"]})
    assert narrowed.settings.marketplaces == ["BE", "NL"]
    with pytest.raises(InvalidInput) as unknown:
        await connections.change_settings(rt, None, connection_id, {"marketplaces": ["NL", "XX"], "update_tracking": False})
    assert unknown.value.field == "marketplaces"
    assert unknown.value.message == "Amazon has no marketplace 'XX': choose from NL, DE, FR, IT, ES, UK, BE, PL, SE, IE."
    unchanged = await get_connection(rt.db.pool, connection_id)
    assert unchanged.settings.marketplaces == ["BE", "NL"] and unchanged.settings.update_tracking

    await run_import(rt, connection_id)

    for code, order_id in orders.items():
        if code in ("BE", "NL"):
            assert (await imported(rt, connection_id, order_id)).order.marketplace == MARKETPLACES[code].id
        else:
            with pytest.raises(NotFound):
                await imported(rt, connection_id, order_id)


async def test_a_reconnect_keeps_the_marketplaces_the_merchant_chose(rt: Runtime, sim: RunningSimulator) -> None:
    connection_id = await connect(rt)
    await connections.change_settings(rt, None, connection_id, {"marketplaces": ["DE"]})

    url = await connections.start_reconnect(rt, None, connection_id)
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
    await connections.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)))

    assert (await get_connection(rt.db.pool, connection_id)).settings.marketplaces == ["DE"]


async def test_the_api_refuses_unknown_marketplaces_with_400_naming_the_choices(hub_settings: HubSettings) -> None:
    app = create_app(hub_settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        rt: Runtime = app[RUNTIME]
        account = await create_account(rt.db.pool, "Amazon merchant")
        headers = {"Authorization": f"Bearer {await create_token(rt.db.pool, account.id)}"}
        connection_id = await connect(rt, account.id)
        path = f"/api/v1/connections/{connection_id}"

        refused = await client.patch(path, json={"marketplaces": ["XX", "NL"]}, headers=headers)
        body = await refused.json()
        narrowed = await client.patch(path, json={"marketplaces": ["de", "nl"]}, headers=headers)

        assert refused.status == 400
        assert body["error"]["code"] == "invalid_input" and body["error"]["field"] == "marketplaces"
        assert "'XX'" in body["error"]["message"] and "NL, DE, FR, IT, ES, UK, BE, PL, SE, IE" in body["error"]["message"]
        assert narrowed.status == 200 and (await narrowed.json())["settings"]["marketplaces"] == ["DE", "NL"]


def test_the_cli_refuses_unknown_marketplaces_naming_the_choices(database_url: str, tmp_path: Any) -> None:
    env = {
        "HUB_CONFIG": "",
        "HUB_DATABASE__URL": database_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_CONNECTORS__AMAZON__APPLICATION_ID": DEFAULT_APPLICATION_ID,
        "HUB_CONNECTORS__AMAZON__CLIENT_ID": DEFAULT_CLIENT_ID,
        "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "create", "Merchant"], env=env).exit_code == 0
    connect = ["connections", "connect", "amazon", "--account", "Merchant", "--marketplace", "NL"]
    assert runner.invoke(main, connect, env=env).exit_code == 0

    refused = runner.invoke(main, ["connections", "set", "1", "--marketplaces", "NL,XX"], env=env)
    narrowed = runner.invoke(main, ["connections", "set", "1", "--marketplaces", "de,nl"], env=env)

    assert refused.exit_code != 0 and "choose from NL, DE, FR" in refused.output and "'XX'" in refused.output
    assert narrowed.exit_code == 0 and "DE, NL" in narrowed.output


# -- 5: one pace and one token for every process on the database ----------------------------------


@pytest.fixture
async def processes(hub_settings: HubSettings, sim: RunningSimulator) -> AsyncIterator[list[Runtime]]:
    """Three runtimes on one database: three processes as far as Amazon can tell."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(open_runtime(hub_settings, now=sim.state.clock.now)) for _ in range(3)
        ]


def counting(sim: RunningSimulator) -> tuple[list[int], list[int]]:
    """Count the confirmShipment calls Amazon's buckets refuse and the LWA refreshes."""
    refused, refreshes = [0], [0]
    within_quota, refresh = sim.state.within_quota, sim.state.refresh

    def quota(seller_id: str, operation: str) -> bool:
        allowed = within_quota(seller_id, operation)
        refused[0] += not allowed and operation == "confirmShipment"
        return allowed

    def refreshing(refresh_token: str) -> Any:
        refreshes[0] += 1
        return refresh(refresh_token)

    sim.state.within_quota, sim.state.refresh = quota, refreshing  # type: ignore[method-assign]
    return refused, refreshes


async def test_three_processes_keep_one_sellers_usage_plan_and_refresh_its_token_once(
    processes: list[Runtime], sim: RunningSimulator
) -> None:
    first = processes[0]
    connection_id = await connect(first)
    ids = [sim.state.add_order(marketplace_code="NL", items=[{"quantity": 1}]).order_id for _ in range(16)]
    sim.state.clock.advance(SETTLE)
    await run_import(first, connection_id)
    labels = [
        await create_label(first, (await imported(first, connection_id, order_id)).id, label(f"L-{n}", f"GLS{n:04d}"))
        for n, order_id in enumerate(ids)
    ]
    # The hour of the access token from the consent is over: every process needs a new one at once.
    await first.db.pool.execute("delete from shared_secrets")
    refused, refreshes = counting(sim)

    pushed = await asyncio.gather(*(push_label(processes[n % 3], stored.id) for n, stored in enumerate(labels)))

    assert [p.parcels[0].push_state for p in pushed] == [PushState.CONFIRMED] * 16
    assert refused == [0], "16 confirmations at once against a burst of 10: the processes paced together"
    assert refreshes == [1], "one refresh for the seller, whichever process needed it first"
