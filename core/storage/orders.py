"""Orders and their items: one row per (connection, external id), written a page at a time; the
Shipments work list read a keyset page at a time.

Recipients are encrypted. A fingerprint of the order as the connector mapped it decides whether
a re-imported order changed: an unchanged order writes nothing. Beside each order the list keeps
its account, its deadline (ship-by, else deliver-by), where it stands for the merchant (kept by the
database, migration 0006) and keyed hashes of its recipient's words, so that a search finds a name
or a city without decrypting a single row.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson

from core.contract.errors import NotFound
from core.contract.models import Address, Money, Order, OrderItem, OrderStatus, ParcelItem, PushState, SkippedOrder
from core.infra.crypto import Vault
from core.storage.database import Db
from core.storage.labels import StoredLabel, StoredParcel

_CLOSED = (OrderStatus.SHIPPED.value, OrderStatus.CANCELLED.value)

#: Where an order stands for the merchant (see ``WORK_STATES``).
WorkState = Literal["to_ship", "attention", "shipped", "cancelled"]


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
    #: Where the order stands for the merchant (see ``WORK_STATES``).
    work_state: WorkState = "to_ship"


def _row(order: Order) -> tuple[dict[str, Any], str]:
    """The order as a JSON row for the page document (recipient still plain), and its fingerprint.

    The fingerprint is a digest of everything the connector mapped: equal digests mean nothing
    changed, and an unchanged order writes nothing.
    """
    row = order.model_dump(mode="json")
    digest = hashlib.sha256(orjson.dumps(row)).hexdigest()
    return row, digest


#: What the key for recipient search tokens is derived for (``Vault.derive``).
SEARCH_PURPOSE = "hub recipient search v1"
#: Hex digits kept of each token's HMAC-SHA256: 96 bits, no collision in any one account's orders.
_TOKEN_HEX = 24
_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words of a name, city or query as search compares them: no accents, case folded, two characters or more."""
    if text.isascii():  # most names and cities: nothing to take off
        plain = text.casefold()
    else:
        plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).casefold()
    return [word for word in _WORD.findall(plain) if len(word) >= 2]


class _Hmac:
    """HMAC-SHA256 under one key with its padded key states hashed once (RFC 2104): the same values
    as ``hmac.new(key, word, sha256)``, in less than half the time for the short words of a name."""

    _BLOCK = 64  # SHA-256's block size

    def __init__(self, key: bytes) -> None:
        if len(key) > self._BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self._BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def hexdigest(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message``, in hex."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@functools.lru_cache(maxsize=8)
def _hmac(key: bytes) -> _Hmac:
    return _Hmac(key)


def _tokens(key: bytes, words: Iterable[str]) -> list[str]:
    mac = _hmac(key)
    return sorted({mac.hexdigest(word.encode())[:_TOKEN_HEX] for word in words})


def recipient_tokens(key: bytes, address: Address) -> list[str]:
    """Keyed hashes of the words a merchant searches a recipient by: name, company, city and postal code.

    Whole words only (no prefixes: they would tell more about a name to whoever holds the
    database). The postal code counts also without its spaces, as merchants type it either way.
    """
    words = [word for part in (address.name, address.company, address.city) if part for word in search_words(part)]
    if address.postal_code:
        postal = search_words(address.postal_code)
        words += [*postal, "".join(postal)]
    return _tokens(key, words)


def _due(order: Order) -> str | None:
    """The shop's deadline: the latest ship date, else (a shop that gives only that) the latest delivery date."""
    for window in (order.ship_by, order.deliver_by):
        if window is not None and window.latest is not None:
            return window.latest.isoformat()
    return None


def _page(vault: Vault, orders: list[Order]) -> tuple[str, str]:
    """Two JSON documents for a page's statements: the orders' columns (recipients encrypted), and the items.

    A text parameter costs far less to send than an array per column (asyncpg checks each element
    of an array); PostgreSQL reads it with ``json_to_recordset``. ``json`` rather than ``jsonb``:
    it is read once, so building the binary form first would be wasted.
    """
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    search_key = vault.derive(SEARCH_PURPOSE)
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
            "due": _due(order),
            "tokens": recipient_tokens(search_key, order.recipient) if order.recipient is not None else None,
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
                                     recipient text, details jsonb, fingerprint text,
                                     due timestamptz, tokens text[])
"""


#: The item document's columns (see ``_page``).
_ITEMS = """
    json_to_recordset($4::json) as i("order" text, external_id text, sku text, product_id text, title text,
                                     quantity_ordered int, quantity_unshipped int, unit_price numeric,
                                     currency text, n int)
"""

#: Open orders inserted or updated, and the items of the new ones, in one statement. The items
#: join the orders the statement wrote (not the table): whatever the planner thinks of the table's
#: size, no page reads more of it than its own orders' keys.
_SAVE_OPEN = f"""
    with written as (
        insert into orders (connection_id, external_id, reference, status, marketplace, shop_references,
                            shop_created_at, shop_updated_at, recipient, details, fingerprint,
                            account_id, due_at, recipient_tokens)
        select $1, p.external_id, p.reference, p.status, p.marketplace, p.shop_references, p.created, p.updated,
               convert_to(p.recipient, 'UTF8'), p.details, p.fingerprint,
               (select account_id from connections where id = $1), coalesce(p.due, 'infinity'), p.tokens
        from {_PAGE}
        where p.status <> all($3::text[])
        on conflict (connection_id, external_id) do update set
            reference = excluded.reference, status = excluded.status, marketplace = excluded.marketplace,
            shop_references = excluded.shop_references, shop_updated_at = excluded.shop_updated_at,
            recipient = excluded.recipient, details = excluded.details, fingerprint = excluded.fingerprint,
            updated_at = now(), closed_at = null, due_at = excluded.due_at, recipient_tokens = excluded.recipient_tokens
        where orders.fingerprint <> excluded.fingerprint
        returning id, external_id, (xmax = 0) as inserted
    ), new_items as (
        -- a new order has no items yet; an updated one has, and gets them in _replace_items
        insert into order_items (order_id, external_id, sku, product_id, title, quantity_ordered,
                                 quantity_unshipped, unit_price, currency)
        select w.id, i.external_id, i.sku, i.product_id, i.title, i.quantity_ordered, i.quantity_unshipped,
               i.unit_price, i.currency
        from {_ITEMS} join written w on w.external_id = i."order" and w.inserted
        order by i.n
    )
    select id, external_id, inserted from written
"""


@dataclass(frozen=True)
class PreparedPage:
    """A page of orders made ready for ``write_page``: the documents its statements read, built
    (recipients encrypted, search tokens made) before the page's transaction, so that a caller
    can prepare one page while PostgreSQL writes the one before."""

    open_orders: list[Order]
    closed_orders: list[Order]
    skipped: list[SkippedOrder]
    page: str
    items: str


def prepare_page(vault: Vault, orders: list[Order], skipped: list[SkippedOrder]) -> PreparedPage:
    """The documents of one page of orders and skips (each order id once: the last wins)."""
    by_id = {order.external_id: order for order in orders}  # last wins within a page
    open_orders = [o for o in by_id.values() if o.status.value not in _CLOSED]
    closed_orders = [o for o in by_id.values() if o.status.value in _CLOSED]
    page, items = _page(vault, [*open_orders, *closed_orders])
    return PreparedPage(open_orders, closed_orders, list(skipped), page, items)


async def save_page(
    db: asyncpg.Connection, vault: Vault, connection_id: int, orders: list[Order], skipped: list[SkippedOrder]
) -> PageCounts:
    """Write one page of orders and skips; call inside the page's transaction (``prepare_page`` and ``write_page``)."""
    return await write_page(db, connection_id, prepare_page(vault, orders, skipped))


async def write_page(db: asyncpg.Connection, connection_id: int, prepared: PreparedPage) -> PageCounts:
    """Write one prepared page; call inside the page's transaction.

    Open orders are inserted or updated. Shipped and cancelled orders only update orders already
    stored; one never stored is counted as skipped ("shipped elsewhere" / "cancelled"). A page of
    new orders is one statement (orders and items), plus one for its skips.
    """
    counts = PageCounts()
    skipped = list(prepared.skipped)
    open_orders, closed_orders, page, items = (
        prepared.open_orders, prepared.closed_orders, prepared.page, prepared.items
    )
    updated: dict[str, int] = {}  # orders stored before and changed: external id -> id
    if open_orders:
        rows = await db.fetch(_SAVE_OPEN, connection_id, page, list(_CLOSED), items)
        for row in rows:
            if row["inserted"]:
                counts.new += 1
            else:
                updated[row["external_id"]] = row["id"]
        counts.updated += len(updated)
        counts.unchanged += len(open_orders) - len(rows)
    if closed_orders:
        rows = await db.fetch(
            f"""
            update orders set reference = p.reference, status = p.status, marketplace = p.marketplace,
                   shop_references = p.shop_references,
                   -- shops withhold personal data of closed orders: keep what is stored until retention
                   shop_updated_at = p.updated,
                   recipient = coalesce(convert_to(p.recipient, 'UTF8'), orders.recipient), details = p.details,
                   fingerprint = p.fingerprint, updated_at = now(), closed_at = coalesce(orders.closed_at, now()),
                   due_at = coalesce(p.due, 'infinity'), recipient_tokens = coalesce(p.tokens, orders.recipient_tokens)
            from {_PAGE}
            where p.status = any($3::text[])
              and orders.connection_id = $1 and orders.external_id = p.external_id
              and orders.fingerprint <> p.fingerprint
            returning orders.id, orders.external_id
            """,
            connection_id,
            page,
            list(_CLOSED),
        )
        updated.update((row["external_id"], row["id"]) for row in rows)
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
    if updated:
        await _replace_items(db, updated, items)
        # A new order is open without parcels: to ship, as inserted. One stored before may have
        # parcels, and its status or items changed: where it stands again.
        await db.execute(
            """
            update orders o set work_state = s.state
            from (select id, order_work_state(id) as state from orders where id = any($1::bigint[])) as s
            where o.id = s.id and o.work_state <> s.state
            """,
            list(updated.values()),
        )
    if skipped:
        last = {skip.external_id: skip.reason for skip in skipped}  # one row each: the last reason wins
        await db.execute(
            """
            insert into skipped_orders (connection_id, external_id, reason)
            select $1, s.external_id, s.reason from unnest($2::text[], $3::text[]) as s(external_id, reason)
            on conflict (connection_id, external_id) do update set reason = excluded.reason, seen_at = now()
            """,
            connection_id,
            list(last),
            list(last.values()),
        )
        for skip in skipped:
            counts.skipped[skip.reason] = counts.skipped.get(skip.reason, 0) + 1
    return counts


async def _replace_items(db: asyncpg.Connection, updated: dict[str, int], items: str) -> None:
    """The items of orders stored before, as the page's item document has them (``updated``: external id -> id)."""
    ids = list(updated.values())
    await db.execute("delete from order_items where order_id = any($1::bigint[])", ids)
    await db.execute(
        f"""
        insert into order_items (order_id, external_id, sku, product_id, title, quantity_ordered,
                                 quantity_unshipped, unit_price, currency)
        select o.id, i.external_id, i.sku, i.product_id, i.title, i.quantity_ordered, i.quantity_unshipped,
               i.unit_price, i.currency
        from {_ITEMS.replace("$4", "$1")}
        join unnest($2::text[], $3::bigint[]) as o(external_id, id) on o.external_id = i."order"
        order by i.n
        """,
        items,
        list(updated),
        ids,
    )


_SELECT = """
    select o.*, coalesce(
        (select jsonb_agg(to_jsonb(i) order by i.id) from order_items i where i.order_id = o.id), '[]'::jsonb
    ) as items
    from orders o join connections c on c.id = o.connection_id
"""


def stored_order(vault: Vault, row: asyncpg.Record) -> StoredOrder:
    """An ``orders`` row with its ``items`` as the model, its recipient unsealed with ``vault``."""
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
    return StoredOrder(row["id"], row["connection_id"], order, row["imported_at"], row["updated_at"], row["work_state"])


async def get_order(db: Db, vault: Vault, order_id: int, account_id: int | None = None) -> StoredOrder:
    """One stored order by the hub's id; with ``account_id``, only that account's."""
    row = await db.fetchrow(
        _SELECT + " where o.id = $1 and ($2::bigint is null or c.account_id = $2)", order_id, account_id
    )
    if row is None:
        raise NotFound(f"No order {order_id}: list them with `hub orders list`.")
    return stored_order(vault, row)


async def find_order(db: Db, vault: Vault, connection_id: int, external_id: str) -> StoredOrder:
    """One stored order by its shop id within a connection."""
    row = await db.fetchrow(_SELECT + " where o.connection_id = $1 and o.external_id = $2", connection_id, external_id)
    if row is None:
        raise NotFound(f"No order {external_id} in connection {connection_id}: import first with `hub import`.")
    return stored_order(vault, row)


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
    return [stored_order(vault, row) for row in rows]


async def count_orders(db: Db, connection_id: int) -> int:
    """How many orders a connection has stored."""
    return await db.fetchval("select count(*) from orders where connection_id = $1", connection_id)


async def forget_recipients(db: Db, days: int) -> int:
    """Delete the recipients (and their search tokens) of orders shipped or cancelled more than ``days`` ago; return how many."""
    result = await db.execute(
        """
        update orders set recipient = null, recipient_tokens = null
        where recipient is not null and closed_at < now() - make_interval(days => $1)
        """,
        days,
    )
    return int(result.split()[-1])


async def labels_of_orders(db: Db, order_ids: list[int]) -> dict[int, list[StoredLabel]]:
    """The labels of several orders with their parcels, oldest first, in one statement (for a list page)."""
    rows = await db.fetch(
        """
        select p.*, l.order_id as label_order_id, l.external_id as label_external_id, l.carrier as label_carrier,
               l.shipping_method as label_shipping_method, l.ship_date as label_ship_date,
               l.created_at as label_created_at
        from parcels p join labels l on l.id = p.label_id
        where p.order_id = any($1::bigint[])  -- parcels by their order's index; every label has a parcel
        order by l.order_id, l.id, p.id
        """,
        order_ids,
    )
    parcels: dict[int, list[StoredParcel]] = {}
    heads: dict[int, asyncpg.Record] = {}
    for row in rows:
        heads.setdefault(row["label_id"], row)
        parcels.setdefault(row["label_id"], []).append(
            StoredParcel(
                id=row["id"],
                reference=row["reference"],
                tracking_number=row["tracking_number"],
                items=[ParcelItem.model_validate(item) for item in row["items"]],
                push_state=PushState(row["push_state"]),
                push_message=row["push_message"],
                push_attempts=row["push_attempts"],
                pushed_at=row["pushed_at"],
                shop_reference=row["shop_reference"],
            )
        )
    found: dict[int, list[StoredLabel]] = {order_id: [] for order_id in order_ids}
    for label_id, head in heads.items():
        found.setdefault(head["label_order_id"], []).append(
            StoredLabel(
                id=label_id,
                order_id=head["label_order_id"],
                external_id=head["label_external_id"],
                carrier=head["label_carrier"],
                shipping_method=head["label_shipping_method"],
                ship_date=head["label_ship_date"],
                created_at=head["label_created_at"],
                parcels=parcels[label_id],
            )
        )
    return found


# The Shipments list: the merchant's work list, a page at a time.

#: Where an order stands for the merchant, the list's filters (besides "all"). Kept by the
#: database (``order_work_state`` in migration 0006): imports and every parcel change update it.
WORK_STATES: tuple[WorkState, ...] = ("to_ship", "attention", "shipped", "cancelled")
#: Filters whose list runs from the earliest deadline; the others from the latest.
_EARLIEST_FIRST = ("to_ship", "attention")


@dataclass(frozen=True)
class ListedOrder:
    """One row of the Shipments list: what a merchant scans, with only the recipient's city decrypted."""

    id: int
    connection_id: int
    connector: str
    shop_account: str
    connection_state: str
    external_id: str
    reference: str | None
    status: OrderStatus
    work_state: WorkState
    ordered_at: datetime
    ship_by: datetime | None
    deliver_by: datetime | None
    city: str | None
    country_code: str | None
    lines: int
    first_item: str | None
    first_quantity: int
    labels: list[StoredLabel]
    #: Parcels wait to go to the shop while its connection cannot push (a Reconnect is needed,
    #: or it is disabled): the order needs attention although nothing failed.
    stuck: bool = False


@dataclass(frozen=True)
class OrderPage:
    """A page of the Shipments list and the ids that link the pages before and after it."""

    orders: list[ListedOrder]
    next_after: int | None
    previous_before: int | None


_LIST = """
    select o.id, o.connection_id, c.connector, c.state as connection_state,
           coalesce(c.display_name, c.external_account_id, '#' || c.id) as shop_account,
           o.external_id, o.reference, o.status, o.work_state, o.shop_created_at, o.recipient,
           (o.details -> 'ship_by' ->> 'latest')::timestamptz as ship_by,
           (o.details -> 'deliver_by' ->> 'latest')::timestamptz as deliver_by,
           (select jsonb_build_array(count(*), (array_agg(coalesce(i.title, i.sku, i.external_id) order by i.id))[1],
                                     (array_agg(i.quantity_ordered order by i.id))[1])
              from order_items i where i.order_id = o.id) as items
    from orders o join connections c on c.id = o.connection_id
"""


#: A search matching more orders than this walks the list instead of sorting its matches.
_SEARCH_IDS = 1000


def _matching(vault: Vault, term: str, arg: Callable[[Any], str]) -> str:
    """The condition an order of the search's result meets (``arg`` adds a parameter and names it)."""
    number = arg(_like_prefix(term.lower(), prefix=len(term) >= 3))
    found = [f"lower(o.external_id) like {number}", f"lower(o.reference) like {number}"]
    words = search_words(term)
    if words:
        found += [f"o.recipient_tokens @> {arg(_tokens(key, words))}::text[]" for key in vault.derive_all(SEARCH_PURPOSE)]
    return "(" + " or ".join(found) + ")"


def _like_prefix(text: str, prefix: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%" if prefix else escaped


async def list_page(
    db: Db,
    vault: Vault,
    account_id: int,
    *,
    state: WorkState | Literal["all"] = "to_ship",
    search: str = "",
    after: int | None = None,
    before: int | None = None,
    limit: int = 25,
) -> OrderPage:
    """One page of an account's orders in ``state``, optionally only those ``search`` finds.

    To ship and needs attention run from the earliest deadline, the others from the latest. Pages
    are keyset pages: ``after`` (or ``before``) is the id of the last (first) order of the page
    before (after); each page is an index range scan (migration 0006), as fast at 100,000 orders
    as at 100. ``search`` finds an order number (the shop's id or the merchant's reference; by
    prefix from three characters) or a recipient whose name, company, city or postal code has
    every word of it (whole words, by keyed hash: nothing is decrypted to search). At most five
    statements, however long the page: the stuck orders, the anchor, the search's matches, the
    page, its labels.
    """
    args: list[Any] = [account_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    stuck = [
        row["order_id"]
        for row in await db.fetch(
            """
            select distinct p.order_id from parcels p
            join orders o on o.id = p.order_id join connections c on c.id = o.connection_id
            where p.push_state = 'pending' and o.account_id = $1 and c.state not in ('connected', 'error')
            """,
            account_id,
        )
    ]
    where = ["o.account_id = $1"]
    if state == "to_ship":
        where.append("o.work_state = 'to_ship'")
        if stuck:
            where.append(f"o.id <> all({arg(stuck)}::bigint[])")
    elif state == "attention":
        where.append(f"(o.work_state = 'attention' or o.id = any({arg(stuck)}::bigint[]))" if stuck else "o.work_state = 'attention'")
    elif state != "all":
        where.append(f"o.work_state = {arg(state)}")
    term = search.strip()[:200]
    if term:
        # The matches first, through the search indexes; the page then sorts those few. A search
        # that matches very many (a big city) walks the list in its order instead and stops at a page.
        found_args: list[Any] = [account_id]

        def found_arg(value: Any) -> str:
            found_args.append(value)
            return f"${len(found_args)}"

        matching = f"select o.id from orders o where o.account_id = $1 and {_matching(vault, term, found_arg)}"
        ids = [row["id"] for row in await db.fetch(f"{matching} limit {_SEARCH_IDS + 1}", *found_args)]
        where.append(f"o.id = any({arg(ids)}::bigint[])" if len(ids) <= _SEARCH_IDS else _matching(vault, term, arg))
    earliest_first = state in _EARLIEST_FIRST
    backwards = before is not None
    anchor_id = before if backwards else after
    anchor = None
    if anchor_id is not None:
        anchor = await db.fetchrow("select due_at, id from orders where id = $1 and account_id = $2", anchor_id, account_id)
        if anchor is not None:
            ascending = earliest_first != backwards
            where.append(f"(o.due_at, o.id) {'>' if ascending else '<'} ({arg(anchor['due_at'])}, {arg(anchor['id'])})")
        else:
            backwards = False  # an order gone meanwhile (or another account's id): the first page
    ascending = earliest_first != backwards
    order = "o.due_at, o.id" if ascending else "o.due_at desc, o.id desc"
    rows = list(await db.fetch(f"{_LIST} where {' and '.join(where)} order by {order} limit {arg(limit + 1)}", *args))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    labels = await labels_of_orders(db, [row["id"] for row in rows]) if rows else {}
    stuck_ids = set(stuck)
    listed = [_listed(vault, row, labels.get(row["id"], []), row["id"] in stuck_ids) for row in rows]
    if backwards:
        previous, following = more, True
    else:
        previous, following = anchor is not None and bool(listed), more
    return OrderPage(
        orders=listed,
        next_after=listed[-1].id if following and listed else None,
        previous_before=listed[0].id if previous and listed else None,
    )


def _listed(vault: Vault, row: asyncpg.Record, labels: list[StoredLabel], stuck: bool) -> ListedOrder:
    recipient = vault.decrypt(row["recipient"]) if row["recipient"] is not None else {}
    lines, first_item, first_quantity = row["items"]
    return ListedOrder(
        id=row["id"],
        connection_id=row["connection_id"],
        connector=row["connector"],
        shop_account=row["shop_account"],
        connection_state=row["connection_state"],
        external_id=row["external_id"],
        reference=row["reference"],
        status=OrderStatus(row["status"]),
        work_state=row["work_state"],
        ordered_at=row["shop_created_at"],
        ship_by=row["ship_by"],
        deliver_by=row["deliver_by"],
        city=recipient.get("city"),
        country_code=recipient.get("country_code"),
        lines=lines,
        first_item=first_item,
        first_quantity=first_quantity or 0,
        labels=labels,
        stuck=stuck and row["work_state"] == "to_ship",
    )


async def reindex_recipients(db: Db, vault: Vault, batch: int = 500) -> int:
    """Make every stored recipient's search tokens again under the newest key; return how many.

    For orders stored before migration 0006 (they have no tokens yet) and after a key rotation
    (``hub config rotate-keys``), once the old key is to be removed.
    """
    done, last = 0, 0
    key = vault.derive(SEARCH_PURPOSE)
    while True:
        rows = await db.fetch(
            "select id, recipient from orders where id > $1 and recipient is not null order by id limit $2", last, batch
        )
        if not rows:
            return done
        tokens = [(row["id"], recipient_tokens(key, Address.model_validate(vault.decrypt(row["recipient"])))) for row in rows]
        await db.executemany("update orders set recipient_tokens = $2 where id = $1", tokens)
        done += len(rows)
        last = rows[-1]["id"]


async def standing_of(db: Db, order_id: int) -> tuple[WorkState, str]:
    """Where an order stands for the merchant, and the state of the connection it came from."""
    row = await db.fetchrow(
        "select o.work_state, c.state from orders o join connections c on c.id = o.connection_id where o.id = $1", order_id
    )
    if row is None:
        raise NotFound(f"No order {order_id}: list them with `hub orders list`.")
    return row["work_state"], row["state"]
