"""Orders and their items: one row per (connection, external id), written a page at a time.

Recipients are encrypted. A fingerprint of the order as the connector mapped it decides whether
a re-imported order changed: an unchanged order writes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from core.crypto import Vault
from core.errors import NotFound
from core.models import Address, Money, Order, OrderItem, OrderStatus, SkippedOrder
from core.storage.database import Db


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


def _row(order: Order) -> tuple[dict[str, Any], str]:
    """The order as a JSON row for the page document (recipient still plain), and its fingerprint.

    The fingerprint is a digest of everything the connector mapped: equal digests mean nothing
    changed, and an unchanged order writes nothing.
    """
    row = order.model_dump(mode="json")
    digest = hashlib.sha256(orjson.dumps(row)).hexdigest()
    return row, digest


def _page(vault: Vault, orders: list[Order]) -> tuple[str, str]:
    """Two JSON documents for a page's statements: the orders' columns (recipients encrypted), and the items.

    A text parameter costs far less to send than an array per column (asyncpg checks each element
    of an array); PostgreSQL reads it with ``json_to_recordset``. ``json`` rather than ``jsonb``:
    it is read once, so building the binary form first would be wasted.
    """
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for order in orders:
        row, digest = _row(order)
        recipient, order_items = row.pop("recipient"), row.pop("items")
        external_id = row.pop("external_id")
        rows.append({
            "external_id": external_id,
            "reference": row.pop("reference"),
            "status": row.pop("status"),
            "marketplace": order.marketplace,
            "shop_references": row.pop("shop_references"),
            "created": row["created_at"],
            "updated": row["updated_at"],
            "recipient": vault.encrypt(recipient).decode() if recipient is not None else None,
            "details": row,
            "fingerprint": digest,
        })
        for item in order_items:
            price = item.pop("unit_price") or {}
            items.append({
                **item, "order": external_id, "unit_price": price.get("amount"), "currency": price.get("currency"),
                "n": len(items),  # the items keep the connector's order
            })
    return orjson.dumps(rows).decode(), orjson.dumps(items).decode()


#: The page document's columns (see ``_page``).
_PAGE = """
    json_to_recordset($2::json) as p(external_id text, reference text, status text, marketplace text,
                                     shop_references text[], created timestamptz, updated timestamptz,
                                     recipient text, details jsonb, fingerprint text)
"""


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
    changed: list[int] = []
    page, items = _page(vault, [*open_orders, *closed_orders])
    if open_orders:
        rows = await db.fetch(
            f"""
            insert into orders (connection_id, external_id, reference, status, marketplace, shop_references,
                                shop_created_at, shop_updated_at, recipient, details, fingerprint)
            select $1, p.external_id, p.reference, p.status, p.marketplace, p.shop_references, p.created, p.updated,
                   convert_to(p.recipient, 'UTF8'), p.details, p.fingerprint
            from {_PAGE}
            where p.status <> all($3::text[])
            on conflict (connection_id, external_id) do update set
                reference = excluded.reference, status = excluded.status, marketplace = excluded.marketplace,
                shop_references = excluded.shop_references, shop_updated_at = excluded.shop_updated_at, recipient = excluded.recipient,
                details = excluded.details, fingerprint = excluded.fingerprint, updated_at = now(),
                closed_at = null
            where orders.fingerprint <> excluded.fingerprint
            returning id, (xmax = 0) as inserted
            """,
            connection_id,
            page,
            list(_CLOSED),
        )
        for row in rows:
            if row["inserted"]:
                counts.new += 1
            else:
                counts.updated += 1
            changed.append(row["id"])
        counts.unchanged += len(open_orders) - len(rows)
    if closed_orders:
        rows = await db.fetch(
            f"""
            update orders set reference = p.reference, status = p.status, marketplace = p.marketplace,
                   shop_references = p.shop_references,
                   -- shops withhold personal data of closed orders: keep what is stored until retention
                   shop_updated_at = p.updated,
                   recipient = coalesce(convert_to(p.recipient, 'UTF8'), orders.recipient), details = p.details,
                   fingerprint = p.fingerprint, updated_at = now(), closed_at = coalesce(orders.closed_at, now())
            from {_PAGE}
            where p.status = any($3::text[])
              and orders.connection_id = $1 and orders.external_id = p.external_id
              and orders.fingerprint <> p.fingerprint
            returning orders.id
            """,
            connection_id,
            page,
            list(_CLOSED),
        )
        changed.extend(row["id"] for row in rows)
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
        await _replace_items(db, connection_id, changed, items)
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


async def _replace_items(db: asyncpg.Connection, connection_id: int, changed: list[int], items: str) -> None:
    """The items of the changed orders, as the page's item document has them."""
    await db.execute("delete from order_items where order_id = any($1::bigint[])", changed)
    await db.execute(
        """
        insert into order_items (order_id, external_id, sku, product_id, title, quantity_ordered,
                                 quantity_unshipped, unit_price, currency)
        select o.id, i.external_id, i.sku, i.product_id, i.title, i.quantity_ordered, i.quantity_unshipped,
               i.unit_price, i.currency
        from json_to_recordset($2::json)
             as i("order" text, external_id text, sku text, product_id text, title text, quantity_ordered int,
                  quantity_unshipped int, unit_price numeric, currency text, n int)
        join orders o on o.connection_id = $1 and o.external_id = i."order"
        where o.id = any($3::bigint[])
        order by i.n
        """,
        connection_id,
        items,
        changed,
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
            unit_price=Money(amount=i["unit_price"], currency=i["currency"]) if i["currency"] else None,
        )
        for i in row["items"]
    ]
    order = Order.model_validate(
        {
            **row["details"],
            "external_id": row["external_id"],
            "reference": row["reference"],
            "status": row["status"],
            "shop_references": row["shop_references"],
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


async def forget_recipients(db: Db, days: int) -> int:
    """Delete the recipients of orders shipped or cancelled more than ``days`` ago; return how many."""
    result = await db.execute(
        """
        update orders set recipient = null
        where recipient is not null and closed_at < now() - make_interval(days => $1)
        """,
        days,
    )
    return int(result.split()[-1])
