"""The typed HookRunner: the only code that calls pluggy.

Every hook goes to one connector only, through ``subset_hook_caller``: per-connection hooks to the
connection's own connector, ``open_connector`` and ``close_connector`` to the connector being set
up. Every call has a timeout; connector bugs become ``ConnectorError``. At registration the runner
refuses implementations that are not ``async`` and spec parameters that are keyword-only.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ValidationError

from core.contract import hookspecs
from core.contract.context import ConnectorContext, ConnectorSetup
from core.contract.errors import ConnectorError, ConnectorNotReady, HubError, PluginError
from core.contract.models import (
    AcceptedParcel,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
    ShopEvent,
)
from core.infra.settings import HookSettings

log = logging.getLogger(__name__)

_ASYNC_GENERATOR_HOOKS = {"import_orders"}


def check_specs(module: ModuleType) -> None:
    """Refuse hook specs with keyword-only parameters: pluggy would silently drop them."""
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if not hasattr(function, f"{hookspecs.PROJECT}_spec"):
            continue
        kinds = {p.kind for p in inspect.signature(function).parameters.values()}
        if inspect.Parameter.KEYWORD_ONLY in kinds or inspect.Parameter.VAR_KEYWORD in kinds:
            raise PluginError(f"Hook spec {name} has keyword-only parameters, which pluggy drops: make them positional.")


class HookRunner:
    """A typed facade over the plugin manager: one method per hook spec."""

    def __init__(self, settings: HookSettings | None = None, specs: ModuleType = hookspecs) -> None:
        check_specs(specs)
        self._settings = settings or HookSettings()
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(specs)
        self._callers: dict[tuple[str, str], Any] = {}

    # registration -----------------------------------------------------------------------------

    def register(self, connector_id: str, plugin: object) -> None:
        """Register a connector's hook implementations under its id, after checking them."""
        for name in dir(plugin):
            function = getattr(plugin, name, None)
            if not callable(function) or not hasattr(function, f"{hookspecs.PROJECT}_impl"):
                continue
            is_async = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
            if not is_async:
                raise PluginError(f"Connector {connector_id}: hook {name} must be declared `async def`.")
            if name in _ASYNC_GENERATOR_HOOKS and not inspect.isasyncgenfunction(function):
                raise PluginError(f"Connector {connector_id}: hook {name} must be an async generator (use `yield`).")
        try:
            self._pm.register(plugin, name=connector_id)
            self._pm.check_pending()
        except pluggy.PluginValidationError as err:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            raise PluginError(f"Connector {connector_id} does not match the hub API: {err}") from err
        self._callers.clear()

    def unregister(self, connector_id: str) -> None:
        """Remove a connector's hooks."""
        self._pm.unregister(name=connector_id)
        self._callers.clear()

    @property
    def connector_ids(self) -> list[str]:
        """The ids of the registered connectors."""
        return sorted(name for name, _ in self._pm.list_name_plugin())

    def implemented(self, connector_id: str) -> list[str]:
        """The hook names a registered connector implements."""
        plugin = self._pm.get_plugin(connector_id)
        if plugin is None:
            return []
        return sorted(impl.name for impl in self._pm.get_hookcallers(plugin) or [])

    # dispatch ---------------------------------------------------------------------------------

    def _owner_call(self, name: str, connector_id: str, **kwargs: Any) -> Any:
        key = (name, connector_id)
        caller = self._callers.get(key)
        if caller is None:
            if self._pm.get_plugin(connector_id) is None:
                raise PluginError(f"Connector {connector_id} is not installed or not enabled: check `hub connectors list`.")
            others = [plugin for other, plugin in self._pm.list_name_plugin() if other != connector_id]
            caller = self._callers[key] = self._pm.subset_hook_caller(name, remove_plugins=others)
        results = caller(**kwargs)
        if not results:
            raise PluginError(f"Connector {connector_id} does not implement {name}.")
        return results[0]

    async def _await(self, name: str, connector_id: str, awaitable: Any, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except (HubError, StopAsyncIteration):
            raise
        except TimeoutError as err:
            raise ConnectorNotReady(
                f"{connector_id} did not answer within {timeout:g} s; the hub will retry.",
                detail=f"hook {name} timed out",
            ) from err
        except Exception as err:
            raise ConnectorError(
                f"The {connector_id} connector failed; the hub will retry. Report it if it persists.",
                detail=f"hook {name} raised {_described(err)}",
            ) from err

    async def _call(self, name: str, context: ConnectorContext, **kwargs: Any) -> Any:
        """Call a per-connection hook of the connection's own connector under the call timeout."""
        connector_id = context.connection.connector
        coro = self._owner_call(name, connector_id, context=context, **kwargs)
        return await self._await(name, connector_id, coro, self._settings.call_timeout)

    async def authorize(
        self, context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
    ) -> AuthRedirect | Authorization:
        """Run one step of the connect flow with the connection's connector."""
        result = await self._call("authorize", context, step=step)
        expected: type[AuthRedirect | Authorization] = AuthRedirect if isinstance(step, AuthStart) else Authorization
        checked: AuthRedirect | Authorization = _expect(result, expected, "authorize", context)
        return checked

    async def authorize_redirect(self, context: ConnectorContext, step: AuthStart) -> AuthRedirect:
        """The first step of a consent connect: where to send the merchant."""
        result = await self.authorize(context, step)
        assert isinstance(result, AuthRedirect)  # _expect checked it
        return result

    async def authorize_grant(self, context: ConnectorContext, step: AuthCallback | AuthCredentials) -> Authorization:
        """The completing step of a connect (consent callback or pasted credentials): the grant."""
        result = await self.authorize(context, step)
        assert isinstance(result, Authorization)  # _expect checked it
        return result

    async def check_connection(self, context: ConnectorContext) -> None:
        """Check the connection's credentials with its connector."""
        await self._call("check_connection", context)

    async def import_orders(self, context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
        """Pages from the connection's connector, each under the page timeout; the cursor never moves back."""
        pages = self._owner_call("import_orders", context.connection.connector, context=context, cursor=cursor)
        try:
            while True:
                try:
                    page = await self._await(
                        "import_orders", context.connection.connector, pages.__anext__(), self._settings.page_timeout
                    )
                except StopAsyncIteration:
                    return
                page = _expect(page, ImportPage, "import_orders", context)
                if cursor.since and (page.cursor.since is None or page.cursor.since < cursor.since):
                    raise PluginError(
                        f"Connector {context.connection.connector} moved the cursor backwards; its pages were refused.",
                        detail=f"{page.cursor.since} < {cursor.since}",
                    )
                cursor = page.cursor
                yield page
        finally:
            await pages.aclose()

    async def on_label_created(self, context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
        """Push a label with the connection's own connector; one outcome per parcel of the label."""
        outcomes = _outcomes(
            await self._call("on_label_created", context, order=order, label=label),
            {parcel.reference for parcel in label.parcels}, "on_label_created", context,
        )
        if any(o.state == "accepted" for o in outcomes) and "check_parcels" not in self.implemented(context.connection.connector):
            raise PluginError(
                f"Connector {context.connection.connector} answered a push with `accepted` but does not implement "
                "check_parcels: the parcel could never settle.",
            )
        return outcomes

    async def check_parcels(self, context: ConnectorContext, parcels: list[AcceptedParcel]) -> list[ParcelOutcome]:
        """Ask the connection's connector how accepted parcels settled; at most one outcome per shop reference."""
        outcomes = await self._call("check_parcels", context, parcels=parcels)
        return _outcomes(
            outcomes, {parcel.shop_reference for parcel in parcels}, "check_parcels", context, by_shop_reference=True
        )

    async def receive_event(self, context: ConnectorContext, event: ShopEvent) -> EventMeaning:
        """Have the connection's connector verify and read a shop event."""
        meaning: EventMeaning = _expect(await self._call("receive_event", context, event=event), EventMeaning, "receive_event", context)
        return meaning

    async def open_connector(self, setup: ConnectorSetup) -> Any:
        """Set up a connector's per-process state; ``None`` when it keeps none."""
        if "open_connector" not in self.implemented(setup.connector):
            return None
        coro = self._owner_call("open_connector", setup.connector, setup=setup)
        return await self._await("open_connector", setup.connector, coro, self._settings.call_timeout)

    async def close_connector(self, setup: ConnectorSetup, state: Any) -> None:
        """Let a connector release its per-process state; errors are logged."""
        if "close_connector" not in self.implemented(setup.connector):
            return
        try:
            coro = self._owner_call("close_connector", setup.connector, setup=setup, state=state)
            await self._await("close_connector", setup.connector, coro, self._settings.call_timeout)
        except HubError as err:
            log.warning("connector %s: close_connector failed: %s", setup.connector, err)

    async def disconnect(self, context: ConnectorContext) -> None:
        """Tell the connection's connector that it is being disconnected; errors are logged."""
        if "disconnect" not in self.implemented(context.connection.connector):
            return
        try:
            await self._call("disconnect", context)
        except HubError as err:
            log.warning("connection %s: disconnect hook failed: %s", context.connection.id, err)


def _described(err: Exception) -> str:
    """An exception for a log line: a validation error without the input (it may be an order's personal data)."""
    if isinstance(err, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or err.title}: {e['msg']}" for e in err.errors(include_input=False)
        )
        return f"{type(err).__name__}: {problems}"
    return f"{type(err).__name__}: {err}"


def _expect(value: Any, model: type, hook: str, context: ConnectorContext) -> Any:
    if not isinstance(value, model):
        raise PluginError(
            f"Connector {context.connection.connector} returned {type(value).__name__} from {hook}, "
            f"expected {model.__name__}.",
        )
    return value


def _outcomes(
    value: Any, references: set[str], hook: str, context: ConnectorContext, by_shop_reference: bool = False
) -> list[ParcelOutcome]:
    """Check a connector's parcel outcomes: a list of ``ParcelOutcome`` for the parcels it was given.

    Push outcomes cover every parcel once, by ``reference``. Check outcomes (``by_shop_reference``)
    name the ``shop_reference`` asked about, at most once each, and may leave some out.
    """
    if not isinstance(value, list):
        raise PluginError(
            f"Connector {context.connection.connector} returned {type(value).__name__} from {hook}, expected a list "
            "of ParcelOutcome."
        )
    outcomes = [_expect(item, ParcelOutcome, hook, context) for item in value]
    if by_shop_reference and any(not outcome.shop_reference for outcome in outcomes):
        raise PluginError(
            f"Connector {context.connection.connector} answered {hook} with an outcome without shop_reference: "
            "name the shop reference each outcome is about.",
        )
    seen = [outcome.shop_reference or "" if by_shop_reference else outcome.reference for outcome in outcomes]
    unknown = set(seen) - references
    partial = by_shop_reference
    if unknown or len(seen) != len(set(seen)) or (not partial and set(seen) != references):
        raise PluginError(
            f"Connector {context.connection.connector} answered {hook} with outcomes for parcels {sorted(seen)}, "
            f"expected {'some of ' if partial else ''}{sorted(references)} once each.",
        )
    return outcomes


__all__ = ["HookRunner", "check_specs"]
