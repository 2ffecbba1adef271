"""What the benchmark scripts share: the machine, the simulator process, the database, a meter.

Not a benchmark itself. The scripts in ``bench/`` import it (``python bench/<script>.py`` puts
``bench/`` on the path). Everything runs on 127.0.0.1: the simulator in its own process (so that
the hub's process measures the hub), the embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
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
                raise SystemExit("the simulator did not start:\n" + "".join(banner))
            banner.append(line)
            if line.startswith("Amazon simulator at "):
                url = line.split()[-1]
            if "Press Ctrl-C" in line and url:
                break
        yield url, psutil.Process(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


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
    from core.crypto import new_key
    from core.settings import HubSettings

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
    from core import authorization
    from core.storage.accounts import create_account

    account_id = account_id or (await create_account(rt.db.pool, f"Bench merchant {uuid.uuid4().hex[:8]}")).id
    _, url = await authorization.start_connect(rt, account_id, "amazon", {"marketplace": marketplace})
    async with aiohttp.ClientSession() as browser:
        callback = await approve(browser, url, seller_id)
    connection = await authorization.complete_connect(rt, dict(parse_qsl(urlsplit(callback).query)), account_id)
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
