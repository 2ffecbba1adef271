"""Figure 1: import throughput with rate limits off, the hub storing beside python-amazon-sp-api fetching.

The simulator runs in its own process with one seller in NL and usage plans off, seeded so that
``--orders`` of its orders are merchant-fulfilled and still to ship. The hub (this process, on the
embedded PostgreSQL) connects through the consent page and runs core's ``run_import``; between
repeats the stored orders and the cursor are deleted, so every repeat is a full first import.
Beside it, in the same run and against the same simulator, the baseline (``baseline_spapi.py`` in
``bench/.venv-baseline``) pages the same query with ``search_orders`` and keeps nothing, and tries
the v0 loop. A plain aiohttp pager (no mapping, no storing) shows how fast the simulator itself
serves the pages, so a reader can see when a figure is the simulator's.

Reported per side, best of ``--repeats`` by wall time: orders/s, CPU ms per order in the client's
process (and, for the hub, in PostgreSQL's processes), peak resident set of the client process.

    python bench/import_throughput.py                    # 20,000 orders, best of 3
    python bench/import_throughput.py --orders 2000 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import harness

BASELINE_PYTHON = harness.REPO / "bench" / ".venv-baseline" / "bin" / "python"
BASELINE_SCRIPT = harness.REPO / "bench" / "baseline_spapi.py"


def baseline(url: str, refresh_token: str, mode: str) -> dict[str, object]:
    """Run the baseline once in its own interpreter; its JSON line plus the process's peak RSS."""
    if not BASELINE_PYTHON.exists():
        raise SystemExit(
            f"{BASELINE_PYTHON} is missing: python3 -m venv bench/.venv-baseline && "
            "bench/.venv-baseline/bin/pip install python-amazon-sp-api==2.1.35 psutil"
        )
    done = subprocess.run(
        [str(BASELINE_PYTHON), str(BASELINE_SCRIPT), "--url", url, "--refresh-token", refresh_token, "--mode", mode],
        capture_output=True, text=True, check=False,
    )
    if done.returncode:
        raise SystemExit(f"baseline failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


async def raw_pager(url: str, refresh_token: str) -> tuple[int, float]:
    """The hub's query paged by bare aiohttp, nothing parsed beyond the token: (orders, seconds)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/auth/o2/token", data={
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": "amzn1.application-oa2-client.hubsimulator", "client_secret": "simulator-secret",
        }) as response:
            token = (await response.json())["access_token"]
        since = (datetime.now(UTC) - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {
            "lastUpdatedAfter": since, "fulfillmentStatuses": "UNSHIPPED,PARTIALLY_SHIPPED", "fulfilledBy": "MERCHANT",
            "marketplaceIds": "A1805IZSGTT6HS", "includedData": "RECIPIENT,FULFILLMENT,PACKAGES",
            "maxResultsPerPage": "100",
        }
        orders, query, began = 0, dict(params), time.perf_counter()
        while True:
            async with session.get(url + "/orders/2026-01-01/orders", params=query,
                                   headers={"x-amz-access-token": token}) as response:
                body = await response.json()
            orders += len(body["orders"])
            next_token = body.get("pagination", {}).get("nextToken")
            if not next_token:
                return orders, time.perf_counter() - began
            query = dict(params, paginationToken=next_token)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="open merchant orders to import (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; the best is reported (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="measure the hub only")
    args = parser.parse_args()
    harness.quiet_logs()

    from core.infra.runtime import open_runtime
    from core.storage.orders import count_orders
    from core.usecases.imports import run_import

    seeded = harness.orders_for(args.orders)
    print(f"machine: {harness.machine()}")
    print(f"simulator: 1 seller, NL, {seeded} orders seeded, {args.orders} of them open merchant orders, "
          "usage plans off, own process")
    hub_runs, base_runs, raw_runs, v0 = [], [], [], None
    async with harness.simulator_process(seeded) as (url, _sim), harness.embedded_database() as db:
        data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        settings = harness.hub_settings(db.url, data_dir, url, pacing=False)
        async with open_runtime(settings) as rt:
            connection_id = await harness.connect(rt)
            _seller, refresh_token = await harness.grant(url)
            meter = harness.Meter(db.processes())
            for repeat in range(args.repeats):
                await harness.forget_import(rt, connection_id)
                async with meter.measure() as reading:
                    run = await run_import(rt, connection_id)
                stored = await count_orders(rt.db.pool, connection_id)
                hub_runs.append((reading[0], run.new + run.skipped_total, stored))
                print(f"  hub run {repeat + 1}: {run.new} new, {run.skipped_total} skipped, {stored} stored "
                      f"in {reading[0].wall:.2f} s")
                raw_runs.append(await raw_pager(url, refresh_token))
                print(f"  bare pager run {repeat + 1}: {raw_runs[-1][0]} orders in {raw_runs[-1][1]:.2f} s")
                if not args.no_baseline:
                    base_runs.append(await asyncio.to_thread(baseline, url, refresh_token, "search"))
                    print(f"  baseline run {repeat + 1}: {base_runs[-1]['orders']} orders in {base_runs[-1]['wall']:.2f} s")
            if not args.no_baseline:
                v0 = await asyncio.to_thread(baseline, url, refresh_token, "v0")

    best, new, stored = min(hub_runs, key=lambda r: r[0].wall)
    print()
    print(f"hub, core run_import into PostgreSQL (best of {args.repeats} by wall time):")
    print(f"  {new} orders fetched and mapped, {stored} stored (the rest are Easy Ship / Ship+ orders Amazon "
          f"ships, skipped by design) in {best.wall:.2f} s: {new / best.wall:,.0f} orders/s")
    print(f"  CPU {best.cpu * 1000 / new:.2f} ms/order in the hub process, "
          f"{best.db_cpu * 1000 / new:.2f} ms/order in PostgreSQL")
    print(f"  peak RSS {harness.mib(best.peak_rss)} (grew {harness.mib(best.rss_growth)} during the import)")
    print(f"  all runs, s: {', '.join(f'{r[0].wall:.2f}' for r in hub_runs)}")
    raw_orders, raw_wall = min(raw_runs, key=lambda r: r[1])
    print(f"bare aiohttp pager, no mapping or storing (the simulator's own pace): "
          f"{raw_orders / raw_wall:,.0f} orders/s")
    if base_runs:
        b = min(base_runs, key=lambda r: r["wall"])
        print(f"baseline {b['library']}, OrdersV20260101.search_orders, fetching only (best of {args.repeats}):")
        print(f"  {b['orders']} orders in {b['pages']} pages in {b['wall']:.2f} s: {b['orders'] / b['wall']:,.0f} orders/s")
        print(f"  CPU {b['cpu'] * 1000 / b['orders']:.2f} ms/order, peak RSS {harness.mib(b['peak_rss'])}")
        walls = ", ".join(f"{r['wall']:.2f}" for r in base_runs)
        print(f"  all runs, s: {walls}")
        ratio = (new / best.wall) / (b["orders"] / b["wall"])
        print(f"hub storing / baseline fetching: {ratio:.2f}x (target: at least 1.00x)")
    if v0 is not None:
        pages = -(-args.orders // 100)
        print(f"baseline v0 loop (get_orders + get_order_items + get_order_address per order): "
              f"{v0.get('unsupported') or '{orders} orders, {calls} calls in {wall:.2f} s'.format(**v0)}")
        print(f"  it would need {pages} + 2 x {args.orders} = {pages + 2 * args.orders:,} calls "
              f"against the hub's {pages} (+1 when the last page is full)")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
