"""The test bench under every contract check: a connector on core's own HookRunner.

A ``Subject`` says what is checked (the connector id, its plugin object, its manifest and its
``Scenarios``) and how patiently. A ``Bench`` is one check's run of it: the scenario started, a
fresh ``HookRunner`` with the plugin registered and opened (``open_connector``, closed again with
``close_connector`` at the end, as ``core.infra.runtime`` does for a process), one shared
``aiohttp.ClientSession`` that counts the requests made through it, and contexts built as core
builds them, with the connector's state. Everything goes through the HookRunner, so the kit sees
what core sees: owner-only dispatch, timeouts, error wrapping, outcome checks, the cursor guard.
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

from core.contract.context import ConnectorContext, ConnectorSetup, utc_now
from core.contract.errors import HubError
from core.contract.hookspecs import hookimpl
from core.contract.manifest import Manifest, read_manifest
from core.contract.models import (
    AcceptedParcel,
    Connection,
    ConnectionState,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
    ShopEvent,
)
from core.infra.coordination import MemoryCoordination
from core.infra.hooks import HookRunner
from core.infra.runtime import ConnectionLog
from core.infra.settings import HookSettings
from core.testing.scenario import PostedEvent, Scenarios

#: The id of the stand-in connector registered beside the one under test.
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
        return [external_id for page in self.pages for external_id in page_ids(page)]



def page_ids(page: ImportPage) -> list[str]:
    """The external ids of a page's orders, then of its skipped orders."""
    return [order.external_id for order in page.orders] + [skipped.external_id for skipped in page.skipped]


class Bystander:
    """A minimal second connector, registered beside the one under test."""

    @hookimpl
    async def on_label_created(self, context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
        return [ParcelOutcome(reference=parcel.reference, state="confirmed") for parcel in label.parcels]


class Bench:
    """One check's run of a connector; use as ``async with Bench(subject) as bench``.

    On entry: ``scenarios.start()``, an HTTP session that counts requests, a HookRunner with the
    plugin registered (unless ``register=False``) and opened: ``open_connector``'s answer, passed
    through ``Scenarios.connector_state``, is ``state`` and goes into every context. On exit, in
    reverse: ``close_connector``, unregister, close the session, ``scenarios.stop()``.
    """

    def __init__(self, subject: Subject, *, register: bool = True, plugin: object | None = None) -> None:
        self.subject = subject
        self.scenarios = subject.scenarios
        self.plugin = plugin if plugin is not None else subject.plugin
        self.runner = HookRunner(subject.hook_settings)
        self.requests = 0
        self.http: aiohttp.ClientSession | None = None
        #: What ``open_connector`` returned, and the state the contexts carry.
        self.opened: Any = None
        self.state: Any = None
        self._register = register
        self._stack = contextlib.AsyncExitStack()
        #: What core shares between processes, in memory: one per check, in setup and every context.
        self.coordination = MemoryCoordination()

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
                setup = self.setup()
                try:
                    self.opened = await self.runner.open_connector(setup)
                except HubError as err:
                    raise ContractViolation(
                        f"open_connector failed, so core would list the connector as failed: {err.message}"
                        f"{f' ({err.detail})' if err.detail else ''}"
                    ) from err
                # close_connector runs before the session closes, as in core.infra.runtime.
                stack.push_async_callback(self.runner.close_connector, setup, self.opened)
                self.state = self.scenarios.connector_state(self.opened)
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

    def setup(self) -> ConnectorSetup:
        """What ``open_connector`` receives, as core builds it: settings, session, logger, the scenario's clock."""
        assert self.http is not None, "use the bench inside `async with`"
        return ConnectorSetup(
            connector=self.connector,
            settings=self.scenarios.settings(),
            http=self.http,
            log=logging.getLogger(f"connectors.{self.connector}"),
            now=self.scenarios.now,
            coordination=self.coordination,
        )

    def context(
        self,
        credentials: Mapping[str, SecretStr] | None = None,
        connection: Connection | None = None,
        events_url: str | None = None,
    ) -> ConnectorContext:
        """A context as core builds it: the scenario's connection, good credentials unless given, the state."""
        assert self.http is not None, "use the bench inside `async with`"
        connection = connection or self.scenarios.connection(self.connector)
        return ConnectorContext(
            connection=connection,
            credentials=dict(self.scenarios.good_credentials() if credentials is None else credentials),
            settings=self.scenarios.settings(),
            http=self.http,
            log=ConnectionLog(logging.getLogger(f"connectors.{self.connector}"), {"connection_id": connection.id}),
            now=self.scenarios.now,
            state=self.state,
            events_url=events_url,
            coordination=self.coordination,
        )

    def pending_connection(self) -> Connection:
        """The scenario's connection before its first connect: pending, no shop account yet."""
        return self.scenarios.connection(self.connector).model_copy(
            update={"state": ConnectionState.PENDING, "external_account_id": None}
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

    async def push_label(self, order: Order, label: Label) -> list[ParcelOutcome]:
        """Push a label through the HookRunner for the scenario's connection (owner-only, as in core)."""
        return await self.runner.on_label_created(self.context(), order, label)

    async def check_parcels(self, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
        """Ask about accepted parcels through the HookRunner."""
        return await self.runner.check_parcels(self.context(), parcels)

    async def receive_event(self, posted: PostedEvent, credentials: Mapping[str, SecretStr], events_url: str) -> EventMeaning:
        """Hand a posted message to the HookRunner as core does: header names lower case, received now."""
        event = ShopEvent(
            headers={name.lower(): value for name, value in posted.headers.items()},
            body=posted.body,
            received_at=utc_now(),
        )
        return await self.runner.receive_event(self.context(credentials, events_url=events_url), event)


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


__all__ = ["BYSTANDER", "Bench", "Bystander", "ContractViolation", "ImportRun", "ResourceTracker", "Subject"]
