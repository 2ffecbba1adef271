"""The key shop connector and its KeyShop behave as documented, for the kit and the hub tests that rely on them."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

import tests.contract.keyshop as keyshop
from core.hubapi import (
    AcceptedParcel,
    AuthCredentials,
    AuthStart,
    Connection,
    ConnectionState,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    ConnectorSetup,
    Cursor,
    EventMeaning,
    EventRejected,
    ImportPage,
    InvalidInput,
    Label,
    Order,
    Parcel,
    ParcelItem,
    RateLimited,
    ShopEvent,
)
from core.infra.hooks import HookRunner
from tests.contract.keyshop.settings import KeyshopSettings
from tests.contract.keyshop.shop import (
    GOOD_CLIENT_ID,
    GOOD_CLIENT_SECRET,
    SIGNATURE_HEADER,
    TOKEN_SECONDS,
    EventMessage,
    KeyShop,
    close_shop,
    open_shop,
)
from tests.contract.keyshop.tokens import TokenCache

EVENTS_URL = "https://hub.invalid/events/token-1"
ContextFor = Callable[..., ConnectorContext]


@pytest.fixture
def shop() -> Iterator[KeyShop]:
    shop = open_shop("unit")
    yield shop
    close_shop("unit")


@pytest.fixture
def runner() -> HookRunner:
    runner = HookRunner()
    runner.register("keyshop", keyshop)
    return runner


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def state(runner: HookRunner, shop: KeyShop, http: aiohttp.ClientSession) -> AsyncIterator[TokenCache]:
    setup = ConnectorSetup("keyshop", KeyshopSettings(shop="unit"), http, logging.getLogger("t"), lambda: shop.now)
    cache = await runner.open_connector(setup)
    yield cache
    await runner.close_connector(setup, cache)


@pytest.fixture
def context(shop: KeyShop, http: aiohttp.ClientSession, state: TokenCache) -> ContextFor:
    def build(
        secret: str = GOOD_CLIENT_SECRET, events_url: str | None = None, **credentials: str
    ) -> ConnectorContext:
        connection = Connection(id=7, account_id=1, connector="keyshop", state=ConnectionState.CONNECTED)
        stored = {"client_id": GOOD_CLIENT_ID, "client_secret": secret, **credentials}
        return ConnectorContext(
            connection=connection,
            credentials={key: SecretStr(value) for key, value in stored.items()},
            settings=KeyshopSettings(shop="unit"),
            http=http,
            log=logging.LoggerAdapter(logging.getLogger("connectors.keyshop"), {}),
            now=lambda: shop.now,
            state=state,
            events_url=events_url,
        )

    return build


def fields(secret: str = GOOD_CLIENT_SECRET, client_id: str = GOOD_CLIENT_ID) -> AuthCredentials:
    return AuthCredentials(fields={"client_id": SecretStr(client_id), "client_secret": SecretStr(secret)})


async def pages(runner: HookRunner, context: ConnectorContext, cursor: Cursor) -> list[ImportPage]:
    return [page async for page in runner.import_orders(context, cursor)]


def ids(result: list[ImportPage]) -> list[str]:
    return [order.external_id for page in result for order in page.orders]


async def first_order(runner: HookRunner, context: ConnectorContext) -> Order:
    return ids_and_orders(await pages(runner, context, Cursor()))[0]


def ids_and_orders(result: list[ImportPage]) -> list[Order]:
    return [order for page in result for order in page.orders]


def label_for(order: Order, *tracking: str) -> Label:
    items = [ParcelItem(item_external_id=order.items[0].external_id, quantity=1)]
    parcels = [Parcel(reference=str(n), tracking_number=code, items=items) for n, code in enumerate(tracking, 1)]
    return Label(external_id=f"L-{order.external_id}", ship_date=datetime.now(UTC), parcels=parcels)


def accepted(outcome: Any, order: Order) -> AcceptedParcel:
    return AcceptedParcel(
        reference=outcome.reference,
        shop_reference=outcome.shop_reference,
        tracking_number="T",
        order_external_id=order.external_id,
        accepted_at=datetime.now(UTC),
    )


def event(message: EventMessage, received_at: datetime | None = None) -> ShopEvent:
    return ShopEvent(headers=message.headers, body=message.body, received_at=received_at or datetime.now(UTC))


# connecting -------------------------------------------------------------------------------------


async def test_credentials_connect_names_the_account_and_subscribes_the_events_url(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    grant = await runner.authorize_grant(context("", events_url=EVENTS_URL), fields())
    assert grant.external_account_id == "keyshop-unit"
    assert {key: value.get_secret_value() for key, value in grant.credentials.items()} == {
        "client_id": GOOD_CLIENT_ID,
        "client_secret": GOOD_CLIENT_SECRET,
        "event_secret": shop.subscriptions[EVENTS_URL].secret,
    }
    without = await runner.authorize_grant(context(""), fields())
    assert set(without.credentials) == {"client_id", "client_secret"} and list(shop.subscriptions) == [EVENTS_URL]


async def test_a_wrong_secret_is_refused_with_a_message_the_merchant_can_act_on(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    await runner.check_connection(context())  # a token for the good secret is cached now
    with pytest.raises(ConnectorAuthFailed, match="Copy both again from the shop's settings under API access"):
        await runner.authorize_grant(context("", events_url=EVENTS_URL), fields("not-the-secret"))
    with pytest.raises(ConnectorAuthFailed, match="reconnect under Settings > Integrations"):
        await runner.check_connection(context("not-the-secret"))
    assert shop.subscriptions == {}


async def test_consent_steps_and_empty_fields_are_invalid_input(runner: HookRunner, context: ContextFor) -> None:
    with pytest.raises(InvalidInput, match="client ID and secret, not through a consent page"):
        await runner.authorize(context(""), AuthStart(state="s", redirect_uri="https://hub.invalid/cb"))
    with pytest.raises(InvalidInput) as raised:
        await runner.authorize_grant(context(""), fields(" "))
    assert raised.value.field == "client_secret"


async def test_one_token_per_client_is_reused_until_shortly_before_it_expires(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(3):
        await runner.check_connection(context())
    assert shop.token_requests() == 1
    shop.advance(TOKEN_SECONDS - 31)
    await runner.check_connection(context())
    assert shop.token_requests() == 1
    shop.advance(2)  # inside the 30 s margin: bought anew before the shop would refuse it
    await runner.check_connection(context())
    assert shop.token_requests() == 2


async def test_a_refused_token_is_bought_again_once(shop: KeyShop, runner: HookRunner, context: ContextFor) -> None:
    await runner.check_connection(context())
    shop.tokens.clear()  # the shop forgot it (restart, key rotation)
    await runner.check_connection(context())
    assert shop.token_requests() == 2
    shop.revoke_client(GOOD_CLIENT_ID)
    with pytest.raises(ConnectorAuthFailed):
        await runner.check_connection(context())


async def test_each_process_has_its_own_token_cache_and_closing_clears_it(
    shop: KeyShop, runner: HookRunner, http: aiohttp.ClientSession, context: ContextFor, state: TokenCache
) -> None:
    setup = ConnectorSetup("keyshop", KeyshopSettings(shop="unit"), http, logging.getLogger("t"), lambda: shop.now)
    other = await runner.open_connector(setup)
    assert isinstance(other, TokenCache) and other is not state
    await runner.check_connection(context())
    assert (len(state), len(other)) == (1, 0)
    await runner.close_connector(setup, state)
    assert len(state) == 0


async def test_a_context_without_the_opened_state_is_refused(runner: HookRunner, context: ContextFor) -> None:
    with pytest.raises(ConnectorError, match="not set up in this process"):
        await runner.check_connection(dataclasses.replace(context(), state=None))


# imports ----------------------------------------------------------------------------------------


async def test_full_scan_pages_the_open_list_and_yields_only_later_changes(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(5):
        shop.add_order()
    first = await pages(runner, context(), Cursor())
    assert [[o.external_id for o in page.orders] for page in first] == [["K-0001", "K-0002"], ["K-0003", "K-0004"], ["K-0005"]]
    assert first[-1].cursor == Cursor(since=shop.now)
    assert all(page.cursor.since is None and page.cursor.page_token for page in first[:-1])
    shop.update_order("K-0002", city="Utrecht")
    second = await pages(runner, context(), first[-1].cursor)
    assert ids(second) == ["K-0002"] and len(second) == 3  # every page is read, only the change yielded
    assert ids(await pages(runner, context(), second[-1].cursor)) == []


async def test_an_order_leaving_the_list_during_a_scan_makes_none_missed(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(7):
        shop.add_order()
    shop.update_order("K-0001", status="shipped")
    shop.advance(hours=49)  # K-0001 leaves the list of open orders
    for _ in range(7):
        shop.add_order()
    seen: list[str] = []
    async for page in runner.import_orders(context(), Cursor()):
        seen += [order.external_id for order in page.orders]
        if len(seen) == 4:
            # While the scan stands at position 4, three orders it read already leave the list:
            # the later ones move up three places.
            for order_id in ("K-0002", "K-0003", "K-0004"):
                shop.update_order(order_id, status="cancelled")
            shop.advance(hours=49)
    assert seen == [f"K-{n:04d}" for n in range(2, 15)]


async def test_an_order_added_or_changed_during_a_scan_comes_in_the_next_run(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(5):
        shop.add_order()
    run: list[ImportPage] = []
    async for page in runner.import_orders(context(), Cursor()):
        run.append(page)
        if len(run) == 1:
            shop.update_order("K-0001", city="Utrecht")  # read already, with the old city
            shop.add_order()
    nxt = await pages(runner, context(), run[-1].cursor)
    assert sorted(ids(nxt)) == ["K-0001", "K-0006"]
    assert [o.recipient.city for o in ids_and_orders(nxt) if o.external_id == "K-0001"] == ["Utrecht"]


async def test_a_resumed_scan_neither_repeats_nor_loses_and_ends_at_its_start(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(5):
        shop.add_order()
    full = await pages(runner, context(), Cursor())
    shop.add_order()
    resumed = await pages(runner, context(), full[0].cursor)
    assert ids(resumed) == ["K-0003", "K-0004", "K-0005", "K-0006"]
    assert resumed[-1].cursor == full[-1].cursor  # the scan's start: K-0006 comes again next run


async def test_a_future_cursor_yields_nothing_and_is_kept(shop: KeyShop, runner: HookRunner, context: ContextFor) -> None:
    shop.add_order()
    future = Cursor(since=shop.now + timedelta(days=1))
    result = await pages(runner, context(), future)
    assert ids(result) == [] and result[-1].cursor == future


async def test_import_faults_map_to_core_errors(shop: KeyShop, runner: HookRunner, context: ContextFor) -> None:
    shop.add_order()
    shop.fail_next("429")
    with pytest.raises(RateLimited) as raised:
        await pages(runner, context(), Cursor())
    assert raised.value.retry_after == 1.0
    shop.fail_next("timeout", after=1)  # the token is bought, the page times out
    with pytest.raises(ConnectorNotReady, match="did not answer in time"):
        await pages(runner, context(), Cursor())


# tracking -----------------------------------------------------------------------------------------


async def test_a_push_is_accepted_and_settles_through_one_bulk_check(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order()
    shop.add_order()
    orders = ids_and_orders(await pages(runner, context(), Cursor()))
    pushed = [(await runner.on_label_created(context(), order, label_for(order, "GLS1")))[0] for order in orders]
    assert [(o.state, o.retry_after) for o in pushed] == [("accepted", 1.0), ("accepted", 1.0)]
    assert sorted(o.shop_reference for o in pushed) == sorted(shop.pending_processes())
    parcels = [accepted(outcome, order) for outcome, order in zip(pushed, orders, strict=True)]
    calls = len(shop.calls)
    still = await runner.check_parcels(context(), parcels)
    assert [o.state for o in still] == ["accepted", "accepted"]
    assert [call.operation for call in shop.calls[calls:]] == ["process_statuses"]
    shop.settle(pushed[0].shop_reference, "SUCCESS")
    shop.settle(pushed[1].shop_reference, "FAILURE", "Track and trace code is not valid for GLS")
    settled = await runner.check_parcels(context(), parcels)
    assert [(o.state, o.message) for o in settled] == [
        ("confirmed", None), ("failed", "Track and trace code is not valid for GLS"),
    ]  # fmt: skip


async def test_processes_settle_by_themselves_after_n_status_queries(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.settle_after = 2
    order = (shop.add_order(), await first_order(runner, context()))[1]
    (outcome,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    states = [(await runner.check_parcels(context(), [accepted(outcome, order)]))[0].state for _ in range(2)]
    assert states == ["accepted", "confirmed"]


async def test_a_push_repeated_after_a_lost_answer_makes_no_second_shipment(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order()
    order = await first_order(runner, context())
    shop.lose_next_answer()
    with pytest.raises(ConnectorNotReady):
        await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    assert shop.shipment_count(order.external_id, "1") == 1
    (again,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    assert again.state == "accepted" and again.shop_reference == shop.shipments_for(order.external_id)[0].process_id
    shop.settle(again.shop_reference)
    (confirmed,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    assert confirmed.state == "confirmed" and shop.shipment_count(order.external_id) == 1


async def test_a_changed_tracking_number_changes_the_shipment_it_made(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order()
    order = await first_order(runner, context())
    (first,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    shop.settle(first.shop_reference)
    (changed,) = await runner.on_label_created(context(), order, label_for(order, "GLS2"))
    assert changed.state == "accepted" and changed.shop_reference != first.shop_reference
    (shipment,) = shop.shipments_for(order.external_id)
    assert shipment.tracking_number == "GLS2"
    shop.settle(changed.shop_reference, "FAILURE")
    assert shipment.tracking_number == "GLS1"  # a refused change leaves the shipment as it was
    (back,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    assert back.state == "confirmed" and shop.shipment_count(order.external_id) == 1


async def test_a_refused_shipment_is_made_again_on_the_merchants_retry(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order()
    order = await first_order(runner, context())
    (first,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    shop.settle(first.shop_reference, "TIMEOUT")
    (again,) = await runner.on_label_created(context(), order, label_for(order, "GLS1"))
    assert again.state == "accepted" and again.shop_reference != first.shop_reference
    assert shop.shipment_count(order.external_id) == 1 and len(shop.shipments_for(order.external_id)) == 2


async def test_a_later_parcels_transient_failure_is_retried_alone(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order()
    order = await first_order(runner, context())
    shop.fail_next("5xx", after=2)  # the lookup and the first parcel pass
    outcomes = await runner.on_label_created(context(), order, label_for(order, "GLS1", "GLS2"))
    assert [o.state for o in outcomes] == ["accepted", "retry"]
    cancelled = order.model_copy(update={"external_id": "K-none"})
    (failed,) = await runner.on_label_created(context(), cancelled, label_for(cancelled, "GLS3"))
    assert failed.state == "failed" and "not found" in (failed.message or "")


# events -----------------------------------------------------------------------------------------


async def test_signed_events_mean_import_or_settled_and_others_are_rejected(
    shop: KeyShop, runner: HookRunner, context: ContextFor
) -> None:
    grant = await runner.authorize_grant(context("", events_url=EVENTS_URL), fields())
    ctx = context(event_secret=grant.credentials["event_secret"].get_secret_value(), events_url=EVENTS_URL)
    shop.add_order()
    (created,) = shop.events_for(EVENTS_URL)
    meaning = await runner.receive_event(ctx, event(created))
    assert meaning == EventMeaning(event_id=created.event_id, import_orders=True)
    settled = shop.message(EVENTS_URL, "PROCESS_STATUS", "SUCCESS", "proc-1")
    assert (await runner.receive_event(ctx, event(settled))).settled == ["proc-1"]
    unsigned = EventMessage(created.url, created.event_id, {"content-type": "application/json"}, created.body)
    forged = shop.message(EVENTS_URL, "ORDER", "ORDER_CREATED", "K-0001", secret="not-the-secret")
    stale = shop.message(EVENTS_URL, "ORDER", "ORDER_CREATED", "K-0001", timestamp=time.time() - 301)
    tampered = EventMessage(created.url, created.event_id, created.headers, created.body.replace(b"K-0001", b"K-0002"))
    for message, reason in [(unsigned, "no Key shop signature"), (forged, "does not match"), (stale, "too old"),
                            (tampered, "does not match")]:  # fmt: skip
        with pytest.raises(EventRejected, match=reason):
            await runner.receive_event(ctx, event(message))
    with pytest.raises(EventRejected, match="no Key shop event subscription"):
        await runner.receive_event(context(), event(created))


async def test_the_shop_posts_queued_events_to_the_subscribed_url(
    shop: KeyShop, runner: HookRunner, context: ContextFor, http: aiohttp.ClientSession
) -> None:
    received: list[ShopEvent] = []

    async def route(request: web.Request) -> web.Response:
        received.append(ShopEvent(
            headers={k.lower(): v for k, v in request.headers.items()}, body=await request.read(),
            received_at=datetime.now(UTC),
        ))  # fmt: skip
        return web.Response(status=202 if len(received) > 1 else 503)

    app = web.Application()
    app.router.add_post("/events/{token}", route)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("/events/token-2"))
        grant = await runner.authorize_grant(context("", events_url=url), fields())
        shop.add_order()
        assert [status for _, status in await shop.deliver(http)] == [503]  # kept for the next delivery
        assert [status for _, status in await shop.deliver(http)] == [202]
        assert await shop.deliver(http) == []
    ctx = context(event_secret=grant.credentials["event_secret"].get_secret_value(), events_url=url)
    meanings = [await runner.receive_event(ctx, item) for item in received]
    assert meanings[0] == meanings[1] and meanings[0].import_orders
    assert received[0].headers[SIGNATURE_HEADER].startswith("sha256=")


async def test_disconnect_unsubscribes_and_forgets_the_token(
    shop: KeyShop, runner: HookRunner, context: ContextFor, state: TokenCache
) -> None:
    await runner.authorize_grant(context("", events_url=EVENTS_URL), fields())
    await runner.disconnect(context(events_url=EVENTS_URL))
    assert shop.subscriptions == {} and len(state) == 0
    shop.add_order()
    assert shop.events_for() == []
