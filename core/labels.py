"""Labels: record a label the platform created, and push its tracking codes to the shop.

A label is idempotent by the platform's label id within an order. Each parcel gets a stable
numeric reference within its order, stored before any push, so a retried push edits the same
parcel in the shop instead of adding one.
"""

from __future__ import annotations

import logging

import asyncpg
from pydantic import Field

from core import lifecycle, queue
from core.authorization import mark_auth_required
from core.context import utc_now
from core.errors import Conflict, ConnectorAuthFailed, InvalidInput, TransientError
from core.metrics import PUSHES
from core.models import ConnectionState, Label, Model, OrderStatus, Parcel, ParcelItem, PushState, UtcDatetime
from core.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import labels as store
from core.storage import orders as order_store
from core.storage.labels import StoredLabel

log = logging.getLogger(__name__)

#: First key of the two-key advisory lock that guards one label's push.
PUSH_LOCK = 0x707368  # "psh"


class NewParcel(Model):
    """A parcel to record: its tracking number and items (all items still to ship when omitted)."""

    tracking_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    items: list[ParcelItem] | None = None


class NewLabel(Model):
    """A label the platform reports: its id, ship date (now when omitted) and parcels."""

    external_id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    carrier: str = Field(default="GLS", min_length=1, max_length=64)
    shipping_method: str | None = Field(default=None, max_length=100)
    ship_date: UtcDatetime | None = None
    parcels: list[NewParcel] = Field(min_length=1, max_length=50)


async def create_label(rt: Runtime, order_id: int, new: NewLabel, account_id: int | None = None) -> StoredLabel:
    """Record a label for a stored order and queue its push.

    The push job is queued in the same transaction, so no label is ever stored without its push.
    The same label id again returns the stored label, unchanged.
    """
    async with rt.db.pool.acquire() as db, db.transaction():
        # Read after the lock: a cancellation imported meanwhile must be seen.
        next_reference = await store.next_reference(db, order_id)  # locks the order
        stored = await order_store.get_order(db, rt.vault, order_id, account_id)
        existing = await store.find_label(db, order_id, new.external_id)
        if existing is not None:
            return await store.get_label(db, existing)
        if stored.order.status is OrderStatus.CANCELLED:
            raise Conflict(f"Order {order_id} was cancelled in the shop: do not ship it.")
        used = await store.parcel_quantities(db, order_id)
        remaining = {
            item.external_id: (item.quantity_unshipped if not used else item.quantity_ordered - used.get(item.external_id, 0))
            for item in stored.order.items
        }
        parcels = []
        for number, parcel in enumerate(new.parcels, start=next_reference):
            items = parcel.items or [
                ParcelItem(item_external_id=item_id, quantity=quantity)
                for item_id, quantity in remaining.items()
                if quantity > 0
            ]
            if not items:
                raise InvalidInput(f"Every item of order {order_id} is in a parcel already: nothing left to ship.")
            for item in items:
                if item.item_external_id not in remaining:
                    raise InvalidInput(f"Order {order_id} has no item {item.item_external_id!r}.")
                if item.quantity > remaining[item.item_external_id]:
                    raise InvalidInput(
                        f"Item {item.item_external_id} of order {order_id} has {remaining[item.item_external_id]} "
                        f"left to ship, not {item.quantity}."
                    )
                remaining[item.item_external_id] -= item.quantity
            parcels.append(Parcel(reference=str(number), tracking_number=parcel.tracking_number, items=items))
        label = Label(
            external_id=new.external_id,
            carrier=new.carrier,
            shipping_method=new.shipping_method,
            ship_date=new.ship_date or utc_now(),
            parcels=parcels,
        )
        label_id = await store.insert_label(db, order_id, label)
        await queue.enqueue_push(db, label_id)
        return await store.get_label(db, label_id)


async def push_label(rt: Runtime, label_id: int) -> StoredLabel:
    """Send a label's pending parcels to the shop and store each outcome.

    Does nothing but mark the parcels skipped when the connection's "update the tracking code in
    the shop" setting is off. Raises ``TransientError`` when the shop should be asked again
    later, and ``ConnectorAuthFailed`` (after moving the connection to auth_required).
    """
    # The lock and the outcome writes share one connection (see core.imports): a push that lost
    # its lock cannot record outcomes over another worker's.
    async with rt.db.pool.acquire() as db:
        if not await db.fetchval("select pg_try_advisory_lock($1, $2)", PUSH_LOCK, label_id):
            raise Conflict(f"Label {label_id} is being pushed by another worker.")
        try:
            return await _push(rt, db, label_id)
        finally:
            if not db.is_closed():
                await db.fetchval("select pg_advisory_unlock($1, $2)", PUSH_LOCK, label_id)


async def _push(rt: Runtime, db: asyncpg.Connection, label_id: int) -> StoredLabel:
    label = await store.get_label(db, label_id)
    if not label.parcels_in(PushState.PENDING):
        return label
    stored = await order_store.get_order(db, rt.vault, label.order_id)
    connection = await connection_store.get_connection(db, stored.connection_id)
    pending = label.as_label((PushState.PENDING,))
    if not connection.settings.update_tracking:
        await store.record_outcomes(
            db, label_id, [(p.reference, PushState.SKIPPED, "updating the tracking code in the shop is off") for p in pending.parcels]
        )
        PUSHES.labels(connection.connector, "skipped").inc(len(pending.parcels))
        return await store.get_label(db, label_id)
    if connection.state is not ConnectionState.CONNECTED:
        PUSHES.labels(connection.connector, "auth_required").inc(len(pending.parcels))
        raise ConnectorAuthFailed(
            f"Connection {connection.id} is {connection.state.value}: "
            f"{lifecycle.ACTIONS[connection.state] or 'reconnect it'}"
        )
    contexts = {cid: await rt.context(connection, cid) for cid in rt.runner.connector_ids}
    try:
        outcomes = await rt.runner.on_label_created(contexts.__getitem__, stored.order, pending)
    except ConnectorAuthFailed as err:
        PUSHES.labels(connection.connector, "auth_required").inc(len(pending.parcels))
        log.warning("connection %s: push of label %s needs a reconnect: %s", connection.id, label_id, err)
        await mark_auth_required(rt, connection.id, err)
        raise
    except TransientError:
        PUSHES.labels(connection.connector, "retry").inc(len(pending.parcels))
        await store.record_outcomes(db, label_id, [(p.reference, PushState.PENDING, "will retry") for p in pending.parcels])
        raise
    states = {"confirmed": PushState.CONFIRMED, "failed": PushState.FAILED, "retry": PushState.PENDING}
    await store.record_outcomes(db, label_id, [(o.reference, states[o.state], o.message) for o in outcomes])
    retry_after = None
    for outcome in outcomes:
        PUSHES.labels(connection.connector, outcome.state).inc()
        if outcome.state == "retry":
            retry_after = max(retry_after or 0.0, outcome.retry_after or 0.0)
    log.info(
        "connection %s: label %s pushed: %s",
        connection.id, label_id, ", ".join(f"{o.reference}={o.state}" for o in outcomes),
    )
    if retry_after is not None:
        raise TransientError("Some parcels will be pushed again later.", retry_after=retry_after or None)
    return await store.get_label(db, label_id)


async def retry_label(rt: Runtime, label_id: int, account_id: int | None = None) -> StoredLabel:
    """Put a label's failed and skipped parcels back to pending and queue their push, in one transaction."""
    await store.get_label(rt.db.pool, label_id, account_id)
    async with rt.db.pool.acquire() as db, db.transaction():
        await store.reset_failed(db, label_id)
        await queue.enqueue_push(db, label_id)
        return await store.get_label(db, label_id)
