"""The contract kit fails broken connectors: each variant of the fake breaks one rule, and the check
for that rule must raise ``ContractViolation`` saying so.

The variants reuse the fake connector's hooks and replace one or two with a broken version. The
checks are called directly (fast, precise); one test runs a ``ConnectorContract`` subclass in a
separate pytest to show that a broken connector fails exactly the test of the rule it breaks.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import tests.contract.fake as fake
from core.context import ConnectorContext
from core.errors import ConnectorError, RateLimited, TransientError
from core.hookspecs import hookimpl
from core.manifest import HOOK_NAMES, read_manifest
from core.models import Cursor, ImportPage, Label, Order, ParcelOutcome
from core.testing import ContractViolation, Subject, checks
from tests.contract.fake.scenarios import FakeScenarios
from tests.contract.fake.shop import ShopError, get_shop

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


class Variant:
    """The fake connector with some hooks replaced; a hook given as ``None`` is left out."""

    def __init__(self, **hooks: Any) -> None:
        for name in HOOK_NAMES:
            hook = hooks[name] if name in hooks else getattr(fake, name, None)
            if hook is not None:
                setattr(self, name, hook)


def subject(plugin: object) -> Subject:
    """The broken plugin as the kit's subject, with the fake's manifest and scenarios."""
    return Subject(
        connector="fake", plugin=plugin, scenarios=FakeScenarios(), manifest=read_manifest(fake), task_grace=0.2
    )


def _shop_of(context: ConnectorContext) -> Any:
    return get_shop(fake.FakeSettings.model_validate(context.settings, from_attributes=True).shop)


# registration and manifest --------------------------------------------------------------------


@hookimpl
def sync_check_connection(context: ConnectorContext) -> None:
    return None


async def test_kit_catches_a_sync_hook() -> None:
    with pytest.raises(ContractViolation, match=r"check_connection must be declared `async def`"):
        await checks.registers_cleanly(subject(Variant(check_connection=sync_check_connection)))


async def test_kit_catches_a_manifest_listing_a_hook_the_connector_lacks() -> None:
    with pytest.raises(ContractViolation, match=r"listed but not implemented \['disconnect'\]"):
        await checks.manifest_lists_implemented_hooks(subject(Variant(disconnect=None)))


# credentials and faults -----------------------------------------------------------------------


@hookimpl
async def check_connection_without_a_call(context: ConnectorContext) -> None:
    return None


async def test_kit_catches_a_check_connection_that_accepts_anything() -> None:
    with pytest.raises(ContractViolation, match=r"check_connection with refused credentials succeeded"):
        await checks.bad_credentials_fail(subject(Variant(check_connection=check_connection_without_a_call)))


@hookimpl
async def check_connection_429_generic(context: ConnectorContext) -> None:
    try:
        await fake.check_connection(context)
    except RateLimited as err:
        raise ConnectorError("The shop failed.") from err


@hookimpl
async def import_orders_429_generic(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    try:
        async for page in fake.import_orders(context, cursor):
            yield page
    except RateLimited as err:
        raise TransientError("The shop failed; retry later.") from err


GENERIC_429 = Variant(check_connection=check_connection_429_generic, import_orders=import_orders_429_generic)


@pytest.mark.parametrize("hook", ["check_connection", "import_orders"])
async def test_kit_catches_429_mapped_to_a_generic_error(hook: str) -> None:
    with pytest.raises(ContractViolation, match=rf"{hook} when the shop answers 429 .* expected core.errors.RateLimited"):
        await checks.fault_is_mapped(subject(GENERIC_429), hook, "429")


# imports --------------------------------------------------------------------------------------


@hookimpl
async def import_orders_moving_back(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    async for page in fake.import_orders(context, cursor):
        if page.cursor.page_token is None and page.cursor.since is not None:
            page = page.model_copy(update={"cursor": Cursor(since=page.cursor.since - timedelta(days=30))})
        yield page


@hookimpl
async def import_orders_dropping_since(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    async for page in fake.import_orders(context, cursor):
        if page.cursor.page_token is None:
            page = page.model_copy(update={"cursor": Cursor()})
        yield page


@pytest.mark.parametrize("broken", [import_orders_moving_back, import_orders_dropping_since])
async def test_kit_catches_a_cursor_moving_backwards(broken: Any) -> None:
    with pytest.raises(ContractViolation, match=r"moved the cursor backwards"):
        await checks.cursor_never_moves_backwards(subject(Variant(import_orders=broken)))


@hookimpl
async def import_orders_with_duplicates(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    async for page in fake.import_orders(context, cursor):
        yield page.model_copy(update={"orders": page.orders + page.orders[:1]})


async def test_kit_catches_duplicate_ids_in_a_page() -> None:
    with pytest.raises(ContractViolation, match=r"Page 1 of the import holds the external ids \['F-0001'\] more than once"):
        await checks.orders_validate(subject(Variant(import_orders=import_orders_with_duplicates)))


@hookimpl
async def import_orders_without_validation(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    async for page in fake.import_orders(context, cursor):
        orders = [order.model_copy(update={"external_id": ""}) for order in page.orders]
        yield page.model_copy(update={"orders": orders})


async def test_kit_catches_an_order_that_does_not_validate() -> None:
    with pytest.raises(ContractViolation, match=r"holds a Order that does not validate"):
        await checks.orders_validate(subject(Variant(import_orders=import_orders_without_validation)))


@hookimpl
async def import_orders_ignoring_cursor(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    # Always imports the whole look-back window, while keeping the cursor itself monotonic.
    async for page in fake.import_orders(context, Cursor()):
        since = max(page.cursor.since, cursor.since) if cursor.since and page.cursor.since else page.cursor.since
        yield page.model_copy(update={"cursor": page.cursor.model_copy(update={"since": since})})


async def test_kit_catches_an_import_repeating_unchanged_orders() -> None:
    with pytest.raises(ContractViolation, match=r"yielded \['F-0002', 'F-0003', 'F-0004', 'F-0005'\] again although"):
        await checks.incremental_import_repeats_nothing(subject(Variant(import_orders=import_orders_ignoring_cursor)))


async def test_kit_catches_an_import_ignoring_a_future_cursor() -> None:
    with pytest.raises(ContractViolation, match=r"from a cursor in the future .* yielded"):
        await checks.future_cursor_yields_nothing(subject(Variant(import_orders=import_orders_ignoring_cursor)))


@hookimpl
async def import_orders_dropping_page_token(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    async for page in fake.import_orders(context, Cursor(since=cursor.since)):
        yield page


async def test_kit_catches_a_resume_that_repeats_orders() -> None:
    with pytest.raises(ContractViolation, match=r"Resuming from the cursor of page 1 .* neither repeat nor lose"):
        await checks.import_resumes_from_a_page_cursor(subject(Variant(import_orders=import_orders_dropping_page_token)))


# labels ---------------------------------------------------------------------------------------


@hookimpl
async def on_label_created_calling_first(context: ConnectorContext, order: Order, label: Label) -> Any:
    with suppress(ShopError):
        await _shop_of(context).ping("")  # looks the shop up before checking whose connection it is
    return await fake.on_label_created(context, order, label)


@hookimpl
async def on_label_created_answering_all(context: ConnectorContext, order: Order, label: Label) -> Any:
    if context.connection.connector != fake.CONNECTOR_ID:
        return [ParcelOutcome(reference=parcel.reference, state="confirmed") for parcel in label.parcels]
    return await fake.on_label_created(context, order, label)


async def test_kit_catches_a_shop_call_for_a_foreign_label() -> None:
    with pytest.raises(ContractViolation, match=r"made 1 shop call\(s\) for a label of a 'contract_bystander'"):
        await checks.foreign_label_makes_no_call(subject(Variant(on_label_created=on_label_created_calling_first)))


async def test_kit_catches_an_answer_to_a_foreign_label() -> None:
    with pytest.raises(ContractViolation, match=r"answered \[ParcelOutcome.* return None"):
        await checks.foreign_label_makes_no_call(subject(Variant(on_label_created=on_label_created_answering_all)))


# hygiene --------------------------------------------------------------------------------------


@hookimpl
async def check_connection_logging_the_key(context: ConnectorContext) -> None:
    context.log.debug("checking with key %s", context.credentials["api_key"].get_secret_value())
    await fake.check_connection(context)


@hookimpl
async def authorize_logging_the_client_secret(context: ConnectorContext, step: Any) -> Any:
    settings = fake.FakeSettings.model_validate(context.settings, from_attributes=True)
    context.log.debug("exchanging with %s", settings.client_secret.get_secret_value())
    return await fake.authorize(context, step)


@pytest.mark.parametrize(
    ("variant", "where"),
    [
        # Whichever check logs first: the one with good or the one with bad credentials.
        (Variant(check_connection=check_connection_logging_the_key), "(bad )?credentials api_key"),
        (Variant(authorize=authorize_logging_the_client_secret), "settings client_secret"),
    ],
    ids=["api_key", "client_secret"],
)
async def test_kit_catches_a_secret_in_the_logs(variant: Variant, where: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ContractViolation, match=rf"A secret from {where} .* appears in a DEBUG log record"):
        await checks.no_secret_in_logs(subject(variant), caplog)


LEAKED: list[object] = []


@hookimpl
async def check_connection_leaking_a_session(context: ConnectorContext) -> None:
    LEAKED.append(aiohttp.ClientSession())
    await fake.check_connection(context)


@hookimpl
async def check_connection_leaking_a_task(context: ConnectorContext) -> None:
    LEAKED.append(asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="fake-token-refresher"))
    await fake.check_connection(context)


@pytest.mark.parametrize(
    ("variant", "left"),
    [
        (Variant(check_connection=check_connection_leaking_a_session), r"2 open aiohttp.ClientSession\(s\)"),
        (Variant(check_connection=check_connection_leaking_a_task), r"pending task fake-token-refresher"),
    ],
    ids=["session", "task"],
)
async def test_kit_catches_a_leaked_session_or_task(variant: Variant, left: str) -> None:
    with pytest.raises(ContractViolation, match=rf"these were left: {left}"):
        await checks.leaves_no_sessions_or_tasks(subject(variant))
    assert all(item.closed if isinstance(item, aiohttp.ClientSession) else item.done() for item in LEAKED)
    LEAKED.clear()


# the pytest face of the kit -------------------------------------------------------------------


def test_contract_subclass_fails_exactly_the_broken_rule(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a project of its own (strict asyncio mode), the kit's tests pass for the fake, given through
    a ``scenarios`` fixture, and fail only the 429 tests for the variant that maps 429 wrongly."""
    pytester.makepyfile(
        test_inline=textwrap.dedent(
            """
            import pytest

            import tests.contract.fake as fake
            from core.manifest import read_manifest
            from core.testing import ConnectorContract
            from tests.contract.fake.scenarios import FakeScenarios
            from tests.contract.test_kit_catches_broken import GENERIC_429


            class TestFake(ConnectorContract):
                connector = "fake"
                plugin = fake

                @pytest.fixture
                def scenarios(self):
                    return FakeScenarios()


            class TestGeneric429(ConnectorContract):
                connector = "fake"
                plugin = GENERIC_429
                manifest = read_manifest(fake)
                scenarios = FakeScenarios()


            class TestForgotten(ConnectorContract):
                plugin = fake
                scenarios = FakeScenarios()

                def test_only_this(self, contract_subject):
                    pass
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "error", "-o", "asyncio_default_fixture_loop_scope=function",
        "-k", "TestFake or TestGeneric429 or test_only_this", "-rfE",
    )  # fmt: skip
    summary = sorted(" ".join(line.split()[:2]) for line in result.outlines if line.startswith(("FAILED ", "ERROR ")))
    assert summary == [
        "ERROR test_inline.py::TestForgotten::test_only_this",
        "FAILED test_inline.py::TestGeneric429::test_too_many_requests_means_rate_limited[check_connection]",
        "FAILED test_inline.py::TestGeneric429::test_too_many_requests_means_rate_limited[import_orders]",
    ], result.stdout.str()
    result.stdout.fnmatch_lines(['*TestForgotten: set `connector = "<id>"`*'])
    assert set(result.parseoutcomes()) == {"passed", "failed", "errors", "deselected"}, result.stdout.str()
