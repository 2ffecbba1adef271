"""Figure 6: the Shipments work list with 100,000 orders in one account (issue 15).

Stores ``--orders`` orders through core's ``save_page`` (pages of 1,000, as an import writes them:
recipients encrypted, search tokens, deadlines) into the embedded PostgreSQL for one account, then
gives them the states a busy account has: most shipped, a share cancelled, some with a refused
parcel (needs attention), the rest to ship; labels and parcels for the shipped and refused ones.
A second account with a tenth of that sits beside it. Then it times, best and median of
``--repeats``:

* ``list_page`` (core.storage.orders) for every filter: the first page, a page in the middle
  (keyset ``after``) and the page before it (``before``);
* search: an order number, its first digits, a recipient's name, a common city;
* the whole Shipments page over HTTP (``GET /shipping/shipments``: session, query, decrypting the
  cities, rendering), signed in as the merchant, for the same filters and a search.

    python bench/shipments_list.py                  # 100,000 orders
    python bench/shipments_list.py --orders 20000 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import harness

FIRST = ["Anna", "Jan", "Piet", "Kees", "Fatima", "Sanne", "Daan", "Emma", "Lucas", "Noah", "Julia", "Mila", "Sem", "Tess"]
LAST = ["de Vries", "Jansen", "de Jong", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Bos", "Vos", "Peters"]
CITIES = ["Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven", "Groningen", "Tilburg", "Almere", "Breda", "Nijmegen",
          *(f"Dorp {n}" for n in range(200))]


def orders(count: int, seed: int, start: int) -> list[Any]:
    """Orders as a connector maps them: Amazon-like numbers, a ship-by date, 1 to 3 items."""
    from core.contract.models import Address, Order, OrderItem, OrderStatus, TimeWindow

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    made = []
    for n in range(start, start + count):
        created = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
        city = CITIES[min(int(rng.expovariate(0.15)), len(CITIES) - 1)]
        made.append(Order(
            external_id=f"{rng.randrange(100, 999)}-{n:07d}-{rng.randrange(10**6, 10**7)}",
            reference=f"SO-{n}",
            status=OrderStatus.OPEN,
            created_at=created,
            updated_at=created,
            marketplace="NL",
            recipient=Address(name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", lines=[f"Kerkstraat {n % 300 + 1}"],
                              postal_code=f"{rng.randrange(1000, 9999)} {rng.choice('ABCDEFGH')}{rng.choice('JKLMNPRS')}",
                              city=city, country_code="NL"),
            items=[OrderItem(external_id=f"{n}-{i}", sku=f"SKU-{rng.randrange(500)}", title=f"Product {rng.randrange(500)}",
                             quantity_ordered=1 + rng.randrange(2), quantity_unshipped=1)
                   for i in range(1 + rng.randrange(3))],
            ship_by=TimeWindow(latest=created + timedelta(days=2)),
        ))
    return made


async def fill(rt: Any, account_name: str, count: int, seed: int) -> tuple[int, int]:
    """An account with one connection and ``count`` orders in a busy account's states; (account id, connection id)."""
    from core.storage.orders import save_page

    pool = rt.db.pool
    account_id = await pool.fetchval("insert into accounts (name) values ($1) returning id", account_name)
    connection_id = await pool.fetchval(
        "insert into connections (account_id, connector, state, external_account_id, display_name) "
        "values ($1, 'amazon', 'connected', $2, $3) returning id",
        account_id, f"A{seed}SELLER", f"{account_name} shop",
    )
    for start in range(0, count, 1000):
        async with pool.acquire() as db, db.transaction():
            await save_page(db, rt.vault, connection_id, orders(min(1000, count - start), seed + start, start), [])
    # 70 % shipped in the shop, 5 % cancelled, 3 % with a refused parcel, the rest to ship; a label
    # with a confirmed parcel for every shipped one.
    await pool.execute(
        """
        with picked as (select id, row_number() over (order by id) % 100 as r from orders where connection_id = $1)
        update orders o set status = case when p.r < 70 then 'shipped' when p.r < 75 then 'cancelled' else o.status end,
                             closed_at = case when p.r < 75 then now() end
        from picked p where p.id = o.id
        """,
        connection_id,
    )
    await pool.execute(
        """
        with made as (
            insert into labels (order_id, external_id, carrier, ship_date)
            select id, 'L-' || id, 'GLS', now() from orders
            where connection_id = $1 and (status = 'shipped' or id % 100 between 75 and 77)
            returning id, order_id
        )
        insert into parcels (label_id, order_id, reference, tracking_number, items, push_state, push_message)
        select m.id, m.order_id, '1', 'GLS' || m.order_id,
               (select jsonb_agg(jsonb_build_object('item_external_id', i.external_id, 'quantity', i.quantity_ordered))
                  from order_items i where i.order_id = m.order_id),
               case when o.status = 'shipped' then 'confirmed' else 'failed' end,
               case when o.status = 'shipped' then null else 'Amazon rejected the tracking code: InvalidInput' end
        from made m join orders o on o.id = m.order_id
        """,
        connection_id,
    )
    await pool.execute("update orders set work_state = order_work_state(id) where connection_id = $1", connection_id)
    return account_id, connection_id


async def timed(call: Callable[[], Awaitable[Any]], repeats: int) -> tuple[float, float, Any]:
    """Best and median milliseconds of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - began) * 1000)
    return min(times), statistics.median(times), result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the measured account (default 100000)")
    parser.add_argument("--repeats", type=int, default=20, help="timings per figure (default 20)")
    args = parser.parse_args()
    harness.quiet_logs()

    from aiohttp import web

    from core.infra.runtime import open_runtime
    from core.storage.orders import list_page
    from core.storage.tokens import create_token
    from hub.app import create_app

    print(f"machine: {harness.machine()}")
    async with harness.embedded_database() as db:
        settings = harness.hub_settings(db.url, Path(tempfile.mkdtemp(prefix="hub-bench-")), "http://127.0.0.1:9")
        settings = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"enabled": False})})
        async with open_runtime(settings, connectors=[]) as rt:
            began = time.perf_counter()
            account_id, _ = await fill(rt, "Bench merchant", args.orders, 1)
            await fill(rt, "Neighbour", args.orders // 10, 2)
            await rt.db.pool.execute("vacuum analyze")
            states = dict(await rt.db.pool.fetch(
                "select work_state, count(*) from orders where account_id = $1 group by 1", account_id
            ))
            print(f"stored {args.orders:,} orders (+{args.orders // 10:,} of another account) in "
                  f"{time.perf_counter() - began:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in sorted(states.items())))
            sample = await rt.db.pool.fetchrow(
                "select external_id, recipient from orders where account_id = $1 order by id desc limit 1", account_id
            )
            name = rt.vault.decrypt(sample["recipient"])["name"].split()[-1]
            token = await create_token(rt.db.pool, account_id)

        print(f"\nlist_page, {args.repeats} runs each: best / median ms (rows)")
        async with open_runtime(settings, connectors=[]) as rt:
            pool, vault = rt.db.pool, rt.vault
            for state in ("to_ship", "attention", "shipped", "cancelled", "all"):
                best, median, first = await timed(lambda: list_page(pool, vault, account_id, state=state), args.repeats)
                middle_id = await pool.fetchval(
                    "select id from orders where account_id = $1 and ($2 = 'all' or work_state = $2) "
                    "order by due_at, id offset (select count(*) / 2 from orders where account_id = $1 "
                    "and ($2 = 'all' or work_state = $2)) limit 1",
                    account_id, state,
                )
                b2, m2, _ = await timed(lambda: list_page(pool, vault, account_id, state=state, after=middle_id), args.repeats)
                b3, m3, _ = await timed(lambda: list_page(pool, vault, account_id, state=state, before=middle_id), args.repeats)
                print(f"  {state:<10} first {best:6.1f} / {median:6.1f} ({len(first.orders)})   middle {b2:6.1f} / {m2:6.1f}"
                      f"   before {b3:6.1f} / {m3:6.1f}")
            for label, term in (("order number", sample["external_id"]), ("its first digits", sample["external_id"][:9]),
                                ("a name", name), ("a common city", "Amsterdam"), ("nothing found", "Zzyzx")):
                best, median, found = await timed(
                    lambda: list_page(pool, vault, account_id, state="all", search=term), args.repeats
                )
                print(f"  search {label:<17} {term!r:<24} {best:6.1f} / {median:6.1f} ({len(found.orders)})")

        print(f"\nGET /shipping/shipments over HTTP (session, query, decrypting, rendering), {args.repeats} runs: best / median ms")
        app = create_app(settings, connectors=[])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(base + "/signin") as response:
                    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)  # type: ignore[union-attr]
                async with http.post(base + "/signin", data={"csrf_token": csrf, "token": token}) as response:
                    assert response.status == 200

                async def get(path: str) -> int:
                    async with http.get(base + path) as response:
                        body = await response.text()
                        assert response.status == 200, body[:500]
                        return body.count('<tr id="order-')

                for path in ("/shipping/shipments", "/shipping/shipments?state=attention", "/shipping/shipments?state=shipped",
                             "/shipping/shipments?state=all", f"/shipping/shipments?q={name}", "/shipping/shipments?q=Amsterdam"):
                    best, median, rows = await timed(lambda: get(path), args.repeats)
                    print(f"  {path:<40} {best:6.1f} / {median:6.1f} ({rows} rows)")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
