"""``hub bol``: the bol.com connector's commands; ``hub bol simulator`` serves the bol.com simulator.

The manifest names this group (``commands``), and ``hub`` adds it under the connector's id. The
command imports only the simulator, never the connector or the hub.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from connectors.bol.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.bol.simulator.faults import FaultRule, parse_faults


@click.group()
def bol() -> None:
    """bol.com connector tools."""


def _faults(ctx: click.Context, param: click.Parameter, value: str | None) -> list[FaultRule]:
    try:
        return parse_faults(value or "")
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _settle_delay(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    if value.strip().lower() == "manual":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise click.BadParameter("give seconds (e.g. 1.5) or 'manual'") from None
    if seconds < 0:
        raise click.BadParameter("give seconds of at least 0, or 'manual'")
    return seconds


@bol.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--orders", "orders_per_retailer", default=40, show_default=True, type=click.IntRange(0),
              help="Generated orders per retailer (the first also has the demo environment's orders).")
@click.option("--retailers", default=1, show_default=True, type=click.IntRange(1, 1000), help="Number of retailers.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated world.")
@click.option("--faults", default=None, callback=_faults,
              help="Fault rules, e.g. get-orders:503:0.2,create-shipment:lost:next=1.")
@click.option("--no-rate-limits", is_flag=True, help="Switch the per-endpoint rate limits off (benchmarks).")
@click.option("--settle-delay", default="1", show_default=True, callback=_settle_delay,
              help="Seconds until a process status settles, or 'manual' (only the admin API settles).")
@click.option("--retry-interval", default=60.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between webhook delivery retries (bol.com: 10 retries within 10 minutes).")
@click.option("--https-only", is_flag=True, help="Refuse http:// webhook URLs on loopback hosts too, as bol.com does.")
@click.option("--no-demo-orders", is_flag=True, help="Leave out the demo environment's orders and statuses.")
@click.option("--quiet", is_flag=True, help="No access log.")
def simulator(
    host: str,
    port: int,
    orders_per_retailer: int,
    retailers: int,
    seed: int,
    faults: list[FaultRule],
    no_rate_limits: bool,
    settle_delay: float | None,
    retry_interval: float,
    https_only: bool,
    no_demo_orders: bool,
    quiet: bool,
) -> None:
    """Serve the bol.com simulator until Ctrl-C."""
    config = SimulatorConfig(
        seed=seed,
        retailers=retailers,
        orders_per_retailer=orders_per_retailer,
        demo_orders=not no_demo_orders,
        faults=faults,
        rate_limits=not no_rate_limits,
        settle_delay=settle_delay,
        retry_interval=retry_interval,
        https_only=https_only,
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
    delay = "manual (admin API)" if config.settle_delay is None else f"{config.settle_delay:g} s"
    lines = [
        f"bol.com simulator at {sim.url}",
        f"  Token endpoint:  {sim.token_url}",
        f"  API endpoint:    {sim.api_url}",
        f"  Admin API:       {sim.url}/_sim/state",
        f"  process statuses settle after {delay}; rate limits {'on' if config.rate_limits else 'off'}",
        "  retailers (client id / client secret):",
    ]
    for retailer in state.retailers.values():
        count = sum(1 for o in state.orders.values() if o.retailer_id == retailer.retailer_id)
        lines.append(f"    {retailer.retailer_id}  {retailer.display_name}  {count} orders")
        for client in state.clients.values():
            if client.retailer_id == retailer.retailer_id:
                lines.append(f"      {client.client_id} / {client.client_secret}")
    if config.faults:
        lines.append("  faults: " + ",".join(rule.spec() for rule in config.faults))
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
