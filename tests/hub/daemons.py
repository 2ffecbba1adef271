"""`hub serve` as operators run it: subprocesses on one test database, the simulator in-process.

``daemons`` starts processes on free ports and always stops them (SIGKILL at the latest), even when
a test fails; ``started`` does the same for a set of daemons made beforehand. ``Merchant`` drives a
daemon's JSON API and the simulator's consent page as a merchant would: connect sellers, import,
post labels. ``FleetApi`` and ``LabelPoster`` are the merchant's API through any live daemon and the
carrier's platform labelling every order, for the crash runs (tests/reliability/crash_run.py and
bench/crash_run_bol.py), where daemons die under requests.

The benchmarks in bench/ import this module too (bench/harness.py says the rule: bench may import
these test daemons, tests never import bench).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from tests.waiting import eventually

#: The `hub` script of the environment running the tests.
HUB = str(Path(sys.executable).with_name("hub"))

#: Seconds a daemon gets to answer /readyz after it starts.
START_TIMEOUT = 30


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hub_environment(settings: HubSettings, sim: RunningSimulator, **extra: str) -> dict[str, str]:
    """The environment of a daemon on the test's database, with Amazon at the simulator."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    assert settings.database.url is not None
    env.update(
        {
            "HUB_DATABASE__URL": settings.database.url.get_secret_value(),
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_SECURITY__ENCRYPTION_KEYS": f'["{settings.security.encryption_keys[0].get_secret_value()}"]',
            "HUB_CONNECTORS__AMAZON__ENDPOINT": sim.url,
            "HUB_CONNECTORS__AMAZON__APPLICATION_ID": DEFAULT_APPLICATION_ID,
            "HUB_CONNECTORS__AMAZON__CLIENT_ID": DEFAULT_CLIENT_ID,
            "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "HUB_JOBS__RETRY_BASE_SECONDS": "0.2",
            "HUB_JOBS__TICK_SECONDS": "2",
        }
    )
    env.update(extra)
    return env


@dataclass
class Daemon:
    """One `hub serve` process; its output goes to a file (a pipe nobody reads would block it)."""

    port: int
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the process and wait until /readyz answers 200."""
        env = {"HUB_SERVER__PUBLIC_URL": self.url, **self.env}
        with self.log_path.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                HUB, "serve", "--port", str(self.port),
                env=env, cwd=self.log_path.parent, stdout=output, stderr=output, stdin=asyncio.subprocess.DEVNULL,
            )

        async def ready() -> bool:
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"hub serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                async with aiohttp.ClientSession() as http, http.get(self.url + "/readyz") as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await eventually(ready, timeout=START_TIMEOUT)

    async def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send a signal and return the exit code; SIGKILL (and fail) if it takes over ``timeout``."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal_number)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"hub serve did not stop within {timeout} s:\n{self.log()}") from None

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def kill(self) -> None:
        """SIGKILL the process if it still runs (the end of a test or a run, whatever happened)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def stop_running(fleet: Iterable[Daemon]) -> None:
    """Stop (SIGTERM, as an operator would) every daemon of ``fleet`` still running: the end of a benchmark run."""
    for daemon in fleet:
        if daemon.process is not None and daemon.process.returncode is None:
            await daemon.stop()


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Daemon]]]:
    """Start `hub serve` processes: ``await daemons(env)``; every one is killed at the end."""
    started: list[Daemon] = []

    async def start(env: dict[str, str], port: int | None = None) -> Daemon:
        daemon = Daemon(port or free_port(), env, tmp_path / f"hub-serve-{len(started) + 1}.log")
        started.append(daemon)
        await daemon.start()
        return daemon

    yield start
    for daemon in started:
        await daemon.kill()


@asynccontextmanager
async def started(members: dict[str, Daemon]) -> AsyncIterator[dict[str, Daemon]]:
    """Start the daemons, the first alone (it migrates an empty database), and kill every one at the end."""
    try:
        first, *others = members.values()
        await first.start()
        await asyncio.gather(*(daemon.start() for daemon in others))
        yield members
    finally:
        for daemon in members.values():
            await daemon.kill()


#: Open orders of the one seller of ``sim``.
SIM_ORDERS = 3


@pytest.fixture(name="sim")
async def one_seller_sim() -> AsyncIterator[RunningSimulator]:
    """The simulator with one seller in NL and SIM_ORDERS open orders (import it as a fixture)."""
    async with run_simulator(SimulatorConfig(sellers=1, orders_per_seller=0, marketplaces=["NL"])) as running:
        seed_orders(running, SIM_ORDERS)
        yield running


async def new_token(pool: Any, name: str) -> str:
    """A new account's API token."""
    return await create_token(pool, (await create_account(pool, name)).id)


@dataclass
class Merchant:
    """A carrier account acting through the daemons' JSON API (any daemon serves any request)."""

    http: aiohttp.ClientSession
    token: str
    sim: RunningSimulator
    daemons: list[Daemon] = field(default_factory=list)

    async def call(self, daemon: Daemon, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request; the status and the JSON answer."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, daemon.url + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def connect(self, daemon: Daemon, seller_id: str) -> int:
        """Connect Amazon NL for one seller through the consent page, with tracking updates on."""
        status, body = await self.call(daemon, "POST", "/api/v1/connections", {"connector": "amazon", "marketplace": "NL"})
        assert status == 201, body
        callback = await approve(self.http, body["authorize_url"], seller_id)
        assert callback.startswith(daemon.url + "/connect/callback"), callback
        async with self.http.get(callback) as response:
            assert response.status == 200, await response.text()
        connection_id = body["connection"]["id"]
        status, body = await self.call(daemon, "PATCH", f"/api/v1/connections/{connection_id}", {"update_tracking": True})
        assert status == 200 and body["state"] == "connected", body
        return connection_id

    async def import_orders(self, daemon: Daemon, connection_id: int) -> dict[str, Any]:
        """Start an import and wait until it succeeded."""
        status, run = await self.call(daemon, "POST", "/api/v1/imports", {"connection_id": connection_id})
        assert status == 202, run

        async def finished() -> dict[str, Any] | None:
            _, body = await self.call(daemon, "GET", f"/api/v1/imports/{run['id']}")
            assert body["state"] in ("queued", "running", "succeeded"), body
            return body if body["state"] == "succeeded" else None

        return await eventually(finished, timeout=30)

    async def orders(self, daemon: Daemon) -> list[dict[str, Any]]:
        """Every order of the account."""
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            status, body = await self.call(daemon, "GET", f"/api/v1/orders?limit=500&after={after}")
            assert status == 200, body
            found.extend(body["orders"])
            if body["next_after"] is None:
                return found
            after = body["next_after"]

    async def label(self, daemon: Daemon, order: dict[str, Any]) -> dict[str, Any]:
        """Report a one-parcel label for an order; the label as stored."""
        body = {
            "order_id": order["id"],
            "label_id": f"L-{order['id']}",
            "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}],
        }
        status, label = await self.call(daemon, "POST", "/api/v1/labels", body)
        assert status == 201, label
        return label


def seed_orders(sim: RunningSimulator, per_seller: int) -> None:
    """Give every seller ``per_seller`` open one-item orders, old enough for searchOrders to return."""
    for seller_id in sim.state.sellers:
        for _ in range(per_seller):
            sim.state.add_order(seller_id, items=[{"quantity": 1}])
    # searchOrders answers only orders updated at least two minutes ago.
    sim.state.clock.advance(150)


async def gather_limited(limit: int, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the calls with at most ``limit`` at once; their results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


class FleetApi:
    """The merchant's JSON API through any live daemon, tried again when a daemon dies under a request."""

    def __init__(self, http: aiohttp.ClientSession, token: str, fleet: list[Daemon], rng: random.Random) -> None:
        self.http, self.token, self.fleet, self.rng = http, token, fleet, rng

    async def call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> tuple[int, Any]:
        """One request; connection errors and 5xx answers are tried again on any daemon until ``timeout``."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            daemon = self.rng.choice(self.fleet)
            try:
                async with self.http.request(
                    method, daemon.url + path, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
                ) as response:
                    if response.status < 500:
                        return response.status, await response.json()
                    failure = f"{response.status} {await response.text()}"
            except (aiohttp.ClientError, TimeoutError) as err:
                failure = repr(err)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} failed for {timeout} s: {failure}")
            await asyncio.sleep(0.1)

    async def import_to_end(self, connection_id: int, timeout: float = 120) -> None:
        """Run an import of the connection that starts after now, to success.

        Starting an import while one is queued or running answers that one, which may have begun
        before the last orders arrived: the run that counts is the first one started after it ended.
        """
        fresh = 0
        while fresh < 2:
            status, run = await self.call("POST", "/api/v1/imports", {"connection_id": connection_id})
            assert status in (200, 202), run

            async def finished(run_id: int = run["id"]) -> str | None:
                _, body = await self.call("GET", f"/api/v1/imports/{run_id}")
                return body["state"] if body["state"] not in ("queued", "running") else None

            fresh = fresh + 1 if await eventually(finished, timeout=timeout, interval=0.2) == "succeeded" else 0


#: An order's parcels as the carrier's platform labels it (none: not yet).
Parcels = Callable[[dict[str, Any]], list[dict[str, Any]]]


class LabelPoster:
    """Posts a label for every stored order as it appears, as the carrier's platform would."""

    def __init__(self, api: FleetApi, parcels_of: Parcels, concurrency: int = 4) -> None:
        self.api, self.parcels_of = api, parcels_of
        self.gate = asyncio.Semaphore(concurrency)
        self.posted: dict[int, dict[str, Any]] = {}  # order id -> the label body
        self.repeated = 0  # answered 200: the label was stored by a request whose answer a kill ate
        self.finishing = asyncio.Event()

    @asynccontextmanager
    async def posting(self, timeout: float = 300) -> AsyncIterator[LabelPoster]:
        """Post in the background while the block runs; after it, post until nothing is left (at most ``timeout``)."""
        task = asyncio.create_task(self.run(), name="label-poster")
        try:
            yield self
            self.finishing.set()
            await asyncio.wait_for(asyncio.shield(task), timeout=timeout)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait([task])

    async def run(self) -> None:
        """Post until ``finishing`` is set and a full scan after that finds nothing left to label."""
        after, scans = 0, 0
        while True:
            final = self.finishing.is_set()
            # Ids come from a sequence, but concurrent imports commit out of order: every tenth scan
            # (and the last) reads every order, so none is passed over.
            full = final or scans % 10 == 0
            orders = await self.orders(0 if full else after)
            todo = [order for order in orders if order["id"] not in self.posted and self.parcels_of(order)]
            await asyncio.gather(*(self.post(order) for order in todo))
            after = max([after, *(order["id"] for order in orders)])
            scans += 1
            if final and not todo:
                return
            await asyncio.sleep(0.2)  # the platform's pace, not a wait for the hub

    async def orders(self, after: int) -> list[dict[str, Any]]:
        """The account's orders with an id above ``after``."""
        found: list[dict[str, Any]] = []
        while True:
            status, body = await self.api.call("GET", f"/api/v1/orders?limit=500&after={after}")
            assert status == 200, body
            found.extend(body["orders"])
            if body["next_after"] is None:
                return found
            after = body["next_after"]

    async def post(self, order: dict[str, Any]) -> None:
        """Post the order's label, its parcels as ``parcels_of`` says."""
        body = {"order_id": order["id"], "label_id": f"L-{order['id']}", "parcels": self.parcels_of(order)}
        async with self.gate:
            status, label = await self.api.call("POST", "/api/v1/labels", body)
        assert status in (200, 201), label
        self.repeated += status == 200
        self.posted[order["id"]] = body
