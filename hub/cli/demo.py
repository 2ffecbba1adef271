"""`hub demo`: the merchant's whole journey against the shop simulators the connectors bring.

Every loaded connector whose manifest names a demo shop (``demo``, a ``core.contract.demo.DemoShop``) takes
part: its simulator starts on 127.0.0.1, embedded PostgreSQL in the data folder, a fresh account
connects each shop the way its manifest says (the consent page, or pasted credentials), imports,
creates labels for a few orders (one split over two parcels), pushes their tracking codes, and
reads the orders back from the simulator. With ``--serve`` the daemon and the simulators keep
running for a person to click through. This module names no connector.
"""

from __future__ import annotations

import asyncio
import signal
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import click
from aiohttp import web

from core.contract.demo import DemoShop
from core.contract.manifest import Manifest, load_attribute
from core.contract.models import ConnectionState, OrderStatus, ParcelItem, PushState
from core.infra.plugins import load_connectors
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account, list_accounts
from core.storage.connections import list_connections
from core.storage.labels import get_label
from core.storage.orders import PageCounts, StoredOrder, list_orders
from core.storage.tokens import create_token
from core.usecases import connections
from core.usecases.imports import run_import
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label, settle_parcels
from hub.cli.base import end_status_line, ensure_port_free, settings_of, status_line

DEMO_PREFIX = "Demo merchant "

#: How long the demo waits for a shop to settle the parcels it accepted.
SETTLE_WAIT_SECONDS = 30.0


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


@dataclass(frozen=True)
class DemoConnector:
    """A connector taking part in the demo: its id, manifest and demo shop."""

    id: str
    manifest: Manifest
    shop: DemoShop


@click.command()
@click.option("--orders", type=click.IntRange(1, 100_000), default=150, show_default=True,
              help="Orders of each demo merchant in each shop.")
@click.option("--labels", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="Orders to create labels for, in each shop.")
@click.option("--serve", is_flag=True, help="Keep the hub and the simulators running afterwards, for the browser.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port of the hub with --serve.")
@click.pass_context
def demo(ctx: click.Context, orders: int, labels: int, serve: bool, port: int) -> None:
    """Run the whole journey against the connectors' built-in shop simulators on 127.0.0.1."""
    settings = settings_of(ctx)
    if serve:
        ensure_port_free(settings.server.host, port)
    asyncio.run(_demo(settings, orders, labels, serve, port))


def demo_connectors(settings: HubSettings, orders: int) -> list[DemoConnector]:
    """The loaded connectors whose manifest names a demo shop, each with its shop (not started)."""
    found = []
    for connector in load_connectors(settings):
        if not connector.ok or connector.manifest is None or connector.manifest.demo is None:
            continue
        shop_class = load_attribute(connector.manifest.demo, connector.id, "demo")
        if not (isinstance(shop_class, type) and issubclass(shop_class, DemoShop)):
            raise click.ClickException(
                f"Connector {connector.id}: its manifest's demo {connector.manifest.demo} is not a core.contract.demo.DemoShop."
            )
        found.append(DemoConnector(connector.id, connector.manifest, shop_class(orders)))
    if not found:
        raise click.ClickException("No loaded connector brings a demo shop: see `hub connectors list`.")
    return found


async def _demo(settings: HubSettings, orders: int, labels: int, serve: bool, port: int) -> None:
    show = Demo()
    taking_part = demo_connectors(settings, orders)
    async with AsyncExitStack() as stack:
        tables = dict(settings.connectors)
        for connector in taking_part:
            shop = connector.shop
            show.step(f"Starting the {shop.title} simulator on 127.0.0.1")
            await shop.start()
            stack.push_async_callback(shop.stop)
            for line in shop.describe():
                show.say(line)
            tables[connector.id] = {**tables.get(connector.id, {}), **shop.settings()}
        public_url = f"http://127.0.0.1:{port}"
        settings = settings.model_copy(
            update={
                "server": settings.server.model_copy(update={"public_url": public_url, "port": port}),
                "connectors": tables,
            }
        )
        show.step(f"Opening the database ({'embedded PostgreSQL in ' + str(settings.data_dir) if settings.database.url is None else 'configured server'})")
        async with open_runtime(settings) as rt:
            loaded = [
                f"{c.shop.title} connector {'loaded' if c.id in rt.connectors and rt.connectors[c.id].ok else 'missing'}"
                for c in taking_part
            ]
            show.say(f"migrations applied; {', '.join(loaded)}")
            account, token = await _account(rt, show)
            for connector in taking_part:
                connection_id = await _connect(rt, show, account, connector)
                await _import(rt, show, connection_id)
                chosen = await _labels(rt, show, connection_id, labels, connector.shop)
                await _read_back(show, connector.shop, chosen)
            show.done()
            if serve:
                await _serve(settings, show, token, [c.shop for c in taking_part])


async def _account(rt: Runtime, show: Demo) -> tuple[int, str]:
    show.step("Creating a carrier account")
    # Earlier demos connected to simulators that are gone: retire those connections first.
    for account in await list_accounts(rt.db.pool):
        if account.name.startswith(DEMO_PREFIX):
            for connection in await list_connections(rt.db.pool, account.id):
                if connection.state is not ConnectionState.DISCONNECTED:
                    await connections.disconnect(rt, account.id, connection.id)
    name = f"{DEMO_PREFIX}{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    account = await create_account(rt.db.pool, name)
    token = await create_token(rt.db.pool, account.id, "demo")
    show.say(f"account {account.id} ({name}), API token created")
    return account.id, token


async def _connect(rt: Runtime, show: Demo, account_id: int, connector: DemoConnector) -> int:
    shop, spec = connector.shop, connector.manifest.connect
    fields = shop.connect_fields()
    shown = ", ".join(f"{name} {value}" for name, value in fields.items() if name not in spec.secret_fields)
    show.step(f"Settings > All integrations > {connector.manifest.name} > Connect" + (f" ({shown})" if shown else ""))
    if spec.style == "consent":
        connection, url = await connections.start_connect(rt, account_id, connector.id, fields)
        show.say(f"connection {connection.id} waits for consent at {url.split('?')[0]}")
        callback = await shop.consent(url)
        show.say(shop.consented)
        params = dict(parse_qsl(urlsplit(callback).query))
        connected = await connections.complete_connect(rt, params, account_id)
    else:
        labels = [field.label.en for field in spec.fields if field.name in fields]
        show.say(f"the merchant filled in {', '.join(labels)}")
        connected = await connections.connect_with_credentials(rt, account_id, connector.id, fields)
    marketplaces = connected.settings.marketplaces
    show.say(
        f"connected to {shop.account} {connected.external_account_id}"
        + (f", marketplaces {', '.join(marketplaces)}" if marketplaces else "")
    )
    await connections.change_settings(rt, account_id, connected.id, {"update_tracking": True})
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


async def _labels(rt: Runtime, show: Demo, connection_id: int, wanted: int, shop: DemoShop) -> list[StoredOrder]:
    show.step(f"Creating labels for {wanted} orders; the hub sends each tracking code to {shop.title}")
    candidates = await list_orders(rt.db.pool, rt.vault, connection_id=connection_id, status=OrderStatus.OPEN.value, limit=500)
    # Lead with an order of several items, to show a shipment split over parcels.
    candidates.sort(key=lambda stored: sum(1 for item in stored.order.items if item.quantity_unshipped) < 2)
    chosen = candidates[:wanted]
    labels: list[int] = []
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
        labels.append(pushed.id)
    await _settle(rt, show, connection_id, labels, shop)
    return chosen


async def _settle(rt: Runtime, show: Demo, connection_id: int, label_ids: list[int], shop: DemoShop) -> None:
    """Wait for the shop to settle the parcels it accepted, asking it as the settle job would."""
    accepted = [label_id for label_id in label_ids if (await get_label(rt.db.pool, label_id)).parcels_in(PushState.ACCEPTED)]
    if not accepted:
        return
    show.say(f"{shop.title} accepted them and settles them later; asking it until it has (the hub's settle job)")
    deadline = time.monotonic() + SETTLE_WAIT_SECONDS
    while accepted and time.monotonic() < deadline:
        await asyncio.sleep(0.5)  # the demo waits for the shop's clock; tests wait on conditions
        await settle_parcels(rt, connection_id)
        accepted = [
            label_id for label_id in accepted if (await get_label(rt.db.pool, label_id)).parcels_in(PushState.ACCEPTED)
        ]
    for label_id in label_ids:
        label = await get_label(rt.db.pool, label_id)
        show.say(f"label {label.external_id}: " + ", ".join(f"{p.tracking_number} {p.push_state.value}" for p in label.parcels))


async def _read_back(show: Demo, shop: DemoShop, chosen: list[StoredOrder]) -> None:
    show.step(f"Reading the orders back from {shop.title} (the simulator)")
    for line in await shop.order_lines([stored.order.external_id for stored in chosen]):
        show.say(line)


async def _serve(settings: HubSettings, show: Demo, token: str, shops: list[DemoShop]) -> None:
    from hub.app import create_app

    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    await site.start()
    where = f"simulator at {shops[0].url}" if len(shops) == 1 else "simulators: " + ", ".join(
        f"{shop.title} at {shop.url}" for shop in shops
    )
    click.secho(f"\nThe hub runs at {settings.server.public_url} ({where}).", bold=True)
    click.echo(f"Sign in with the API token: {token}")
    click.echo("Press Ctrl-C to stop.")
    # Our own handlers: a shell starts background jobs with SIGINT ignored, and SIGTERM must stop
    # the demo as cleanly as Ctrl-C does, so that the embedded PostgreSQL is stopped too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        click.echo("Stopping the hub, the simulators and the database.")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
