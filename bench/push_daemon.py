"""Figure 3 through `hub serve`: labels posted to the API, pushed by the daemons' job workers.

Per run (``--daemons 1,3`` runs one daemon, then three): a fresh embedded PostgreSQL, the Amazon
simulator in this process (Amazon's usage plans on, real clock: confirmShipment 2/s, burst 10 per
seller), ``--sellers`` sellers connected through the consent page and imported through the API,
then one one-parcel label per open order POSTed to the daemons' API round-robin, ``--inflight`` at
once. Measured:

- confirmations/s: labels / (first POST sent to the last confirmation stored at the simulator);
- label-to-Amazon latency: the POST's 201 response (label stored, push job committed) to the
  simulator storing the confirmation (``SimulatorState.save_package`` is wrapped, so there is no
  polling error); p50, p99, max;
- 429s met: confirmShipment calls the simulator's token buckets refused (``within_quota``);
- how the work spreads: ``hub_parcel_pushes_total{outcome="confirmed"}`` from each daemon's /metrics;
- CPU seconds of each daemon, of PostgreSQL and of this process (simulator + load generator).

The daemons run with the hub's defaults (``jobs.tick_seconds`` 15, LISTEN/NOTIFY, ``database.pool_max``
10 hence 9 jobs at once per process) unless ``--pool-max`` is given.

    python bench/push_daemon.py                                  # 10,000 labels, 100 sellers, 1 then 3 daemons
    python bench/push_daemon.py --labels 3000 --daemons 1
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/push_daemon.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402

from bench import profiling  # noqa: E402
from bench.harness import Confirmations, machine, round_robin  # noqa: E402
from connectors.amazon.simulator import SimulatorConfig, run_simulator  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from core.infra.settings import HubSettings  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.database import embedded_url  # noqa: E402
from core.storage.tokens import create_token  # noqa: E402
from tests.hub import daemons as daemons_module  # noqa: E402
from tests.hub.daemons import Daemon, Merchant, free_port, gather_limited, hub_environment, stop_running  # noqa: E402

BASELINE_PYTHON = REPO / "bench" / ".venv-baseline" / "bin" / "python"

#: confirmShipment's usage plan per seller: requests a second, burst.
RATE, BURST = 2.0, 10

PUSHED = 'hub_parcel_pushes_total{connector="amazon",outcome="confirmed"} '


def uvloop_hub(workdir: Path) -> str:
    """A `hub` command that runs on uvloop's event loop (an experiment: the hub does not install uvloop itself)."""
    script = workdir / "hub-uvloop"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nimport uvloop\nfrom hub.cli import main\nuvloop.install()\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    return str(script)


def print_daemon_logs(workdir: Path) -> None:
    """The end of each daemon's output, for a run that failed."""
    for log in sorted(workdir.glob("hub-serve-*.log")):
        print(f"--- the end of {log.name}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)


def report_profile(profile: Path, pg_log: Path, log_start: int, labels: int) -> None:
    """Print (and keep in ``profile``) the daemon's top functions and PostgreSQL's top statements per label."""
    samples, rows = profiling.top_functions(profile / "daemon.pyspy.txt", 30)
    lines = [f"daemon (py-spy, {samples} samples while busy): self %, total %, function"]
    lines += [f"  {own:5.1f} {total:5.1f}  {name}" for own, total, name in rows]
    calls, millis, statements = profiling.statement_summary(pg_log, log_start, labels, 25)
    lines.append(
        f"PostgreSQL: {calls / labels:.1f} statements per label, {millis / labels:.2f} ms of statement time per label "
        "(log_min_duration_statement; execute and bind apart):"
    )
    lines += [f"  {row}" for row in statements]
    text = "\n".join(lines)
    (profile / "summary.txt").write_text(text + "\n")
    print(text)


async def run_baseline(sim: Any, per_seller: int, threads: int, workdir: Path) -> dict[str, Any]:
    """python-amazon-sp-api confirming ``per_seller`` new orders of every seller, ``threads`` at once (bench/baseline_confirm.py)."""
    plan = []
    for number, seller_id in enumerate(sim.state.sellers):
        orders = [sim.state.add_order(seller_id, items=[{"quantity": 1}]) for _ in range(per_seller)]
        plan.append({
            "refresh_token": sim.state.grant(seller_id),
            "orders": [
                {"order_id": o.order_id, "item_id": o.detail.items[0].order_item_id, "reference": "1",
                 "tracking": f"BASE{number:04d}{n:05d}"}
                for n, o in enumerate(orders)
            ],
        })
    plan_file = workdir / "baseline-plan.json"
    plan_file.write_bytes(orjson.dumps(plan))
    me = psutil.Process()
    before = cpu([me])
    process = await asyncio.create_subprocess_exec(
        str(BASELINE_PYTHON), str(REPO / "bench" / "baseline_confirm.py"), "--url", sim.url, "--plan", str(plan_file),
        "--threads", str(threads), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode:
        raise SystemExit(f"the baseline failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    result["simulator_cpu"] = cpu([me]) - before
    if result["failures"]:
        raise SystemExit(f"the baseline met errors: {result['failures']}")
    return result


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


async def metric(http: aiohttp.ClientSession, daemon: Daemon, prefix: str) -> float:
    """The sum of a daemon's /metrics lines starting with ``prefix``."""
    async with http.get(daemon.url + "/metrics") as response:
        text = await response.text()
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


def cpu(processes: list[psutil.Process]) -> float:
    """User + system seconds of the processes still alive."""
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def postgres_processes(folder: Path) -> list[psutil.Process]:
    """The postmaster of the embedded database in ``folder`` and its backends."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and "postgres" in cmdline[0] and any(str(folder) in part for part in cmdline):
            return [proc, *proc.children(recursive=True)]
    return []


async def run(
    daemons: int, labels: int, sellers: int, inflight: int, pool_max: int | None, concurrency: int | None, workdir: Path,
    profile: Path | None = None, baseline: bool = False, uvloop: bool = False,
) -> dict[str, Any]:
    per_seller = -(-labels // sellers)
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    config = SimulatorConfig(sellers=sellers, orders_per_seller=0, marketplaces=["NL"])
    try:
        async with run_simulator(config) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=inflight + 20), timeout=aiohttp.ClientTimeout(total=600)
        ) as http:
            for seller_id in sim.state.sellers:
                for _ in range(per_seller):
                    sim.state.add_order(seller_id, items=[{"quantity": 1}])
            sim.state.clock.advance(150)  # searchOrders answers orders updated two minutes ago or earlier
            compared = None
            if baseline:
                # Orders of their own, added after the clock moved: too recent for the hub's import,
                # and shipped by the baseline before the hub connects.
                compared = await run_baseline(sim, per_seller, concurrency or HubSettings().jobs.concurrency, workdir)
                sim.state.clock.advance(BURST / RATE)  # every seller's bucket full again
            settings = HubSettings(
                data_dir=workdir / "data", database={"url": url}, security={"encryption_keys": [new_key()]}
            )
            env = hub_environment(settings, sim, HUB_LOG__LEVEL="WARNING")
            for key in ("HUB_JOBS__TICK_SECONDS", "HUB_JOBS__RETRY_BASE_SECONDS"):
                env.pop(key)  # the hub's defaults
            if pool_max:
                env["HUB_DATABASE__POOL_MAX"] = str(pool_max)
            if concurrency:
                env["HUB_JOBS__CONCURRENCY"] = str(concurrency)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            if uvloop:
                daemons_module.HUB = uvloop_hub(workdir)
            fleet = [Daemon(free_port(), env, workdir / f"hub-serve-{n}.log") for n in range(1, daemons + 1)]
            db = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                await fleet[0].start()  # migrates the empty database
                await asyncio.gather(*(daemon.start() for daemon in fleet[1:]))
                account = await create_account(db, "Push bench merchant")
                merchant = Merchant(http, await create_token(db, account.id), sim)
                began = time.perf_counter()

                async def onboard(n: int, seller_id: str) -> None:
                    daemon = fleet[n % daemons]
                    await merchant.import_orders(daemon, await merchant.connect(daemon, seller_id))

                # Fewer connects at once than a daemon's pool: start_connect holds one pooled connection in a
                # transaction while rt.context takes another, so pool_max concurrent connects deadlock.
                await gather_limited(3 * daemons, [lambda n=n, s=s: onboard(n, s) for n, s in enumerate(sim.state.sellers)])
                orders = [o for o in await merchant.orders(fleet[0]) if o["status"] == "open"]
                onboarding = time.perf_counter() - began
                orders = round_robin(orders, labels)

                seen = Confirmations.watch(sim.state)
                arrived = seen.arrived
                answered: dict[str, float] = {}
                daemon_procs = [psutil.Process(d.process.pid) for d in fleet if d.process]
                pg_procs = postgres_processes((workdir / "pg").resolve())
                me = psutil.Process()
                cpu0 = [cpu([p]) for p in daemon_procs], cpu(pg_procs), cpu([me])
                rss_peak = [p.memory_info().rss for p in daemon_procs]
                spy = None
                if profile is not None:
                    await profiling.log_statements(url, on=True)
                    pg_log, log_start = profiling.log_end(workdir / "pg" / "postgres", profile)
                    spy = profiling.PySpy(daemon_procs[0].pid, profile / "daemon.pyspy.txt")
                    await spy.start()

                async def post(n: int, order: dict[str, Any]) -> None:
                    body = {
                        "order_id": order["id"],
                        "label_id": f"bench-{order['id']}",
                        "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}],
                    }
                    status, label = await merchant.call(fleet[n % daemons], "POST", "/api/v1/labels", body)
                    if status != 201:
                        raise SystemExit(f"POST /api/v1/labels answered {status}: {label}")
                    answered[order["external_id"]] = time.perf_counter()

                async def sample_rss() -> None:
                    while True:
                        for i, p in enumerate(daemon_procs):
                            try:
                                rss_peak[i] = max(rss_peak[i], p.memory_info().rss)
                            except psutil.Error:
                                pass
                        await asyncio.sleep(0.5)

                sampler = asyncio.create_task(sample_rss())
                started = time.perf_counter()
                await gather_limited(inflight, [lambda n=n, o=o: post(n, o) for n, o in enumerate(orders)])
                posted = time.perf_counter()
                print(f"  {len(orders)} labels posted in {posted - started:.1f} s", file=sys.stderr)
                deadline = time.monotonic() + 1800
                while len(arrived) < len(orders) and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                done = time.perf_counter()
                sampler.cancel()
                cpu1 = [cpu([p]) for p in daemon_procs], cpu(pg_procs), cpu([me])
                if spy is not None and profile is not None:
                    await spy.stop()
                    await profiling.log_statements(url, on=False)
                    report_profile(profile, pg_log, log_start, len(orders))
                per_daemon = [await metric(http, d, PUSHED) for d in fleet]
                job_means = {
                    name: sum([await metric(http, d, f'hub_job_{name}_seconds_sum{{entrypoint="push"}} ') for d in fleet])
                    / max(1.0, sum([await metric(http, d, f'hub_job_{name}_seconds_count{{entrypoint="push"}} ') for d in fleet]))
                    for name in ("latency", "duration")
                }
                latencies = [(arrived[k] - answered[k]) * 1000 for k in answered if k in arrived]
                last = max(arrived.values()) if arrived else done
            finally:
                await db.close()
                await stop_running(fleet)
    finally:
        await asyncio.to_thread(server.cleanup)
    return {
        "daemons": daemons,
        "sellers": sellers,
        "labels": len(orders),
        "confirmed": len(arrived),
        "onboarding": onboarding,
        "post_seconds": posted - started,
        "seconds": last - started,
        "rate": len(arrived) / (last - started),
        "p50": percentile(latencies, 0.5),
        "p90": percentile(latencies, 0.9),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "refused": seen.refused,
        "per_daemon": per_daemon,
        "job_latency": job_means["latency"],
        "job_duration": job_means["duration"],
        "daemon_cpu": [b - a for a, b in zip(cpu0[0], cpu1[0], strict=True)],
        "daemon_rss": rss_peak,
        "pg_cpu": cpu1[1] - cpu0[1],
        "bench_cpu": cpu1[2] - cpu0[2],
        "floor": max(0.0, (len(orders) / sellers - BURST) / RATE),
        "baseline": compared,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--sellers", type=int, default=100)
    parser.add_argument("--daemons", default="1,3", help="daemon counts to run, one fresh run each (default 1,3)")
    parser.add_argument("--inflight", type=int, default=300, help="label POSTs in flight (default 300)")
    parser.add_argument("--pool-max", type=int, default=None, help="database.pool_max of each daemon (default the hub's)")
    parser.add_argument("--concurrency", type=int, default=None, help="jobs.concurrency of each daemon (default the hub's)")
    parser.add_argument("--baseline", action="store_true",
                        help="first python-amazon-sp-api's confirm_shipment loop on the same simulator (bench/.venv-baseline)")
    parser.add_argument("--uvloop", action="store_true", help="run the daemons on uvloop's event loop (an experiment)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="folder: py-spy the (first) daemon and log PostgreSQL's statements; CPU figures then include that cost")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    print(f"machine: {machine()}")
    print(
        f"simulator: {args.sellers} sellers, NL, usage plans on (confirmShipment 2/s, burst 10 per seller), in this process; "
        f"{args.inflight} label POSTs in flight; pool_max {args.pool_max or HubSettings().database.pool_max}, "
        f"jobs.concurrency {args.concurrency or HubSettings().jobs.concurrency}"
        + ("; daemons on uvloop" if args.uvloop else "")
    )
    for count in (int(x) for x in args.daemons.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix="hub-push-daemon-"))
        try:
            r = await run(
                count, args.labels, args.sellers, args.inflight, args.pool_max, args.concurrency, workdir, args.profile,
                args.baseline, args.uvloop,
            )
        except BaseException:
            print_daemon_logs(workdir)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        spread = ", ".join(f"{int(p):,}" for p in r["per_daemon"])
        print(
            f"{r['daemons']} daemon(s): {r['confirmed']:,} of {r['labels']:,} labels confirmed over {r['sellers']} sellers "
            f"(sellers connected and imported in {r['onboarding']:.1f} s)\n"
            f"  all POSTed in {r['post_seconds']:.1f} s ({r['labels'] / r['post_seconds']:.1f} labels/s accepted by the API)\n"
            f"  {r['rate']:.1f} confirmations/s ({r['seconds']:.1f} s from the first POST to the last confirmation; "
            f"the plans allow {r['floor']:.0f} s at best)\n"
            f"  label-to-Amazon latency (201 answered -> confirmation stored): p50 {r['p50']:.0f} ms, p90 {r['p90']:.0f} ms, "
            f"p99 {r['p99']:.0f} ms, max {r['max']:.0f} ms\n"
            f"  confirmShipment 429s met: {r['refused']}\n"
            f"  pushes per daemon (hub_parcel_pushes_total confirmed): {spread}\n"
            f"  push jobs: mean wait in the queue {r['job_latency']:.2f} s, mean run {r['job_duration'] * 1000:.0f} ms\n"
            f"  CPU per label: daemons {1000 * sum(r['daemon_cpu']) / r['labels']:.2f} ms + PostgreSQL "
            f"{1000 * r['pg_cpu'] / r['labels']:.2f} ms = {1000 * (sum(r['daemon_cpu']) + r['pg_cpu']) / r['labels']:.2f} ms\n"
            f"  CPU s: daemons {', '.join(f'{c:.1f}' for c in r['daemon_cpu'])}; PostgreSQL {r['pg_cpu']:.1f}; "
            f"this process (simulator + clients) {r['bench_cpu']:.0f}; "
            f"daemon peak RSS {', '.join(f'{x / 2**20:.0f} MiB' for x in r['daemon_rss'])}"
        )
        b = r["baseline"]
        if b is not None:
            print(
                f"  baseline, same run and simulator, {b['library']}, confirm_shipment in {b['threads']} threads, "
                f"each seller paced to its plan, no database: {b['confirmed']:,} confirmed in {b['wall']:.1f} s, "
                f"{b['rate']:.1f}/s, {b['throttled']} 429s met; CPU {1000 * b['cpu'] / max(1, b['confirmed']):.2f} ms per confirmation "
                f"(simulator {1000 * b['simulator_cpu'] / max(1, b['confirmed']):.2f} ms)\n"
                f"  hub (API intake + push, storing, exactly once) / baseline (confirm only): {r['rate'] / b['rate']:.2f}x"
            )


if __name__ == "__main__":
    asyncio.run(main())
