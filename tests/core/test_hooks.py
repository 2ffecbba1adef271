"""The HookRunner: async only, positional specs, owner-only dispatch, isolated broadcast, timeouts."""

from __future__ import annotations

import asyncio
import logging
import types
from datetime import datetime, timezone

import pluggy
import pytest

from core import hookspecs
from core.context import ConnectorContext
from core.errors import ConnectorError, ConnectorNotReady, PluginError, RateLimited
from core.hooks import HookRunner, check_specs
from core.hookspecs import hookimpl
from core.plugins import NoSettings
from core.models import (
    AuthRedirect,
    AuthStart,
    Connection,
    ConnectionState,
    Cursor,
    ImportPage,
    Label,
    Order,
    OrderItem,
    OrderStatus,
    Parcel,
    ParcelItem,
    ParcelOutcome,
)
from core.settings import HookSettings

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def context(connector: str) -> ConnectorContext:
    connection = Connection(id=1, account_id=1, connector=connector, state=ConnectionState.CONNECTED)
    return ConnectorContext(connection, {}, NoSettings(), None, logging.LoggerAdapter(logging.getLogger("t"), {}))  # type: ignore[arg-type]


ORDER = Order(
    external_id="o-1",
    status=OrderStatus.OPEN,
    created_at=NOW,
    updated_at=NOW,
    items=[OrderItem(external_id="i-1", quantity_ordered=1, quantity_unshipped=1)],
)
LABEL = Label(
    external_id="l-1",
    ship_date=NOW,
    parcels=[Parcel(reference="1", tracking_number="T1", items=[ParcelItem(item_external_id="i-1", quantity=1)])],
)


class Shop:
    """A minimal connector recording which hooks ran."""

    def __init__(self, name: str, fail: Exception | None = None, delay: float = 0) -> None:
        self.name, self.fail, self.delay, self.calls = name, fail, delay, []

    @hookimpl
    async def authorize(self, context, step):  # noqa: ANN001, ANN201
        self.calls.append("authorize")
        await asyncio.sleep(self.delay)
        return AuthRedirect(url=f"https://{self.name}.example/consent")

    @hookimpl
    async def import_orders(self, context, cursor):  # noqa: ANN001, ANN201
        self.calls.append("import_orders")
        if self.fail:
            raise self.fail
        yield ImportPage(orders=[ORDER], cursor=Cursor(since=NOW))

    @hookimpl
    async def on_label_created(self, context, order, label):  # noqa: ANN001, ANN201
        if context.connection.connector != self.name:
            return None
        self.calls.append("on_label_created")
        if self.fail:
            raise self.fail
        return [ParcelOutcome(reference=p.reference, state="confirmed") for p in label.parcels]


def runner(*shops: Shop, timeout: float = 5) -> HookRunner:
    hooks = HookRunner(HookSettings(call_timeout=timeout, page_timeout=timeout))
    for shop in shops:
        hooks.register(shop.name, shop)
    return hooks


async def test_owner_only_hooks_reach_only_the_connections_connector() -> None:
    a, b = Shop("a"), Shop("b")
    hooks = runner(a, b)
    redirect = await hooks.authorize(context("b"), AuthStart(state="s", redirect_uri="http://127.0.0.1/cb"))
    assert redirect.url == "https://b.example/consent"
    assert (a.calls, b.calls) == ([], ["authorize"])


async def test_broadcast_isolates_a_failing_foreign_connector() -> None:
    class Noisy(Shop):
        @hookimpl
        async def on_label_created(self, context, order, label):  # noqa: ANN001, ANN201
            raise RuntimeError("bug in another connector")

    a, noisy = Shop("a"), Noisy("noisy")
    hooks = runner(a, noisy)
    outcomes = await hooks.on_label_created(lambda _connector: context("a"), ORDER, LABEL)
    assert [o.state for o in outcomes] == ["confirmed"]
    assert a.calls == ["on_label_created"]


async def test_owner_failure_in_broadcast_is_raised() -> None:
    hooks = runner(Shop("a", fail=RateLimited("slow down", retry_after=2)), Shop("b"))
    with pytest.raises(RateLimited):
        await hooks.on_label_created(lambda _connector: context("a"), ORDER, LABEL)


async def test_slow_hook_times_out_as_not_ready() -> None:
    hooks = runner(Shop("a", delay=1), timeout=0.05)
    with pytest.raises(ConnectorNotReady, match="did not answer"):
        await hooks.authorize(context("a"), AuthStart(state="s", redirect_uri="http://127.0.0.1/cb"))


async def test_connector_bug_becomes_a_connector_error() -> None:
    hooks = runner(Shop("a", fail=KeyError("x")))
    with pytest.raises(ConnectorError, match="connector failed"):
        async for _ in hooks.import_orders(context("a"), Cursor()):
            pass


async def test_cursor_moving_backwards_is_refused() -> None:
    hooks = runner(Shop("a"))
    with pytest.raises(PluginError, match="backwards"):
        async for _ in hooks.import_orders(context("a"), Cursor(since=datetime(2027, 1, 1, tzinfo=timezone.utc))):
            pass


def test_sync_implementation_is_refused() -> None:
    class Sync:
        @hookimpl
        def authorize(self, context, step):  # noqa: ANN001, ANN201
            return None

    with pytest.raises(PluginError, match="async def"):
        runner().register("sync", Sync())


def test_import_orders_must_be_an_async_generator() -> None:
    class NotGenerator:
        @hookimpl
        async def import_orders(self, context, cursor):  # noqa: ANN001, ANN201
            return []

    with pytest.raises(PluginError, match="async generator"):
        runner().register("plain", NotGenerator())


def test_misspelt_hook_is_refused() -> None:
    class Typo:
        @hookimpl
        async def import_order(self, context, cursor):  # noqa: ANN001, ANN201
            return None

    hooks = runner()
    with pytest.raises(PluginError, match="does not match the hub API"):
        hooks.register("typo", Typo())
    assert hooks.connector_ids == []


def test_keyword_only_spec_parameters_are_refused() -> None:
    spec = pluggy.HookspecMarker(hookspecs.PROJECT)
    module = types.ModuleType("specs")

    @spec
    async def hook(context, *, extra):  # noqa: ANN001, ANN202
        """A spec whose keyword-only argument pluggy would drop."""

    module.hook = hook  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="keyword-only"):
        check_specs(module)


def test_shipped_specs_have_no_keyword_only_parameters() -> None:
    check_specs(hookspecs)


def test_unknown_connector_names_the_fix() -> None:
    with pytest.raises(PluginError, match="hub connectors list"):
        runner()._owner_call("authorize", "nope", context=None, step=None)
