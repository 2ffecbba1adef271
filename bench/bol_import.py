"""bol.com figure 1: orders imported per second within bol.com's rate limits, beside what the limits allow.

The bol.com simulator runs in its own process with one retailer and ``--orders`` seeded orders of
every shape (own-shipped, FBB, VVB, pickup points, shipped, cancelled ...), its rate limits on
(bol.com's published ones, real clock): the order list 25 a minute (a burst of 25, then one per
2.4 s), an order's detail 25 a second. The hub (this process, on an embedded PostgreSQL) connects
with the retailer's pasted credentials and runs core's ``run_import``: a first import, a full scan
(list every OPEN order, 50 a page, then each new order's detail).

What the limits allow is computed from the calls the import made, counted by the hub
(``hub_shop_calls_total``): per endpoint, the calls beyond its burst at its rate; the import cannot
be faster than the slowest endpoint. The same import with the limits off (the simulator's and the
hub's pacing) runs in the same invocation, on a fresh simulator and database: the hub's own
ceiling on this machine, for comparison.

Reported: orders handled (stored + skipped with a reason) per second and stored per second, the
least time bol.com's limits allow for the same calls, the 429s met, CPU ms per order in the hub
process and in PostgreSQL, peak RSS.

    python bench/bol_import.py                     # 2,000 seeded orders, limits on, then off
    python bench/bol_import.py --orders 500 --modes on
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness

#: bol.com's limits per operation as the hub names them: (burst, calls a second).
LIMITS = {
    "GET /retailer/orders": (25, 25 / 60),
    "GET /retailer/orders/{order-id}": (25, 25.0),
}


def least_seconds(calls: dict[str, float]) -> tuple[float, str]:
    """The least time bol.com's limits allow for these calls (buckets full at the start), and the endpoint that sets it."""
    worst, which = 0.0, "-"
    for operation, (burst, rate) in LIMITS.items():
        seconds = max(0.0, calls.get(operation, 0) - burst) / rate
        if seconds > worst:
            worst, which = seconds, operation
    return worst, which


async def measure(orders: int, limits: bool, seed: int) -> dict[str, Any]:
    """One first import of a freshly seeded retailer; its figures."""
    from connectors.bol.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from core.infra.runtime import open_runtime
    from core.storage.accounts import create_account
    from core.storage.orders import count_orders
    from core.usecases import connections
    from core.usecases.imports import run_import

    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-bol-"))
    try:
        async with harness.bol_simulator_process(orders, rate_limits=limits, seed=seed) as (url, sim), \
                harness.embedded_database() as db:
            settings = harness.bol_hub_settings(db.url, data_dir, url, pacing=limits)
            async with open_runtime(settings) as rt:
                account = await create_account(rt.db.pool, "bol.com import bench")
                fields = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
                connection = await connections.connect_with_credentials(rt, account.id, "bol", fields)
                before = harness.shop_calls("bol")
                meter = harness.Meter(db.processes())
                sim_cpu = harness.cpu_seconds([sim])
                async with meter.measure() as reading:
                    run = await run_import(rt, connection.id)
                sim_cpu = harness.cpu_seconds([sim]) - sim_cpu
                after = harness.shop_calls("bol")
                stored = await count_orders(rt.db.pool, connection.id)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    calls: dict[str, float] = {}
    throttled = 0.0
    for (operation, status), value in after.items():
        delta = value - before.get((operation, status), 0.0)
        calls[operation] = calls.get(operation, 0.0) + delta
        if status == "429":
            throttled += delta
    return {
        "limits": limits, "reading": reading[0], "new": run.new, "skipped": run.skipped_total,
        "skipped_by": run.skipped, "stored": stored, "calls": calls, "throttled": throttled, "sim_cpu": sim_cpu,
        "pages": run.pages,
    }


def report(r: dict[str, Any]) -> None:
    """Print one mode's figures."""
    reading = r["reading"]
    handled = r["new"] + r["skipped"]
    wall = reading.wall
    lists, details = r["calls"].get("GET /retailer/orders", 0), r["calls"].get("GET /retailer/orders/{order-id}", 0)
    print(f"rate limits {'on (bol.com published limits, hub pacing on)' if r['limits'] else 'off (simulator and hub pacing)'}:")
    print(f"  {handled:,} orders handled ({r['new']:,} stored, {r['skipped']:,} skipped with a reason) in {wall:.1f} s: "
          f"{handled / wall:.1f} orders/s handled, {r['new'] / wall:.1f} orders/s stored")
    print(f"  calls: {lists:.0f} order-list pages, {details:.0f} order details, "
          f"{sum(r['calls'].values()) - lists - details:.0f} other; 429s met: {r['throttled']:.0f}")
    if r["limits"]:
        least, which = least_seconds(r["calls"])
        allowed = handled / least if least else float("inf")
        print(f"  bol.com's limits allow these calls in {least:.1f} s at best (set by {which}): {allowed:.1f} orders/s handled; "
              f"the hub took {wall - least:+.1f} s more ({(wall / least - 1) * 100 if least else 0:.1f} %)")
    print(f"  CPU {reading.cpu * 1000 / handled:.2f} ms/order in the hub process, {reading.db_cpu * 1000 / handled:.2f} ms/order "
          f"in PostgreSQL, {r['sim_cpu'] * 1000 / handled:.2f} ms/order in the simulator; peak RSS {harness.mib(reading.peak_rss)}")
    reasons = ", ".join(f"{count} {reason.split(':')[0].split(' (')[0]}" for reason, count in sorted(r["skipped_by"].items()))
    print(f"  skipped: {reasons or 'none'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders seeded for the retailer (default 2000)")
    parser.add_argument("--modes", default="on,off", help="rate limits on, off, or both in turn (default on,off)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    harness.quiet_logs()
    print(f"machine: {harness.machine()}")
    print(f"simulator: 1 retailer, {args.orders:,} orders seeded (every shape), own process; hub: core run_import, "
          "embedded PostgreSQL, this process; a first import (full scan)")
    for mode in args.modes.split(","):
        report(await measure(args.orders, mode.strip() == "on", args.seed))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
