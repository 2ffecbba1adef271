"""What every command shares: the group that turns errors into one-line fixes, and the runtime."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from core.contract.errors import HubError
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings, load_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The type of id arguments: a whole number that PostgreSQL's bigint holds (others are a usage error).
ID = click.IntRange(0, 2**63 - 1)


class HubGroup(click.Group):
    """A click group whose errors print a one-line fix and exit non-zero, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn hub errors and surprises into a message."""
        try:
            return super().invoke(ctx)
        except HubError as err:
            log.debug("command failed", exc_info=True)
            raise click.ClickException(err.message) from err
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001 - the CLI never shows a traceback
            log.debug("command crashed", exc_info=True)
            raise click.ClickException(
                f"Unexpected {type(err).__name__}; run with --verbose for details and report it."
            ) from err


def settings_of(ctx: click.Context) -> HubSettings:
    """The settings for this invocation, read once."""
    root = ctx.find_root()
    root.meta.setdefault("hub.settings", None)
    if root.meta["hub.settings"] is None:
        root.meta["hub.settings"] = load_settings(root.params.get("config"))
    return root.meta["hub.settings"]


def ensure_port_free(host: str, port: int) -> None:
    """Refuse, in one line and before any work, a port another process listens on."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will bind: a port left in TIME_WAIT by a stopped hub is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise click.ClickException(
                f"Port {port} on {host} is taken ({err.strerror or err}): stop what listens there, "
                "or choose another port with --port (or server.port in hub.toml)."
            ) from None


def with_runtime(function: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Make an ``async def command(rt, ...)`` a click callback that opens the runtime around it."""

    @functools.wraps(function)
    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> T:
        settings = settings_of(ctx)

        async def main() -> T:
            async with open_runtime(settings) as rt:
                return await function(rt, *args, **kwargs)

        return asyncio.run(main())

    return wrapper


def echo_json(value: Any) -> None:
    """Print a value as indented JSON."""
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def status_line(text: str) -> None:
    """Rewrite one live status line on a terminal; print lines when piped."""
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{text}", nl=False, err=True)
    else:
        click.echo(text, err=True)


def end_status_line() -> None:
    """Finish a live status line."""
    if sys.stderr.isatty():
        click.echo("", err=True)


__all__ = ["ID", "HubGroup", "Runtime", "echo_json", "ensure_port_free", "settings_of", "with_runtime", "status_line", "end_status_line"]
