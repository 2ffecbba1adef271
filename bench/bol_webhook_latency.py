"""bol.com figure 4: webhook-to-imported latency, beside polling, measured in the same run.

A fresh embedded PostgreSQL, one `hub serve` with the hub's defaults, and the bol.com simulator in
this process (its rate limits on: the order list allows 25 calls a minute). Two retailers are
connected through the daemon's API with their pasted credentials; the simulator's signed webhooks
go to the daemon's http://127.0.0.1 events URL (``webhooks_allow_loopback``, as in the demo; in
production the URL is https). A first import of each runs, so that later runs are quick ones.

- **Webhooks** (retailer 1): ``--orders`` new orders arrive at bol.com one every ``--interval``
  seconds. Each emits an ``ORDER_CREATED`` message, which the simulator signs and posts to the
  daemon at once; the daemon verifies it and queues an import, which lists the changed orders
  and fetches the new one's detail.
- **Polling** (retailer 2, the baseline): its subscription is disabled at bol.com (as bol.com
  does after failed deliveries; the hub notices only at its next subscription check, 15 minutes
  on) and its schedule set to the shortest, ``import_interval_minutes = 1``; ``--polled`` orders
  arrive at random moments over the same window, and wait for the scheduler.

Latency per order: from the simulator adding it (``time.time()`` just after
``SimulatorState.new_order``) to the hub storing it (``orders.imported_at``, PostgreSQL's clock on
the same machine, the start of the transaction that wrote the page; the commit follows within
milliseconds). No polling error on either side. Printed: p50, p90, p99 and max per side, how many
imports the events caused, and the webhook deliveries' answers.

    python bench/bol_webhook_latency.py                          # 40 orders 3 s apart, 6 polled
    python bench/bol_webhook_latency.py --orders 90 --interval 1 --polled 0    # faster than the order list's limit
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/bol_webhook_latency.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from bench.harness import HubApi, bol_environment, bol_simulator, machine, percentile  # noqa: E402
from connectors.bol.simulator import SimulatorConfig, client_id, client_secret, retailer_id  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.database import embedded_url  # noqa: E402
from core.storage.tokens import create_token  # noqa: E402
from tests.hub.daemons import Daemon, free_port, stop_running  # noqa: E402


def figures(values: list[float]) -> str:
    """p50, p90, p99 and max of latencies in seconds, as milliseconds."""
    if not values:
        return "none"
    return (f"p50 {percentile(values, 0.5) * 1000:.0f} ms, p90 {percentile(values, 0.9) * 1000:.0f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")


async def run(orders: int, interval: float, polled: int, seed: int, wait: float, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    config = SimulatorConfig(retailers=2, orders_per_retailer=0, demo_orders=False, settle_delay=1.0, retry_interval=5.0)
    added: dict[str, tuple[str, float]] = {}  # order id -> (webhooks | polling, when added)
    try:
        async with bol_simulator(config) as sim, aiohttp.ClientSession() as http:
            env = bol_environment(url, workdir / "data", new_key(), sim.url)
            (workdir / "data").mkdir(parents=True, exist_ok=True)
            daemon = Daemon(free_port(), env, workdir / "hub-serve.log")
            db = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                await daemon.start()
                account = await create_account(db, "bol.com webhook bench")
                hub = HubApi(http, await create_token(db, account.id))
                pushed, polling = [await hub.connect_bol(daemon.url, client_id(n), client_secret(n), update_tracking=False)
                                   for n in (1, 2)]
                await sim.state.wait_for(lambda: len(sim.state.subscriptions) == 2, timeout=30)
                for connection_id in (pushed, polling):
                    await hub.import_now(daemon.url, connection_id)
                status, body = await hub.call(daemon.url, "PATCH", f"/api/v1/connections/{polling}",
                                              {"import_interval_minutes": 1})
                assert status == 200, body
                (quiet,) = [s for s in sim.state.subscriptions.values() if s.retailer_id == retailer_id(2)]
                sim.state.disable_subscription(quiet.subscription_id, "disabled for the benchmark's polling side")
                deliveries_before = len(sim.state.deliveries)
                window = orders * interval
                polled_at = sorted(rng.uniform(0, window) for _ in range(polled))

                async def arrive(retailer: str, side: str, at: float, began: float) -> None:
                    await asyncio.sleep(max(0.0, began + at - time.monotonic()))
                    order = sim.state.new_order(retailerId=retailer, shape="fbr", items=[{"quantity": 1}])
                    added[order.order_id] = (side, time.time())

                began = time.monotonic()
                await asyncio.gather(
                    *(arrive(retailer_id(1), "webhooks", n * interval, began) for n in range(orders)),
                    *(arrive(retailer_id(2), "polling", at, began) for at in polled_at),
                )

                async def stored() -> int:
                    return await db.fetchval("select count(*) from orders where external_id = any($1::text[])", list(added))

                deadline = time.monotonic() + wait
                while await stored() < len(added) and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                rows = await db.fetch(
                    "select external_id, extract(epoch from imported_at) as at from orders where external_id = any($1::text[])",
                    list(added),
                )
                runs = Counter(
                    dict(await db.fetch(
                        "select trigger, count(*) from import_runs where connection_id = $1 group by 1", pushed
                    ))
                )
                answers = Counter(
                    str(attempt.status or attempt.error)
                    for delivery in sim.state.deliveries[deliveries_before:]
                    for attempt in delivery.attempts
                )
                list_calls = sim.state.calls.get("get-orders", 0)
            finally:
                await db.close()
                await stop_running([daemon])
    finally:
        await asyncio.to_thread(server.cleanup)
    at = {row["external_id"]: float(row["at"]) for row in rows}
    latency: dict[str, list[float]] = {"webhooks": [], "polling": []}
    missing: Counter[str] = Counter()
    for order_id, (side, when) in added.items():
        if order_id in at:
            latency[side].append(at[order_id] - when)
        else:
            missing[side] += 1
    return {"latency": latency, "missing": missing, "runs": runs, "answers": answers, "list_calls": list_calls,
            "orders": orders, "interval": interval, "polled": polled}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=40, help="orders announced by webhook (default 40)")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between them (default 3)")
    parser.add_argument("--polled", type=int, default=6, help="orders of the polled retailer over the same window (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wait", type=float, default=360.0,
                        help="longest wait for the last orders after the last arrival, seconds (default 360: more than the "
                        "5-minute schedule of the webhook retailer)")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    print(f"machine: {machine()}")
    print("simulator: 2 retailers, rate limits on (order list 25/min), in this process; 1 `hub serve` with the hub's "
          f"defaults; webhooks to its http://127.0.0.1 events URL; {args.orders} orders {args.interval:g} s apart by "
          f"webhook, {args.polled} polled (import_interval_minutes 1, jobs.tick_seconds 15)")
    workdir = Path(tempfile.mkdtemp(prefix="hub-bol-webhook-"))
    try:
        r = await run(args.orders, args.interval, args.polled, args.seed, args.wait, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    hooks, polled = r["latency"]["webhooks"], r["latency"]["polling"]
    print(f"webhooks: {len(hooks)} of {r['orders']} orders stored; added -> stored: {figures(hooks)}")
    print(f"  imports of that retailer by trigger: {dict(r['runs'])}; order-list calls (both retailers) {r['list_calls']}")
    print(f"  deliveries' answers from the hub: {dict(r['answers'])}")
    print(f"polling (baseline): {len(polled)} of {r['polled']} orders stored; added -> stored: {figures(polled)}")
    if r["missing"]:
        print(f"NOT STORED within {args.wait:g} s of the last arrival: {dict(r['missing'])}")
    late = [x for x in hooks if x > 60]
    if late:
        print(f"  {len(late)} webhook order(s) stored more than a minute late (by the schedule, not by their event): "
              f"{', '.join(f'{x:.0f} s' for x in late)}")


if __name__ == "__main__":
    asyncio.run(main())
