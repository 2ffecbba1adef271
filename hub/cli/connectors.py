"""`hub connectors`: what is installed ("All integrations")."""

from __future__ import annotations

import click

from core.infra.hooks import HookRunner
from core.infra.plugins import load_connectors
from core.infra.runtime import register_connectors
from hub.cli.base import HubGroup, echo_json, settings_of


@click.group(cls=HubGroup)
def connectors() -> None:
    """Installed connectors."""


@connectors.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List installed connectors: id, name, version, hooks, and the load error if any."""
    settings = settings_of(ctx)
    loaded = register_connectors(HookRunner(settings.hooks), load_connectors(settings))
    rows = [
        {
            "id": c.id,
            "name": c.manifest.name if c.manifest else None,
            "version": c.manifest.version if c.manifest else None,
            "hooks": c.hooks,
            "error": c.error,
        }
        for c in loaded.values()
    ]
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo("No connectors installed.")
    for row in rows if not as_json else []:
        if row["error"]:
            click.echo(f"{row['id']:<12} FAILED  {row['error']}")
        else:
            click.echo(f"{row['id']:<12} {row['name']} {row['version']}  hooks: {', '.join(row['hooks'])}")
    failed = [row["id"] for row in rows if row["error"]]
    if failed:
        raise click.ClickException(f"{', '.join(failed)} failed to load: fix what the line says, then run this again.")
