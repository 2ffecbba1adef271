"""The `hub` command line: one module per command group, assembled here."""

from __future__ import annotations

import logging

import click

from core import __version__
from core.logs import SecretFilter
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
  hub demo                                    the whole journey against the built-in Amazon simulator
  hub accounts create "My shop"               a carrier account
  hub connections connect amazon --account "My shop" --marketplace NL
  hub connections complete URL                paste the URL Amazon sent you back to
  hub import --connection 1                   import the orders to ship
  hub labels create --order 1 --tracking T    record a label; its tracking code goes to the shop

Settings come from hub.toml (--config or HUB_CONFIG) and HUB_... environment variables.
"""


@click.group(cls=HubGroup, help=QUICK_START, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), envvar="HUB_CONFIG", help="Settings file (hub.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(__version__, prog_name="hub")
def main(config: str | None, verbose: bool) -> None:
    """The hub command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())


for command in (accounts, config, connections, connectors, db, demo, import_orders, labels, orders, serve):
    main.add_command(command)

try:  # the Amazon commands live with the Amazon connector's simulator
    from hub.cli.amazon import amazon

    main.add_command(amazon)
except ImportError:  # pragma: no cover - present in every install; guarded while it is built
    pass
