"""What the benchmark scripts share: the machine, the simulator process, the database, a meter, the crash runs' frame.

Not a benchmark itself. The scripts in ``bench/`` import it (``python bench/<script>.py`` puts
``bench/`` on the path). Everything runs on 127.0.0.1: the simulator in its own process (so that
the hub's process measures the hub), the embedded PostgreSQL in a temporary folder.

The rule between bench/ and tests/: **bench may import tests, tests never import bench.** The
benchmarks drive the same `hub serve` daemons as the tests (tests/hub/daemons.py: ``Daemon``,
``Merchant``, ``FleetApi``, ``LabelPoster``; tests/waiting.py: ``eventually``) and run the Amazon
crash run that a test runs short (tests/reliability/crash_run.py); nothing under tests/ needs a
benchmark (tests/test_bench_boundary.py checks it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import psutil

REPO = Path(__file__).resolve().parents[1]
START_SIMULATOR = "from connectors.amazon.cli import amazon; amazon()"
OPEN_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED")


def machine() -> str:
    """CPU model, cores, memory, Python and the load right now: printed at the top of every figure."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{model}, {psutil.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average {load}"
    )


def orders_for(target: int, seed: int = 1, marketplaces: tuple[str, ...] = ("NL",)) -> int:
    """How many orders the simulator's first seller needs so that ``target`` of them are
    merchant-fulfilled and still to ship (what the hub imports on a first run)."""
    from connectors.amazon.simulator.seed import generate_orders, generate_sellers

    seller = generate_sellers(seed, 1, list(marketplaces))[0]
    taken: dict[str, Any] = {}
    found = 0
    for count, order in enumerate(generate_orders(seed, seller, target * 5, int(time.time()), taken), start=1):
        taken[order.order_id] = order
        if order.fulfilled_by == "MERCHANT" and order.status in OPEN_STATUSES:
            found += 1
            if found == target:
                return count
    raise ValueError(f"no {target} open merchant orders in {target * 5}")


@asynccontextmanager
async def _simulator(args: list[str], banner_start: str) -> AsyncIterator[tuple[str, psutil.Process]]:
    """A shop simulator's command in its own process, until its banner names its URL; its URL and process."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=REPO,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner, url = [], None
    try:
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise SystemExit(f"the simulator ({banner_start.strip()}) did not start:\n" + "".join(banner))
            banner.append(line)
            if line.startswith(banner_start):
                url = line.split()[-1]
            if "Press Ctrl-C" in line and url:
                break
        yield url, psutil.Process(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


@asynccontextmanager
async def simulator_process(
    orders: int, *, sellers: int = 1, marketplaces: str = "NL", rate_limits: bool = False, seed: int = 1
) -> AsyncIterator[tuple[str, psutil.Process]]:
    """``hub amazon simulator`` in its own process; yields its base URL and the process."""
    args = [
        sys.executable, "-c", START_SIMULATOR, "simulator", "--port", "0", "--sellers", str(sellers),
        "--orders", str(orders), "--seed", str(seed), "--marketplaces", marketplaces, "--quiet",
    ]
    if not rate_limits:
        args.append("--no-rate-limits")
    async with _simulator(args, "Amazon simulator at ") as running:
        yield running


async def grant(url: str, seller_index: int = 0) -> tuple[str, str]:
    """Authorise the app for a seller through the admin API: (seller id, refresh token)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/_sim/sellers") as response:
            seller = (await response.json())["sellers"][seller_index]["sellerId"]
        async with session.post(url + f"/_sim/sellers/{seller}/grant") as response:
            return seller, (await response.json())["refresh_token"]


@dataclass
class Database:
    """The embedded PostgreSQL in a temporary folder, and its server processes."""

    url: str
    folder: Path
    server: Any

    def processes(self) -> list[psutil.Process]:
        """The postmaster and its backends (their CPU is the database's share of the work)."""
        postmaster = None
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if any(str(self.folder) in part for part in cmdline) and any("postgres" in part for part in cmdline[:1]):
                postmaster = proc
                break
        if postmaster is None:
            return []
        return [postmaster, *postmaster.children(recursive=True)]


@asynccontextmanager
async def embedded_database() -> AsyncIterator[Database]:
    """Start an embedded PostgreSQL for the run; remove it afterwards."""
    from core.storage.database import embedded_url

    # Not 0700 under /tmp/pytest-...: as root the server runs as another user that must reach it.
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-pg-"))
    url, server = await asyncio.to_thread(embedded_url, folder)
    try:
        yield Database(url, (folder / "postgres").resolve(), server)
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(folder, ignore_errors=True)


def hub_settings(database_url: str, data_dir: Path, sim_url: str, **amazon: Any) -> Any:
    """HubSettings on this database, the Amazon connector on the simulator, no hub.toml."""
    from core.infra.crypto import new_key
    from core.infra.settings import HubSettings

    empty = data_dir / "hub.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    os.environ["HUB_CONFIG"] = str(empty)
    table = {
        "endpoint": sim_url,
        "application_id": "amzn1.sellerapps.app.hub-simulator",
        "client_id": "amzn1.application-oa2-client.hubsimulator",
        "client_secret": "simulator-secret",
        **amazon,
    }
    return HubSettings(
        data_dir=data_dir,
        database={"url": database_url},
        security={"encryption_keys": [new_key()]},
        connectors={"amazon": table},
    )


async def connect(rt: Any, marketplace: str = "NL", seller_id: str | None = None, account_id: int | None = None) -> int:
    """Connect Amazon through the consent page as the merchant would; the connection id."""
    from connectors.amazon.simulator.merchant import approve
    from core.storage.accounts import create_account
    from core.usecases import connections

    account_id = account_id or (await create_account(rt.db.pool, f"Bench merchant {uuid.uuid4().hex[:8]}")).id
    _, url = await connections.start_connect(rt, account_id, "amazon", {"marketplace": marketplace})
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url, seller_id)
    connection = await connections.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)), account_id)
    return connection.id


async def forget_import(rt: Any, connection_id: int) -> None:
    """Delete what an import stored, and its cursor, so that the next run imports everything again."""
    async with rt.db.pool.acquire() as db, db.transaction():
        await db.execute(
            "delete from order_items where order_id in (select id from orders where connection_id = $1)", connection_id
        )
        await db.execute("delete from orders where connection_id = $1", connection_id)
        await db.execute("delete from skipped_orders where connection_id = $1", connection_id)
        await db.execute("delete from cursors where connection_id = $1", connection_id)
    await rt.db.pool.execute("vacuum analyze orders")
    await rt.db.pool.execute("vacuum analyze order_items")


@dataclass
class Reading:
    """What a meter saw over one measured stretch."""

    wall: float
    cpu: float  # this process, user + system
    db_cpu: float  # the database server processes
    peak_rss: int  # highest resident set of this process while measured (sampled)
    start_rss: int

    @property
    def rss_growth(self) -> int:
        """Peak minus the resident set at the start."""
        return self.peak_rss - self.start_rss


@dataclass
class Meter:
    """Wall time, CPU time (this process and the database's), and the resident set sampled every 20 ms."""

    db_processes: list[psutil.Process] = field(default_factory=list)
    interval: float = 0.02
    samples: list[tuple[float, int]] = field(default_factory=list)

    def _db_cpu(self) -> float:
        total = 0.0
        for proc in self.db_processes:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    @asynccontextmanager
    async def measure(self) -> AsyncIterator[list[Reading]]:
        """Measure the body; the reading is appended to the yielded list when it ends."""
        me = psutil.Process()
        out: list[Reading] = []
        self.samples = []
        start_rss = me.memory_info().rss
        peak = [start_rss]
        began_wall, began_cpu, began_db = time.perf_counter(), time.process_time(), self._db_cpu()

        async def sample() -> None:
            while True:
                rss = me.memory_info().rss
                peak[0] = max(peak[0], rss)
                self.samples.append((time.perf_counter() - began_wall, rss))
                await asyncio.sleep(self.interval)

        sampler = asyncio.create_task(sample())
        try:
            yield out
        finally:
            sampler.cancel()
            wall, cpu = time.perf_counter() - began_wall, time.process_time() - began_cpu
            out.append(Reading(wall, cpu, self._db_cpu() - began_db, max(peak[0], me.memory_info().rss), start_rss))


def max_rss() -> int:
    """The process's peak resident set so far (``ru_maxrss``), bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / 2**20:.1f} MiB"


def quiet_logs() -> None:
    """Warnings and worse only: the benchmark prints its own figures."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("connectors", "core", "hub", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- bol.com ------------------------------------------------------------------------------------

START_BOL_SIMULATOR = "from connectors.bol.cli import bol; bol()"


@asynccontextmanager
async def bol_simulator_process(
    orders: int, *, retailers: int = 1, rate_limits: bool = True, seed: int = 1, settle_delay: float = 1.0
) -> AsyncIterator[tuple[str, psutil.Process]]:
    """``hub bol simulator`` in its own process (no demo orders); yields its base URL and the process."""
    args = [
        sys.executable, "-c", START_BOL_SIMULATOR, "simulator", "--port", "0", "--retailers", str(retailers),
        "--orders", str(orders), "--seed", str(seed), "--settle-delay", str(settle_delay), "--no-demo-orders",
        "--quiet",
    ]
    if not rate_limits:
        args.append("--no-rate-limits")
    async with _simulator(args, "bol.com simulator at ") as running:
        yield running


@asynccontextmanager
async def bol_simulator(config: Any, *, middlewares: tuple[Any, ...] = ()) -> AsyncIterator[Any]:
    """The bol.com simulator served in this process (like ``run_simulator``), with extra aiohttp middlewares.

    A middleware sees each request of the simulator's clients (the daemons): the crash run uses
    one to know which daemon is waiting for the answer of a shipment POST.
    """
    from aiohttp import web

    from connectors.bol.simulator import RunningSimulator, create_app

    app = create_app(config)
    app.middlewares.extend(middlewares)
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield RunningSimulator(f"http://127.0.0.1:{runner.addresses[0][1]}", app)
    finally:
        await runner.cleanup()


def bol_environment(database_url: str, data_dir: Path, encryption_key: str, sim_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `hub serve` on this database with bol.com at the simulator (Amazon not loaded).

    Webhooks to the daemons' http://127.0.0.1 events URLs are allowed, as in the demo.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE__URL": database_url,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_SECURITY__ENCRYPTION_KEYS": f'["{encryption_key}"]',
            "HUB_PLUGINS__DENY": '["amazon"]',
            "HUB_CONNECTORS__BOL__ENDPOINT": sim_url,
            "HUB_CONNECTORS__BOL__WEBHOOKS_ALLOW_LOOPBACK": "true",
            "HUB_LOG__LEVEL": "WARNING",
            # This checkout's code, also when it is not the one the virtual environment installed.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(extra)
    return env


class HubApi:
    """A merchant's JSON API calls to one `hub serve` (bearer token)."""

    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http, self.token = http, token

    async def call(self, url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request; the status and the JSON answer."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, url + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def connect_bol(self, url: str, client_id: str, client_secret: str, update_tracking: bool = True) -> int:
        """Connect bol.com with pasted client credentials (tracking updates on); the connection id."""
        fields = {"client_id": client_id, "client_secret": client_secret}
        status, body = await self.call(url, "POST", "/api/v1/connections", {"connector": "bol", "fields": fields})
        if status != 201:
            raise SystemExit(f"connecting bol.com answered {status}: {body}")
        connection_id = int(body["connection"]["id"])
        if update_tracking:
            status, body = await self.call(url, "PATCH", f"/api/v1/connections/{connection_id}", {"update_tracking": True})
            if status != 200:
                raise SystemExit(f"turning tracking updates on answered {status}: {body}")
        return connection_id

    async def import_now(self, url: str, connection_id: int, timeout: float = 600) -> dict[str, Any]:
        """Start an import (or join the one queued or running) and wait until it ends; the run."""
        status, run = await self.call(url, "POST", "/api/v1/imports", {"connection_id": connection_id})
        if status not in (200, 202):
            raise SystemExit(f"POST /api/v1/imports answered {status}: {run}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, body = await self.call(url, "GET", f"/api/v1/imports/{run['id']}")
            if body["state"] not in ("queued", "running"):
                return body
            await asyncio.sleep(0.1)
        raise SystemExit(f"import {run['id']} still running after {timeout} s")

    async def orders(self, url: str) -> list[dict[str, Any]]:
        """Every order of the account."""
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            status, body = await self.call(url, "GET", f"/api/v1/orders?limit=500&after={after}")
            if status != 200:
                raise SystemExit(f"GET /api/v1/orders answered {status}: {body}")
            found.extend(body["orders"])
            if body["next_after"] is None:
                return found
            after = body["next_after"]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system seconds of the processes still alive."""
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def bol_hub_settings(database_url: str, data_dir: Path, sim_url: str, **bol: Any) -> Any:
    """HubSettings on this database, bol.com at the simulator, Amazon not loaded, no hub.toml."""
    from core.infra.crypto import new_key
    from core.infra.settings import HubSettings

    empty = data_dir / "hub.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    os.environ["HUB_CONFIG"] = str(empty)
    return HubSettings(
        data_dir=data_dir,
        database={"url": database_url},
        security={"encryption_keys": [new_key()]},
        plugins={"deny": ["amazon"]},
        connectors={"bol": {"endpoint": sim_url, **bol}},
    )


def shop_calls(connector: str) -> dict[tuple[str, str], float]:
    """This process's ``hub_shop_calls_total`` of a connector so far: (operation, status) -> calls."""
    from core.infra.metrics import SHOP_CALLS

    found: dict[tuple[str, str], float] = {}
    for metric in SHOP_CALLS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("connector") == connector:
                found[(sample.labels["operation"], sample.labels["status"])] = sample.value
    return found


# -- crash runs ---------------------------------------------------------------------------------


class CrashReport(Protocol):
    """What a crash run reports: its figures, and what did not hold."""

    def summary(self) -> str: ...

    def problems(self) -> list[str]: ...


def crash_arguments(doc: str | None, *, kills: int, daemons: int, orders_per_round: int) -> argparse.ArgumentParser:
    """The options every crash run takes; a script adds its own."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=kills, help="SIGKILLs, each followed by a restart")
    parser.add_argument("--daemons", type=int, default=daemons)
    parser.add_argument(
        "--orders-per-round", type=int, default=orders_per_round, help="new orders per shop account before each kill"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (daemon logs) afterwards")
    return parser


async def crash_main(
    prefix: str,
    run: Callable[[str, Path], Awaitable[CrashReport]],
    *,
    held: str,
    keep: bool,
    notes: tuple[str, ...] = (),
) -> NoReturn:
    """Run ``run(database_url, workdir)`` as a crash run's script does, and exit 1 when anything did not hold.

    Around it: the machine, an embedded PostgreSQL in a fresh folder (removed afterwards unless
    ``keep``), the report's figures and ``held`` (or what failed).
    """
    from core.storage.database import embedded_url

    # The simulator's server logs each request a killed daemon left half-sent; that is the point.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print(f"machine: {machine()}")
    for note in notes:
        print(note)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    try:
        report = await run(url, workdir)
    finally:
        await asyncio.to_thread(server.cleanup)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.summary())
    problems = report.problems()
    print("FAILED: " + "; ".join(problems) if problems else held)
    if keep:
        print(f"daemon logs in {workdir}")
    raise SystemExit(1 if problems else 0)


def round_robin(orders: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first ``count`` orders taking each connection in turn, as a carrier's label stream mixes its sellers."""
    by_connection: dict[int, list[dict[str, Any]]] = {}
    for order in orders:
        by_connection.setdefault(order["connection_id"], []).append(order)
    queues = list(by_connection.values())
    return [q[n] for n in range(max(map(len, queues), default=0)) for q in queues if n < len(q)][:count]


@dataclass
class Confirmations:
    """What an in-process Amazon simulator saw of the confirmShipment calls: when each order's
    first package arrived (``time.perf_counter``), and how many calls its buckets refused."""

    arrived: dict[str, float] = field(default_factory=dict)
    refused: int = 0

    @classmethod
    def watch(cls, state: Any) -> Confirmations:
        """Start counting on the simulator's ``state`` (wraps its save_package and within_quota)."""
        seen = cls()
        save_package, within_quota = state.save_package, state.within_quota

        def noting(order: Any, package: Any, payload: dict[str, Any]) -> str:
            action = save_package(order, package, payload)
            seen.arrived.setdefault(order.order_id, time.perf_counter())
            return str(action)

        def counting(seller_id: str, operation: str) -> bool:
            allowed = bool(within_quota(seller_id, operation))
            if not allowed and operation == "confirmShipment":
                seen.refused += 1
            return allowed

        state.save_package, state.within_quota = noting, counting
        return seen
