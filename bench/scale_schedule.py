"""Figure 4: many connections on an import schedule in `hub serve`, then 2 and 3 processes on one PostgreSQL.

Per run (``--daemons 1,2,3``: one fresh run each): the simulator in its own process (usage plans
off; ``--connections`` sellers with ``--orders`` orders each), a fresh embedded PostgreSQL, the
first daemon migrates it, then the connections are seeded directly in the database: one account,
one connection per simulator seller, its refresh token from the simulator's admin API
(``/_sim/sellers/{id}/grant``), stored encrypted with ``core.storage.connections.store_authorization``
and moved to ``connected``; every connection has ``import_interval_minutes`` ``--interval``. The
daemons' scheduler then imports each connection when due. Over ``--minutes`` from the moment the
seeding ends (all connections are due at once at the start: the first minute is the initial round,
not the steady state), every ``--sample`` seconds:

- each daemon's CPU share (psutil ``cpu_percent`` of the process, 100 % = one core) and RSS;
- imports finished (``import_runs.finished_at``) per minute, and queue depth (import runs
  ``queued``/``running``, and pgqueuer rows by status);
- at the end, imports done per process (``hub_imports_total`` from each daemon's /metrics);
- CPU seconds per import of the daemons, PostgreSQL (the postmaster and its backends) and the
  simulator over the window, and whether each connection was imported once per round: the
  shortest gap between two runs of one connection, and how many gaps were shorter than the
  interval.

Shortening the schedule keeps the load: N connections every I minutes is N / I imports a minute.

    python bench/scale_schedule.py --connections 1000 --interval 5 --minutes 5
    python bench/scale_schedule.py --connections 1000 --interval 1 --minutes 3 --daemons 1,2,3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/scale_schedule.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import psutil  # noqa: E402

from bench.harness import cpu_seconds, machine, simulator_process  # noqa: E402
from bench.push_daemon import postgres_processes  # noqa: E402
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET  # noqa: E402
from core.contract.models import ConnectionSettings, ConnectionState  # noqa: E402
from core.infra.crypto import Vault, new_key  # noqa: E402
from core.infra.settings import DatabaseSettings, JobSettings  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.connections import create_connection, store_authorization  # noqa: E402
from core.storage.database import _init_connection, embedded_url  # noqa: E402
from core.usecases import lifecycle  # noqa: E402
from tests.hub.daemons import Daemon, free_port, stop_running  # noqa: E402

IMPORTED = 'hub_imports_total{connector="amazon",outcome="'


async def grants(url: str, count: int) -> list[tuple[str, str]]:
    """(seller id, refresh token) for the simulator's first ``count`` sellers, through its admin API."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/_sim/sellers") as response:
            sellers = [s["sellerId"] for s in (await response.json())["sellers"]][:count]
        gate = asyncio.Semaphore(20)

        async def one(seller: str) -> tuple[str, str]:
            async with gate, http.post(url + f"/_sim/sellers/{seller}/grant") as response:
                return seller, (await response.json())["refresh_token"]

        return list(await asyncio.gather(*(one(s) for s in sellers)))


async def seed(db: asyncpg.Pool, key: str, granted: list[tuple[str, str]], interval: int) -> None:
    """One account, one connected Amazon NL connection per seller."""
    vault = Vault([key.encode()])
    account = await create_account(db, "Scale bench merchant")
    settings = ConnectionSettings(update_tracking=False, marketplaces=["NL"], import_interval_minutes=interval)
    gate = asyncio.Semaphore(8)

    async def one(seller: str, token: str) -> None:
        async with gate, db.acquire() as conn, conn.transaction():
            connection = await create_connection(conn, account.id, "amazon", settings)
            credentials = {"refresh_token": token, "region": "EU"}
            await store_authorization(conn, vault, connection.id, seller, credentials, seller, settings)
            await lifecycle.transition(conn, connection.id, ConnectionState.CONNECTED, "seeded by the bench")

    await asyncio.gather(*(one(s, t) for s, t in granted))


async def metrics(http: aiohttp.ClientSession, daemon: Daemon) -> dict[str, float]:
    """hub_imports_total by outcome, from a daemon's /metrics."""
    async with http.get(daemon.url + "/metrics") as response:
        text = await response.text()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(IMPORTED):
            outcome, value = line.removeprefix(IMPORTED).split('"} ')
            found[outcome] = float(value)
    return found


ONCE_PER_ROUND = """
    with gaps as (
        select extract(epoch from started_at - lag(started_at) over (partition by connection_id order by started_at)) as gap
        from import_runs where started_at >= $1 and state = 'succeeded'
    )
    select min(gap) as shortest, count(*) filter (where gap < $2) as short
    from gaps where gap is not null
"""


async def run(daemons: int, connections: int, orders: int, interval: int, minutes: float, sample: float,
              workdir: Path, pool_max: int | None) -> dict[str, Any]:
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    try:
        async with simulator_process(orders, sellers=connections) as (sim_url, sim_proc):
            began = time.perf_counter()
            granted = await grants(sim_url, connections)
            key = new_key()
            data_dir = workdir / "data"
            data_dir.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
            env |= {
                "HUB_DATABASE__URL": url,
                "HUB_DATA_DIR": str(data_dir),
                "HUB_SECURITY__ENCRYPTION_KEYS": json.dumps([key]),
                "HUB_CONNECTORS__AMAZON__ENDPOINT": sim_url,
                "HUB_CONNECTORS__AMAZON__APPLICATION_ID": DEFAULT_APPLICATION_ID,
                "HUB_CONNECTORS__AMAZON__CLIENT_ID": DEFAULT_CLIENT_ID,
                "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "HUB_LOG__LEVEL": "WARNING",
            }
            if pool_max:
                env["HUB_DATABASE__POOL_MAX"] = str(pool_max)
            fleet = [Daemon(free_port(), env, workdir / f"hub-serve-{n}.log") for n in range(1, daemons + 1)]
            db = await asyncpg.create_pool(url, min_size=1, max_size=10, init=_init_connection)
            try:
                # The first start only migrates the empty database; the daemons start after the seeding.
                await fleet[0].start()
                await fleet[0].stop()
                await seed(db, key, granted, interval)
                seeding = time.perf_counter() - began
                await asyncio.gather(*(d.start() for d in fleet))
                procs = [psutil.Process(d.process.pid) for d in fleet if d.process]
                for p in procs:
                    p.cpu_percent(None)
                sim_proc.cpu_percent(None)
                postgres = postgres_processes((workdir / "pg").resolve())
                cpu_before = (cpu_seconds(procs), cpu_seconds(postgres), cpu_seconds([sim_proc]))
                t0 = time.perf_counter()
                start_ts = await db.fetchval("select now()")
                samples: list[dict[str, Any]] = []
                async with aiohttp.ClientSession() as http:
                    while time.perf_counter() - t0 < minutes * 60:
                        await asyncio.sleep(sample)
                        depth = dict(await db.fetch(
                            "select state, count(*) from import_runs where state in ('queued', 'running') group by 1"
                        ))
                        try:
                            queue = dict(await db.fetch("select status::text, count(*) from pgqueuer group by 1"))
                        except asyncpg.PostgresError:
                            queue = {}
                        done = await db.fetchval(
                            "select count(*) from import_runs where finished_at is not null and finished_at > $1", start_ts
                        )
                        row = {
                            "t": time.perf_counter() - t0,
                            "cpu": [p.cpu_percent(None) for p in procs],
                            "rss": [p.memory_info().rss for p in procs],
                            "sim_cpu": sim_proc.cpu_percent(None),
                            "queued": depth.get("queued", 0),
                            "running": depth.get("running", 0),
                            "pgqueuer": queue,
                            "done": done,
                        }
                        samples.append(row)
                        print(
                            f"  {row['t']:6.0f} s  cpu {'/'.join(f'{c:.0f}%' for c in row['cpu'])}  "
                            f"rss {'/'.join(f'{r / 2**20:.0f}' for r in row['rss'])} MiB  imports done {done}  "
                            f"runs queued {row['queued']} running {row['running']}  pgqueuer {queue}  sim cpu {row['sim_cpu']:.0f}%",
                            file=sys.stderr,
                        )
                    per_daemon = [await metrics(http, d) for d in fleet]
                postgres = postgres_processes((workdir / "pg").resolve())
                cpu_after = (cpu_seconds(procs), cpu_seconds(postgres), cpu_seconds([sim_proc]))
                cpu = [after - before for after, before in zip(cpu_after, cpu_before, strict=True)]
                # A round is the interval; a tick is 15 s: two runs closer than the interval less a
                # tick would be one connection imported twice in a round.
                once = dict(await db.fetchrow(ONCE_PER_ROUND, start_ts, interval * 60 - 15))
                outcomes = dict(await db.fetch(
                    "select state, count(*) from import_runs where started_at >= $1 group by 1", start_ts
                ))
                lag = await db.fetchrow(
                    """
                    select count(*) as n,
                           percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at)) as p50,
                           percentile_cont(0.99) within group (order by extract(epoch from finished_at - started_at)) as p99
                    from import_runs where finished_at is not null and started_at >= $1
                    """,
                    start_ts,
                )
            finally:
                await db.close()
                await stop_running(fleet)
    finally:
        await asyncio.to_thread(server.cleanup)
    return {
        "samples": samples, "per_daemon": per_daemon, "seeding": seeding, "outcomes": outcomes, "lag": dict(lag),
        "cpu": cpu, "once": once,
    }


def summarise(daemons: int, connections: int, interval: int, r: dict[str, Any]) -> str:
    samples = r["samples"]
    wall = samples[-1]["t"]
    first_minute = [s for s in samples if s["t"] <= 60]
    later = [s for s in samples if s["t"] > 60] or samples
    lines = [
        f"{daemons} process(es), {connections:,} connections every {interval} min "
        f"(demand {connections / interval:,.0f} imports/min); seeded in {r['seeding']:.1f} s; measured {wall:.0f} s"
    ]
    for i in range(daemons):
        cpu_all = [s["cpu"][i] for s in samples]
        cpu_later = [s["cpu"][i] for s in later]
        rss = [s["rss"][i] for s in samples]
        lines.append(
            f"  daemon {i + 1}: CPU mean {statistics.fmean(cpu_all):.0f} % of a core (after the first minute "
            f"{statistics.fmean(cpu_later):.0f} %, peak {max(cpu_all):.0f} %), RSS {rss[0] / 2**20:.0f} -> peak "
            f"{max(rss) / 2**20:.0f} MiB; imports {r['per_daemon'][i]}"
        )
    # imports finished per whole minute
    per_minute, prev = [], 0
    for m in range(1, int(wall // 60) + 1):
        upto = [s for s in samples if s["t"] <= m * 60 + 1e-9]
        cum = upto[-1]["done"] if upto else 0
        per_minute.append(cum - prev)
        prev = cum
    lines.append(f"  imports finished per minute: {per_minute} (total {samples[-1]['done']:,})")
    lines.append(
        f"  queue depth (import runs queued+running): max {max(s['queued'] + s['running'] for s in samples):,}, "
        f"first minute max {max((s['queued'] + s['running'] for s in first_minute), default=0):,}, "
        f"at the end {samples[-1]['queued'] + samples[-1]['running']:,}"
    )
    lines.append(
        f"  import runs started in the window by state: {r['outcomes']}; run duration p50 "
        f"{(r['lag']['p50'] or 0):.2f} s p99 {(r['lag']['p99'] or 0):.2f} s; simulator CPU mean "
        f"{statistics.fmean(s['sim_cpu'] for s in samples):.0f} %"
    )
    done = samples[-1]["done"] or 1
    daemon_cpu, postgres_cpu, simulator_cpu = r["cpu"]
    lines.append(
        f"  CPU per import: daemons {1000 * daemon_cpu / done:.2f} ms, PostgreSQL {1000 * postgres_cpu / done:.2f} ms, "
        f"simulator {1000 * simulator_cpu / done:.2f} ms (CPU s over the window: {daemon_cpu:.0f} / "
        f"{postgres_cpu:.0f} / {simulator_cpu:.0f}; share of the window: daemons "
        f"{100 * daemon_cpu / wall:.0f} % of a core, PostgreSQL {100 * postgres_cpu / wall:.0f} %)"
    )
    shortest = r["once"]["shortest"]
    lines.append(
        "  once per round: "
        + (f"shortest gap between two runs of one connection {float(shortest):.0f} s, " if shortest is not None else "")
        + f"gaps shorter than the interval less a tick: {r['once']['short']}"
    )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=5, help="orders per simulator seller (default 5)")
    parser.add_argument("--interval", type=int, default=5, help="import_interval_minutes (default 5)")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    parser.add_argument("--daemons", default="1,2,3")
    parser.add_argument("--pool-max", type=int, default=None)
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    print(f"machine: {machine()}")
    jobs, database = JobSettings(), DatabaseSettings()
    print(
        f"simulator: own process, {args.connections:,} sellers x {args.orders} orders, NL, usage plans off; "
        f"hub defaults (jobs.concurrency {jobs.concurrency}, pool_max {args.pool_max or database.pool_max}, "
        f"tick {jobs.tick_seconds:g} s)"
    )
    for count in (int(x) for x in args.daemons.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix="hub-scale-"))
        try:
            r = await run(count, args.connections, args.orders, args.interval, args.minutes, args.sample, workdir, args.pool_max)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(summarise(count, args.connections, args.interval, r), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
