"""`hub orders`: the imported orders."""

from __future__ import annotations

import click

from core.contract.models import PushState
from core.storage import labels as label_store
from core.storage.orders import get_order, list_orders, reindex_recipients
from hub.cli.base import ID, HubGroup, Runtime, echo_json, with_runtime
from hub.cli.labels import parcel_line


@click.group(cls=HubGroup)
def orders() -> None:
    """Imported orders."""


@orders.command("list")
@click.option("--connection", "connection_id", type=ID, default=None, help="Only this connection's.")
@click.option("--status", type=click.Choice(["open", "partially_shipped", "shipped", "cancelled"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (includes recipients: personal data).")
@with_runtime
async def list_(rt: Runtime, connection_id: int | None, status: str | None, limit: int, as_json: bool) -> None:
    """List imported orders, oldest first."""
    found = await list_orders(rt.db.pool, rt.vault, connection_id=connection_id, status=status, limit=limit)
    if as_json:
        echo_json([{"id": s.id, "connection_id": s.connection_id, **s.order.model_dump(mode="json")} for s in found])
        return
    if not found:
        click.echo("No orders: import with `hub import --connection ID`.")
    for s in found:
        o = s.order
        items = sum(i.quantity_ordered for i in o.items)
        place = o.recipient.country_code if o.recipient else "-"
        click.echo(f"{s.id:>6}  {o.external_id:<22} {o.status.value:<18} {items:>3} item(s)  {place}")
    if found:
        click.echo("Labels and tracking pushes (accepted, confirmed, ...) of one order: `hub orders show ID`.")


@orders.command()
@click.argument("order_id", type=ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (includes the recipient: personal data).")
@with_runtime
async def show(rt: Runtime, order_id: int, as_json: bool) -> None:
    """Show one order: status, items, and its labels with each parcel's push state."""
    stored = await get_order(rt.db.pool, rt.vault, order_id)
    labels = [await label_store.get_label(rt.db.pool, lid) for lid in await label_store.labels_of_order(rt.db.pool, order_id)]
    if as_json:
        echo_json(
            {
                "id": stored.id,
                "connection_id": stored.connection_id,
                **stored.order.model_dump(mode="json"),
                "labels": [
                    {
                        "id": label.id,
                        "label_id": label.external_id,
                        "carrier": label.carrier,
                        "parcels": [
                            {
                                "reference": p.reference,
                                "tracking_number": p.tracking_number,
                                "push_state": p.push_state.value,
                                "shop_reference": p.shop_reference,
                                "push_message": p.push_message,
                            }
                            for p in label.parcels
                        ],
                    }
                    for label in labels
                ],
            }
        )
        return
    o = stored.order
    click.echo(f"order {stored.id}: {o.external_id} ({o.status.value}), connection {stored.connection_id}")
    for item in o.items:
        click.echo(f"  {item.quantity_ordered} x {item.title or item.sku or item.external_id}")
    if not labels:
        click.echo("no label yet: create one with `hub labels create --order ID --tracking T`.")
    for label in labels:
        click.echo(f"label {label.id} ({label.external_id}), {label.carrier}:")
        for parcel in label.parcels:
            click.echo(parcel_line(parcel))
    if any(label.parcels_in(PushState.ACCEPTED) for label in labels):
        click.echo("Accepted parcels are confirmed by the shop later; `hub serve` asks it until they are.")


@orders.command("reindex-search")
@with_runtime
async def reindex_search(rt: Runtime) -> None:
    """Make the recipients' search tokens again (orders imported before they existed; before removing a rotated key)."""
    count = await reindex_recipients(rt.db.pool, rt.vault)
    click.echo(f"Search tokens made again for {count} recipient(s) under the newest key.")
