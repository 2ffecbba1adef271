"""`hub serve` as operators run it: subprocesses on one test database, the simulator in-process.

``daemons`` starts processes on free ports and always stops them (SIGKILL at the latest), even when
a test fails. ``Merchant`` drives a daemon's JSON API and the simulator's consent page as a merchant
would: connect sellers, import, post labels.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.amazon.simulator import RunningSimulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.infra.settings import HubSettings
from tests.hub.api.conftest import eventually

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
        if daemon.process is not None and daemon.process.returncode is None:
            daemon.process.kill()
            await daemon.process.wait()


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
