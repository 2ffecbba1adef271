"""``hub amazon``: the Amazon connector's commands; ``hub amazon simulator`` serves the Amazon simulator.

The manifest names this group (``commands``), and ``hub`` adds it under the connector's id.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.faults import FaultRule, parse_faults
from connectors.amazon.simulator.marketplace import MARKETPLACES


@click.group()
def amazon() -> None:
    """Amazon connector tools."""


def _faults(ctx: click.Context, param: click.Parameter, value: str | None) -> list[FaultRule]:
    try:
        return parse_faults(value or "")
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _marketplaces(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    codes = [part.strip().upper() for part in value.split(",") if part.strip()]
    unknown = [code for code in codes if code not in MARKETPLACES and code != "GB"]
    if unknown or not codes:
        raise click.BadParameter(f"use codes from {', '.join(MARKETPLACES)}")
    return codes


@amazon.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--orders", "orders_per_seller", default=50, show_default=True, type=click.IntRange(0),
              help="Orders per seller.")
@click.option("--sellers", default=2, show_default=True, type=click.IntRange(1), help="Number of sellers.")
@click.option("--marketplaces", default="NL,DE", show_default=True, callback=_marketplaces,
              help="Marketplace codes, comma-separated.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated orders.")
@click.option("--faults", default=None, callback=_faults,
              help="Fault rules, e.g. searchOrders:503:0.2,confirmShipment:timeout:next=3.")
@click.option("--sandbox-cases", is_flag=True, help="Answer the models' static sandbox cases only.")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of Amazon's models for --sandbox-cases (default: $HUB_SPAPI_MODELS or ../shared/spapi-models).")
@click.option("--no-rate-limits", is_flag=True, help="Switch the usage plans off (benchmarks).")
@click.option("--draft", is_flag=True, help="The app is a draft: consent needs version=beta.")
@click.option("--no-delivery-role", is_flag=True, help="The app lacks Direct-to-Consumer Delivery: no personal data.")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Registered OAuth redirect URI (repeatable; none: any 127.0.0.1/localhost URI).")
@click.option("--login-uri", default=None, help="The app's OAuth Login URI (re-authorisation).")
@click.option("--quiet", is_flag=True, help="No access log.")
def simulator(
    host: str,
    port: int,
    orders_per_seller: int,
    sellers: int,
    marketplaces: list[str],
    seed: int,
    faults: list[FaultRule],
    sandbox_cases: bool,
    models_dir: Path | None,
    no_rate_limits: bool,
    draft: bool,
    no_delivery_role: bool,
    redirect_uris: tuple[str, ...],
    login_uri: str | None,
    quiet: bool,
) -> None:
    """Serve the Amazon simulator until Ctrl-C."""
    config = SimulatorConfig(
        seed=seed,
        sellers=sellers,
        orders_per_seller=orders_per_seller,
        marketplaces=marketplaces,
        faults=faults,
        sandbox_cases=sandbox_cases,
        models_dir=models_dir,
        rate_limits=not no_rate_limits,
        draft=draft,
        delivery_role=not no_delivery_role,
        redirect_uris=list(redirect_uris),
        login_uri=login_uri,
    )
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(config, host, port, access_log=not quiet))
    except KeyboardInterrupt:
        pass
    except OSError as err:
        raise click.ClickException(str(err)) from err
    click.echo("Simulator stopped.")


async def _serve(config: SimulatorConfig, host: str, port: int, access_log: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Our own handlers: a shell starts background jobs with SIGINT ignored, and SIGTERM should
    # stop the simulator as cleanly as Ctrl-C does.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with run_simulator(config, host=host, port=port, access_log=access_log) as sim:
        click.echo(describe(sim))
        await stop.wait()


def describe(sim: RunningSimulator) -> str:
    """What a user needs to point the hub at a running simulator."""
    state = sim.state
    config = state.config
    lines = [
        f"Amazon simulator at {sim.url}",
        f"  Seller Central:  {sim.url}/apps/authorize/consent",
        f"  LWA token:       {sim.url}/auth/o2/token",
        f"  SP-API endpoint: {sim.url}",
        f"  Admin API:       {sim.url}/_sim/state",
        f"  application_id:  {config.application_id}",
        f"  client_id:       {config.client_id}",
        f"  client_secret:   {config.client_secret}",
        "  sellers:",
    ]
    for seller in state.sellers.values():
        count = len(state.indexes[seller.seller_id].by_updated)
        lines.append(f"    {seller.seller_id}  {seller.store_name}  [{','.join(seller.marketplaces)}]  {count} orders")
    if config.faults:
        lines.append("  faults: " + ",".join(rule.spec() for rule in config.faults))
    if config.sandbox_cases:
        lines.append("  sandbox-cases mode: only the models' static cases are answered")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
