"""The bol.com connector against the simulator: import, push, settle, webhooks, tokens and pacing, end to end.

Every request the connector sends here is recorded on the HTTP session and checked against
bol.com's descriptions (``HUB_BOL_MODELS``) when the test ends. Process statuses settle only when
a test says so (``settle_delay=None``), so nothing here waits for time to pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

import connectors.bol as bol
from connectors.bol.client import BolState
from connectors.bol.mapping import (
    ATTR_CANCELLATION,
    ATTR_PICKUP_POINT,
    SKIP_FBB,
    SKIP_VVB,
)
from connectors.bol.settings import BolSettings
from connectors.bol.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RETAILER_ID,
    ItemCreate,
    RunningSimulator,
    parse_faults,
    run_simulator,
)
from core.hubapi import (
    AcceptedParcel,
    AuthCredentials,
    Connection,
    ConnectionSettings,
    ConnectionState,
    ConnectorContext,
    Cursor,
    EventRejected,
    ImportPage,
    Label,
    Order,
    OrderStatus,
    Parcel,
    ParcelItem,
    ParcelOutcome,
    ShopEvent,
    utc_now,
)
from core.infra.coordination import MemoryCoordination
from tests.bol_models import MEDIA_TYPE
from tests.connectors.bol.scenarios import quick_settings, simulator_config
from tests.connectors.bol.sent import Recorder, check_all

#: Every test checks what it sent against bol.com's descriptions (in the ``world`` fixture's teardown).
pytestmark = pytest.mark.bol_models


class World:
    """A simulator, an HTTP session that records what it sends, and the connector's process state."""

    def __init__(self, sim: RunningSimulator, http: aiohttp.ClientSession, recorder: Recorder) -> None:
        self.sim, self.http, self.recorder = sim, http, recorder
        self.state = BolState()
        self.settings = quick_settings(sim)
        self.coordination = MemoryCoordination()  # what every hub process shares (kept over a restart)

    def context(self, *, settings: BolSettings | None = None, events_url: str | None = None) -> ConnectorContext:
        connection = Connection(
            id=3, account_id=1, connector="bol", state=ConnectionState.CONNECTED,
            external_account_id=DEFAULT_RETAILER_ID, settings=ConnectionSettings(update_tracking=True),
        )
        return ConnectorContext(
            connection=connection,
            credentials={"client_id": SecretStr(DEFAULT_CLIENT_ID), "client_secret": SecretStr(DEFAULT_CLIENT_SECRET)},
            settings=settings or self.settings,
            http=self.http,
            log=logging.LoggerAdapter(logging.getLogger("connectors.bol"), {"connection_id": 3}),
            now=self.sim.state.clock.now,
            state=self.state,
            events_url=events_url,
            coordination=self.coordination,
        )

    def restart(self) -> None:
        """A new hub process: nothing kept in memory."""
        self.state = BolState()

    async def run(self, cursor: Cursor | None = None, **settings: Any) -> list[ImportPage]:
        context = self.context(settings=quick_settings(self.sim, **settings) if settings else None)
        return [page async for page in bol.import_orders(context, cursor or Cursor())]

    async def imported(self, order_id: str) -> Order:
        pages = await self.run(page_size=50)
        return next(order for page in pages for order in page.orders if order.external_id == order_id)

    async def push(self, order: Order, label: Label) -> list[ParcelOutcome]:
        return await bol.on_label_created(self.context(), order, label)

    async def check(self, order: Order, outcomes: list[ParcelOutcome], label: Label) -> list[ParcelOutcome]:
        tracking = {parcel.reference: parcel.tracking_number for parcel in label.parcels}
        parcels = [
            AcceptedParcel(reference=o.reference, shop_reference=o.shop_reference or "", tracking_number=tracking[o.reference],
                           order_external_id=order.external_id, accepted_at=utc_now())
            for o in outcomes if o.state == "accepted"
        ]
        return await bol.check_parcels(self.context(), parcels)

    def made(self, order_id: str) -> int:
        return len(self.sim.state.shipments_made(order_id=order_id))

    def statuses(self) -> list[int]:
        return self.recorder.statuses


@pytest.fixture
async def world() -> AsyncIterator[World]:
    recorder = Recorder()
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(run_simulator(simulator_config()))
        http = await stack.enter_async_context(aiohttp.ClientSession(trace_configs=[recorder.trace_config]))
        yield World(sim, http, recorder)
    check_all(recorder.requests)


def add(world: World, shape: str = "fbr", **fields: Any) -> str:
    return world.sim.state.new_order(shape=shape, **fields).order_id


def label_of(order: Order, *parcels: tuple[str, str, list[tuple[str, int]]]) -> Label:
    """A label; by default one parcel with every unit still to ship."""
    if not parcels:
        parcels = (("1", "GLS0000000001", [(item.external_id, item.quantity_unshipped) for item in order.items]),)
    return Label(
        external_id=f"label-{order.external_id}", ship_date=utc_now(),
        parcels=[Parcel(reference=ref, tracking_number=tracking, items=[ParcelItem(item_external_id=i, quantity=q) for i, q in items])
                 for ref, tracking, items in parcels],
    )


# connecting ---------------------------------------------------------------------------------------


async def test_connect_checks_the_pasted_credentials_and_subscribes_the_events_url(world: World) -> None:
    step = AuthCredentials(fields={"client_id": SecretStr(DEFAULT_CLIENT_ID), "client_secret": SecretStr(DEFAULT_CLIENT_SECRET)})
    events_url = "http://127.0.0.1:9/events/abc"
    grant = await bol.authorize(world.context(events_url=events_url), step)
    assert grant.external_account_id == DEFAULT_RETAILER_ID
    world.sim.state.settle_all()
    (subscription,) = world.sim.state.subscriptions.values()
    assert subscription.url == events_url and subscription.enabled
    assert set(subscription.resources) == {"ORDER", "PROCESS_STATUS"}

    world.sim.state.disable_subscription(subscription.subscription_id)
    world.sim.state.notify()
    await bol.check_connection(world.context(events_url=events_url))
    world.sim.state.settle_all()
    assert subscription.enabled  # noticed and enabled again

    await bol.disconnect(world.context(events_url=events_url))
    world.sim.state.settle_all()
    assert not world.sim.state.subscriptions


# importing ----------------------------------------------------------------------------------------


async def test_an_import_brings_the_orders_the_merchant_ships_and_says_why_it_skips_the_rest(world: World) -> None:
    shapes = {shape: add(world, shape) for shape in ("fbr", "fbb", "vvb", "pickup", "cancel_request", "partly_shipped",
                                                     "mixed", "no_party", "alphanumeric")}
    pages = await world.run(page_size=50)
    orders = {order.external_id: order for page in pages for order in page.orders}
    skipped = {skip.external_id: skip.reason for page in pages for skip in page.skipped}

    assert skipped == {shapes["fbb"]: SKIP_FBB, shapes["vvb"]: SKIP_VVB}
    assert set(orders) == set(shapes.values()) - set(skipped)
    pickup = orders[shapes["pickup"]]
    assert pickup.recipient is not None and pickup.recipient.kind == "pickup_point" and pickup.recipient.company
    assert pickup.attributes[ATTR_PICKUP_POINT] == pickup.recipient.company
    requested = orders[shapes["cancel_request"]]
    assert requested.attributes[ATTR_CANCELLATION]
    assert orders[shapes["partly_shipped"]].status is OrderStatus.PARTIALLY_SHIPPED
    assert not shapes["alphanumeric"].isdigit()
    for order in orders.values():
        for item in order.items:
            _, simulated = world.sim.state.item(item.external_id)
            assert simulated.method == "FBR" and simulated.distribution_party in ("RETAILER", None)


async def test_an_empty_shop_is_a_complete_run(world: World) -> None:
    pages = await world.run()
    assert [order for page in pages for order in page.orders] == []
    assert pages[-1].cursor.since is not None


async def test_orders_shipped_or_cancelled_at_bol_follow(world: World) -> None:
    shipped, cancelled = add(world), add(world)
    first = await world.run(page_size=50, full_scan_minutes=0)
    state = world.sim.state
    state.clock.advance(5)
    for item in state.order(cancelled).items:
        state.cancel_units(item.order_item_id)
    for item in state.order(shipped).items:  # shipped by hand in the Seller Dashboard
        state.accept_shipment(DEFAULT_RETAILER_ID, _plan(item.order_item_id, item.quantity))
    state.settle_all()
    for full_scan_minutes in (0, 15):  # a full scan sees them leave the open list; a quick run sees them change
        second = await world.run(first[-1].cursor, page_size=50, full_scan_minutes=full_scan_minutes)
        statuses = {order.external_id: order.status for page in second for order in page.orders}
        assert statuses == {shipped: OrderStatus.SHIPPED, cancelled: OrderStatus.CANCELLED}


def _plan(item_id: str, quantity: int) -> Any:
    from connectors.bol.simulator.state import ShipmentPlan

    return ShipmentPlan(items=((item_id, quantity),), reference="by-hand", transporter_code="TNT", track_and_trace="3SBOL1",
                        shipping_label_id=None)


async def test_a_burst_of_order_details_stays_inside_bols_limits(world: World) -> None:
    ids = [add(world) for _ in range(120)]
    pages = await world.run(page_size=50, detail_concurrency=25)
    assert {order.external_id for page in pages for order in page.orders} == set(ids)
    assert 429 not in world.statuses()
    details = [r for r in world.recorder.requests if r.url.path.startswith("/retailer/orders/")]
    assert len(details) == 120  # the list's three pages at 25 a minute, the details at 25 a second


async def test_one_token_serves_an_import_and_its_pushes(world: World) -> None:
    ids = [add(world) for _ in range(5)]
    await world.run(page_size=2)
    for order_id in ids:
        order = await world.imported(order_id)
        await world.push(order, label_of(order))
    client = world.sim.state.clients[DEFAULT_CLIENT_ID]
    assert client.token_requests == 1
    assert len([r for r in world.recorder.requests if r.url.path != "/token"]) > 40


async def test_an_expired_token_is_replaced_once(world: World) -> None:
    add(world)
    await world.run()
    world.sim.state.expire_tokens()
    await world.run()
    assert world.sim.state.clients[DEFAULT_CLIENT_ID].token_requests == 2


# pushing --------------------------------------------------------------------------------------------


async def test_a_label_becomes_one_shipment_that_settles(world: World) -> None:
    order = await world.imported(add(world))
    label = label_of(order)
    (outcome,) = await world.push(order, label)
    assert outcome.state == "accepted"
    assert await world.check(order, [outcome], label) == [outcome.model_copy(update={"retry_after": None})]
    world.sim.state.settle_all()
    (settled,) = await world.check(order, [outcome], label)
    assert settled.state == "confirmed"
    (shipment,) = world.sim.state.shipments_made(order_id=order.external_id)
    assert shipment.reference == f"{order.external_id}-1"
    assert (shipment.transport.transporter_code, shipment.transport.track_and_trace) == ("GLS", "GLS0000000001")
    (again,) = await world.push(order, label)  # a repeat after it settled: found, not made again
    assert again.state == "confirmed"
    assert world.made(order.external_id) == 1


@pytest.mark.parametrize("fault", ["lost", "lost-504", "lost-timeout"])
async def test_a_lost_answer_never_makes_a_second_shipment(world: World, fault: str) -> None:
    order = await world.imported(add(world))
    label = label_of(order)
    world.sim.state.faults.add(parse_faults(f"create-shipment:{fault}:next=1"))
    (first,) = await world.push(order, label)
    assert first.state == "retry"
    (second,) = await world.push(order, label)  # still processing at bol.com: waits for it
    assert second.state == "accepted" and second.shop_reference and second.shop_reference.startswith("found:")
    world.sim.state.settle_all()
    (settled,) = await world.check(order, [second], label)
    assert settled.state == "confirmed"
    (third,) = await world.push(order, label)
    assert third.state == "confirmed"
    assert world.made(order.external_id) == 1


async def test_a_crash_between_the_post_and_its_answer_never_makes_a_second_shipment(world: World) -> None:
    order = await world.imported(add(world, "multi"))
    items = [(item.external_id, item.quantity_unshipped) for item in order.items]
    label = label_of(order, ("1", "GLS0000000001", items[:1]), ("2", "GLS0000000002", items[1:]))
    world.sim.state.faults.add(parse_faults("create-shipment:lost-timeout:next=1"))
    pushing = asyncio.ensure_future(world.push(order, label))
    await world.sim.state.wait_for(lambda: world.sim.state.processes and any(
        s.event_type == "CREATE_SHIPMENT" for s in world.sim.state.processes.values()), timeout=5)
    pushing.cancel()  # the hub process dies while bol.com works on the first parcel
    with pytest.raises(asyncio.CancelledError):
        await pushing
    world.restart()
    outcomes = await world.push(order, label)
    assert [o.state for o in outcomes] == ["accepted", "accepted"]
    world.sim.state.settle_all()
    settled = await world.check(order, outcomes, label)
    assert sorted(o.state for o in settled) == ["confirmed", "confirmed"]
    world.restart()
    assert [o.state for o in await world.push(order, label)] == ["confirmed", "confirmed"]
    assert world.made(order.external_id) == 2
    assert set(world.sim.state.shipment_counts(order.external_id).values()) == {1}  # every item shipped once


async def test_two_parcels_of_one_item_make_two_shipments(world: World) -> None:
    order_id = add(world, items=[ItemCreate(orderItemId="6107331383", quantity=2)])
    order = await world.imported(order_id)
    label = label_of(order, ("1", "GLS-A", [("6107331383", 1)]), ("2", "GLS-B", [("6107331383", 1)]))
    outcomes = await world.push(order, label)
    assert [o.state for o in outcomes] == ["accepted", "accepted"]
    world.sim.state.settle_all()
    assert [o.state for o in await world.check(order, outcomes, label)] == ["confirmed", "confirmed"]
    assert world.made(order_id) == 2


async def settle_as_core_does(world: World, order: Order, label: Label, rounds: int = 8) -> dict[str, str]:
    """Push the pending parcels, settle at bol.com, check the accepted ones, as core's jobs would; final states."""
    states = {parcel.reference: "pending" for parcel in label.parcels}
    accepted: dict[str, ParcelOutcome] = {}
    for _ in range(rounds):
        pending = [parcel for parcel in label.parcels if states[parcel.reference] == "pending"]
        if pending:
            for outcome in await world.push(order, label.model_copy(update={"parcels": pending})):
                states[outcome.reference] = "pending" if outcome.state == "retry" else outcome.state
                if outcome.state == "accepted":
                    accepted[outcome.reference] = outcome
        world.sim.state.settle_all()
        waiting = [accepted[ref] for ref, state in states.items() if state == "accepted"]
        if waiting:
            for outcome in await world.check(order, waiting, label):
                states[outcome.reference] = outcome.state
                accepted[outcome.reference] = outcome
        if all(state in ("confirmed", "failed") for state in states.values()):
            break
    return states


async def test_a_lost_answer_for_the_first_of_two_parcels_of_one_item_still_makes_both(world: World) -> None:
    # Found by bench/crash_run_bol.py: the repeated push gave the first parcel's process to both parcels,
    # and the second one failed ("push it again") once that process turned out to be the first's.
    order_id = add(world, items=[ItemCreate(orderItemId="6107331383", quantity=2)])
    order = await world.imported(order_id)
    label = label_of(order, ("1", "GLS-A", [("6107331383", 1)]), ("2", "GLS-B", [("6107331383", 1)]))
    world.sim.state.faults.add(parse_faults("create-shipment:lost:next=1"))
    assert [o.state for o in await world.push(order, label)] == ["retry", "retry"]
    first, second = await world.push(order, label)  # bol.com is still processing the first parcel's shipment
    assert first.state == "accepted" and first.shop_reference and first.shop_reference.startswith("found:")
    assert second.shop_reference != first.shop_reference  # not given the same process
    assert await settle_as_core_does(world, order, label) == {"1": "confirmed", "2": "confirmed"}
    made = world.sim.state.shipments_made(order_id=order_id)
    assert sorted((s.reference, s.transport.track_and_trace) for s in made) == [
        (f"{order_id}-1", "GLS-A"), (f"{order_id}-2", "GLS-B")
    ]


async def test_a_process_one_parcel_found_is_not_taken_by_the_next_push_of_another(world: World) -> None:
    order_id = add(world, items=[ItemCreate(orderItemId="6107331383", quantity=2)])
    order = await world.imported(order_id)
    label = label_of(order, ("1", "GLS-A", [("6107331383", 1)]), ("2", "GLS-B", [("6107331383", 1)]))
    world.sim.state.faults.add(parse_faults("create-shipment:lost:next=1"))
    assert [o.state for o in await world.push(order, label)] == ["retry", "retry"]
    first, second = await world.push(order, label)
    assert (first.state, second.state) == ("accepted", "retry")
    only_second = label.model_copy(update={"parcels": label.parcels[1:]})
    world.restart()  # another hub process pushes the second parcel again, bol.com still processing the first's
    (again,) = await world.push(order, only_second)
    assert again.state == "retry"
    world.sim.state.settle_all()
    assert [o.state for o in await world.check(order, [first], label)] == ["confirmed"]
    (sent,) = await world.push(order, only_second)
    assert sent.state == "accepted" and not (sent.shop_reference or "").startswith("found:")
    world.sim.state.settle_all()
    assert [o.state for o in await world.check(order, [sent], label)] == ["confirmed"]
    assert sorted(s.reference for s in world.sim.state.shipments_made(order_id=order_id)) == [f"{order_id}-1", f"{order_id}-2"]


async def test_a_process_found_for_another_parcel_of_the_item_waits_for_the_others_to_settle(world: World) -> None:
    # The first parcel's 202 came, the second parcel's answer was lost, and the hub stored neither (a crash).
    # The process of the second may settle after the first's: until every process of the item has
    # settled, a parcel whose found process turned out to be another's is not given up.
    order_id = add(world, items=[ItemCreate(orderItemId="6107331383", quantity=2)])
    order = await world.imported(order_id)
    label = label_of(order, ("1", "GLS-A", [("6107331383", 1)]), ("2", "GLS-B", [("6107331383", 1)]))
    first, second = await world.push(order, label)
    assert (first.state, second.state) == ("accepted", "accepted")
    world.restart()
    found = await world.push(order, label)  # both processes still PENDING: each parcel is given one
    assert [o.state for o in found] == ["accepted", "accepted"]
    assert all(o.shop_reference and o.shop_reference.startswith("found:") for o in found)
    assert len({o.shop_reference for o in found}) == 2
    # bol.com settles the newer process first.
    newer = max((first, second), key=lambda o: o.shop_reference or "")
    older = first if newer is second else second
    world.sim.state.settle(newer.shop_reference or "")
    checked = {o.reference: o.state for o in await world.check(order, found, label)}
    assert "failed" not in checked.values()
    world.sim.state.settle(older.shop_reference or "")
    assert {o.reference: o.state for o in await world.check(order, found, label)} == {"1": "confirmed", "2": "confirmed"}
    assert world.made(order_id) == 2


async def test_a_changed_tracking_code_goes_to_the_existing_transport(world: World) -> None:
    order = await world.imported(add(world))
    await world.push(order, label_of(order))
    world.sim.state.settle_all()
    changed = label_of(order, ("1", "GLS0000000999", [(i.external_id, i.quantity_unshipped) for i in order.items]))
    (outcome,) = await world.push(order, changed)
    assert outcome.state == "accepted"
    world.sim.state.settle_all()
    (settled,) = await world.check(order, [outcome], changed)
    assert settled.state == "confirmed"
    (shipment,) = world.sim.state.shipments_made(order_id=order.external_id)
    assert shipment.transport.track_and_trace == "GLS0000000999"


async def test_a_cancellation_request_after_the_import_stops_the_shipment(world: World) -> None:
    order = await world.imported(add(world))
    world.sim.state.request_cancellation(order.items[0].external_id)
    (outcome,) = await world.push(order, label_of(order))
    assert outcome.state == "failed" and outcome.message and "asked bol.com to cancel" in outcome.message
    assert world.made(order.external_id) == 0


async def test_a_failed_shipment_says_why_and_a_retry_makes_it(world: World) -> None:
    order = await world.imported(add(world))
    label = label_of(order)
    (outcome,) = await world.push(order, label)
    assert outcome.shop_reference is not None
    world.sim.state.settle(outcome.shop_reference, "FAILURE", "Track and trace is not valid for GLS.")
    (failed,) = await world.check(order, [outcome], label)
    assert (failed.state, failed.message) == (
        "failed", "bol.com did not accept the shipment (failure): Track and trace is not valid for GLS."
    )
    (retried,) = await world.push(order, label)
    assert retried.state == "accepted"
    world.sim.state.settle_all()
    assert world.made(order.external_id) == 1


async def test_many_parcels_settle_in_one_bulk_call(world: World) -> None:
    ids = {add(world) for _ in range(30)}
    orders = [order for page in await world.run(page_size=50) for order in page.orders if order.external_id in ids]
    parcels = []
    for order in orders:
        label = label_of(order)
        (outcome,) = await world.push(order, label)
        parcels.append(AcceptedParcel(reference=outcome.reference, shop_reference=outcome.shop_reference or "",
                                      tracking_number="GLS0000000001", order_external_id=order.external_id,
                                      accepted_at=utc_now()))
    world.sim.state.settle_all()
    before = len(world.recorder.requests)
    settled = await bol.check_parcels(world.context(), parcels)
    assert [o.state for o in settled] == ["confirmed"] * 30
    assert len(world.recorder.requests) - before == 1
    assert 429 not in world.statuses()


# webhooks -------------------------------------------------------------------------------------------


async def test_signed_deliveries_reach_the_hub_and_mean_what_they_say(world: World) -> None:
    received: list[Any] = []
    refused: list[str] = []

    async def events(request: web.Request) -> web.Response:
        event = ShopEvent(headers={k.lower(): v for k, v in request.headers.items()}, body=await request.read(),
                          received_at=utc_now())
        try:
            received.append(await bol.receive_event(world.context(events_url=url), event))
        except EventRejected as err:
            refused.append(str(err))
            return web.Response(status=401)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/events/{token}", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/events/abc"
    world.settings = quick_settings(world.sim, signature_key_refresh_seconds=0)
    try:
        step = AuthCredentials(fields={"client_id": SecretStr(DEFAULT_CLIENT_ID), "client_secret": SecretStr(DEFAULT_CLIENT_SECRET)})
        await bol.authorize(world.context(events_url=url), step)
        state = world.sim.state
        state.settle_all()
        order_id = add(world)
        await state.wait_for(lambda: any(m.import_orders for m in received), timeout=5)
        order = await world.imported(order_id)
        (outcome,) = await world.push(order, label_of(order))
        state.rotate_keys(retire_old=True)  # bol.com signs with a key the hub has not fetched yet
        state.settle_all()
        await state.wait_for(lambda: any(outcome.shop_reference in m.settled for m in received), timeout=5)
        assert world.state.signature_keys.fetches == 2
        settled = [m for m in received if outcome.shop_reference in m.settled]
        state.redeliver(len(state.deliveries))  # a duplicate: the same event id, core answers it once
        await state.wait_for(lambda: len([m for m in received if outcome.shop_reference in m.settled]) == 2, timeout=5)
        assert len({m.event_id for m in received if outcome.shop_reference in m.settled}) == 1
        assert settled
        assert not refused
    finally:
        await runner.cleanup()


async def test_the_media_type_goes_both_ways(world: World) -> None:
    add(world)
    await world.run()
    api_requests = [r for r in world.recorder.requests if r.url.path != "/token"]
    assert api_requests and all(r.headers.get("accept") == MEDIA_TYPE for r in api_requests)

