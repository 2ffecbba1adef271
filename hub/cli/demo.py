"""`hub demo`: the merchant's whole journey against the built-in Amazon simulator.

Embedded PostgreSQL in the data folder, the simulator on 127.0.0.1, a fresh account connected
through the consent page, an import, labels for a few orders (one split over two parcels), their
tracking codes pushed with confirmShipment, and the orders read back from the simulator as Shipped.
With ``--serve`` the daemon and the simulator keep running for a person to click through.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import click
from aiohttp import web

from connectors.amazon.simulator import run_simulator
from connectors.amazon.simulator.config import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SimulatorConfig,
)
from connectors.amazon.simulator.merchant import approve
from core import authorization
from core.imports import run_import
from core.labels import NewLabel, NewParcel, create_label, push_label
from core.models import ConnectionState, OrderStatus, ParcelItem
from core.runtime import Runtime, open_runtime
from core.settings import HubSettings
from core.storage.accounts import create_account, list_accounts
from core.storage.connections import list_connections
from core.storage.orders import PageCounts, StoredOrder, list_orders
from core.storage.tokens import create_token
from hub.cli.base import end_status_line, settings_of, status_line


DEMO_PREFIX = "Demo merchant "


class Demo:
    """Prints numbered steps with their duration."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.number = 0

    def step(self, text: str) -> None:
        """Announce the next step."""
        self.number += 1
        click.secho(f"\n{self.number}. {text}", bold=True)

    def say(self, text: str) -> None:
        """Report within a step."""
        click.echo(f"   {text}")

    def done(self) -> None:
        """The closing line."""
        click.secho(f"\nDone in {time.monotonic() - self.started:.1f} s.", fg="green", bold=True)


@click.command()
@click.option("--orders", type=click.IntRange(1, 100_000), default=150, show_default=True, help="Orders per seller.")
@click.option("--labels", type=click.IntRange(1, 1000), default=4, show_default=True, help="Orders to create labels for.")
@click.option("--serve", is_flag=True, help="Keep the hub and the simulator running afterwards, for the browser.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port of the hub with --serve.")
@click.pass_context
def demo(ctx: click.Context, orders: int, labels: int, serve: bool, port: int) -> None:
    """Run the whole journey against the built-in Amazon simulator on 127.0.0.1."""
    asyncio.run(_demo(settings_of(ctx), orders, labels, serve, port))


async def _demo(settings: HubSettings, orders: int, labels: int, serve: bool, port: int) -> None:
    show = Demo()
    show.step("Starting the Amazon simulator on 127.0.0.1")
    config = SimulatorConfig(sellers=2, orders_per_seller=orders, marketplaces=["NL", "DE", "BE"], application_name="Hub demo")
    async with run_simulator(config) as sim:
        show.say(f"Seller Central, LWA and SP-API at {sim.url} (Amazon's usage plans on)")
        public_url = f"http://127.0.0.1:{port}"
        settings = settings.model_copy(
            update={
                "server": settings.server.model_copy(update={"public_url": public_url, "port": port}),
                "connectors": {
                    **settings.connectors,
                    "amazon": {
                        **settings.connectors.get("amazon", {}),
                        "endpoint": sim.url,
                        "application_id": DEFAULT_APPLICATION_ID,
                        "client_id": DEFAULT_CLIENT_ID,
                        "client_secret": DEFAULT_CLIENT_SECRET,
                    },
                },
            }
        )
        show.step(f"Opening the database ({'embedded PostgreSQL in ' + str(settings.data_dir) if settings.database.url is None else 'configured server'})")
        async with open_runtime(settings) as rt:
            show.say("migrations applied; Amazon connector loaded" if rt.connectors.get("amazon") and rt.connectors["amazon"].ok else "Amazon connector missing")
            account, token = await _account(rt, show)
            connection_id = await _connect(rt, show, account, sim.url)
            await _import(rt, show, connection_id)
            chosen = await _labels(rt, show, connection_id, labels)
            await _read_back(show, sim.url, chosen)
            show.done()
            if serve:
                await _serve(settings, show, token, sim.url)


async def _account(rt: Runtime, show: Demo) -> tuple[int, str]:
    show.step("Creating a carrier account")
    # Earlier demos connected to simulators that are gone: retire those connections first.
    for account in await list_accounts(rt.db.pool):
        if account.name.startswith(DEMO_PREFIX):
            for connection in await list_connections(rt.db.pool, account.id):
                if connection.state is not ConnectionState.DISCONNECTED:
                    await authorization.disconnect(rt, account.id, connection.id)
    name = f"{DEMO_PREFIX}{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}"
    account = await create_account(rt.db.pool, name)
    token = await create_token(rt.db.pool, account.id, "demo")
    show.say(f"account {account.id} ({name}), API token created")
    return account.id, token


async def _connect(rt: Runtime, show: Demo, account_id: int, sim_url: str) -> int:
    show.step("Settings > All integrations > Amazon > Connect (marketplace NL)")
    connection, url = await authorization.start_connect(rt, account_id, "amazon", {"marketplace": "NL"})
    show.say(f"connection {connection.id} waits for consent at {url.split('?')[0]}")
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url)
    show.say("the merchant ticked \"I direct Amazon to provide Hub demo access ...\" and confirmed")
    params = dict(parse_qsl(urlsplit(callback).query))
    connected = await authorization.complete_connect(rt, params, account_id)
    show.say(f"connected to seller {connected.external_account_id}, marketplaces {', '.join(connected.settings.marketplaces)}")
    await authorization.change_settings(rt, account_id, connected.id, {"update_tracking": True})
    show.say("ticked \"Update the tracking code in the shop\"")
    return connected.id


async def _import(rt: Runtime, show: Demo, connection_id: int) -> None:
    show.step("Shipping > Import from shop > Start import")

    def progress(totals: PageCounts, pages: int) -> None:
        status_line(f"   page {pages}: {totals.new} new, {totals.updated} updated, {sum(totals.skipped.values())} skipped")

    try:
        run = await run_import(rt, connection_id, progress=progress)
    finally:
        end_status_line()
    show.say(f"{run.new} orders to ship imported, {run.updated} updated, {run.skipped_total} skipped:")
    for reason, count in sorted(run.skipped.items(), key=lambda item: -item[1]):
        show.say(f"  {count:>4} {reason}")


async def _labels(rt: Runtime, show: Demo, connection_id: int, wanted: int) -> list[StoredOrder]:
    show.step(f"Creating labels for {wanted} orders; the hub sends each tracking code to Amazon")
    candidates = await list_orders(rt.db.pool, rt.vault, connection_id=connection_id, status=OrderStatus.OPEN.value, limit=500)
    # Lead with an order of several items, to show a shipment split over parcels.
    candidates.sort(key=lambda stored: sum(1 for item in stored.order.items if item.quantity_unshipped) < 2)
    chosen = candidates[:wanted]
    for number, stored in enumerate(chosen, start=1):
        order = stored.order
        if number == 1 and sum(1 for item in order.items if item.quantity_unshipped) > 1:
            parcels = [
                NewParcel(
                    tracking_number=f"GLS{stored.id:06d}{n}",
                    items=[ParcelItem(item_external_id=item.external_id, quantity=item.quantity_unshipped)],
                )
                for n, item in enumerate(order.items, start=1)
                if item.quantity_unshipped
            ]
        else:
            parcels = [NewParcel(tracking_number=f"GLS{stored.id:06d}1")]
        label = await create_label(rt, stored.id, NewLabel(external_id=f"demo-{stored.id}", parcels=parcels))
        pushed = await push_label(rt, label.id)
        place = order.recipient.city if order.recipient and order.recipient.city else "?"
        states = ", ".join(f"{p.tracking_number} {p.push_state.value}" for p in pushed.parcels)
        show.say(f"order {order.external_id} to {place}: {len(parcels)} parcel(s): {states}")
    return chosen


async def _read_back(show: Demo, sim_url: str, chosen: list[StoredOrder]) -> None:
    show.step("Reading the orders back from Amazon (the simulator)")
    async with aiohttp.ClientSession() as session:
        for stored in chosen:
            async with session.get(f"{sim_url}/_sim/orders/{stored.order.external_id}") as response:
                body = await response.json()
            order = body["order"]
            status = order.get("fulfillment", {}).get("fulfillmentStatus", "?")
            packages = ", ".join(f"{p.get('carrier')} {p.get('trackingNumber')}" for p in order.get("packages", []))
            show.say(f"{order['orderId']}: {status} ({packages})")


async def _serve(settings: HubSettings, show: Demo, token: str, sim_url: str) -> None:
    from hub.app import create_app

    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    await site.start()
    click.secho(f"\nThe hub runs at {settings.server.public_url} (simulator at {sim_url}).", bold=True)
    click.echo(f"Sign in with the API token: {token}")
    click.echo("Press Ctrl-C to stop.")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
