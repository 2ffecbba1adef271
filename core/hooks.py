"""The typed HookRunner: the only code that calls pluggy.

Owner-only hooks (``authorize``, ``check_connection``, ``import_orders``, ``disconnect``) go to the
connection's own connector through ``subset_hook_caller``; ``on_label_created`` is broadcast with
failures isolated. Every call has a timeout; connector bugs become ``ConnectorError``. At
registration the runner refuses implementations that are not ``async`` and spec parameters that are
keyword-only.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import pluggy

from core import hookspecs
from core.context import ConnectorContext
from core.errors import ConnectorError, ConnectorNotReady, HubError, PluginError
from core.models import (
    AuthCallback,
    Authorization,
    AuthRedirect,
    AuthStart,
    Cursor,
    ImportPage,
    Label,
    Order,
    ParcelOutcome,
)
from core.settings import HookSettings

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

    async def _await(self, name: str, context: ConnectorContext, awaitable: Any, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except (HubError, StopAsyncIteration):
            raise
        except TimeoutError as err:
            raise ConnectorNotReady(
                f"{context.connection.connector} did not answer within {timeout:g} s; the hub will retry.",
                detail=f"hook {name} timed out",
            ) from err
        except Exception as err:
            raise ConnectorError(
                f"The {context.connection.connector} connector failed; the hub will retry. Report it if it persists.",
                detail=f"hook {name} raised {type(err).__name__}: {err}",
            ) from err

    async def authorize(
        self, context: ConnectorContext, step: AuthStart | AuthCallback
    ) -> AuthRedirect | Authorization:
        """Run one leg of the connect flow with the connection's connector."""
        coro = self._owner_call("authorize", context.connection.connector, context=context, step=step)
        result = await self._await("authorize", context, coro, self._settings.call_timeout)
        expected = AuthRedirect if isinstance(step, AuthStart) else Authorization
        return _expect(result, expected, "authorize", context)

    async def check_connection(self, context: ConnectorContext) -> None:
        """Check the connection's credentials with its connector."""
        coro = self._owner_call("check_connection", context.connection.connector, context=context)
        await self._await("check_connection", context, coro, self._settings.call_timeout)

    async def import_orders(self, context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
        """Pages from the connection's connector, each under the page timeout; the cursor never moves back."""
        pages = self._owner_call("import_orders", context.connection.connector, context=context, cursor=cursor)
        try:
            while True:
                try:
                    page = await self._await(
                        "import_orders", context, pages.__anext__(), self._settings.page_timeout
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

    async def on_label_created(
        self,
        context_for: Callable[[str], ConnectorContext],
        order: Order,
        label: Label,
    ) -> list[ParcelOutcome]:
        """Broadcast a label to every connector; return the owner's outcomes.

        Failures of connectors that do not own the connection are logged and ignored; the owner's
        error is raised so that core can act on it.
        """
        contexts = {connector_id: context_for(connector_id) for connector_id in self.connector_ids}
        owner = next(iter(contexts.values())).connection.connector if contexts else None
        calls = {
            connector_id: self._await(
                "on_label_created",
                context,
                self._owner_call("on_label_created", connector_id, context=context, order=order, label=label),
                self._settings.call_timeout,
            )
            for connector_id, context in contexts.items()
            if "on_label_created" in self.implemented(connector_id)
        }
        results = dict(zip(calls, await asyncio.gather(*calls.values(), return_exceptions=True)))
        for connector_id, result in results.items():
            if connector_id != owner and isinstance(result, BaseException):
                log.warning("connector %s failed on a foreign label: %s", connector_id, result)
            elif connector_id != owner and result is not None:
                log.warning("connector %s answered a label for a %s connection; ignored", connector_id, owner)
        if owner not in results:
            raise PluginError(f"Connector {owner} is not installed or does not implement on_label_created.")
        outcome = results[owner]
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:
            raise PluginError(f"Connector {owner} ignored a label for its own connection.")
        return [_expect(item, ParcelOutcome, "on_label_created", contexts[owner]) for item in outcome]

    async def disconnect(self, context: ConnectorContext) -> None:
        """Tell the connection's connector that it is being disconnected; errors are logged."""
        if "disconnect" not in self.implemented(context.connection.connector):
            return
        try:
            coro = self._owner_call("disconnect", context.connection.connector, context=context)
            await self._await("disconnect", context, coro, self._settings.call_timeout)
        except HubError as err:
            log.warning("connection %s: disconnect hook failed: %s", context.connection.id, err)


def _expect(value: Any, model: type, hook: str, context: ConnectorContext) -> Any:
    if not isinstance(value, model):
        raise PluginError(
            f"Connector {context.connection.connector} returned {type(value).__name__} from {hook}, "
            f"expected {model.__name__}.",
        )
    return value


__all__ = ["HookRunner", "check_specs"]
