"""The `hub` command line: one module per command group, assembled here.

Each installed connector may add its own commands (its manifest's ``commands``, a click command):
they appear as ``hub <connector id>``, found when click first asks for a command it does not know
(or lists them for ``--help``), so that the hub's own commands import no connector. This module
names no connector.
"""

from __future__ import annotations

import copy
import logging

import click

from core import __version__
from core.contract.errors import HubError
from core.contract.manifest import load_attribute, read_manifest
from core.infra import plugins
from core.infra.logs import SecretFilter, quiet_libraries
from hub.cli.accounts import accounts
from hub.cli.base import HubGroup
from hub.cli.config import config
from hub.cli.connections import connections
from hub.cli.connectors import connectors
from hub.cli.db import db
from hub.cli.demo import demo
from hub.cli.imports import import_orders
from hub.cli.labels import labels
from hub.cli.orders import orders
from hub.cli.serve import serve

QUICK_START = """The integration hub: connect shops, import their orders as shipments, send tracking codes back.

\b
Quick start:
  hub demo                                    the whole journey against the built-in shop simulators
  hub accounts create "My shop"               a carrier account
  hub connectors list                         the shops you can connect ("All integrations")
  hub connections connect SHOP --account "My shop"
                                              asks for the shop's fields (a pasted secret is
                                              hidden), or prints its consent page's URL
  hub connections complete URL                after a consent page: the URL it sent you back to
  hub import --connection 1                   import the orders to ship
  hub labels create --order 1 --tracking T    record a label; its tracking code goes to the shop

Settings come from hub.toml (--config or HUB_CONFIG) and HUB_... environment variables.
"""


log = logging.getLogger(__name__)


def connector_commands(builtin: set[str]) -> dict[str, click.Command]:
    """The commands of every installed connector, by connector id; one that fails is skipped with a warning.

    Reads each connector's manifest without the hub's settings: an installed connector's tools
    (a simulator, say) are there even when the settings do not load it.
    """
    found: dict[str, click.Command] = {}
    for point in plugins.installed_entry_points():
        try:
            manifest = read_manifest(point.load())
            if manifest.commands is None:
                continue
            if point.name in builtin:
                raise HubError(f"its id {point.name!r} is a command of the hub itself")
            command = load_attribute(manifest.commands, point.name, "commands")
            if not isinstance(command, click.Command):
                raise HubError(f"{manifest.commands} is a {type(command).__name__}, not a click command")
        except Exception as err:  # noqa: BLE001 - one bad connector must not break the hub command
            log.warning("connector %s: its commands are left out of `hub`: %s", point.name, err)
            continue
        if command.name != point.name:
            command = copy.copy(command)
            command.name = point.name
        found[point.name] = command
    return found


class MainGroup(HubGroup):
    """The ``hub`` group: its own commands, then each installed connector's under the connector's id."""

    def _connector_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        # Once per invocation: ``--help`` lists every command and then asks for each by name.
        meta = ctx.find_root().meta
        if "hub.connector_commands" not in meta:
            meta["hub.connector_commands"] = connector_commands(set(self.commands))
        return meta["hub.connector_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The hub's commands and the installed connectors' commands, sorted."""
        return sorted({*super().list_commands(ctx), *self._connector_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A command of the hub, else the commands of the connector with that id."""
        return super().get_command(ctx, name) or self._connector_commands(ctx).get(name)


@click.group(cls=MainGroup, help=QUICK_START, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), envvar="HUB_CONFIG", help="Settings file (hub.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(__version__, prog_name="hub")
def main(config: str | None, verbose: bool) -> None:
    """The hub command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries(logging.getLogger().level)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())


for command in (accounts, config, connections, connectors, db, demo, import_orders, labels, orders, serve):
    main.add_command(command)
