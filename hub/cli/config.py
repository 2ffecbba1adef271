"""`hub config`: the settings in effect, secrets masked."""

from __future__ import annotations

import click

from core.infra.crypto import new_key
from core.infra.plugins import load_connectors
from core.infra.settings import masked
from core.storage.rekey import reencrypt
from hub.cli.base import HubGroup, Runtime, echo_json, settings_of, with_runtime


@click.group(cls=HubGroup)
def config() -> None:
    """The settings in effect."""


@config.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML-like lines.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Show the settings from hub.toml and the environment, defaults included, secrets masked.

    Each connector's table is shown as its settings model reads it; an invalid one is named in
    the error and the command exits non-zero.
    """
    settings = settings_of(ctx)
    loaded = load_connectors(settings)
    values = masked(settings, {c.id: c.settings for c in loaded if c.ok and c.settings is not None})
    if as_json:
        echo_json(values)
    else:
        _print_table(values, [])
    failed = [c for c in loaded if not c.ok]
    if failed:
        raise click.ClickException("; ".join(f"connector {c.id}: {c.error}" for c in failed))


def _print_table(values: dict, path: list[str]) -> None:
    scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
    if path and scalars:
        click.echo(f"\n[{'.'.join(path)}]")
    for key, value in scalars.items():
        click.echo(f"{key} = {_toml(value)}")
    for key, value in values.items():
        if isinstance(value, dict):
            _print_table(value, [*path, key])


def _toml(value: object) -> str:
    if value is None:
        return '""  # not set'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@config.command("new-key")
def new_key_command() -> None:
    """Print a new encryption key for security.encryption_keys (put it first to rotate)."""
    click.echo(new_key())


@config.command("rotate-keys")
@with_runtime
async def rotate_keys(rt: Runtime) -> None:
    """Re-encrypt stored credentials and addresses with the newest key (the first of security.encryption_keys)."""
    counts = await reencrypt(rt.db.pool, rt.vault)
    click.echo(
        f"Re-encrypted {counts['connections.credentials']} credentials and {counts['orders.recipient']} recipients "
        "with the newest key: the older keys can now be removed from security.encryption_keys."
    )
