"""The fake connector and its FakeShop behave as documented, for the tests of core that rely on them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import aiohttp
import pytest
from pydantic import SecretStr

import tests.contract.fake as fake
from core.contract.context import ConnectorContext
from core.contract.errors import ConnectorAuthFailed, ConnectorNotReady, RateLimited
from core.contract.models import (
    AuthCallback,
    AuthStart,
    Connection,
    ConnectionState,
    Cursor,
    ImportPage,
    Label,
    OrderStatus,
    Parcel,
    ParcelItem,
)
from core.infra.hooks import HookRunner
from tests.contract.fake.shop import GOOD_KEY, FakeShop, close_shop, open_shop

ContextFor = Callable[..., ConnectorContext]


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    shop = open_shop("unit")
    yield shop
    close_shop("unit")


@pytest.fixture
def runner() -> HookRunner:
    runner = HookRunner()
    runner.register("fake", fake)
    return runner


@pytest.fixture
async def context() -> AsyncIterator[ContextFor]:
    async with aiohttp.ClientSession() as http:

        def build(key: str = GOOD_KEY, **settings: object) -> ConnectorContext:
            connection = Connection(id=7, account_id=1, connector="fake", state=ConnectionState.CONNECTED)
            return ConnectorContext(
                connection=connection,
                credentials={"api_key": SecretStr(key)} if key else {},
                settings=fake.FakeSettings(shop="unit", **settings),
                http=http,
                log=logging.LoggerAdapter(logging.getLogger("hub.connector.fake"), {}),
            )

        yield build


async def pages(runner: HookRunner, context: ConnectorContext, cursor: Cursor) -> list[ImportPage]:
    return [page async for page in runner.import_orders(context, cursor)]


async def test_import_pages_in_update_order_and_ends_at_shop_now(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(3):
        shop.add_order()
    shop.update_order("F-0001", city="Utrecht")
    result = await pages(runner, context(), Cursor())
    assert [[order.external_id for order in page.orders] for page in result] == [["F-0002", "F-0003"], ["F-0001"]]
    assert result[0].cursor.page_token is not None
    assert result[-1].cursor == Cursor(since=shop.now)
    assert [call.operation for call in shop.calls] == ["search_orders", "search_orders"]


async def test_import_reports_skipped_cancelled_and_leaves_out_old_orders(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.add_order("OLD", updated_at=shop.now - timedelta(days=30))
    shop.add_order("FBA", skip_reason="fulfilled by the marketplace")
    shop.add_order("GONE")
    shop.cancel_order("GONE")
    result = await pages(runner, context(page_size=10), Cursor())
    assert [(order.external_id, order.status) for order in result[0].orders] == [("GONE", OrderStatus.CANCELLED)]
    assert [skipped.external_id for skipped in result[0].skipped] == ["FBA"]


async def test_fail_next_queues_faults_after_passing_calls(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    shop.fail_next("429", after=1)
    await runner.check_connection(context())
    with pytest.raises(RateLimited) as raised:
        await runner.check_connection(context())
    assert raised.value.retry_after == 1.0
    await runner.check_connection(context())
    assert len(shop.calls) == 3


async def test_failure_between_pages_stops_the_import_after_the_stored_page(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    for _ in range(3):
        shop.add_order()
    shop.fail_next("5xx", after=1)
    received = []
    with pytest.raises(ConnectorNotReady):
        async for page in runner.import_orders(context(), Cursor()):
            received.append(page)
    assert [order.external_id for order in received[0].orders] == ["F-0001", "F-0002"]
    rest = await pages(runner, context(), received[0].cursor)
    assert [order.external_id for page in rest for order in page.orders] == ["F-0003"]


async def test_repeated_parcel_reference_edits_the_confirmation(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    order = shop.add_order()
    imported = (await pages(runner, context(), Cursor()))[0].orders[0]
    label = Label(
        external_id="L1",
        ship_date=shop.now,
        parcels=[Parcel(reference="p1", tracking_number="T1", items=[ParcelItem(item_external_id=f"{order.id}-1", quantity=1)])],
    )
    ctx = context()
    for _ in range(2):
        outcomes = await runner.on_label_created(ctx, imported, label)
        assert [(outcome.reference, outcome.state) for outcome in outcomes] == [("p1", "confirmed")]
    assert list(shop.confirmations) == [(order.id, "p1")]
    assert shop.confirmations[(order.id, "p1")].edits == 1


async def test_authorize_exchanges_a_single_use_code(shop: FakeShop, runner: HookRunner, context: ContextFor) -> None:
    redirect = await runner.authorize(context(""), AuthStart(state="s-1", redirect_uri="https://hub.invalid/cb"))
    params = shop.consent(redirect.url)
    assert params["state"] == "s-1"
    callback = AuthCallback(redirect_uri="https://hub.invalid/cb", params=params)
    authorization = await runner.authorize(context(""), callback)
    assert authorization.credentials["api_key"].get_secret_value() == GOOD_KEY
    with pytest.raises(ConnectorAuthFailed):
        await runner.authorize(context(""), callback)


async def test_disconnect_revokes_the_key_and_a_closed_shop_is_not_ready(
    shop: FakeShop, runner: HookRunner, context: ContextFor
) -> None:
    await runner.disconnect(context())
    with pytest.raises(ConnectorAuthFailed):
        await runner.check_connection(context())
    close_shop("unit")
    with pytest.raises(ConnectorNotReady, match="not open"):
        await runner.check_connection(context())
