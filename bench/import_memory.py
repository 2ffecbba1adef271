"""Figure 5: memory while importing 100,000 orders stays flat (target: growth under 50 MB).

The simulator runs in its own process (usage plans off), seeded so that ``--orders`` of its first
seller's orders are merchant-fulfilled and still to ship; this process runs core's ``run_import``
into the embedded PostgreSQL and reads its own resident set (psutil) after every stored page.
Printed: the resident set before the import, after the first page, at its peak and at the end;
the growth (peak minus before); and the slope over the second half of the run, which is what
"flat" means: a leak grows with the orders, a warm-up does not.

    python bench/import_memory.py                     # 100,000 orders
    python bench/import_memory.py --orders 20000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path

import harness
import psutil

TARGET_GROWTH = 50 * 2**20


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="open merchant orders to import (default 100000)")
    args = parser.parse_args()
    harness.quiet_logs()

    from core.infra.runtime import open_runtime
    from core.usecases.imports import run_import

    seeded = harness.orders_for(args.orders)
    print(f"machine: {harness.machine()}")
    print(f"simulator: 1 seller, NL, {seeded:,} orders seeded, {args.orders:,} open merchant orders, own process")
    me = psutil.Process()
    points: list[tuple[int, int]] = []  # (orders processed, rss)

    async with harness.simulator_process(seeded) as (url, _sim), harness.embedded_database() as db:
        settings = harness.hub_settings(db.url, Path(tempfile.mkdtemp(prefix="hub-bench-")), url, pacing=False)
        async with open_runtime(settings) as rt:
            connection_id = await harness.connect(rt)
            gc.collect()
            before = me.memory_info().rss

            def progress(totals, pages: int) -> None:  # noqa: ANN001
                done = totals.new + totals.updated + totals.unchanged + sum(totals.skipped.values())
                points.append((done, me.memory_info().rss))

            began = time.perf_counter()
            run = await run_import(rt, connection_id, progress=progress)
            wall = time.perf_counter() - began
            gc.collect()
            end = me.memory_info().rss

    peak = max(rss for _, rss in points)
    half = points[len(points) // 2:]
    (n0, r0), (n1, r1) = half[0], half[-1]
    slope = (r1 - r0) / max(1, n1 - n0) * 10_000
    fetched = run.new + run.skipped_total
    print(f"imported {fetched:,} orders ({run.new:,} stored) in {len(points)} pages in {wall:.1f} s "
          f"({fetched / wall:,.0f} orders/s)")
    print(f"  RSS before {harness.mib(before)}, after page 1 {harness.mib(points[0][1])}, "
          f"peak {harness.mib(peak)}, end {harness.mib(end)}")
    print(f"  growth (peak - before): {harness.mib(peak - before)} (target: under 50 MiB: "
          f"{'met' if peak - before < TARGET_GROWTH else 'missed'})")
    print(f"  slope over the second half: {slope / 2**20:+.2f} MiB per 10,000 orders")
    marks = [points[int(i * (len(points) - 1) / 10)] for i in range(11)]
    print("  RSS along the run: " + ", ".join(f"{n // 1000}k: {rss / 2**20:.0f}" for n, rss in marks) + " (MiB)")


if __name__ == "__main__":
    asyncio.run(main())
