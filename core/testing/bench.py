"""The test bench under every contract check: a connector on core's own HookRunner.

A ``Subject`` says what is checked (the connector id, its plugin object, its manifest and its
``Scenarios``) and how patiently. A ``Bench`` is one check's run of it: the scenario started, a
fresh ``HookRunner`` with the plugin registered, one shared ``aiohttp.ClientSession`` that counts
the requests made through it, and contexts built as core builds them. Everything goes through the
HookRunner, so the kit sees what core sees: timeouts, error wrapping, the cursor guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import Any
from unittest import mock

import aiohttp
from pydantic import SecretStr

from core.context import ConnectorContext
from core.hooks import HookRunner
from core.hookspecs import hookimpl
from core.manifest import Manifest, read_manifest
from core.models import Connection, ConnectionState, Cursor, ImportPage, Label, Order, ParcelOutcome
from core.runtime import ConnectionLog
from core.settings import HookSettings
from core.testing.scenario import Scenarios

#: The id of the stand-in connector that owns "foreign" connections in the label checks.
BYSTANDER = "contract_bystander"


class ContractViolation(AssertionError):
    """A connector broke the hub's connector contract; the message says which rule and how to fix it."""


@dataclass
class Subject:
    """The connector under test: its id, plugin object, scenarios, manifest and the kit's patience.

    ``manifest`` defaults to the ``manifest.toml`` beside the plugin's module.
    """

    connector: str
    plugin: object
    scenarios: Scenarios
    manifest: Manifest | None = None
    hook_settings: HookSettings = field(default_factory=lambda: HookSettings(call_timeout=10, page_timeout=10))
    seed_count: int = 5
    fault_calls: int = 20
    task_grace: float = 1.0

    def load_manifest(self) -> Manifest:
        """The manifest given, else the one read from the plugin's package (``PluginError`` if bad)."""
        if self.manifest is not None:
            return self.manifest
        module = self.plugin if isinstance(self.plugin, ModuleType) else inspect.getmodule(type(self.plugin))
        return read_manifest(module)  # type: ignore[arg-type]


@dataclass
class ImportRun:
    """The pages of one import, from ``start`` on."""

    start: Cursor
    pages: list[ImportPage] = field(default_factory=list)

    @property
    def cursor(self) -> Cursor:
        """The cursor core would store after the run: the last page's, else the start."""
        return self.pages[-1].cursor if self.pages else self.start

    @property
    def orders(self) -> list[Order]:
        """Every order yielded, in order."""
        return [order for page in self.pages for order in page.orders]

    @property
    def ids(self) -> list[str]:
        """The external ids of every order and skipped order yielded, in order, repeats kept."""
        return [item.external_id for page in self.pages for item in (*page.orders, *page.skipped)]


class Bystander:
    """A minimal second connector that owns the "foreign" connections of the label checks."""

    @hookimpl
    async def on_label_created(
        self, context: ConnectorContext, order: Order, label: Label
    ) -> list[ParcelOutcome] | None:
        if context.connection.connector != BYSTANDER:
            return None
        return [ParcelOutcome(reference=parcel.reference, state="confirmed") for parcel in label.parcels]


class LabelRecorder:
    """Stands in for a plugin and records what its ``on_label_created`` returned or raised.

    core's broadcast only returns the owner's answer; the kit needs a non-owner's answer too.
    """

    def __init__(self, plugin: object) -> None:
        self.label_answers: list[object] = []
        for name in dir(plugin):
            hook = getattr(plugin, name, None)
            if _is_hookimpl(hook):
                setattr(self, name, self._recording(hook) if name == "on_label_created" else hook)

    def _recording(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def on_label_created(*args: Any) -> Any:
            try:
                answer = await function(*args)
            except BaseException as err:
                self.label_answers.append(err)
                raise
            self.label_answers.append(answer)
            return answer

        return on_label_created


def _is_hookimpl(value: object) -> bool:
    return callable(value) and hasattr(value, "hub_impl")


class Bench:
    """One check's run of a connector; use as ``async with Bench(subject) as bench``.

    On entry: ``scenarios.start()``, an HTTP session that counts requests, a HookRunner with the
    plugin registered (unless ``register=False``). On exit, in reverse: unregister, close the
    session, ``scenarios.stop()``.
    """

    def __init__(self, subject: Subject, *, register: bool = True, plugin: object | None = None) -> None:
        self.subject = subject
        self.scenarios = subject.scenarios
        self.plugin = plugin if plugin is not None else subject.plugin
        self.runner = HookRunner(subject.hook_settings)
        self.requests = 0
        self.http: aiohttp.ClientSession | None = None
        self._register = register
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Bench:
        async with contextlib.AsyncExitStack() as stack:
            await self.scenarios.start()
            stack.push_async_callback(self.scenarios.stop)
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(self._count_request)
            self.http = aiohttp.ClientSession(trace_configs=[trace])
            stack.push_async_callback(self.http.close)
            if self._register:
                self.runner.register(self.subject.connector, self.plugin)
                stack.callback(self._unregister_all)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _count_request(self, *_: Any) -> None:
        self.requests += 1

    def _unregister_all(self) -> None:
        for connector_id in self.runner.connector_ids:
            self.runner.unregister(connector_id)

    # what core would build --------------------------------------------------------------------

    @property
    def connector(self) -> str:
        """The id of the connector under test."""
        return self.subject.connector

    def implements(self, hook: str) -> bool:
        """Whether the registered plugin implements ``hook``."""
        return hook in self.runner.implemented(self.connector)

    def context(
        self, credentials: Mapping[str, SecretStr] | None = None, connection: Connection | None = None
    ) -> ConnectorContext:
        """A context as core builds it: the scenario's connection, good credentials unless given."""
        assert self.http is not None, "use the bench inside `async with`"
        connection = connection or self.scenarios.connection(self.connector)
        return ConnectorContext(
            connection=connection,
            credentials=dict(self.scenarios.good_credentials() if credentials is None else credentials),
            settings=self.scenarios.settings(),
            http=self.http,
            log=ConnectionLog(logging.getLogger(f"connectors.{self.connector}"), {"connection_id": connection.id}),
            now=self.scenarios.now,
        )

    def foreign_connection(self) -> Connection:
        """A connection of the bystander connector, in the same account."""
        own = self.scenarios.connection(self.connector)
        return Connection(
            id=own.id + 1000, account_id=own.account_id, connector=BYSTANDER, state=ConnectionState.CONNECTED
        )

    def calls(self) -> int:
        """The shop calls so far: HTTP requests through ``context.http`` plus the scenario's own count."""
        return self.requests + (self.scenarios.shop_calls() or 0)

    # running hooks ----------------------------------------------------------------------------

    async def run_import(
        self, cursor: Cursor, credentials: Mapping[str, SecretStr] | None = None, *, pages: int | None = None
    ) -> ImportRun:
        """Import through the HookRunner from ``cursor``; stop after ``pages`` pages if given.

        A connector that never ends its import fails here instead of hanging the test run.
        """
        run = ImportRun(start=cursor)
        limit = pages if pages is not None else 10 * self.subject.seed_count + 10
        stream = self.runner.import_orders(self.context(credentials), cursor)
        try:
            async for page in stream:
                run.pages.append(page)
                if len(run.pages) >= limit:
                    if pages is None:
                        raise ContractViolation(
                            f"import_orders yielded {limit} pages for {self.subject.seed_count} orders without "
                            "ending: the last page must end the generator."
                        )
                    break
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return run

    async def push_label(self, order: Order, label: Label, connection: Connection | None = None) -> list[ParcelOutcome]:
        """Broadcast a label through the HookRunner for ``connection`` (our own by default).

        Every registered connector gets a context for that connection; only its owner gets the
        good credentials, as in core.
        """
        connection = connection or self.scenarios.connection(self.connector)

        def context_for(connector_id: str) -> ConnectorContext:
            owner = connector_id == connection.connector
            return self.context(None if owner else {}, connection)

        return await self.runner.on_label_created(context_for, order, label)


class ResourceTracker:
    """Notes every ``aiohttp.ClientSession`` created and every task started while active.

    ``leftovers()`` returns the sessions still open and the tasks still pending, after giving the
    tasks up to ``grace`` seconds to finish on their own; ``release()`` closes and cancels them so
    that a leaking connector does not disturb the tests that follow.
    """

    def __init__(self) -> None:
        self.sessions: list[aiohttp.ClientSession] = []
        self._tasks_before: set[asyncio.Task[Any]] = set()
        self._patch = mock.patch.object(aiohttp.ClientSession, "__init__", self._tracking_init())

    def _tracking_init(self) -> Callable[..., None]:
        original = aiohttp.ClientSession.__init__
        sessions = self.sessions

        @functools.wraps(original)
        def __init__(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            sessions.append(session)
            original(session, *args, **kwargs)

        return __init__

    def __enter__(self) -> ResourceTracker:
        self._tasks_before = asyncio.all_tasks()
        self._patch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._patch.stop()

    async def leftovers(self, grace: float) -> tuple[list[aiohttp.ClientSession], list[asyncio.Task[Any]]]:
        """The sessions still open and the tasks still pending that appeared while tracking."""
        tasks = asyncio.all_tasks() - self._tasks_before - {asyncio.current_task()}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            tasks = pending
        sessions = [session for session in self.sessions if not session.closed]
        return sessions, sorted(tasks, key=lambda task: task.get_name())

    @staticmethod
    async def release(sessions: list[aiohttp.ClientSession], tasks: list[asyncio.Task[Any]], grace: float) -> None:
        """Close leaked sessions and cancel leaked tasks."""
        for session in sessions:
            await session.close()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


__all__ = ["BYSTANDER", "Bench", "Bystander", "ContractViolation", "ImportRun", "LabelRecorder", "ResourceTracker", "Subject"]
