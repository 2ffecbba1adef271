"""Labels and their parcels, with each parcel's tracking-push state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from core.contract.errors import NotFound
from core.contract.models import Connection, Label, Parcel, ParcelItem, PushState
from core.storage.connections import to_connection
from core.storage.database import DATABASE_FAULTS, Db
from core.storage.jobqueue import PUSH_JOB


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
    shop_reference: str | None = None


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


@dataclass(frozen=True)
class LabelTarget:
    """What recording a label needs to know of its order, read under the order's row lock."""

    status: str
    existing_label: int | None  # a label with the same platform id, if recorded already
    next_reference: int  # the next numeric parcel reference, above every one the hub or the shop holds
    items: dict[str, tuple[int, int]]  # item id -> (quantity ordered, quantity unshipped per the shop)
    in_parcels: dict[str, int]  # item id -> quantity in this order's hub parcels
    #: item id -> quantity in hub parcels the shop did not show at the last import (so its
    #: quantity_unshipped does not count them yet); with no shop references known, none.
    not_at_shop: dict[str, int]
    #: tracking number -> (label id, parcel reference) of the order's parcels
    tracking_numbers: dict[str, tuple[int, str]]

    def remaining(self) -> dict[str, int]:
        """What is left to ship per item: never more than the shop's view, less what the hub sent since.

        The shop's ``quantity_unshipped`` (as imported) counts what was shipped outside the hub and
        the hub's parcels it shows; the hub's parcels it does not show yet come off it. Never more
        than ordered less every hub parcel either.
        """
        return {
            item_id: max(
                0,
                min(ordered - self.in_parcels.get(item_id, 0), unshipped - self.not_at_shop.get(item_id, 0)),
            )
            for item_id, (ordered, unshipped) in self.items.items()
        }


#: The longest numeric reference read as a number (PostgreSQL's bigint holds 18 digits safely).
_MAX_DIGITS = 18


def _numeric(reference: str) -> int:
    """A reference's number, or 0 when it is not a plain positive number."""
    if reference.isascii() and reference.isdigit() and len(reference) <= _MAX_DIGITS:
        return int(reference)
    return 0


@contextlib.asynccontextmanager
async def order_locked(db: asyncpg.Connection, order_id: int, account_id: int | None = None) -> AsyncIterator[None]:
    """A transaction that holds an order's row lock from its start: commits when the block ends, else rolls back.

    BEGIN and the lock go in one round trip, a simple-protocol message (it takes no parameters:
    the ids, integers, are written into it). An order that is not there, or another account's,
    locks nothing: ``label_target`` then finds no order.
    """
    account = "" if account_id is None else f" and c.account_id = {int(account_id)}"
    try:
        await db.execute(
            "begin; select 1 from orders o join connections c on c.id = o.connection_id "
            f"where o.id = {int(order_id)}{account} for update of o"
        )
        yield
    except BaseException:
        if not db.is_closed() and db.is_in_transaction():
            with contextlib.suppress(*DATABASE_FAULTS):  # else the pool rolls back when it takes the connection
                await asyncio.shield(db.execute("rollback"))
        raise
    await db.execute("commit")


async def label_target(
    db: asyncpg.Connection, order_id: int, external_id: str, account_id: int | None = None
) -> LabelTarget:
    """What a new label of an order needs, read after the order is locked (``order_locked``).

    A statement of its own after the lock: a statement sees the data as of its start, so reads
    in the locking statement itself would miss a label another request committed while this one
    waited for the lock. Parcels of failed pushes count as in parcels: Amazon may have taken a
    parcel whose answer was lost, and a retry reuses its reference; counting its items again
    would send them twice under a new reference. The next reference is above both the hub's and
    the shop's references, so a new parcel never edits a package the shop holds. The recipient is
    not read (nor decrypted). The order's tracking numbers come with the rest (a new label must
    not repeat one).
    """
    row = await db.fetchrow(
        """
        select o.status, o.shop_references,
               (select id from labels where order_id = o.id and external_id = $2) as existing_label,
               (select max(reference::bigint) from parcels
                 where order_id = o.id and reference ~ '^[0-9]{1,18}$') as highest_reference,
               (select coalesce(jsonb_agg(jsonb_build_array(external_id, quantity_ordered, quantity_unshipped)
                                          order by id), '[]'::jsonb)
                  from order_items where order_id = o.id) as items,
               (select coalesce(jsonb_object_agg(item, jsonb_build_array(quantity, not_at_shop)), '{}'::jsonb) from (
                    select item->>'item_external_id' as item, sum((item->>'quantity')::int) as quantity,
                           coalesce(sum((item->>'quantity')::int)
                                    filter (where p.reference <> all(o.shop_references)), 0) as not_at_shop
                    from parcels p, jsonb_array_elements(p.items) as item where p.order_id = o.id group by 1
                ) as used) as in_parcels,
               (select coalesce(jsonb_object_agg(tracking_number, jsonb_build_array(label_id, reference)), '{}'::jsonb)
                  from parcels where order_id = o.id) as tracking_numbers
        from orders o join connections c on c.id = o.connection_id
        where o.id = $1 and ($3::bigint is null or c.account_id = $3)
        """,
        order_id,
        external_id,
        account_id,
    )
    if row is None:
        raise NotFound(f"No order {order_id}: list them with `hub orders list`.")
    shop_references: list[str] = row["shop_references"] or []
    highest = max([row["highest_reference"] or 0, *(_numeric(reference) for reference in shop_references)])
    used: dict[str, list[int]] = row["in_parcels"]
    return LabelTarget(
        status=row["status"],
        existing_label=row["existing_label"],
        next_reference=highest + 1,
        items={item_id: (ordered, unshipped) for item_id, ordered, unshipped in row["items"]},
        in_parcels={item_id: quantity for item_id, (quantity, _) in used.items()},
        not_at_shop={item_id: missing for item_id, (_, missing) in used.items() if missing},
        tracking_numbers={number: (label_id, reference) for number, (label_id, reference) in row["tracking_numbers"].items()},
    )


async def insert_label(db: asyncpg.Connection, order_id: int, label: Label) -> StoredLabel:
    """Insert a label and its parcels, and queue its push job, in one statement; return the label as stored.

    The job is pgqueuer's (``core.storage.jobqueue.PUSH_JOB``), so it commits with the label or not at all.
    """
    rows = await db.fetch(
        """
        with label as (
            insert into labels (order_id, external_id, carrier, shipping_method, ship_date)
            values ($1, $2, $3, $4, $5) returning *
        ), parcel as (
            insert into parcels (label_id, order_id, reference, tracking_number, items)
            select label.id, $1, p.reference, p.tracking_number, p.items
            from label,
                 unnest($6::text[], $7::text[], $8::jsonb[]) with ordinality as p(reference, tracking_number, items, n)
            order by p.n
            returning *
        ),
        """
        + PUSH_JOB
        + """
        select label.created_at as label_created_at, parcel.*
        from label join parcel on parcel.label_id = label.id order by parcel.id
        """,
        order_id,
        label.external_id,
        label.carrier,
        label.shipping_method,
        label.ship_date,
        [p.reference for p in label.parcels],
        [p.tracking_number for p in label.parcels],
        # JSON text per parcel: a list of lists would be read as a two-dimensional array.
        [orjson.dumps([i.model_dump() for i in p.items]).decode() for p in label.parcels],
    )
    return StoredLabel(
        id=rows[0]["label_id"],  # from the parcel rows: the label's id is in each
        order_id=order_id,
        external_id=label.external_id,
        carrier=label.carrier,
        shipping_method=label.shipping_method,
        ship_date=label.ship_date,
        created_at=rows[0]["label_created_at"],
        parcels=[_parcel(row) for row in rows],
    )


async def find_label(db: Db, order_id: int, external_id: str) -> int | None:
    """The id of a label by its platform id within an order, if stored."""
    return await db.fetchval("select id from labels where order_id = $1 and external_id = $2", order_id, external_id)


async def get_label(db: Db, label_id: int, account_id: int | None = None) -> StoredLabel:
    """One label with its parcels; with ``account_id``, only that account's."""
    row = await db.fetchrow(
        f"""
        select l.*, {_PARCELS_OF.format(label="l")} as parcels
        from labels l join orders o on o.id = l.order_id join connections c on c.id = o.connection_id
        where l.id = $1 and ($2::bigint is null or c.account_id = $2)
        """,
        label_id,
        account_id,
    )
    if row is None:
        raise NotFound(f"No label {label_id}.")
    return _label(row, row["parcels"])


#: A label's parcels as an array of ``parcels`` rows, oldest first. By the order's id as well: the
#: (order_id, reference) index finds them (there is no index on label_id alone).
_PARCELS_OF = "array(select p from parcels p where p.order_id = {label}.order_id and p.label_id = {label}.id order by p.id)"


def _label(row: asyncpg.Record, parcels: list[asyncpg.Record]) -> StoredLabel:
    return StoredLabel(
        id=row["id"],
        order_id=row["order_id"],
        external_id=row["external_id"],
        carrier=row["carrier"],
        shipping_method=row["shipping_method"],
        ship_date=row["ship_date"],
        created_at=row["created_at"],
        parcels=[_parcel(p) for p in parcels],
    )


def _parcel(row: asyncpg.Record) -> StoredParcel:
    return StoredParcel(
        id=row["id"],
        reference=row["reference"],
        tracking_number=row["tracking_number"],
        items=[ParcelItem.model_validate(i) for i in row["items"]],
        push_state=PushState(row["push_state"]),
        push_message=row["push_message"],
        push_attempts=row["push_attempts"],
        pushed_at=row["pushed_at"],
        shop_reference=row["shop_reference"],
    )


async def connector_of(db: Db, label_id: int) -> str | None:
    """The connector of the connection a label's order came from."""
    return await db.fetchval(
        "select c.connector from labels l join orders o on o.id = l.order_id join connections c on c.id = o.connection_id"
        " where l.id = $1",
        label_id,
    )


@dataclass(frozen=True)
class PushStart:
    """What a push reads as it takes the label's lease: the label, its order and the order's connection."""

    label: StoredLabel
    #: the ``orders`` row with its ``items`` (as ``core.storage.orders`` reads one), recipient still sealed
    order: dict[str, Any]
    connection: Connection
    credentials: bytes | None  # sealed (core.infra.crypto.Vault)
    event_token: str | None


async def begin_push(db: Db, label_id: int, owner: UUID, seconds: float) -> PushStart | None:
    """Take a label's push lease for ``owner`` unless another live lease holds it, and read what the push needs.

    One statement. ``None`` when another live lease holds the label, or there is no such label. The parcels are
    read with a share lock, so they are the latest committed ones even when the lease was taken
    after waiting for a push that was storing its outcome (its lease had run out meanwhile).
    """
    row = await db.fetchrow(
        """
        with taken as (
            update labels set push_owner = $2, push_until = now() + make_interval(secs => $3)
            where id = $1 and (push_until is null or push_until < now())
            returning *
        ), current as (
            -- A locking read: a push that waited above for one finishing reads the parcels as that
            -- one committed them, not as they were when this statement began.
            select p as parcel, p.id from parcels p join taken t on p.order_id = t.order_id and p.label_id = t.id
            for share of p
        )
        select t.*, array(select parcel from current order by id) as parcels, o as "order",
               coalesce((select jsonb_agg(to_jsonb(i) order by i.id) from order_items i where i.order_id = o.id),
                        '[]'::jsonb) as items,
               c as connection, c.credentials, c.event_token
        from taken t join orders o on o.id = t.order_id join connections c on c.id = o.connection_id
        """,
        label_id,
        owner,
        seconds,
    )
    if row is None:
        return None
    return PushStart(
        label=_label(row, row["parcels"]),
        order={**row["order"], "items": row["items"]},
        connection=to_connection(row["connection"]),
        credentials=row["credentials"],
        event_token=row["event_token"],
    )


async def lease_left(db: Db, label_id: int) -> float | None:
    """Seconds until a label's push lease expires (0 when it has); ``None`` when there is no such label."""
    return await db.fetchval(
        "select greatest(extract(epoch from push_until - now()), 0)::float8 from labels where id = $1", label_id
    )


async def renew_lease(db: Db, label_id: int, owner: UUID, seconds: float) -> None:
    """Extend ``owner``'s lease on a label by ``seconds`` from now, if it still holds it."""
    await db.execute(
        "update labels set push_until = now() + make_interval(secs => $3) where id = $1 and push_owner = $2",
        label_id,
        owner,
        seconds,
    )


async def release_lease(db: Db, label_id: int, owner: UUID) -> None:
    """Give up ``owner``'s lease on a label, if it still holds it."""
    await db.execute(
        "update labels set push_owner = null, push_until = null where id = $1 and push_owner = $2", label_id, owner
    )


async def labels_with_pending(db: Db, connection_id: int) -> list[int]:
    """The ids of a connection's labels with parcels still to push."""
    rows = await db.fetch(
        """
        select distinct p.label_id from parcels p join orders o on o.id = p.order_id
        where o.connection_id = $1 and p.push_state = 'pending'
        """,
        connection_id,
    )
    return [row["label_id"] for row in rows]


async def labels_of_order(db: Db, order_id: int) -> list[int]:
    """The ids of an order's labels, oldest first."""
    return [row["id"] for row in await db.fetch("select id from labels where order_id = $1 order by id", order_id)]


async def record_outcome(db: Db, label_id: int, reference: str, state: PushState, message: str | None) -> None:
    """Store what the shop said to one parcel's push."""
    await db.execute(
        """
        update parcels set push_state = $3, push_message = $4, push_attempts = push_attempts + 1,
               pushed_at = case when $3 = 'confirmed' then now() else pushed_at end
        where order_id = (select order_id from labels where id = $1) and label_id = $1 and reference = $2
        """,
        label_id,
        reference,
        state.value,
        message,
    )


async def finish_push(
    db: Db,
    label_id: int,
    outcomes: list[tuple[str, PushState, str | None]],
    lease_owner: UUID | None = None,
    accepted: dict[str, tuple[str, float]] | None = None,
    release: bool = True,
) -> tuple[bool, list[StoredParcel]]:
    """Store what the shop said to several parcels of a label and by default give the lease up, in one statement.

    ``accepted`` gives, per reference of a parcel the shop accepted, its ``shop_reference`` and
    the seconds until core asks the shop about it. With ``lease_owner``, only while that push
    still holds the label's lease (the label row is locked for the check, so a takeover
    committing meanwhile is seen). Returns whether the lease held, and the parcels changed.
    """
    accepted = accepted or {}
    row = await db.fetchrow(
        """
        with lease as (
            select id, order_id from labels
            where id = $1 and ($5::uuid is null or push_owner = $5) for no key update
        ), recorded as (
            update parcels set push_state = o.state, push_message = o.message, push_attempts = push_attempts + 1,
                   pushed_at = case when o.state = 'confirmed' then now() else pushed_at end,
                   shop_reference = coalesce(o.shop_reference, parcels.shop_reference),
                   accepted_at = case when o.state = 'accepted' then now() else accepted_at end,
                   checks = case when o.state = 'accepted' then 0 else checks end,
                   check_after = case when o.state = 'accepted' then now() + make_interval(secs => o.check_in) end
            from lease, unnest($2::text[], $3::text[], $4::text[], $6::text[], $7::float8[])
                 as o(reference, state, message, shop_reference, check_in)
            -- by (order_id, reference): the index finds the parcel
            where parcels.order_id = lease.order_id and parcels.reference = o.reference and parcels.label_id = $1
            returning parcels
        ), released as (
            update labels set push_owner = null, push_until = null
            where $8 and id = $1 and push_owner = $5 and exists (select 1 from lease)
        )
        select exists (select 1 from lease) as held, array(select parcels from recorded order by (parcels).id) as parcels
        """,
        label_id,
        [reference for reference, _, _ in outcomes],
        [state.value for _, state, _ in outcomes],
        [message for _, _, message in outcomes],
        lease_owner,
        [accepted.get(reference, (None, 0.0))[0] for reference, _, _ in outcomes],
        [accepted.get(reference, (None, 0.0))[1] for reference, _, _ in outcomes],
        release and lease_owner is not None,
    )
    return row["held"], [_parcel(parcel) for parcel in row["parcels"]]


async def reset_failed(db: Db, label_id: int) -> int:
    """Put a label's failed and skipped parcels back to pending for a retry; return how many."""
    result = await db.execute(
        "update parcels set push_state = 'pending', push_message = null "
        "where order_id = (select order_id from labels where id = $1) and label_id = $1 and push_state in ('failed', 'skipped')",
        label_id,
    )
    return int(result.split()[-1])


async def repend_skipped(db: Db, label_id: int) -> int:
    """Put a label's skipped parcels (the tracking setting was off) back to pending; return how many."""
    result = await db.execute(
        "update parcels set push_state = 'pending', push_message = null "
        "where order_id = (select order_id from labels where id = $1) and label_id = $1 and push_state = 'skipped'",
        label_id,
    )
    return int(result.split()[-1])


@dataclass(frozen=True)
class AcceptedRow:
    """A parcel the shop accepted and core is due to ask about, with what the question needs."""

    id: int
    label_id: int
    reference: str
    shop_reference: str
    tracking_number: str
    order_external_id: str
    accepted_at: datetime
    checks: int


async def due_accepted(db: Db, connection_id: int, limit: int) -> list[AcceptedRow]:
    """A connection's accepted parcels due a question (``check_after`` passed), longest due first."""
    rows = await db.fetch(
        """
        select p.id, p.label_id, p.reference, p.shop_reference, p.tracking_number, o.external_id,
               coalesce(p.accepted_at, p.pushed_at, now()) as accepted_at, p.checks
        from parcels p join orders o on o.id = p.order_id
        where o.connection_id = $1 and p.push_state = 'accepted' and p.check_after <= now()
        order by p.check_after limit $2
        """,
        connection_id,
        limit,
    )
    return [AcceptedRow(*row) for row in rows]


async def record_checks(db: Db, results: list[tuple[int, PushState, str | None, float]]) -> None:
    """Store what the shop said about accepted parcels: (parcel id, new state, message, seconds to the next question).

    Only parcels still accepted change (a merchant's retry or a push meanwhile wins).
    """
    await db.execute(
        """
        update parcels set push_state = r.state, push_message = coalesce(r.message, push_message),
               pushed_at = case when r.state = 'confirmed' then now() else pushed_at end,
               checks = checks + 1,
               check_after = case when r.state = 'accepted' then now() + make_interval(secs => r.next_in) end
        from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) as r(id, state, message, next_in)
        where parcels.id = r.id and parcels.push_state = 'accepted'
        """,
        [parcel_id for parcel_id, _, _, _ in results],
        [state.value for _, state, _, _ in results],
        [message for _, _, message, _ in results],
        [next_in for _, _, _, next_in in results],
    )


async def check_now(db: Db, connection_id: int, shop_references: list[str]) -> int:
    """Make a connection's accepted parcels with these shop references due at once; return how many."""
    result = await db.execute(
        """
        update parcels p set check_after = now()
        from orders o
        where o.id = p.order_id and o.connection_id = $1 and p.push_state = 'accepted'
          and p.shop_reference = any($2::text[])
        """,
        connection_id,
        shop_references,
    )
    return int(result.split()[-1])


async def connections_due_checks(db: Db) -> list[int]:
    """Working connections with accepted parcels due a question."""
    rows = await db.fetch(
        """
        select distinct o.connection_id from parcels p
        join orders o on o.id = p.order_id join connections c on c.id = o.connection_id
        where p.push_state = 'accepted' and p.check_after <= now() and c.state in ('connected', 'error')
        """
    )
    return [row["connection_id"] for row in rows]
