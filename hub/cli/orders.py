"""`hub orders`: the imported orders."""

from __future__ import annotations

import click

from core.storage.orders import list_orders
from hub.cli.base import ID, HubGroup, Runtime, echo_json, with_runtime


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
