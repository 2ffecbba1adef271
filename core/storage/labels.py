"""Labels and their parcels, with each parcel's tracking-push state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.errors import NotFound
from core.models import Label, Parcel, ParcelItem, PushState

Db = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class StoredParcel:
    """A parcel as stored, with its push state."""

    id: int
    reference: str
    tracking_number: str
    items: list[ParcelItem]
    push_state: PushState
    push_message: str | None
    push_attempts: int
    pushed_at: datetime | None


@dataclass(frozen=True)
class StoredLabel:
    """A label as stored: the hub's id, its order, and its parcels."""

    id: int
    order_id: int
    external_id: str
    carrier: str
    shipping_method: str | None
    ship_date: datetime
    created_at: datetime
    parcels: list[StoredParcel]

    def parcels_in(self, *states: PushState) -> list[StoredParcel]:
        """The parcels whose push is in one of ``states``."""
        return [p for p in self.parcels if p.push_state in states]

    def as_label(self, states: tuple[PushState, ...] = (PushState.PENDING,)) -> Label:
        """The hook model, with only the parcels in ``states`` (at least one must be)."""
        return Label(
            external_id=self.external_id,
            carrier=self.carrier,
            shipping_method=self.shipping_method,
            ship_date=self.ship_date,
            parcels=[
                Parcel(reference=p.reference, tracking_number=p.tracking_number, items=p.items)
                for p in self.parcels
                if p.push_state in states
            ],
        )


async def next_reference(db: asyncpg.Connection, order_id: int) -> int:
    """The next free numeric parcel reference within an order (locks the order's parcels)."""
    await db.execute("select id from orders where id = $1 for update", order_id)
    highest = await db.fetchval(
        "select max(reference::bigint) from parcels where order_id = $1 and reference ~ '^[0-9]+$'", order_id
    )
    return (highest or 0) + 1


async def insert_label(db: asyncpg.Connection, order_id: int, label: Label) -> int:
    """Insert a label and its parcels; return the label id."""
    label_id = await db.fetchval(
        """
        insert into labels (order_id, external_id, carrier, shipping_method, ship_date)
        values ($1, $2, $3, $4, $5) returning id
        """,
        order_id,
        label.external_id,
        label.carrier,
        label.shipping_method,
        label.ship_date,
    )
    await db.executemany(
        "insert into parcels (label_id, order_id, reference, tracking_number, items) values ($1, $2, $3, $4, $5)",
        [
            (label_id, order_id, p.reference, p.tracking_number, [i.model_dump() for i in p.items])
            for p in label.parcels
        ],
    )
    return label_id


async def find_label(db: Db, order_id: int, external_id: str) -> int | None:
    """The id of a label by its platform id within an order, if stored."""
    return await db.fetchval("select id from labels where order_id = $1 and external_id = $2", order_id, external_id)


async def get_label(db: Db, label_id: int, account_id: int | None = None) -> StoredLabel:
    """One label with its parcels; with ``account_id``, only that account's."""
    row = await db.fetchrow(
        """
        select l.* from labels l join orders o on o.id = l.order_id join connections c on c.id = o.connection_id
        where l.id = $1 and ($2::bigint is null or c.account_id = $2)
        """,
        label_id,
        account_id,
    )
    if row is None:
        raise NotFound(f"No label {label_id}.")
    parcels = await db.fetch("select * from parcels where label_id = $1 order by id", label_id)
    return StoredLabel(
        id=row["id"],
        order_id=row["order_id"],
        external_id=row["external_id"],
        carrier=row["carrier"],
        shipping_method=row["shipping_method"],
        ship_date=row["ship_date"],
        created_at=row["created_at"],
        parcels=[
            StoredParcel(
                id=p["id"],
                reference=p["reference"],
                tracking_number=p["tracking_number"],
                items=[ParcelItem.model_validate(i) for i in p["items"]],
                push_state=PushState(p["push_state"]),
                push_message=p["push_message"],
                push_attempts=p["push_attempts"],
                pushed_at=p["pushed_at"],
            )
            for p in parcels
        ],
    )


async def labels_of_order(db: Db, order_id: int) -> list[int]:
    """The ids of an order's labels, oldest first."""
    return [row["id"] for row in await db.fetch("select id from labels where order_id = $1 order by id", order_id)]


async def parcel_quantities(db: Db, order_id: int) -> dict[str, int]:
    """How many of each order item already travel in this order's parcels.

    Failed parcels count too: Amazon may have taken a parcel whose answer was lost, and a retry
    reuses its reference; counting its items again would send them twice under a new reference.
    """
    rows = await db.fetch(
        """
        select item->>'item_external_id' as item, sum((item->>'quantity')::int) as quantity
        from parcels, jsonb_array_elements(items) as item
        where order_id = $1
        group by 1
        """,
        order_id,
    )
    return {row["item"]: row["quantity"] for row in rows}


async def record_outcome(db: Db, label_id: int, reference: str, state: PushState, message: str | None) -> None:
    """Store what the shop said to one parcel's push."""
    await db.execute(
        """
        update parcels set push_state = $3, push_message = $4, push_attempts = push_attempts + 1,
               pushed_at = case when $3 = 'confirmed' then now() else pushed_at end
        where label_id = $1 and reference = $2
        """,
        label_id,
        reference,
        state.value,
        message,
    )


async def record_outcomes(
    db: asyncpg.Connection, label_id: int, outcomes: list[tuple[str, PushState, str | None]]
) -> None:
    """Store what the shop said to several parcels of a label, in one statement."""
    await db.execute(
        """
        update parcels set push_state = o.state, push_message = o.message, push_attempts = push_attempts + 1,
               pushed_at = case when o.state = 'confirmed' then now() else pushed_at end
        from unnest($2::text[], $3::text[], $4::text[]) as o(reference, state, message)
        where parcels.label_id = $1 and parcels.reference = o.reference
        """,
        label_id,
        [reference for reference, _, _ in outcomes],
        [state.value for _, state, _ in outcomes],
        [message for _, _, message in outcomes],
    )


async def reset_failed(db: Db, label_id: int) -> int:
    """Put a label's failed and skipped parcels back to pending for a retry; return how many."""
    result = await db.execute(
        "update parcels set push_state = 'pending', push_message = null "
        "where label_id = $1 and push_state in ('failed', 'skipped')",
        label_id,
    )
    return int(result.split()[-1])
