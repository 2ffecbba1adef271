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
process (and, for the hub, in PostgreSQL's processes), in the simulator's process, and the share of
the wall time each process was busy (the one near 100 % binds), peak resident set of the client
process.

``--profile`` adds one more hub run, profiled: the hub process's top functions (cProfile, by own
time; cProfile slows Python down, so read the shares, not the seconds) and PostgreSQL's statements
by total time (every statement logged with its duration, ``log_min_duration_statement = 0``: the
embedded server has no ``pg_stat_statements``). ``--freeze-heap`` moves the objects alive after
start-up out of the garbage collector's sight (``gc.freeze()``), as a daemon would after loading
everything: a full collection then no longer walks the hub's modules and models.

    python bench/import_throughput.py                    # 20,000 orders, best of 3
    python bench/import_throughput.py --orders 2000 --repeats 1
    python bench/import_throughput.py --repeats 1 --no-baseline --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import harness
import psutil

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


def busy(cpu: float, wall: float) -> str:
    """A process's CPU over the wall time, as a share of one core."""
    return f"{cpu / wall:.0%}"


_LOGGED = re.compile(r"duration: ([0-9.]+) ms  (statement|execute [^:]*|bind [^:]*|parse [^:]*): (.*?)(?=\n\S|\Z)", re.S)


def statement_times(log: str) -> list[tuple[str, int, float]]:
    """PostgreSQL's logged statements, by total time: (statement, executions, ms)."""
    found: dict[str, tuple[int, float]] = {}
    for match in _LOGGED.finditer(log):
        step = match.group(2).split()[0]
        text = " ".join(match.group(3).split())
        if step in ("bind", "parse") or text.startswith(("alter system", "select pg_reload_conf")):
            continue  # a prepared statement's parse and bind (small, beside its execute), or the profile's own
        calls, total = found.get(text, (0, 0.0))
        found[text] = (calls + 1, total + float(match.group(1)))
    return sorted(((text, calls, total) for text, (calls, total) in found.items()), key=lambda row: -row[2])


async def profiled_run(rt: Any, connection_id: int, db: Any, orders: int) -> None:
    """One more hub run under cProfile with every statement logged; print both profiles."""
    from core.usecases.imports import run_import

    await harness.forget_import(rt, connection_id)
    log = db.folder / "log"
    start = log.stat().st_size if log.exists() else 0
    await rt.db.pool.execute("alter system set log_min_duration_statement = 0")
    await rt.db.pool.execute("select pg_reload_conf()")
    profile = cProfile.Profile()
    try:
        profile.enable()
        run = await run_import(rt, connection_id)
        profile.disable()
    finally:
        await rt.db.pool.execute("alter system reset log_min_duration_statement")
        await rt.db.pool.execute("select pg_reload_conf()")
    fetched = run.new + run.skipped_total
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print()
    print(f"profile of one more hub run ({fetched} orders; cProfile: {total:.2f} s of the hub's own time in Python "
          "functions, shares are what counts), top functions by own time:")
    top = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:25]  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, own, cumulative, _callers) in top:
        where = f"{Path(file).name}:{line}({name})" if file != "~" else name
        print(f"  {own / total:6.1%} own, {cumulative / total:6.1%} with callees, {calls:>8} calls  {where}")
    with log.open(errors="replace") as handle:
        handle.seek(start)
        statements = statement_times(handle.read())
    logged = sum(row[2] for row in statements)
    print(f"PostgreSQL, statements by total time ({logged:,.0f} ms, {logged * 1000 / fetched:.1f} us/order):")
    for statement, calls, ms in statements[:10]:
        print(f"  {ms:8.1f} ms {calls:>6} x {ms * 1000 / fetched:6.1f} us/order  {statement[:110]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="open merchant orders to import (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; the best is reported (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="measure the hub only")
    parser.add_argument("--profile", action="store_true", help="profile one more hub run (hub functions, statements)")
    parser.add_argument("--freeze-heap", action="store_true", help="gc.freeze() after start-up, as a daemon would")
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
    async with harness.simulator_process(seeded) as (url, sim), harness.embedded_database() as db:
        data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        settings = harness.hub_settings(db.url, data_dir, url, pacing=False)
        async with open_runtime(settings) as rt:
            if args.freeze_heap:
                gc.collect()
                gc.freeze()
                print(f"  gc.freeze(): {gc.get_freeze_count():,} objects of the started hub out of the collector's sight")
            connection_id = await harness.connect(rt)
            _seller, refresh_token = await harness.grant(url)
            meter = harness.Meter(db.processes())
            for repeat in range(args.repeats):
                await harness.forget_import(rt, connection_id)
                sim_began = harness.cpu_seconds([sim])
                async with meter.measure() as reading:
                    run = await run_import(rt, connection_id)
                sim_cpu = harness.cpu_seconds([sim]) - sim_began
                stored = await count_orders(rt.db.pool, connection_id)
                hub_runs.append((reading[0], run.new + run.skipped_total, stored, sim_cpu))
                print(f"  hub run {repeat + 1}: {run.new} new, {run.skipped_total} skipped, {stored} stored "
                      f"in {reading[0].wall:.2f} s")
                raw_runs.append(await raw_pager(url, refresh_token))
                print(f"  bare pager run {repeat + 1}: {raw_runs[-1][0]} orders in {raw_runs[-1][1]:.2f} s")
                if not args.no_baseline:
                    sim_began = harness.cpu_seconds([sim])
                    base_runs.append(await asyncio.to_thread(baseline, url, refresh_token, "search"))
                    base_runs[-1]["sim_cpu"] = harness.cpu_seconds([sim]) - sim_began
                    print(f"  baseline run {repeat + 1}: {base_runs[-1]['orders']} orders in {base_runs[-1]['wall']:.2f} s")
            if not args.no_baseline:
                v0 = await asyncio.to_thread(baseline, url, refresh_token, "v0")
            if args.profile:
                await profiled_run(rt, connection_id, db, args.orders)

    best, new, stored, sim_cpu = min(hub_runs, key=lambda r: r[0].wall)
    print()
    print(f"hub, core run_import into PostgreSQL (best of {args.repeats} by wall time"
          f"{'; gc.freeze() after start-up' if args.freeze_heap else ''}):")
    print(f"  {new} orders fetched and mapped, {stored} stored (the rest are Easy Ship / Ship+ orders Amazon "
          f"ships, skipped by design) in {best.wall:.2f} s: {new / best.wall:,.0f} orders/s")
    print(f"  CPU {best.cpu * 1000 / new:.3f} ms/order in the hub process, "
          f"{best.db_cpu * 1000 / new:.3f} ms/order in PostgreSQL, {sim_cpu * 1000 / new:.3f} ms/order in the simulator")
    print(f"  busy (CPU / wall, 100 % = one core): hub {busy(best.cpu, best.wall)}, PostgreSQL "
          f"{busy(best.db_cpu, best.wall)}, simulator {busy(sim_cpu, best.wall)}; together "
          f"{busy(best.cpu + best.db_cpu + sim_cpu, best.wall)} of one core (the machine has {psutil.cpu_count()})")
    print(f"  peak RSS {harness.mib(best.peak_rss)} (grew {harness.mib(best.rss_growth)} during the import)")
    print(f"  all runs, s: {', '.join(f'{r[0].wall:.2f}' for r in hub_runs)}")
    raw_orders, raw_wall = min(raw_runs, key=lambda r: r[1])
    print(f"bare aiohttp pager, no mapping or storing (the simulator's own pace): "
          f"{raw_orders / raw_wall:,.0f} orders/s")
    if base_runs:
        b = min(base_runs, key=lambda r: r["wall"])
        print(f"baseline {b['library']}, OrdersV20260101.search_orders, fetching only (best of {args.repeats}):")
        print(f"  {b['orders']} orders in {b['pages']} pages in {b['wall']:.2f} s: {b['orders'] / b['wall']:,.0f} orders/s")
        print(f"  CPU {b['cpu'] * 1000 / b['orders']:.3f} ms/order, simulator {b['sim_cpu'] * 1000 / b['orders']:.3f} "
              f"ms/order; busy: baseline {busy(b['cpu'], b['wall'])}, simulator {busy(b['sim_cpu'], b['wall'])}; "
              f"peak RSS {harness.mib(b['peak_rss'])}")
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
