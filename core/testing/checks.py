"""The contract checks, one async function per rule of the hub API.

Each check takes a ``Subject``, runs the connector through core's ``HookRunner`` on a fresh
``Bench``, and raises ``ContractViolation`` (an ``AssertionError``) with a message that names the
rule and the fix; it calls ``pytest.skip`` when the rule does not apply (an optional hook the
connector does not implement). ``ConnectorContract`` runs each of them as a test; the kit's own
tests call them directly on broken connectors to prove that each check can fail.
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

from core.errors import ConnectorAuthFailed, ConnectorNotReady, HubError, PluginError, RateLimited
from core.hooks import HookRunner
from core.manifest import REQUIRED_HOOKS
from core.models import (
    AuthCallback,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectionState,
    Cursor,
    Label,
    Order,
    SkippedOrder,
)
from core.testing.bench import (
    BYSTANDER,
    Bench,
    Bystander,
    ContractViolation,
    ImportRun,
    LabelRecorder,
    ResourceTracker,
    Subject,
)
from core.testing.scenario import FAULTS, Fault

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
        twice = _repeated([item.external_id for item in (*page.orders, *page.skipped)])
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
    expected = [item for page in full.pages[1:] for item in (*page.orders, *page.skipped)]
    expected_ids = sorted(item.external_id for item in expected)
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


# labels ---------------------------------------------------------------------------------------


async def label_confirms_each_parcel(subject: Subject) -> None:
    """A label for an own order gets one ``confirmed`` outcome per parcel, again on a repeated push."""
    async with Bench(subject) as bench:
        order, label = await _imported_order_and_label(bench)
        for attempt in ("first", "repeated"):
            outcomes = await bench.push_label(order, label)
            references = sorted(outcome.reference for outcome in outcomes)
            expected = sorted(parcel.reference for parcel in label.parcels)
            if references != expected:
                raise ContractViolation(
                    f"The {attempt} push of a label with parcels {expected} answered for {references}: "
                    "return exactly one ParcelOutcome per parcel, with its reference."
                )
            unconfirmed = [outcome for outcome in outcomes if outcome.state != "confirmed"]
            if unconfirmed:
                raise ContractViolation(
                    f"The {attempt} push of a good label was not confirmed: {unconfirmed}. A repeated push of the "
                    "same parcel reference must edit the shop's parcel and confirm again."
                )


async def foreign_label_makes_no_call(subject: Subject) -> None:
    """A label for another connector's connection makes no shop call and returns ``None``."""
    recorder = LabelRecorder(subject.plugin)
    async with Bench(subject, plugin=recorder) as bench:
        _require(bench, "on_label_created")
        order, label = await _imported_order_and_label(bench)
        bench.runner.register(BYSTANDER, Bystander())
        before = bench.calls()
        await bench.push_label(order, label, bench.foreign_connection())
        calls = bench.calls() - before
    if calls:
        raise ContractViolation(
            f"on_label_created made {calls} shop call(s) for a label of a {BYSTANDER!r} connection: return None "
            "before any call when context.connection.connector is not this connector."
        )
    answer = recorder.label_answers[-1] if recorder.label_answers else None
    if answer is not None:
        raise ContractViolation(
            f"on_label_created answered {_describe(answer)} for a label of a {BYSTANDER!r} connection: return None."
        )


# authorisation --------------------------------------------------------------------------------


async def authorize_round_trip(subject: Subject) -> None:
    """``authorize`` sends the merchant to a consent URL carrying ``state`` and turns the callback into
    working credentials. Checked when the scenarios implement ``consent``."""
    if not subject.scenarios.supports_consent():
        pytest.skip("Scenarios.consent is not implemented: the authorize round trip is not checked.")
    async with Bench(subject) as bench:
        authorization = await _connect(bench)
        if not authorization.credentials:
            raise ContractViolation("authorize returned no credentials to store from the callback.")
        if bench.implements("check_connection"):
            try:
                await bench.runner.check_connection(bench.context(authorization.credentials))
            except HubError as err:
                raise ContractViolation(
                    f"The credentials authorize returned do not pass check_connection: {_describe(err)}."
                ) from err


# hygiene --------------------------------------------------------------------------------------


async def leaves_no_sessions_or_tasks(subject: Subject) -> None:
    """Registering, using and unloading the connector leaves no open ``ClientSession`` and no pending task.

    Connectors use the hub's session (``context.http``) and finish their work inside each hook
    call: there is no hook at unload to clean up after them.
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
            f"After the connector was used and unloaded these were left: {'; '.join(problems)}. "
            "Use context.http and finish or cancel every task before the hook returns."
        )


async def no_secret_in_logs(subject: Subject, caplog: pytest.LogCaptureFixture) -> None:
    """No credential, settings secret or scenario secret appears in any log record, even at DEBUG."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    with caplog.at_level(logging.DEBUG):
        first = len(caplog.records)
        async with Bench(subject) as bench:
            issued = await exercise(bench)
            sources = [
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

    Errors the hub expects (``HubError``) are tolerated: the checks that use this workload look at
    what is left behind, not at the answers. Returns the credentials ``authorize`` issued, if any.
    """
    scenarios = bench.scenarios
    issued: dict[str, SecretStr] = {}
    seeded = await scenarios.seed_orders(bench.subject.seed_count)
    if bench.implements("check_connection"):
        for credentials in (None, scenarios.bad_credentials()):
            with suppress(HubError):
                await bench.runner.check_connection(bench.context(credentials))
    with suppress(HubError):
        await bench.run_import(Cursor(), scenarios.bad_credentials())
    run = ImportRun(start=Cursor())
    with suppress(HubError):
        run = await bench.run_import(Cursor())
    with suppress(HubError):
        await bench.run_import(Cursor(), pages=1)  # stopped after a page, as when the daemon shuts down
    if run.orders:
        with suppress(HubError):
            label = scenarios.label_for(run.orders[0])
            await bench.push_label(run.orders[0], label)
            await bench.push_label(run.orders[0], label)
        with suppress(HubError):
            bench.runner.register(BYSTANDER, Bystander())
            await bench.push_label(run.orders[0], scenarios.label_for(run.orders[0]), bench.foreign_connection())
    if seeded:
        with suppress(HubError):
            await scenarios.change_order(seeded[0])
            await bench.run_import(run.cursor)
    for fault in FAULTS:
        with suppress(HubError):
            await scenarios.fail_next(fault, 1)
            await bench.run_import(run.cursor)
    if scenarios.supports_consent():
        with suppress(HubError, ContractViolation):
            issued.update((await _connect(bench)).credentials)
    with suppress(HubError):
        await bench.runner.disconnect(bench.context())
    return issued


# helpers --------------------------------------------------------------------------------------


def _require(bench: Bench, hook: str) -> None:
    if not bench.implements(hook):
        pytest.skip(f"The connector does not implement {hook}.")


async def _expect_error(call: Any, expected: type[HubError], what: str) -> None:
    try:
        await call
    except expected:
        return
    except HubError as err:
        raise ContractViolation(
            f"{what} raised {_describe(err)}; expected core.errors.{expected.__name__}. Map it as "
            "core.errors.error_for_status does."
        ) from err
    raise ContractViolation(f"{what} succeeded; expected core.errors.{expected.__name__}.")


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


async def _connect(bench: Bench) -> Authorization:
    """Both legs of authorize for a pending connection, the scenario playing the merchant."""
    pending = bench.scenarios.connection(bench.connector).model_copy(
        update={"state": ConnectionState.PENDING, "external_account_id": None}
    )
    start = AuthStart(state=_STATE, redirect_uri=REDIRECT_URI)
    redirect = await bench.runner.authorize(bench.context({}, pending), start)
    assert isinstance(redirect, AuthRedirect)  # the HookRunner checks the type for each leg
    if _STATE not in redirect.url:
        raise ContractViolation(
            f"The consent URL {redirect.url} does not carry the state {_STATE!r}: the shop must send it back."
        )
    params = await bench.scenarios.consent(redirect, start)
    callback = AuthCallback(redirect_uri=REDIRECT_URI, params=dict(params))
    authorization = await bench.runner.authorize(bench.context({}, pending), callback)
    assert isinstance(authorization, Authorization)
    return authorization


async def _imported_order_and_label(bench: Bench) -> tuple[Order, Label]:
    await bench.scenarios.seed_orders(1)
    run = await bench.run_import(Cursor())
    if not run.orders:
        raise ContractViolation("The import yielded no order to put a label on; seed_orders must create shippable orders.")
    order = run.orders[0]
    return order, bench.scenarios.label_for(order)


def _revalidate(model: type[BaseModel], item: BaseModel, page: int) -> None:
    # Connectors may build models with model_construct(), which skips validation: validate again.
    try:
        model.model_validate(item.model_dump(warnings=False))
    except ValidationError as err:
        raise ContractViolation(
            f"Page {page} holds a {model.__name__} that does not validate: {err}"
        ) from err


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
    "FAULT_ERRORS",
    "authorize_round_trip",
    "bad_credentials_fail",
    "cursor_never_moves_backwards",
    "exercise",
    "fault_is_mapped",
    "foreign_label_makes_no_call",
    "future_cursor_yields_nothing",
    "good_credentials_pass",
    "import_resumes_from_a_page_cursor",
    "incremental_import_repeats_nothing",
    "label_confirms_each_parcel",
    "leaves_no_sessions_or_tasks",
    "manifest_is_valid",
    "manifest_lists_implemented_hooks",
    "no_secret_in_logs",
    "orders_validate",
    "registers_cleanly",
]
