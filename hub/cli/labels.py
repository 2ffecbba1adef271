"""`hub labels`: record a label for an order and push its tracking codes."""

from __future__ import annotations

import click

from core.contract.errors import Conflict, HubError, InvalidInput, TransientError
from core.contract.models import ParcelItem, PushState
from core.storage import labels as label_store
from core.storage.labels import StoredLabel, StoredParcel
from core.usecases.labels import NewLabel, NewParcel, push_label, retry_label
from core.usecases.labels import create_label as record_label
from hub.cli.base import ID, HubGroup, Runtime, with_runtime

#: What each push state means, after the state's name.
PUSH_STATES = {
    PushState.PENDING: "to send to the shop",
    PushState.ACCEPTED: "accepted by the shop, waiting for its confirmation",
    PushState.CONFIRMED: "confirmed by the shop",
    PushState.FAILED: "not accepted by the shop",
    PushState.SKIPPED: "not sent to the shop",
}


def parcel_line(parcel: StoredParcel) -> str:
    """One parcel with its push state, the shop's reference while it is accepted, and the shop's message."""
    line = f"  parcel {parcel.reference} {parcel.tracking_number}: {parcel.push_state.value} ({PUSH_STATES[parcel.push_state]})"
    if parcel.shop_reference and parcel.push_state is PushState.ACCEPTED:
        line += f", shop reference {parcel.shop_reference}"
    if parcel.push_message:
        line += f": {parcel.push_message}"
    return line


@click.group(cls=HubGroup)
def labels() -> None:
    """Labels and the tracking codes they send to shops."""


def _parcel(text: str) -> NewParcel:
    """TRACKING or TRACKING:ITEM=QTY,ITEM=QTY."""
    tracking, _, spec = text.partition(":")
    items = None
    if spec:
        try:
            items = [
                ParcelItem(item_external_id=item, quantity=int(qty))
                for item, _, qty in (part.partition("=") for part in spec.split(","))
            ]
        except ValueError as err:
            raise InvalidInput(f"Bad --parcel {text!r}: write TRACKING:ITEM=QTY,ITEM=QTY.") from err
    return NewParcel(tracking_number=tracking, items=items)


@labels.command("create")
@click.option("--order", "order_id", type=ID, required=True, help="The hub's order id (see `hub orders list`).")
@click.option("--tracking", default=None, help="Tracking number of a single parcel with all items left (not with --parcel).")
@click.option("--parcel", "parcels", multiple=True, help="TRACKING[:ITEM=QTY,...]; repeat for more parcels (not with --tracking).")
@click.option("--label-id", default=None, help="The platform's label id (default: label-<order>-<tracking>).")
@click.option("--no-push", is_flag=True, help="Record only; do not send the tracking code now.")
@with_runtime
async def create(
    rt: Runtime, order_id: int, tracking: str | None, parcels: tuple[str, ...], label_id: str | None, no_push: bool
) -> None:
    """Record a label for an order and send its tracking codes to the shop."""
    if tracking and parcels:
        raise InvalidInput(
            f"Give either --tracking (one parcel with every item left) or --parcel (each parcel and its items), "
            f"not both: --tracking {tracking} and --parcel {parcels[0]} would be one label with "
            f"{len(parcels) + 1} parcels. For that, repeat --parcel: --parcel {tracking} --parcel {parcels[0]}."
        )
    try:
        wanted = [_parcel(p) for p in parcels] or ([NewParcel(tracking_number=tracking)] if tracking else [])
        if not wanted:
            raise InvalidInput("Give --tracking T or one or more --parcel TRACKING[:ITEM=QTY,...].")
        first = wanted[0].tracking_number
        new = NewLabel(external_id=label_id or f"label-{order_id}-{first}", parcels=wanted)
    except ValueError as err:
        raise InvalidInput(f"Invalid label: {err.errors()[0]['msg'] if hasattr(err, 'errors') else err}") from err
    label = await record_label(rt, order_id, new)
    click.echo(f"Label {label.id} recorded for order {order_id}.")
    if not no_push:
        await _push(rt, label.id)


@labels.command()
@click.argument("label_id", type=ID)
@with_runtime
async def show(rt: Runtime, label_id: int) -> None:
    """Show a label's parcels and where each one's tracking push stands."""
    label = await label_store.get_label(rt.db.pool, label_id)
    click.echo(f"label {label.id} ({label.external_id}) of order {label.order_id}, {label.carrier}, created {label.created_at:%Y-%m-%d %H:%M}")
    for parcel in label.parcels:
        click.echo(parcel_line(parcel))
    if label.parcels_in(PushState.ACCEPTED):
        click.echo("Accepted parcels are confirmed by the shop later; `hub serve` asks it until they are.")


@labels.command()
@click.argument("label_id", type=ID)
@with_runtime
async def push(rt: Runtime, label_id: int) -> None:
    """Send a label's pending parcels to the shop (and those skipped while the tracking setting was off, once it is on)."""
    await _push(rt, label_id)


@labels.command()
@click.argument("label_id", type=ID)
@with_runtime
async def retry(rt: Runtime, label_id: int) -> None:
    """Push a label's failed parcels again."""
    await retry_label(rt, label_id)
    await _push(rt, label_id)


async def _push(rt: Runtime, label_id: int) -> None:
    """Push now and print each parcel's state; the queued job stays as the safety net."""
    try:
        label: StoredLabel = await push_label(rt, label_id)
    except Conflict:
        click.echo(f"Label {label_id} is being pushed by `hub serve` right now.")
        return
    except TransientError as err:
        raise HubError(f"{err} It is queued: `hub serve` pushes it, or run `hub labels push {label_id}`.") from err
    for parcel in label.parcels:
        click.echo(parcel_line(parcel))
    if label.parcels_in(PushState.ACCEPTED):
        click.echo(f"The shop confirms accepted parcels later: `hub serve` asks it; see `hub labels show {label_id}`.")
