"""Label-to-Amazon latency under a steady arrival: labels POSTed at ``--rate`` a second through `hub serve`.

Per run: a fresh embedded PostgreSQL, the Amazon simulator in this process (Amazon's usage plans
on, real clock: confirmShipment 2/s, burst 10 per seller), ``--sellers`` sellers connected through
the consent page and imported through the API of one `hub serve` with the hub's defaults (only
the database URL, the keys and the simulator's address are set: ``jobs.concurrency``,
``database.pool_max``, ``jobs.tick_seconds``, ``log.level`` and the rest as shipped), then one one-parcel label
every ``1 / --rate`` seconds for ``--seconds`` seconds, round-robin over the sellers (each seller
gets ``rate / sellers`` labels a second, within its plan), each POST sent on time whether or not
the earlier ones were answered (an open arrival: a slow hub meets a queue, as it would at a
carrier). The first ``--warmup`` seconds are not measured.

The simulator notes the moment each confirmation is stored (``SimulatorState.save_package``), so
the figure has no polling error. Latency is from the API's 201 (the label is stored and its push
job committed) and, for reference, from sending the request. Also printed: 429s met, how late the
POSTs went out (the load generator's own lag), the push jobs' wait in the queue and run time, and
the CPU per label of the daemon and of PostgreSQL at this rate.

    python bench/push_latency.py                              # 50 labels/s for 300 s over 100 sellers
    python bench/push_latency.py --rate 50 --seconds 60 --sellers 100
    python bench/push_latency.py --concurrency 5              # jobs.concurrency other than the default
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/push_latency.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import psutil  # noqa: E402

from bench import profiling  # noqa: E402
from bench.harness import Confirmations, machine, round_robin  # noqa: E402
from bench.push_daemon import (  # noqa: E402
    PUSHED,
    cpu,
    metric,
    percentile,
    postgres_processes,
    print_daemon_logs,
    report_profile,
)
from connectors.amazon.simulator import SimulatorConfig, run_simulator  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from core.infra.settings import HubSettings  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.database import embedded_url  # noqa: E402
from core.storage.tokens import create_token  # noqa: E402
from tests.hub.daemons import Daemon, Merchant, free_port, gather_limited, hub_environment, stop_running  # noqa: E402


def slow_windows(
    started: float, keys: list[str], sent: dict[str, float], answered: dict[str, float], arrived: dict[str, float]
) -> list[str]:
    """The 10-second windows of the run (by when the label was sent) in which a label took over 200 ms from its 201."""
    windows: dict[int, list[float]] = {}
    for key in keys:
        if key in arrived and key in answered:
            windows.setdefault(int((sent[key] - started) // 10), []).append((arrived[key] - answered[key]) * 1000)
    return [
        f"{10 * n:4d}-{10 * n + 10:4d} s: {len(values)} labels, {sum(v > 200 for v in values)} over 200 ms, "
        f"p99 {percentile(values, 0.99):.0f} ms, max {max(values):.0f} ms"
        for n, values in sorted(windows.items())
        if max(values) > 200
    ]


def report(name: str, values: list[float]) -> str:
    """One line of percentiles, ms."""
    return (
        f"  {name:<24} p50 {percentile(values, 0.50):6.0f} ms   p90 {percentile(values, 0.90):6.0f} ms   "
        f"p99 {percentile(values, 0.99):6.0f} ms   max {max(values):6.0f} ms   mean {statistics.fmean(values):6.0f} ms"
    )


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One run; the figures."""
    total = int(args.rate * (args.seconds + args.warmup))
    per_seller = -(-total // args.sellers) + 1
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    config = SimulatorConfig(sellers=args.sellers, orders_per_seller=0, marketplaces=["NL"])
    try:
        async with run_simulator(config) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=500), timeout=aiohttp.ClientTimeout(total=600)
        ) as http:
            for seller_id in sim.state.sellers:
                for _ in range(per_seller):
                    sim.state.add_order(seller_id, items=[{"quantity": 1}])
            sim.state.clock.advance(150)  # searchOrders answers orders updated two minutes ago or earlier
            settings = HubSettings(
                data_dir=workdir / "data", database={"url": url}, security={"encryption_keys": [new_key()]}
            )
            env = hub_environment(settings, sim)
            if args.log_level:
                env["HUB_LOG__LEVEL"] = args.log_level
            for key in ("HUB_JOBS__TICK_SECONDS", "HUB_JOBS__RETRY_BASE_SECONDS"):
                env.pop(key)  # the hub's defaults
            if args.concurrency:
                env["HUB_JOBS__CONCURRENCY"] = str(args.concurrency)
            if args.pool_max:
                env["HUB_DATABASE__POOL_MAX"] = str(args.pool_max)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            daemon = Daemon(free_port(), env, workdir / "hub-serve-1.log")
            db = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                await daemon.start()
                account = await create_account(db, "Latency bench merchant")
                merchant = Merchant(http, await create_token(db, account.id), sim)

                async def onboard(seller_id: str) -> None:
                    await merchant.import_orders(daemon, await merchant.connect(daemon, seller_id))

                await gather_limited(3, [lambda s=s: onboard(s) for s in sim.state.sellers])
                orders = [o for o in await merchant.orders(daemon) if o["status"] == "open"]
                orders = round_robin(orders, total)
                if len(orders) < total:
                    raise SystemExit(f"only {len(orders)} open orders for {total} labels")

                seen = Confirmations.watch(sim.state)
                arrived = seen.arrived
                sent: dict[str, float] = {}
                answered: dict[str, float] = {}
                lag: list[float] = []

                async def post(order: dict[str, Any]) -> None:
                    body = {
                        "order_id": order["id"],
                        "label_id": f"bench-{order['id']}",
                        "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}],
                    }
                    sent[order["external_id"]] = time.perf_counter()
                    status, label = await merchant.call(daemon, "POST", "/api/v1/labels", body)
                    if status != 201:
                        raise SystemExit(f"POST /api/v1/labels answered {status}: {label}")
                    answered[order["external_id"]] = time.perf_counter()

                measured = orders[int(args.rate * args.warmup):]
                imports_before = await metric(http, daemon, 'hub_imports_total{connector="amazon",outcome="succeeded"} ')
                daemon_proc = psutil.Process(daemon.process.pid) if daemon.process else psutil.Process()
                pg_procs = postgres_processes((workdir / "pg").resolve())
                tasks = []
                started = time.perf_counter()
                cpu0: tuple[float, float] | None = None
                spy = None
                for n, order in enumerate(orders):
                    if order is measured[0]:
                        cpu0 = cpu([daemon_proc]), cpu(pg_procs)
                        if args.profile is not None:
                            await profiling.log_statements(url, on=True)
                            pg_log, log_start = profiling.log_end(workdir / "pg" / "postgres", args.profile)
                            spy = profiling.PySpy(daemon_proc.pid, args.profile / "daemon.pyspy.txt")
                            await spy.start()
                    due = started + n / args.rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    lag.append(max(0.0, time.perf_counter() - due) * 1000)
                    tasks.append(asyncio.create_task(post(order)))
                    if n and n % (int(args.rate) * 30) == 0:
                        print(f"  {n} labels posted, {len(arrived)} confirmed", file=sys.stderr)
                await asyncio.gather(*tasks)
                deadline = time.monotonic() + 120
                while len(arrived) < len(orders) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                cpu1 = cpu([daemon_proc]), cpu(pg_procs)
                if spy is not None and args.profile is not None:
                    await spy.stop()
                    await profiling.log_statements(url, on=False)
                    report_profile(args.profile, pg_log, log_start, len(measured))
                elapsed = time.perf_counter() - started
                job = {
                    name: await metric(http, daemon, f'hub_job_{name}_seconds_sum{{entrypoint="push"}} ')
                    / max(1.0, await metric(http, daemon, f'hub_job_{name}_seconds_count{{entrypoint="push"}} '))
                    for name in ("latency", "duration")
                }
                pushed = await metric(http, daemon, PUSHED)
                imports = await metric(http, daemon, 'hub_imports_total{connector="amazon",outcome="succeeded"} ') - imports_before
            finally:
                await db.close()
                await stop_running([daemon])
    finally:
        await asyncio.to_thread(server.cleanup)
    keys = [o["external_id"] for o in measured]
    assert cpu0 is not None
    return {
        "labels": len(orders),
        "measured": len(keys),
        "confirmed": sum(1 for k in keys if k in arrived),
        "pushed": pushed,
        "elapsed": elapsed,
        "from_response": [(arrived[k] - answered[k]) * 1000 for k in keys if k in arrived and k in answered],
        "from_request": [(arrived[k] - sent[k]) * 1000 for k in keys if k in arrived],
        "api": [(answered[k] - sent[k]) * 1000 for k in keys if k in answered],
        "lag": lag,
        "refused": seen.refused,
        "job": job,
        "imports": imports,
        "windows": slow_windows(started, keys, sent, answered, arrived),
        "daemon_cpu": cpu1[0] - cpu0[0],
        "pg_cpu": cpu1[1] - cpu0[1],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=50.0, help="labels a second (default 50)")
    parser.add_argument("--seconds", type=float, default=300.0, help="measured seconds of arrival (default 300)")
    parser.add_argument("--warmup", type=float, default=10.0, help="unmeasured seconds first (default 10)")
    parser.add_argument("--sellers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=None, help="jobs.concurrency (default the hub's)")
    parser.add_argument("--pool-max", type=int, default=None, help="database.pool_max (default the hub's)")
    parser.add_argument("--log-level", default=None, help="log.level of the daemon (default the hub's, INFO)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="folder: py-spy the daemon and log PostgreSQL's statements; CPU figures then include that cost")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    defaults = HubSettings()
    print(f"machine: {machine()}")
    print(
        f"hub serve, one process, defaults but for: jobs.concurrency {args.concurrency or defaults.jobs.concurrency}, "
        f"database.pool_max {args.pool_max or defaults.database.pool_max}, jobs.tick_seconds {defaults.jobs.tick_seconds:g}, "
        f"log.level {args.log_level or defaults.log.level}; "
        f"simulator in this process, {args.sellers} sellers, usage plans on; labels at {args.rate:g}/s for "
        f"{args.seconds:g} s after {args.warmup:g} s of warm-up, round-robin over the sellers "
        f"({args.rate / args.sellers:.2f}/s each)"
    )
    workdir = Path(tempfile.mkdtemp(prefix="hub-push-latency-"))
    try:
        r = await run(args, workdir)
    except BaseException:
        print_daemon_logs(workdir)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{r['confirmed']:,} of {r['measured']:,} measured labels confirmed ({r['labels']:,} posted in all, "
        f"{r['pushed']:,.0f} pushes confirmed); confirmShipment 429s met: {r['refused']}"
    )
    print("label-to-Amazon latency:")
    print(report("from the API response", r["from_response"]))
    print(report("from the API request", r["from_request"]))
    print(report("API answer (201)", r["api"]))
    print(report("POST sent late by", r["lag"]))
    print(
        f"  push jobs: mean wait in the queue {r['job']['latency'] * 1000:.0f} ms, mean run {r['job']['duration'] * 1000:.0f} ms; "
        f"CPU per label at this rate: daemon {1000 * r['daemon_cpu'] / r['measured']:.2f} ms + "
        f"PostgreSQL {1000 * r['pg_cpu'] / r['measured']:.2f} ms"
    )
    print(f"  scheduled imports finished meanwhile (each connection every 5 minutes by default): {r['imports']:.0f}")
    print("  10-second windows with a label over 200 ms (from the 201), by when it was sent:")
    for line in r["windows"] or ["none"]:
        print(f"    {line}")


if __name__ == "__main__":
    asyncio.run(main())
