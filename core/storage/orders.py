"""Orders and their items: one row per (connection, external id), written a page at a time.

Recipients are encrypted. A fingerprint of the order as the connector mapped it decides whether
a re-imported order changed: an unchanged order writes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from core.crypto import Vault
from core.errors import NotFound
from core.models import Address, Order, OrderItem, OrderStatus, SkippedOrder

Db = asyncpg.Connection | asyncpg.Pool

_CLOSED = (OrderStatus.SHIPPED.value, OrderStatus.CANCELLED.value)


@dataclass
class PageCounts:
    """What writing one page did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, other: PageCounts) -> None:
        """Add another page's counts to these."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count


@dataclass(frozen=True)
class StoredOrder:
    """An order as stored: the hub's id, its connection, and the order itself."""

    id: int
    connection_id: int
    order: Order
    imported_at: datetime
    updated_at: datetime


def fingerprint(order: Order) -> str:
    """A digest of everything the connector mapped; equal digests mean nothing changed."""
    return hashlib.sha256(order.model_dump_json().encode()).hexdigest()


def _details(order: Order) -> dict[str, object]:
    return order.model_dump(mode="json", exclude={"recipient", "items", "external_id", "reference", "status"})


async def save_page(
    db: asyncpg.Connection, vault: Vault, connection_id: int, orders: list[Order], skipped: list[SkippedOrder]
) -> PageCounts:
    """Write one page of orders and skips; call inside the page's transaction.

    Open orders are inserted or updated. Shipped and cancelled orders only update orders already
    stored; one never stored is counted as skipped ("shipped elsewhere" / "cancelled").
    """
    counts = PageCounts()
    skipped = list(skipped)
    by_id = {order.external_id: order for order in orders}  # last wins within a page
    open_orders = [o for o in by_id.values() if o.status.value not in _CLOSED]
    closed_orders = [o for o in by_id.values() if o.status.value in _CLOSED]
    changed: list[tuple[int, Order]] = []
    if open_orders:
        rows = await db.fetch(
            """
            insert into orders (connection_id, external_id, reference, status, marketplace, shop_created_at,
                                shop_updated_at, recipient, details, fingerprint)
            select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                     $7::timestamptz[], $8::bytea[], $9::jsonb[], $10::text[])
            on conflict (connection_id, external_id) do update set
                reference = excluded.reference, status = excluded.status, marketplace = excluded.marketplace,
                shop_updated_at = excluded.shop_updated_at, recipient = excluded.recipient,
                details = excluded.details, fingerprint = excluded.fingerprint, updated_at = now(),
                closed_at = null
            where orders.fingerprint <> excluded.fingerprint
            returning id, external_id, (xmax = 0) as inserted
            """,
            connection_id,
            *_columns(vault, open_orders),
        )
        for row in rows:
            if row["inserted"]:
                counts.new += 1
            else:
                counts.updated += 1
            changed.append((row["id"], by_id[row["external_id"]]))
        counts.unchanged += len(open_orders) - len(rows)
    if closed_orders:
        rows = await db.fetch(
            """
            update orders set reference = c.reference, status = c.status, marketplace = c.marketplace,
                   -- shops withhold personal data of closed orders: keep what is stored until retention
                   shop_updated_at = c.updated, recipient = coalesce(c.recipient, orders.recipient), details = c.details,
                   fingerprint = c.fingerprint, updated_at = now(), closed_at = coalesce(orders.closed_at, now())
            from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                        $8::bytea[], $9::jsonb[], $10::text[])
                 as c(external_id, reference, status, marketplace, created, updated, recipient, details, fingerprint)
            where orders.connection_id = $1 and orders.external_id = c.external_id
              and orders.fingerprint <> c.fingerprint
            returning orders.id, orders.external_id
            """,
            connection_id,
            *_columns(vault, closed_orders),
        )
        changed.extend((row["id"], by_id[row["external_id"]]) for row in rows)
        counts.updated += len(rows)
        known = {
            row["external_id"]
            for row in await db.fetch(
                "select external_id from orders where connection_id = $1 and external_id = any($2::text[])",
                connection_id,
                [o.external_id for o in closed_orders],
            )
        }
        counts.unchanged += len(known) - len(rows)
        for order in closed_orders:
            if order.external_id not in known:
                reason = "shipped before import" if order.status is OrderStatus.SHIPPED else "cancelled before import"
                skipped.append(SkippedOrder(external_id=order.external_id, reason=reason))
    if changed:
        await _replace_items(db, changed)
    if skipped:
        await db.executemany(
            """
            insert into skipped_orders (connection_id, external_id, reason) values ($1, $2, $3)
            on conflict (connection_id, external_id) do update set reason = excluded.reason, seen_at = now()
            """,
            [(connection_id, skip.external_id, skip.reason) for skip in skipped],
        )
        for skip in skipped:
            counts.skipped[skip.reason] = counts.skipped.get(skip.reason, 0) + 1
    return counts


def _columns(vault: Vault, orders: list[Order]) -> list[list[object]]:
    return [
        [o.external_id for o in orders],
        [o.reference for o in orders],
        [o.status.value for o in orders],
        [o.marketplace for o in orders],
        [o.created_at for o in orders],
        [o.updated_at for o in orders],
        [vault.encrypt(o.recipient.model_dump(mode="json")) if o.recipient else None for o in orders],
        [_details(o) for o in orders],
        [fingerprint(o) for o in orders],
    ]


async def _replace_items(db: asyncpg.Connection, changed: list[tuple[int, Order]]) -> None:
    await db.execute("delete from order_items where order_id = any($1::bigint[])", [oid for oid, _ in changed])
    items = [(oid, item) for oid, order in changed for item in order.items]
    await db.execute(
        """
        insert into order_items (order_id, external_id, sku, product_id, title, quantity_ordered,
                                 quantity_unshipped, unit_price, currency)
        select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[],
                             $8::numeric[], $9::text[])
        """,
        [oid for oid, _ in items],
        [i.external_id for _, i in items],
        [i.sku for _, i in items],
        [i.product_id for _, i in items],
        [i.title for _, i in items],
        [i.quantity_ordered for _, i in items],
        [i.quantity_unshipped for _, i in items],
        [i.unit_price.amount if i.unit_price else None for _, i in items],
        [i.unit_price.currency if i.unit_price else None for _, i in items],
    )


_SELECT = """
    select o.*, coalesce(
        (select jsonb_agg(to_jsonb(i) order by i.id) from order_items i where i.order_id = o.id), '[]'::jsonb
    ) as items
    from orders o join connections c on c.id = o.connection_id
"""


def _to_stored(vault: Vault, row: asyncpg.Record) -> StoredOrder:
    recipient = Address.model_validate(vault.decrypt(row["recipient"])) if row["recipient"] is not None else None
    items = [
        OrderItem(
            external_id=i["external_id"],
            sku=i["sku"],
            product_id=i["product_id"],
            title=i["title"],
            quantity_ordered=i["quantity_ordered"],
            quantity_unshipped=i["quantity_unshipped"],
            unit_price={"amount": str(i["unit_price"]), "currency": i["currency"]} if i["currency"] else None,
        )
        for i in row["items"]
    ]
    order = Order.model_validate(
        {
            **row["details"],
            "external_id": row["external_id"],
            "reference": row["reference"],
            "status": row["status"],
            "recipient": recipient,
            "items": items,
        }
    )
    return StoredOrder(row["id"], row["connection_id"], order, row["imported_at"], row["updated_at"])


async def get_order(db: Db, vault: Vault, order_id: int, account_id: int | None = None) -> StoredOrder:
    """One stored order by the hub's id; with ``account_id``, only that account's."""
    row = await db.fetchrow(
        _SELECT + " where o.id = $1 and ($2::bigint is null or c.account_id = $2)", order_id, account_id
    )
    if row is None:
        raise NotFound(f"No order {order_id}: list them with `hub orders list`.")
    return _to_stored(vault, row)


async def find_order(db: Db, vault: Vault, connection_id: int, external_id: str) -> StoredOrder:
    """One stored order by its shop id within a connection."""
    row = await db.fetchrow(_SELECT + " where o.connection_id = $1 and o.external_id = $2", connection_id, external_id)
    if row is None:
        raise NotFound(f"No order {external_id} in connection {connection_id}: import first with `hub import`.")
    return _to_stored(vault, row)


async def list_orders(
    db: Db,
    vault: Vault,
    *,
    account_id: int | None = None,
    connection_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[StoredOrder]:
    """Stored orders, oldest first, filtered and paged by id."""
    rows = await db.fetch(
        _SELECT
        + """
        where ($1::bigint is null or c.account_id = $1) and ($2::bigint is null or o.connection_id = $2)
          and ($3::text is null or o.status = $3) and o.id > $4
        order by o.id limit $5
        """,
        account_id,
        connection_id,
        status,
        after_id,
        limit,
    )
    return [_to_stored(vault, row) for row in rows]


async def count_orders(db: Db, connection_id: int) -> int:
    """How many orders a connection has stored."""
    return await db.fetchval("select count(*) from orders where connection_id = $1", connection_id)
