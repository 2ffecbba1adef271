"""The HookRunner: async only, positional specs, owner-only dispatch of every hook, outcome checks, timeouts."""

from __future__ import annotations

import asyncio
import logging
import types
from datetime import UTC, datetime

import pluggy
import pytest

from core.contract import hookspecs
from core.contract.context import ConnectorContext, ConnectorSetup
from core.contract.errors import ConnectorError, ConnectorNotReady, EventRejected, PluginError, RateLimited
from core.contract.hookspecs import hookimpl
from core.contract.models import (
    AcceptedParcel,
    AuthCallback,
    AuthRedirect,
    AuthStart,
    Connection,
    ConnectionState,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Order,
    OrderItem,
    OrderStatus,
    Parcel,
    ParcelItem,
    ParcelOutcome,
    ShopEvent,
)
from core.infra.hooks import HookRunner, check_specs
from core.infra.plugins import NoSettings
from core.infra.settings import HookSettings

NOW = datetime(2026, 11, 1, tzinfo=UTC)


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
        self.calls.append(f"on_label_created {context.connection.connector}")
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


async def test_a_label_goes_only_to_its_owner() -> None:
    a, b = Shop("a"), Shop("b")
    outcomes = await runner(a, b).on_label_created(context("b"), ORDER, LABEL)
    assert [o.state for o in outcomes] == ["confirmed"]
    assert (a.calls, b.calls) == ([], ["on_label_created b"])


async def test_a_failing_owner_raises_and_no_other_connector_is_asked() -> None:
    a, b = Shop("a", fail=RateLimited("slow down", retry_after=2)), Shop("b")
    with pytest.raises(RateLimited) as raised:
        await runner(a, b).on_label_created(context("a"), ORDER, LABEL)
    assert raised.value.retry_after == 2
    assert b.calls == []


class Answering:
    """A connector whose hooks answer whatever the test sets."""

    def __init__(self, **answers: object) -> None:
        self.answers = answers

    def _answer(self, hook: str) -> object:
        answer = self.answers[hook]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @hookimpl
    async def on_label_created(self, context, order, label):  # noqa: ANN001, ANN201
        return self._answer("on_label_created")

    @hookimpl
    async def check_parcels(self, context, parcels):  # noqa: ANN001, ANN201
        return self._answer("check_parcels")

    @hookimpl
    async def receive_event(self, context, event):  # noqa: ANN001, ANN201
        return self._answer("receive_event")

    @hookimpl
    async def authorize(self, context, step):  # noqa: ANN001, ANN201
        return self._answer("authorize")


def answering(**answers: object) -> HookRunner:
    hooks = HookRunner(HookSettings(call_timeout=5, page_timeout=5))
    hooks.register("a", Answering(**answers))
    return hooks


def outcome(reference: str, state: str = "confirmed", shop_reference: str | None = None) -> ParcelOutcome:
    return ParcelOutcome(reference=reference, state=state, shop_reference=shop_reference)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [None, [], [outcome("2")], [outcome("1"), outcome("1")], ["confirmed"]],
    ids=["none", "no-parcel", "unknown-parcel", "twice", "not-an-outcome"],
)
async def test_push_outcomes_must_answer_each_parcel_once(answer: object) -> None:
    with pytest.raises(PluginError, match="returned|answered"):
        await answering(on_label_created=answer).on_label_created(context("a"), ORDER, LABEL)


async def test_an_invalid_outcome_built_in_the_hook_is_a_connector_error() -> None:
    class Sloppy(Answering):
        @hookimpl
        async def on_label_created(self, context, order, label):  # noqa: ANN001, ANN201
            return [ParcelOutcome(reference="1", state="accepted")]  # no shop_reference

    hooks = HookRunner()
    hooks.register("a", Sloppy())
    with pytest.raises(ConnectorError, match="connector failed") as raised:
        await hooks.on_label_created(context("a"), ORDER, LABEL)
    assert "shop_reference" in (raised.value.detail or "")


PARCELS = [
    AcceptedParcel(reference="1", shop_reference=ref, tracking_number="T1", order_external_id="o-1", accepted_at=NOW)
    for ref in ("p-1", "p-2")
]


async def test_check_parcels_answers_by_shop_reference_and_may_leave_some_out() -> None:
    answer = [outcome("1", "confirmed", "p-2")]
    assert await answering(check_parcels=answer).check_parcels(context("a"), PARCELS) == answer


@pytest.mark.parametrize(
    "answer",
    [[outcome("1", "confirmed", "p-9")], [outcome("1", "failed", "p-1")] * 2, [outcome("1")], None],
    ids=["unknown-shop-reference", "twice", "no-shop-reference", "none"],
)
async def test_check_parcels_refuses_outcomes_for_what_it_was_not_asked(answer: object) -> None:
    with pytest.raises(PluginError, match="returned|answered"):
        await answering(check_parcels=answer).check_parcels(context("a"), PARCELS)


EVENT = ShopEvent(headers={"x-signature": "s"}, body=b"{}", received_at=NOW)


async def test_receive_event_gives_the_meaning_and_passes_a_rejection_on() -> None:
    meaning = EventMeaning(event_id="e-1", import_orders=True)
    assert await answering(receive_event=meaning).receive_event(context("a"), EVENT) == meaning
    with pytest.raises(EventRejected, match="forged"):
        await answering(receive_event=EventRejected("forged")).receive_event(context("a"), EVENT)
    with pytest.raises(PluginError, match="expected EventMeaning"):
        await answering(receive_event={"event_id": "e-1"}).receive_event(context("a"), EVENT)


async def test_authorize_redirect_and_grant_refuse_the_other_answer() -> None:
    redirect = AuthRedirect(url="https://a.example/consent")
    callback = AuthCallback(redirect_uri="http://127.0.0.1/cb", params={"code": "c"})
    with pytest.raises(PluginError, match="expected Authorization"):
        await answering(authorize=redirect).authorize_grant(context("a"), callback)
    start = AuthStart(state="s", redirect_uri="http://127.0.0.1/cb")
    assert await answering(authorize=redirect).authorize_redirect(context("a"), start) == redirect


def setup(connector: str) -> ConnectorSetup:
    return ConnectorSetup(connector, NoSettings(), None, logging.getLogger("t"))  # type: ignore[arg-type]


async def test_open_connector_gives_each_call_its_own_state_and_none_when_not_implemented(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Stateful:
        def __init__(self) -> None:
            self.closed: list[object] = []

        @hookimpl
        async def open_connector(self, setup):  # noqa: ANN001, ANN201
            return {"tokens": {}, "for": setup.connector}

        @hookimpl
        async def close_connector(self, setup, state):  # noqa: ANN001, ANN201
            self.closed.append(state)
            raise RuntimeError("could not close")

    stateful = Stateful()
    hooks = runner(Shop("plain"))
    hooks.register("stateful", stateful)
    first, second = await hooks.open_connector(setup("stateful")), await hooks.open_connector(setup("stateful"))
    assert first == {"tokens": {}, "for": "stateful"} and first is not second
    assert await hooks.open_connector(setup("plain")) is None
    await hooks.close_connector(setup("plain"), None)  # not implemented: nothing to do
    with caplog.at_level(logging.WARNING, logger="core.infra.hooks"):
        await hooks.close_connector(setup("stateful"), first)
    assert stateful.closed == [first]
    assert "close_connector failed" in caplog.text


async def test_a_failing_open_connector_raises() -> None:
    class Broken:
        @hookimpl
        async def open_connector(self, setup):  # noqa: ANN001, ANN201
            raise KeyError("settings")

    hooks = HookRunner()
    hooks.register("broken", Broken())
    with pytest.raises(ConnectorError, match="broken connector failed"):
        await hooks.open_connector(setup("broken"))


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
        async for _ in hooks.import_orders(context("a"), Cursor(since=datetime(2027, 1, 1, tzinfo=UTC))):
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
