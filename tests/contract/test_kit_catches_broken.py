"""The contract kit fails broken connectors: each variant of the fake or the key shop connector breaks
one rule, and the check for that rule must raise ``ContractViolation`` saying so.

The variants reuse a connector's hooks and replace one or two with a broken version. The checks
are called directly (fast, precise); one test runs ``ConnectorContract`` subclasses in a separate
pytest to show that a broken connector fails exactly the tests of the rule it breaks.
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

import tests.contract.fake as fake
import tests.contract.keyshop as keyshop
from core.contract.context import ConnectorContext, ConnectorSetup
from core.contract.errors import ConnectorError, RateLimited, TransientError
from core.contract.hookspecs import hookimpl
from core.contract.manifest import HOOK_NAMES, read_manifest
from core.contract.models import (
    AcceptedParcel,
    AuthCredentials,
    Authorization,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
    ShopEvent,
)
from core.testing import ContractViolation, Scenarios, Subject, checks
from tests.contract.fake.scenarios import FakeScenarios
from tests.contract.keyshop.scenarios import KeyshopScenarios
from tests.contract.keyshop.shop import TIMESTAMP_HEADER
from tests.contract.keyshop.shop import get_shop as get_keyshop
from tests.contract.keyshop.tokens import TokenCache

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


class Variant:
    """A connector (the fake unless ``base`` says otherwise) with some hooks replaced; ``None`` leaves one out."""

    def __init__(self, base: ModuleType = fake, **hooks: Any) -> None:
        self.base = base
        for name in HOOK_NAMES:
            hook = hooks[name] if name in hooks else getattr(base, name, None)
            if hook is not None:
                setattr(self, name, hook)


def KeyVariant(**hooks: Any) -> Variant:  # noqa: N802 - reads as a class, like Variant
    """The key shop connector with some hooks replaced."""
    return Variant(keyshop, **hooks)


def subject(plugin: Variant, scenarios: Scenarios | None = None) -> Subject:
    """The broken plugin as the kit's subject, with its base connector's manifest and scenarios."""
    base = plugin.base
    return Subject(
        connector=read_manifest(base).id,
        plugin=plugin,
        scenarios=scenarios or (KeyshopScenarios() if base is keyshop else FakeScenarios()),
        manifest=read_manifest(base),
        task_grace=0.2,
    )


def _keyshop_of(context: ConnectorContext) -> Any:
    return get_keyshop(keyshop.KeyshopSettings.model_validate(context.settings, from_attributes=True).shop)


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
    with pytest.raises(ContractViolation, match=rf"{hook} when the shop answers 429 .* expected core.contract.errors.RateLimited"):
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


@hookimpl
async def import_orders_ending_at_the_scans_end(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    # A full scan that ends its run at the time it finished instead of the time it started.
    async for page in keyshop.import_orders(context, cursor):
        if page.cursor.page_token is None:
            page = page.model_copy(update={"cursor": Cursor(since=_keyshop_of(context).now)})
        yield page


async def test_kit_catches_a_full_scan_missing_orders_changed_while_it_ran() -> None:
    with pytest.raises(ContractViolation, match=r"The order 'K-0001', changed while an import ran .* came neither"):
        await checks.import_misses_no_change_during_a_run(
            subject(KeyVariant(import_orders=import_orders_ending_at_the_scans_end))
        )


# connecting -------------------------------------------------------------------------------------


@hookimpl
async def authorize_without_asking_the_shop(context: ConnectorContext, step: Any) -> Any:
    if isinstance(step, AuthCredentials):
        return Authorization(external_account_id="keyshop-unchecked", credentials=dict(step.fields))
    return await keyshop.authorize(context, step)


async def test_kit_catches_credentials_stored_without_asking_the_shop() -> None:
    broken = subject(KeyVariant(authorize=authorize_without_asking_the_shop))
    with pytest.raises(ContractViolation, match=r"refuses \(Scenarios.bad_fields\) succeeded; expected .*ConnectorAuthFailed"):
        await checks.bad_credential_fields_fail(broken)
    with pytest.raises(ContractViolation, match=r"returned an Authorization for pasted credentials without asking the shop"):
        await checks.credential_fields_connect(broken)


class FakeScenariosWithoutConsent(FakeScenarios):
    consent = Scenarios.consent  # type: ignore[assignment]


class KeyshopScenariosWithoutFields(KeyshopScenarios):
    good_fields = Scenarios.good_fields  # type: ignore[assignment]


async def test_kit_fails_instead_of_skipping_when_the_connect_style_needs_a_missing_scenario_move() -> None:
    with pytest.raises(ContractViolation, match=r"does not implement Scenarios.consent"):
        await checks.authorize_round_trip(subject(Variant(), FakeScenariosWithoutConsent()))
    with pytest.raises(ContractViolation, match=r"does not implement Scenarios.good_fields"):
        await checks.credential_fields_connect(subject(KeyVariant(), KeyshopScenariosWithoutFields()))


_SHARED = TokenCache(timedelta(seconds=30))


@hookimpl
async def open_connector_sharing_a_global(setup: ConnectorSetup) -> TokenCache:
    return _SHARED


async def test_kit_catches_state_kept_in_a_module_global() -> None:
    with pytest.raises(ContractViolation, match=r"returned the same TokenCache object for two runtimes"):
        await checks.state_is_per_runtime(subject(KeyVariant(open_connector=open_connector_sharing_a_global)))


# labels ---------------------------------------------------------------------------------------


@hookimpl
async def on_label_created_without_lookup(context: ConnectorContext, order: Order, label: Label) -> Any:
    # Makes a shipment for every parcel without asking what the shop holds under its reference.
    api, settings = keyshop._api(context), keyshop._settings(context)
    with keyshop._shop_errors("on_label_created", api):
        return [await keyshop._push_parcel(api, settings, order, label, parcel, None) for parcel in label.parcels]


async def test_kit_catches_a_duplicate_shipment_on_a_push_repeated_after_a_lost_answer() -> None:
    broken = subject(KeyVariant(on_label_created=on_label_created_without_lookup))
    with pytest.raises(ContractViolation, match=r"after a lost answer left 2 shipments at the shop for 1 parcel"):
        await checks.repeated_push_after_lost_answer(broken)
    with pytest.raises(ContractViolation, match=r"Pushing a label of 1 parcel\(s\) twice left 2 shipment\(s\)"):
        await checks.label_outcome_per_parcel(broken)


@hookimpl
async def on_label_created_accepting_without_reference(context: ConnectorContext, order: Order, label: Label) -> Any:
    outcomes = await keyshop.on_label_created(context, order, label)
    return [ParcelOutcome(reference=o.reference, state=o.state, retry_after=o.retry_after) for o in outcomes]


@hookimpl
async def on_label_created_constructing_without_reference(
    context: ConnectorContext, order: Order, label: Label
) -> Any:
    outcomes = await keyshop.on_label_created(context, order, label)
    return [ParcelOutcome.model_construct(reference=o.reference, state=o.state) for o in outcomes]


@pytest.mark.parametrize(
    ("hook", "said"),
    [
        (on_label_created_accepting_without_reference, "on_label_created built an invalid ParcelOutcome"),
        (on_label_created_constructing_without_reference, "answer is a ParcelOutcome that does not validate"),
    ],
    ids=["validated", "constructed"],
)
async def test_kit_reports_an_accepted_outcome_without_shop_reference(hook: Any, said: str) -> None:
    with pytest.raises(ContractViolation, match=rf"{said}: .*accepted parcel needs the shop_reference"):
        await checks.label_outcome_per_parcel(subject(KeyVariant(on_label_created=hook)))


@hookimpl
async def check_parcels_trusting_acceptance(context: ConnectorContext, parcels: list[AcceptedParcel]) -> Any:
    return [ParcelOutcome(reference=p.reference, state="confirmed", shop_reference=p.shop_reference) for p in parcels]


async def test_kit_catches_a_check_confirming_what_the_shop_has_not_settled() -> None:
    with pytest.raises(ContractViolation, match=r"check_parcels answered \[.*confirmed.*\] before the shop settled"):
        await checks.accepted_parcels_settle(subject(KeyVariant(check_parcels=check_parcels_trusting_acceptance)))


async def test_kit_catches_accepted_outcomes_without_check_parcels() -> None:
    with pytest.raises(ContractViolation, match=r"accepted.* does not implement check_parcels"):
        await checks.label_outcome_per_parcel(subject(KeyVariant(check_parcels=None)))


class KeyshopScenariosWithoutSettle(KeyshopScenarios):
    settle = Scenarios.settle  # type: ignore[assignment]


async def test_kit_fails_instead_of_skipping_when_settle_is_missing() -> None:
    with pytest.raises(ContractViolation, match=r"KeyshopScenariosWithoutSettle does not implement Scenarios.settle"):
        await checks.accepted_parcels_settle(subject(KeyVariant(), KeyshopScenariosWithoutSettle()))


# events ---------------------------------------------------------------------------------------


@hookimpl
async def receive_event_without_verifying(context: ConnectorContext, event: ShopEvent) -> EventMeaning:
    document = json.loads(event.body)
    return EventMeaning(event_id=document["id"], import_orders=True)


@hookimpl
async def receive_event_ignoring_its_age(context: ConnectorContext, event: ShopEvent) -> EventMeaning:
    stamp = event.headers.get(TIMESTAMP_HEADER, "")
    if stamp.isdigit():
        event = event.model_copy(update={"received_at": datetime.fromtimestamp(int(stamp), UTC)})
    return await keyshop.receive_event(context, event)


@pytest.mark.parametrize(
    ("hook", "kind"),
    [
        (receive_event_without_verifying, "unsigned"),
        (receive_event_without_verifying, "forged"),
        (receive_event_without_verifying, "stale"),
        (receive_event_ignoring_its_age, "stale"),
    ],
    ids=["unverified-unsigned", "unverified-forged", "unverified-stale", "ageless-stale"],
)
async def test_kit_catches_an_unverified_event_accepted(hook: Any, kind: str) -> None:
    with pytest.raises(ContractViolation, match=rf"receive_event for .*Scenarios.{kind}_event\) succeeded; expected"):
        await checks.event_is_verified(subject(KeyVariant(receive_event=hook)), kind)
    await checks.event_is_verified(subject(KeyVariant(receive_event=hook)), "genuine")  # it reads genuine ones


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


@hookimpl
async def authorize_logging_the_pasted_secret(context: ConnectorContext, step: Any) -> Any:
    if isinstance(step, AuthCredentials):
        context.log.debug("connecting with %s", step.fields["client_secret"].get_secret_value())
    return await keyshop.authorize(context, step)


@pytest.mark.parametrize(
    ("variant", "where"),
    [
        # Whichever check logs first: the one with good or the one with bad credentials.
        (Variant(check_connection=check_connection_logging_the_key), "(bad )?credentials api_key"),
        (Variant(authorize=authorize_logging_the_client_secret), "settings client_secret"),
        (KeyVariant(authorize=authorize_logging_the_pasted_secret), "connect field client_secret"),
    ],
    ids=["api_key", "client_secret", "pasted_secret"],
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


@hookimpl
async def open_connector_keeping_a_session(setup: ConnectorSetup) -> Any:
    LEAKED.append(aiohttp.ClientSession())  # opened per process, and close_connector never closes it
    return await keyshop.open_connector(setup)


@pytest.mark.parametrize(
    ("variant", "left"),
    [
        (Variant(check_connection=check_connection_leaking_a_session), r"2 open aiohttp.ClientSession\(s\)"),
        (Variant(check_connection=check_connection_leaking_a_task), r"pending task fake-token-refresher"),
        (KeyVariant(open_connector=open_connector_keeping_a_session), r"1 open aiohttp.ClientSession\(s\)"),
    ],
    ids=["session", "task", "open_connector_session"],
)
async def test_kit_catches_a_leaked_session_or_task(variant: Variant, left: str) -> None:
    with pytest.raises(ContractViolation, match=rf"these were left: {left}"):
        await checks.leaves_no_sessions_or_tasks(subject(variant))
    assert all(item.closed if isinstance(item, aiohttp.ClientSession) else item.done() for item in LEAKED)
    LEAKED.clear()


# the pytest face of the kit -------------------------------------------------------------------


def test_contract_subclass_fails_exactly_the_broken_rule(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a project of its own (strict asyncio mode), the kit's tests pass for the fake, given through
    a ``scenarios`` fixture, and for the key shop; they fail only the 429 tests for the variant that
    maps 429 wrongly, and only the repeated-push tests for the key shop that makes a second shipment."""
    pytester.makepyfile(
        test_inline=textwrap.dedent(
            """
            import pytest

            import tests.contract.fake as fake
            from core.contract.manifest import read_manifest
            from core.testing import ConnectorContract
            import tests.contract.keyshop as keyshop
            from tests.contract.fake.scenarios import FakeScenarios
            from tests.contract.keyshop.scenarios import KeyshopScenarios
            from tests.contract.test_kit_catches_broken import GENERIC_429, NO_LOOKUP


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


            class TestKeyshop(ConnectorContract):
                connector = "keyshop"
                plugin = keyshop
                scenarios = KeyshopScenarios()


            class TestNoLookup(ConnectorContract):
                connector = "keyshop"
                plugin = NO_LOOKUP
                manifest = read_manifest(keyshop)
                scenarios = KeyshopScenarios()


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
        "-k", "TestFake or TestGeneric429 or TestKeyshop or TestNoLookup or test_only_this", "-rfE",
    )  # fmt: skip
    summary = sorted(" ".join(line.split()[:2]) for line in result.outlines if line.startswith(("FAILED ", "ERROR ")))
    assert summary == [
        "ERROR test_inline.py::TestForgotten::test_only_this",
        "FAILED test_inline.py::TestGeneric429::test_too_many_requests_means_rate_limited[check_connection]",
        "FAILED test_inline.py::TestGeneric429::test_too_many_requests_means_rate_limited[import_orders]",
        "FAILED test_inline.py::TestNoLookup::test_label_gets_one_outcome_per_parcel_also_when_repeated",
        "FAILED test_inline.py::TestNoLookup::test_repeated_push_after_lost_answer_makes_no_second_shipment",
    ], result.stdout.str()
    result.stdout.fnmatch_lines(['*TestForgotten: set `connector = "<id>"`*'])
    assert set(result.parseoutcomes()) == {"passed", "failed", "skipped", "errors", "deselected"}, result.stdout.str()


#: The key shop connector that never looks up what the shop holds: the pytest face's second broken subject.
NO_LOOKUP = KeyVariant(on_label_created=on_label_created_without_lookup)
