"""The contract checks, one async function per rule of the hub API.

Each check takes a ``Subject``, runs the connector through core's ``HookRunner`` on a fresh
``Bench``, and raises ``ContractViolation`` (an ``AssertionError``) with a message that names the
rule and the fix. It calls ``pytest.skip`` only when the rule does not apply to the connector: an
optional hook it does not implement, a connect style it does not use (the skip reason says which),
or the one optional pair of scenario moves (``lose_next_answer`` with ``shipments_at_shop``). A
rule that applies but needs a scenario move the connector's ``Scenarios`` lacks fails, naming the
move. ``ConnectorContract`` runs each check as a test; the kit's own tests call them directly on
broken connectors to prove that each check can fail.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from core.contract.context import utc_now
from core.contract.errors import (
    ConnectorAuthFailed,
    ConnectorError,
    ConnectorNotReady,
    EventRejected,
    HubError,
    PluginError,
    RateLimited,
    TransientError,
)
from core.contract.hookspecs import REQUIRED_HOOKS
from core.contract.manifest import Manifest
from core.contract.models import (
    AcceptedParcel,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthStart,
    Cursor,
    EventMeaning,
    Label,
    Order,
    ParcelOutcome,
    SkippedOrder,
)
from core.infra.hooks import HookRunner
from core.testing.scenario import FAULTS, Fault, PostedEvent
from core.testing.testbed import (
    BYSTANDER,
    Bench,
    Bystander,
    ContractViolation,
    ImportRun,
    ResourceTracker,
    Subject,
    page_ids,
)

#: What each shop fault must become, and how to say the fault in a message.
FAULT_ERRORS: dict[Fault, tuple[type[HubError], str]] = {
    "5xx": (ConnectorNotReady, "a 5xx server error"),
    "timeout": (ConnectorNotReady, "nothing within the HTTP timeout"),
    "429": (RateLimited, "429 Too Many Requests"),
}

#: Secrets shorter than this are not searched for in logs: they would match ordinary text.
MIN_SECRET_LENGTH = 4

_STATE = "contract-state-0123456789abcdef"
#: The redirect URI the kit passes to authorize; a connector whose shop checks redirect URIs registers it.
REDIRECT_URI = "https://hub.invalid/connect/callback"
#: The events URL the kit's contexts carry when it connects for the event checks (``context.events_url``).
EVENTS_URL = "https://hub.invalid/events/contract-events-0123456789abcdef"

#: The events the kit hands to ``receive_event``: the genuine one must be read, the others refused.
EVENT_KINDS = ("genuine", "unsigned", "forged", "stale")
_EVENT_SAID = {
    "unsigned": "a message without a signature (Scenarios.unsigned_event)",
    "forged": "a message whose signature does not fit it (Scenarios.forged_event)",
    "stale": "a genuinely signed message sent too long ago, a replay (Scenarios.stale_event)",
}
#: How often the kit asks check_parcels about a settled parcel before it gives up on it.
SETTLE_CHECKS = 5


# manifest and registration --------------------------------------------------------------------


async def manifest_is_valid(subject: Subject) -> None:
    """``manifest.toml`` parses, carries the connector's id, and names the settings model in use."""
    try:
        manifest = subject.load_manifest()
    except PluginError as err:
        raise ContractViolation(f"{err.message}") from err
    if manifest.id != subject.connector:
        raise ContractViolation(
            f"manifest.toml declares id {manifest.id!r} but the connector is {subject.connector!r}: make them equal "
            "(the entry point name, the manifest id and the contract's `connector`)."
        )
    try:
        model = manifest.settings_model()
    except (ImportError, AttributeError, PluginError) as err:
        raise ContractViolation(f"manifest.toml names settings {manifest.settings!r}, which cannot be used: {err}") from err
    if model is None:
        return
    async with Bench(subject, register=False) as bench:
        settings = bench.scenarios.settings()
    if not isinstance(settings, model):
        raise ContractViolation(
            f"Scenarios.settings() returned {type(settings).__name__}, but the manifest names {manifest.settings}: "
            "return an instance of the connector's settings model."
        )


async def manifest_lists_implemented_hooks(subject: Subject) -> None:
    """The manifest's ``hooks`` are exactly the hooks the plugin implements."""
    try:
        manifest = subject.load_manifest()
    except PluginError as err:
        raise ContractViolation(f"{err.message}") from err
    runner = HookRunner(subject.hook_settings)
    try:
        runner.register(subject.connector, subject.plugin)
    except PluginError as err:
        raise ContractViolation(f"Cannot compare the manifest with the hooks: {err.message}") from err
    implemented, declared = set(runner.implemented(subject.connector)), set(manifest.hooks)
    if implemented != declared:
        raise ContractViolation(
            "manifest.toml `hooks` must list exactly the hooks the connector implements: "
            f"listed but not implemented {sorted(declared - implemented)}, "
            f"implemented but not listed {sorted(implemented - declared)}."
        )


async def registers_cleanly(subject: Subject) -> None:
    """The plugin registers on core's HookRunner beside another connector, unloads and registers again.

    Registration refuses hooks that are not ``async def``, an ``import_orders`` that is not an async
    generator, and hooks whose name or arguments do not match a spec.
    """
    runner = HookRunner(subject.hook_settings)
    try:
        runner.register(BYSTANDER, Bystander())
        runner.register(subject.connector, subject.plugin)
        runner.unregister(subject.connector)
        runner.register(subject.connector, subject.plugin)
    except PluginError as err:
        raise ContractViolation(f"{err.message}{f' ({err.detail})' if err.detail else ''}") from err
    missing = sorted(set(REQUIRED_HOOKS) - set(runner.implemented(subject.connector)))
    if missing:
        raise ContractViolation(f"The connector does not implement the required hooks {missing}.")


async def state_is_per_runtime(subject: Subject) -> None:
    """Two runtimes in one process get two states from ``open_connector``: nothing lives in module globals.

    Tests and benchmarks open several runtimes in one process; each must have its own token
    caches and rate buckets, released by ``close_connector``.
    """
    async with Bench(subject) as bench:
        _require(bench, "open_connector", "it keeps no per-process state")
        setup = bench.setup()
        try:
            other = await bench.runner.open_connector(setup)
        except HubError as err:
            raise ContractViolation(f"open_connector failed when opened a second time: {_describe(err)}.") from err
        try:
            if bench.opened is not None and other is bench.opened:
                raise ContractViolation(
                    f"open_connector returned the same {type(other).__name__} object for two runtimes: build a new "
                    "state in each call and keep nothing in module globals."
                )
        finally:
            await bench.runner.close_connector(setup, other)


# credentials and faults -----------------------------------------------------------------------


async def good_credentials_pass(subject: Subject) -> None:
    """``check_connection`` returns quietly with good credentials."""
    async with Bench(subject) as bench:
        _require(bench, "check_connection")
        try:
            await bench.runner.check_connection(bench.context())
        except HubError as err:
            raise ContractViolation(
                f"check_connection failed with the good credentials: {_describe(err)}."
            ) from err


async def bad_credentials_fail(subject: Subject) -> None:
    """Refused credentials raise ``ConnectorAuthFailed`` from ``check_connection`` and ``import_orders``.

    That error moves the connection to ``auth_required`` with a Reconnect action; any other error
    would leave the merchant retrying something that cannot work.
    """
    async with Bench(subject) as bench:
        await bench.scenarios.seed_orders(1)
        bad = bench.scenarios.bad_credentials()
        if bench.implements("check_connection"):
            await _expect_error(
                bench.runner.check_connection(bench.context(bad)),
                ConnectorAuthFailed,
                "check_connection with refused credentials",
            )
        await _expect_error(bench.run_import(Cursor(), bad), ConnectorAuthFailed, "import_orders with refused credentials")


async def fault_is_mapped(subject: Subject, hook: str, fault: Fault) -> None:
    """A shop fault during ``hook`` becomes the right error: 5xx and timeouts ``ConnectorNotReady``
    (retry with backoff, the state stays), 429 ``RateLimited`` (retry after ``retry_after``)."""
    expected, said = FAULT_ERRORS[fault]
    async with Bench(subject) as bench:
        _require(bench, hook)
        await bench.scenarios.seed_orders(1)
        await bench.scenarios.fail_next(fault, subject.fault_calls)
        call = (
            bench.runner.check_connection(bench.context())
            if hook == "check_connection"
            else bench.run_import(Cursor())
        )
        await _expect_error(call, expected, f"{hook} when the shop answers {said}")


# imports --------------------------------------------------------------------------------------


async def orders_validate(subject: Subject) -> None:
    """Imported orders validate as core ``Order``s, every external id comes once, and all seeded orders arrive."""
    async with Bench(subject) as bench:
        seeded = await bench.scenarios.seed_orders(subject.seed_count)
        run = await bench.run_import(Cursor())
    for number, page in enumerate(run.pages, 1):
        for order in page.orders:
            _revalidate(Order, order, number)
        for skipped in page.skipped:
            _revalidate(SkippedOrder, skipped, number)
        twice = _repeated(page_ids(page))
        if twice:
            raise ContractViolation(
                f"Page {number} of the import holds the external ids {twice} more than once: "
                "each order appears once per page, either as an order or as skipped."
            )
    twice = _repeated(run.ids)
    if twice:
        raise ContractViolation(
            f"One import yielded the external ids {twice} on more than one page: page through the shop in a "
            "stable order so that no order comes twice in a run."
        )
    missing = sorted(set(seeded) - set(run.ids))
    if missing:
        raise ContractViolation(
            f"A first import (Cursor()) did not yield the seeded orders {missing}: it must find the orders the "
            "merchant must ship in the look-back window (or Scenarios.seed_orders creates them outside it)."
        )


async def incremental_import_repeats_nothing(subject: Subject) -> None:
    """An import from the cursor of the previous one yields the changed order and no unchanged one."""
    async with Bench(subject) as bench:
        seeded = await bench.scenarios.seed_orders(subject.seed_count)
        first = await bench.run_import(Cursor())
        changed = seeded[0]
        await bench.scenarios.change_order(changed)
        second = await bench.run_import(first.cursor)
        third = await bench.run_import(second.cursor)
    repeated = sorted((set(second.ids) & set(first.ids)) - {changed})
    if repeated:
        raise ContractViolation(
            f"An incremental import from {_cursor(first.cursor)} yielded {repeated} again although they did not "
            "change: yield only orders updated strictly after cursor.since."
        )
    if changed not in second.ids:
        raise ContractViolation(
            f"The changed order {changed!r} did not come again in the import from {_cursor(first.cursor)}: "
            "orders updated after cursor.since must be yielded."
        )
    if third.ids:
        raise ContractViolation(
            f"An import right after another, with nothing changed, yielded {sorted(set(third.ids))} again: "
            "the returned cursor must cover everything the previous run yielded."
        )


async def cursor_never_moves_backwards(subject: Subject) -> None:
    """Within a run and from run to run, ``cursor.since`` never decreases and, once set, stays set."""
    async with Bench(subject) as bench:
        seeded = await bench.scenarios.seed_orders(subject.seed_count)
        first = await _import_checking_cursor(bench, Cursor())
        if first.cursor.since is None:
            raise ContractViolation(
                "The last page of a complete import has no cursor.since: the next import would start over. "
                "End every run with the point in time it has covered."
            )
        await bench.scenarios.change_order(seeded[-1])
        await _import_checking_cursor(bench, first.cursor)


async def import_resumes_from_a_page_cursor(subject: Subject) -> None:
    """An import from the cursor of a page in the middle yields exactly the later pages' orders.

    That is how core resumes after a crash between pages: it stored the page and its cursor, so the
    rest must come once, and nothing before it again.
    """
    async with Bench(subject) as bench:
        await bench.scenarios.seed_orders(subject.seed_count)
        full = await bench.run_import(Cursor())
        if len(full.pages) < 2:
            pytest.skip(
                f"{subject.seed_count} seeded orders came in one page: give the connector a smaller page size in "
                "Scenarios.settings() to check resuming."
            )
        resumed = await bench.run_import(full.pages[0].cursor)
    expected_ids = sorted(external_id for page in full.pages[1:] for external_id in page_ids(page))
    if sorted(resumed.ids) != expected_ids:
        raise ContractViolation(
            f"Resuming from the cursor of page 1 ({_cursor(full.pages[0].cursor)}) yielded {sorted(resumed.ids)}; "
            f"the later pages held {expected_ids}: a resumed import must neither repeat nor lose orders."
        )


async def future_cursor_yields_nothing(subject: Subject) -> None:
    """A cursor after now yields no orders, and the cursor it returns is not earlier."""
    async with Bench(subject) as bench:
        await bench.scenarios.seed_orders(subject.seed_count)
        future = Cursor(since=bench.scenarios.now() + timedelta(days=1))
        run = await _import_checking_cursor(bench, future)
    if run.ids:
        raise ContractViolation(
            f"An import from a cursor in the future ({_cursor(future)}) yielded {sorted(set(run.ids))}: "
            "nothing can have been updated after it."
        )


async def import_misses_no_change_during_a_run(subject: Subject) -> None:
    """An order added or changed while an import runs comes after the change, in that run or the next.

    A shop without an "updated after" filter is scanned in full over a live list, and a shop with
    one pages through a window while orders keep changing: either way the cursor a run ends with
    must let the next run find what changed behind the run's back.
    """
    async with Bench(subject) as bench:
        await bench.scenarios.seed_orders(subject.seed_count)
        run = ImportRun(start=Cursor())
        changed = added = ""
        stream = bench.runner.import_orders(bench.context(), Cursor())
        try:
            async for page in stream:
                run.pages.append(page)
                if len(run.pages) == 1:
                    if not page.orders:
                        raise ContractViolation("The first page of a first import held no order to change.")
                    changed = page.orders[0].external_id
                    await bench.scenarios.change_order(changed)
                    (added,) = await bench.scenarios.seed_orders(1)
                if len(run.pages) > 10 * subject.seed_count + 10:
                    raise ContractViolation("import_orders did not end: the last page must end the generator.")
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        later = {external_id for page in run.pages[1:] for external_id in page_ids(page)}
        following = await bench.run_import(run.cursor)
    for external_id, what in ((changed, "changed"), (added, "added")):
        if external_id not in later and external_id not in following.ids:
            raise ContractViolation(
                f"The order {external_id!r}, {what} while an import ran (after its first page), came neither later in "
                f"that run nor in the next one from {_cursor(run.cursor)}: end a run with a cursor from before it "
                "started reading (a full scan: the time it started), so that the next run finds such changes."
            )


# labels ---------------------------------------------------------------------------------------


async def label_outcome_per_parcel(subject: Subject) -> None:
    """A good label gets one ``confirmed`` or ``accepted`` outcome per parcel, again on a repeated push.

    Accepted outcomes need ``check_parcels`` (core asks it until they settle). When the scenarios
    count shipments at the shop, the two pushes leave exactly one per parcel. Owner-only dispatch
    is core's guarantee (``HookRunner``, tested in tests/core/test_hooks.py): a connector is never
    given another connector's connection, so there is no "foreign label" for the kit to check.
    """
    async with Bench(subject) as bench:
        order, label = await _imported_order_and_label(bench)
        for attempt in ("first", "repeated"):
            outcomes = await _push(bench, order, label, f"The {attempt} push of a good label")
            unsettled = [outcome for outcome in outcomes if outcome.state not in ("confirmed", "accepted")]
            if unsettled:
                raise ContractViolation(
                    f"The {attempt} push of a good label was neither confirmed nor accepted: {unsettled}. A repeated "
                    "push of the same parcel reference must edit (or find) the shop's shipment and answer again."
                )
            if any(outcome.state == "accepted" for outcome in outcomes) and not bench.implements("check_parcels"):
                raise ContractViolation(
                    f"on_label_created answered accepted ({outcomes}) but the connector does not implement "
                    "check_parcels: core could never learn how the parcel settled. Implement check_parcels."
                )
        if bench.scenarios.implements("shipments_at_shop"):
            made = await bench.scenarios.shipments_at_shop(order.external_id)
            if made != len(label.parcels):
                raise ContractViolation(
                    f"Pushing a label of {len(label.parcels)} parcel(s) twice left {made} shipment(s) at the shop: "
                    "a repeated push must edit or find the shipment of each parcel reference, never make another."
                )


async def accepted_parcels_settle(subject: Subject) -> None:
    """Accepted parcels carry ``shop_reference``; ``check_parcels`` keeps them accepted until the shop
    settles them, then answers ``confirmed``, or ``failed`` with the shop's message.

    Checked when the connector implements ``check_parcels``; needs ``Scenarios.settle``.
    """
    async with Bench(subject) as bench:
        _require(bench, "check_parcels", "its pushes are confirmed or refused at once")
        _needs(bench, "settle", "check_parcels is implemented: the kit makes the shop settle what it accepted")
        parcels: list[AcceptedParcel] = []
        for order in await _imported_orders(bench, 2):
            label = bench.scenarios.label_for(order)
            outcomes = await _push(bench, order, label, "A push of a good label")
            not_accepted = [outcome for outcome in outcomes if outcome.state != "accepted"]
            if not_accepted:
                raise ContractViolation(
                    f"check_parcels is implemented, but a push answered {not_accepted} instead of accepted: let the "
                    "scenarios' shop settle shipments later (as it does with merchants), or drop check_parcels if the "
                    "shop never does."
                )
            tracking = {parcel.reference: parcel.tracking_number for parcel in label.parcels}
            parcels += [
                AcceptedParcel(
                    reference=outcome.reference,
                    shop_reference=outcome.shop_reference or "",
                    tracking_number=tracking[outcome.reference],
                    order_external_id=order.external_id,
                    accepted_at=utc_now(),
                )
                for outcome in outcomes
            ]
        early = [outcome for outcome in await _check(bench, parcels) if outcome.state != "accepted"]
        if early:
            raise ContractViolation(
                f"check_parcels answered {early} before the shop settled anything: while the shop is still working "
                "on a parcel answer accepted (or leave it out)."
            )
        done, refused = parcels[0].shop_reference, parcels[-1].shop_reference
        await bench.scenarios.settle(done, confirmed=True)
        await bench.scenarios.settle(refused, confirmed=False)
        settled: dict[str, ParcelOutcome] = {}
        for _ in range(SETTLE_CHECKS):
            asked = [parcel for parcel in parcels if parcel.shop_reference not in settled]
            for outcome in await _check(bench, asked):
                if outcome.state != "accepted" and outcome.shop_reference:
                    settled[outcome.shop_reference] = outcome
            if {done, refused} <= set(settled):
                break
    if done not in settled or settled[done].state != "confirmed":
        raise ContractViolation(
            f"After the shop settled {done!r} as done, {SETTLE_CHECKS} calls of check_parcels did not answer "
            f"confirmed for it (last: {settled.get(done)}): map the shop's success to confirmed."
        )
    if refused not in settled or settled[refused].state != "failed" or not settled[refused].message:
        raise ContractViolation(
            f"After the shop refused {refused!r}, {SETTLE_CHECKS} calls of check_parcels did not answer failed with "
            f"the shop's message (last: {settled.get(refused)}): the merchant needs the reason to act on."
        )


async def repeated_push_after_lost_answer(subject: Subject) -> None:
    """A push repeated after the shop lost its answer makes no second shipment at the shop.

    Core repeats a push whose answer it never got (a timeout, a crash). Where the shop has an
    idempotency key or edits by reference the repeat is harmless; where it has neither (bol.com),
    the connector must first find out what the shop holds for the parcel's reference. Checked
    when the scenarios implement ``lose_next_answer`` and ``shipments_at_shop``.
    """
    missing = [name for name in ("lose_next_answer", "shipments_at_shop") if not subject.scenarios.implements(name)]
    if missing:
        pytest.skip(
            f"Scenarios.{' and Scenarios.'.join(missing)} not implemented: a push repeated after a lost answer is not "
            "checked. Implement them to check it."
        )
    async with Bench(subject) as bench:
        order, label = await _imported_order_and_label(bench)
        await bench.scenarios.lose_next_answer()
        try:
            await _push(bench, order, label, "A push whose answer the shop lost", transient_ok=True)
        except TransientError:
            pass  # nothing known to be pushed: core repeats the push later
        made = await bench.scenarios.shipments_at_shop(order.external_id)
        if made != len(label.parcels):
            raise ContractViolation(
                f"The scenarios' lost answer left {made} shipment(s) at the shop for {len(label.parcels)} parcel(s): "
                "Scenarios.lose_next_answer must let the shop make the shipment and lose only the answer."
            )
        for attempt in ("A push", "A second push"):
            outcomes = await _push(bench, order, label, f"{attempt} repeated after a lost answer")
            unsettled = [outcome for outcome in outcomes if outcome.state not in ("confirmed", "accepted")]
            if unsettled:
                raise ContractViolation(
                    f"{attempt} repeated after a lost answer answered {unsettled}: the shop holds the shipment, so "
                    "answer from it (confirmed, or accepted while it settles)."
                )
            made = await bench.scenarios.shipments_at_shop(order.external_id)
            if made != len(label.parcels):
                raise ContractViolation(
                    f"{attempt} repeated after a lost answer left {made} shipments at the shop for "
                    f"{len(label.parcels)} parcel(s): the shop had made the first one. Without an idempotency key, "
                    "look up what the shop holds under the parcel's reference (the order's shipments) before making "
                    "a shipment."
                )


# events ---------------------------------------------------------------------------------------


async def event_is_verified(subject: Subject, kind: str) -> None:
    """A genuinely signed event is read into an ``EventMeaning`` (the same ``event_id`` each time it
    comes); an unsigned, forged or stale one raises ``EventRejected`` (answered 401, nothing changes).

    Checked when the connector implements ``receive_event``. The kit first connects with
    ``context.events_url`` set, so that a connector that subscribes its shop there can; the
    events then go to a context with the credentials that connect returned.
    """
    async with Bench(subject) as bench:
        _require(bench, "receive_event", "its shop pushes no events")
        method = "signed_event" if kind in ("genuine", "unsigned", "forged") else "stale_event"
        _needs(bench, method, "receive_event is implemented: the kit hands it the shop's messages")
        credentials = (await _connect_any(bench, EVENTS_URL)).credentials
        posted = await _posted(bench, kind)
        if kind != "genuine":
            await _expect_error(
                bench.receive_event(posted, credentials, EVENTS_URL),
                EventRejected,
                f"receive_event for {_EVENT_SAID[kind]}",
                fix="Verify every message (signature over the raw body, its age) before reading it.",
            )
            return
        meanings = []
        for _ in range(2):
            try:
                meaning = await bench.receive_event(posted, credentials, EVENTS_URL)
            except HubError as err:
                raise ContractViolation(
                    f"receive_event refused a genuinely signed message (Scenarios.signed_event): {_describe(err)}."
                ) from err
            _revalidate(EventMeaning, meaning, "receive_event's answer")
            meanings.append(meaning)
    if meanings[0].event_id != meanings[1].event_id:
        raise ContractViolation(
            f"The same message read twice gave the event ids {meanings[0].event_id!r} and {meanings[1].event_id!r}: "
            "take the id from the message, so that core can ignore a second delivery."
        )


# authorisation --------------------------------------------------------------------------------


async def authorize_round_trip(subject: Subject) -> None:
    """``authorize`` sends the merchant to a consent URL carrying ``state`` and turns the callback into
    working credentials. Checked for connect style ``consent``; needs ``Scenarios.consent``."""
    manifest = _manifest(subject)
    if manifest.connect.style != "consent":
        pytest.skip(f"The connector connects with {manifest.connect.style} ([connect] style), not by consent.")
    async with Bench(subject) as bench:
        _needs(bench, "consent", "the connector connects by consent: the kit plays the merchant on the consent page")
        authorization = await _connect(bench)
        await _credentials_work(bench, authorization, "the callback")


async def credential_fields_connect(subject: Subject) -> None:
    """Good pasted fields are checked with the shop and give an ``Authorization`` whose credentials
    pass ``check_connection``. Checked for connect style ``credentials``; needs ``Scenarios.good_fields``."""
    manifest = _credentials_style(subject)
    async with Bench(subject) as bench:
        fields = _fields(bench, manifest, "good_fields")
        before = bench.calls()
        authorization = await _grant(bench, fields)
        if bench.calls() == before and _can_count(bench):
            raise ContractViolation(
                "authorize returned an Authorization for pasted credentials without asking the shop: check them with "
                "the shop first, core stores whatever authorize returns."
            )
        await _credentials_work(bench, authorization, "the pasted fields")


async def bad_credential_fields_fail(subject: Subject) -> None:
    """Pasted credentials the shop refuses raise ``ConnectorAuthFailed`` and nothing else: nothing is
    stored and the merchant stays on the form with the shop's reason. Checked for connect style
    ``credentials``; needs ``Scenarios.bad_fields``."""
    manifest = _credentials_style(subject)
    async with Bench(subject) as bench:
        fields = _fields(bench, manifest, "bad_fields")
        step = AuthCredentials(fields={name: SecretStr(value) for name, value in fields.items()})
        await _expect_error(
            bench.runner.authorize(bench.context({}, bench.pending_connection()), step),
            ConnectorAuthFailed,
            "authorize with pasted credentials the shop refuses (Scenarios.bad_fields)",
            fix="Check the fields with the shop before returning an Authorization: core stores whatever it returns.",
        )


# hygiene --------------------------------------------------------------------------------------


async def leaves_no_sessions_or_tasks(subject: Subject) -> None:
    """Opening, using, closing and unloading the connector leaves no open ``ClientSession`` and no pending task.

    Connectors use the hub's session (``context.http``); what ``open_connector`` starts,
    ``close_connector`` stops, and work started inside a hook call is finished before it returns.
    """
    with ResourceTracker() as tracker:
        async with Bench(subject) as bench:
            await exercise(bench)
        sessions, tasks = await tracker.leftovers(subject.task_grace)
    await tracker.release(sessions, tasks, subject.task_grace)
    problems = [f"{len(sessions)} open aiohttp.ClientSession(s) created by the connector"] if sessions else []
    problems += [f"pending task {task.get_name()} running {task.get_coro()!r}" for task in tasks]
    if problems:
        raise ContractViolation(
            f"After the connector was used, closed and unloaded these were left: {'; '.join(problems)}. "
            "Use context.http, close in close_connector what open_connector opened, and finish or cancel every "
            "task a hook starts before it returns."
        )


async def no_secret_in_logs(subject: Subject, caplog: pytest.LogCaptureFixture) -> None:
    """No credential, pasted secret field, settings secret or scenario secret appears in any log record, even at DEBUG."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    manifest = _manifest(subject)
    secret_fields = set(manifest.connect.secret_fields)
    with caplog.at_level(logging.DEBUG):
        first = len(caplog.records)
        async with Bench(subject) as bench:
            issued = await exercise(bench)
            sources = [
                {value: f"connect field {name}" for name, value in _pasted(bench) if name in secret_fields},
                _secret_values("credentials", bench.scenarios.good_credentials()),
                _secret_values("bad credentials", bench.scenarios.bad_credentials()),
                _secret_values("settings", bench.scenarios.settings()),
                _secret_values("issued credentials", issued),
                {value: "Scenarios.secrets()" for value in bench.scenarios.secrets()},
            ]
        records = caplog.records[first:]
    secrets: dict[str, str] = {}
    for source in sources:
        for value, where in source.items():
            if len(value) >= MIN_SECRET_LENGTH:
                secrets.setdefault(value, where)
    for record in records:
        text = f"{formatter.format(record)} {vars(record)!r}"
        for value, where in secrets.items():
            if value in text:
                raise ContractViolation(
                    f"A secret from {where} ({value[:3]}...) appears in a {record.levelname} log record of "
                    f"{record.name!r} ({record.msg!r}): log ids and counts, never credentials."
                )


async def exercise(bench: Bench) -> Mapping[str, SecretStr]:
    """Drive every hook the connector implements through ordinary and failing paths.

    Errors the hub expects (``HubError``) and the kit's own findings are tolerated: the checks that
    use this workload look at what is left behind, not at the answers. Returns the credentials
    ``authorize`` issued, if any.
    """
    scenarios = bench.scenarios
    tolerated = (HubError, ContractViolation, NotImplementedError)
    issued: dict[str, SecretStr] = {}
    seeded = await scenarios.seed_orders(bench.subject.seed_count)
    if bench.implements("check_connection"):
        for credentials in (None, scenarios.bad_credentials()):
            with suppress(*tolerated):
                await bench.runner.check_connection(bench.context(credentials))
    with suppress(*tolerated):
        await bench.run_import(Cursor(), scenarios.bad_credentials())
    run = ImportRun(start=Cursor())
    with suppress(*tolerated):
        run = await bench.run_import(Cursor())
    with suppress(*tolerated):
        await bench.run_import(Cursor(), pages=1)  # stopped after a page, as when the daemon shuts down
    if run.orders:
        order = run.orders[0]
        label = scenarios.label_for(order)
        outcomes: list[ParcelOutcome] = []
        with suppress(*tolerated):
            outcomes = await bench.push_label(order, label)
            outcomes = await bench.push_label(order, label)
        accepted = [outcome for outcome in outcomes if outcome.state == "accepted" and outcome.shop_reference]
        if accepted and bench.implements("check_parcels"):
            parcels = [
                AcceptedParcel(
                    reference=outcome.reference, shop_reference=outcome.shop_reference or "",
                    tracking_number=label.parcels[0].tracking_number, order_external_id=order.external_id,
                    accepted_at=utc_now(),
                )
                for outcome in accepted
            ]  # fmt: skip
            with suppress(*tolerated):
                await bench.check_parcels(parcels)
                await scenarios.settle(parcels[0].shop_reference)
                await bench.check_parcels(parcels)
        if scenarios.implements("lose_next_answer") and len(run.orders) > 1:
            other = run.orders[1]
            with suppress(*tolerated):
                await scenarios.lose_next_answer()
                await bench.push_label(other, scenarios.label_for(other))
            with suppress(*tolerated):
                await bench.push_label(other, scenarios.label_for(other))
    if seeded:
        with suppress(*tolerated):
            await scenarios.change_order(seeded[0])
            await bench.run_import(run.cursor)
    for fault in FAULTS:
        with suppress(*tolerated):
            await scenarios.fail_next(fault, 1)
            await bench.run_import(run.cursor)
    with suppress(*tolerated):
        issued.update((await _connect_any(bench, EVENTS_URL)).credentials)
    if _manifest(bench.subject).connect.style == "credentials" and scenarios.implements("bad_fields"):
        bad = AuthCredentials(fields={name: SecretStr(value) for name, value in scenarios.bad_fields().items()})
        with suppress(*tolerated):
            await bench.runner.authorize(bench.context({}, bench.pending_connection()), bad)
    if bench.implements("receive_event") and issued:
        for kind in EVENT_KINDS:
            with suppress(*tolerated):
                await bench.receive_event(await _posted(bench, kind), issued, EVENTS_URL)
    with suppress(*tolerated):
        await bench.runner.disconnect(bench.context(events_url=EVENTS_URL))
    return issued


# helpers --------------------------------------------------------------------------------------


def _require(bench: Bench, hook: str, meaning: str = "") -> None:
    """Skip the check when the connector does not implement ``hook`` (an optional hook)."""
    if not bench.implements(hook):
        pytest.skip(f"The connector does not implement {hook}{f' ({meaning})' if meaning else ''}.")


def _needs(bench: Bench, method: str, why: str) -> None:
    """Fail (never skip) when a rule applies but the scenarios lack the move it needs."""
    if not bench.scenarios.implements(method):
        raise ContractViolation(
            f"{type(bench.scenarios).__name__} does not implement Scenarios.{method}, and {why}. Implement it."
        )


def _manifest(subject: Subject) -> Manifest:
    try:
        return subject.load_manifest()
    except PluginError as err:
        raise ContractViolation(f"{err.message}") from err


def _credentials_style(subject: Subject) -> Manifest:
    manifest = _manifest(subject)
    if manifest.connect.style != "credentials":
        pytest.skip(f"The connector connects by {manifest.connect.style} ([connect] style), not with pasted credentials.")
    return manifest


def _fields(bench: Bench, manifest: Manifest, method: str) -> Mapping[str, str]:
    """The scenarios' pasted fields, which must be the fields the manifest declares."""
    _needs(bench, method, "the connector connects with pasted credentials")
    fields = dict(getattr(bench.scenarios, method)())
    declared = {field.name for field in manifest.connect.fields}
    required = {field.name for field in manifest.connect.fields if field.required}
    if not required <= set(fields) <= declared:
        raise ContractViolation(
            f"Scenarios.{method}() gives the fields {sorted(fields)}, but the manifest declares {sorted(declared)} "
            f"(required {sorted(required)}): fill in the Connect form as core would."
        )
    return fields


def _pasted(bench: Bench) -> list[tuple[str, str]]:
    """Every (field name, value) the scenarios would paste into the Connect form, good and bad."""
    pairs: list[tuple[str, str]] = []
    for method in ("good_fields", "bad_fields"):
        if bench.scenarios.implements(method):
            pairs += getattr(bench.scenarios, method)().items()
    return pairs


def _can_count(bench: Bench) -> bool:
    """Whether the bench can see shop calls: the scenarios count them, or the connector uses ``context.http``."""
    return bench.scenarios.shop_calls() is not None or bench.requests > 0


async def _grant(bench: Bench, fields: Mapping[str, str], events_url: str | None = None) -> Authorization:
    """``authorize`` with pasted fields for a pending connection, as core's credentials connect does."""
    step = AuthCredentials(fields={name: SecretStr(value) for name, value in fields.items()})
    try:
        return await bench.runner.authorize_grant(bench.context({}, bench.pending_connection(), events_url), step)
    except HubError as err:
        raise ContractViolation(
            f"authorize refused the good pasted credentials (Scenarios.good_fields): {_describe(err)}."
        ) from err


async def _connect_any(bench: Bench, events_url: str | None = None) -> Authorization:
    """Connect in the connector's style (consent round trip or pasted good fields), with ``events_url`` set."""
    manifest = _manifest(bench.subject)
    if manifest.connect.style == "credentials":
        return await _grant(bench, _fields(bench, manifest, "good_fields"), events_url)
    _needs(bench, "consent", "the connector connects by consent: the kit plays the merchant on the consent page")
    return await _connect(bench, events_url)


async def _credentials_work(bench: Bench, authorization: Authorization, source: str) -> None:
    if not authorization.credentials:
        raise ContractViolation(f"authorize returned no credentials to store from {source}.")
    if bench.implements("check_connection"):
        try:
            await bench.runner.check_connection(bench.context(authorization.credentials))
        except HubError as err:
            raise ContractViolation(
                f"The credentials authorize returned from {source} do not pass check_connection: {_describe(err)}."
            ) from err


async def _posted(bench: Bench, kind: str) -> PostedEvent:
    scenarios = bench.scenarios
    make = {
        "genuine": scenarios.signed_event,
        "unsigned": scenarios.unsigned_event,
        "forged": scenarios.forged_event,
        "stale": scenarios.stale_event,
    }[kind]
    try:
        return await make(EVENTS_URL)
    except NotImplementedError as err:
        raise ContractViolation(
            f"{type(scenarios).__name__} does not implement the scenario move for a {kind} event "
            "(Scenarios.signed_event, Scenarios.stale_event): implement it."
        ) from err


async def _push(
    bench: Bench, order: Order, label: Label, what: str, *, transient_ok: bool = False
) -> list[ParcelOutcome]:
    """Push through the HookRunner; what core refuses or a broken outcome becomes a violation naming the rule."""
    try:
        outcomes = await bench.push_label(order, label)
    except PluginError as err:
        raise ContractViolation(f"{what}: core refused the answer of on_label_created: {err.message}") from err
    except ConnectorError as err:
        if transient_ok and isinstance(err, TransientError):
            raise
        if isinstance(err.__cause__, ValidationError):
            raise ContractViolation(
                f"{what}: on_label_created built an invalid ParcelOutcome: {_first_error(err.__cause__)}. "
                "An accepted outcome needs the shop_reference that check_parcels asks about later."
            ) from err
        raise ContractViolation(f"{what} raised {_describe(err)}.") from err
    for outcome in outcomes:
        _revalidate(ParcelOutcome, outcome, f"{what}'s answer")
    return outcomes


async def _check(bench: Bench, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
    """``check_parcels`` through the HookRunner; what core refuses becomes a violation."""
    try:
        outcomes = await bench.check_parcels(parcels)
    except PluginError as err:
        raise ContractViolation(f"core refused the answer of check_parcels: {err.message}") from err
    except HubError as err:
        if isinstance(err.__cause__, ValidationError):
            raise ContractViolation(
                f"check_parcels built an invalid ParcelOutcome: {_first_error(err.__cause__)}."
            ) from err
        raise ContractViolation(f"check_parcels raised {_describe(err)}.") from err
    for outcome in outcomes:
        _revalidate(ParcelOutcome, outcome, "check_parcels' answer")
    return outcomes


async def _expect_error(call: Any, expected: type[HubError], what: str, fix: str | None = None) -> None:
    fix = fix or "Map it as core.contract.errors.error_for_status does."
    try:
        await call
    except expected:
        return
    except HubError as err:
        raise ContractViolation(f"{what} raised {_describe(err)}; expected core.contract.errors.{expected.__name__}. {fix}") from err
    raise ContractViolation(f"{what} succeeded; expected core.contract.errors.{expected.__name__}. {fix}")


async def _import_checking_cursor(bench: Bench, start: Cursor) -> ImportRun:
    """Import from ``start`` and refuse any page whose cursor is earlier than the one before it."""
    try:
        run = await bench.run_import(start)
    except PluginError as err:
        if "backwards" not in err.message:
            raise
        raise ContractViolation(
            f"import_orders moved the cursor backwards ({err.detail}); core refuses such pages. "
            "cursor.since must never decrease."
        ) from err
    previous = start
    for number, page in enumerate(run.pages, 1):
        since = page.cursor.since
        if previous.since is not None and (since is None or since < previous.since):
            raise ContractViolation(
                f"import_orders moved the cursor backwards on page {number}: {_cursor(page.cursor)} after "
                f"{_cursor(previous)}. cursor.since must never decrease, nor be dropped once set."
            )
        previous = page.cursor
    return run


async def _connect(bench: Bench, events_url: str | None = None) -> Authorization:
    """Both steps of a consent connect for a pending connection, the scenario playing the merchant."""
    pending = bench.pending_connection()
    start = AuthStart(state=_STATE, redirect_uri=REDIRECT_URI)
    redirect = await bench.runner.authorize_redirect(bench.context({}, pending, events_url), start)
    if _STATE not in redirect.url:
        raise ContractViolation(
            f"The consent URL {redirect.url} does not carry the state {_STATE!r}: the shop must send it back."
        )
    params = await bench.scenarios.consent(redirect, start)
    callback = AuthCallback(redirect_uri=REDIRECT_URI, params=dict(params))
    return await bench.runner.authorize_grant(bench.context({}, pending, events_url), callback)


async def _imported_orders(bench: Bench, count: int) -> list[Order]:
    await bench.scenarios.seed_orders(count)
    run = await bench.run_import(Cursor())
    if len(run.orders) < count:
        raise ContractViolation(
            f"The import of {count} seeded orders yielded {len(run.orders)} to put labels on; seed_orders must create "
            "shippable orders."
        )
    return run.orders[:count]


async def _imported_order_and_label(bench: Bench) -> tuple[Order, Label]:
    (order,) = await _imported_orders(bench, 1)
    return order, bench.scenarios.label_for(order)


def _revalidate(model: type[BaseModel], item: BaseModel, where: int | str) -> None:
    # Connectors may build models with model_construct(), which skips validation: validate again.
    try:
        model.model_validate(item.model_dump(warnings=False))
    except ValidationError as err:
        place = f"Page {where} holds" if isinstance(where, int) else f"{where[:1].upper()}{where[1:]} is"
        raise ContractViolation(f"{place} a {model.__name__} that does not validate: {_first_error(err)}") from err


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{first['msg']}{f' ({where})' if where else ''}"


def _repeated(ids: Iterable[str]) -> list[str]:
    return sorted(external_id for external_id, count in Counter(ids).items() if count > 1)


def _cursor(cursor: Cursor) -> str:
    since = cursor.since.isoformat() if cursor.since else None
    return f"Cursor(since={since}, page_token={cursor.page_token!r})"


def _describe(answer: object) -> str:
    if isinstance(answer, HubError):
        detail = f"; {answer.detail}" if answer.detail else ""
        return f"{type(answer).__name__} ({answer.message}{detail})"
    if isinstance(answer, BaseException):
        return f"{type(answer).__name__} ({answer})"
    return repr(answer)


def _secret_values(where: str, source: object) -> dict[str, str]:
    """Every ``SecretStr`` value in a mapping or a model, however deep, with where it came from."""
    found: dict[str, str] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, SecretStr):
            found[value.get_secret_value()] = f"{where} {path}".strip()
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}".lstrip("."))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{path}.{key}".lstrip("."))
        elif isinstance(value, list | tuple | set):
            for item in value:
                walk(item, path)

    walk(source, "")
    return found


__all__ = [
    "EVENTS_URL",
    "EVENT_KINDS",
    "FAULT_ERRORS",
    "REDIRECT_URI",
    "accepted_parcels_settle",
    "authorize_round_trip",
    "bad_credential_fields_fail",
    "bad_credentials_fail",
    "credential_fields_connect",
    "cursor_never_moves_backwards",
    "event_is_verified",
    "exercise",
    "fault_is_mapped",
    "future_cursor_yields_nothing",
    "good_credentials_pass",
    "import_misses_no_change_during_a_run",
    "import_resumes_from_a_page_cursor",
    "incremental_import_repeats_nothing",
    "label_outcome_per_parcel",
    "leaves_no_sessions_or_tasks",
    "manifest_is_valid",
    "manifest_lists_implemented_hooks",
    "no_secret_in_logs",
    "orders_validate",
    "registers_cleanly",
    "repeated_push_after_lost_answer",
    "state_is_per_runtime",
]
