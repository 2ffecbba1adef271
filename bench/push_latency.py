"""Label-to-Amazon latency on an idle daemon: POST /api/v1/labels until Amazon records the confirmShipment.

Starts the Amazon simulator in this process (Amazon's usage plans on), one ``hub serve`` on the
embedded PostgreSQL in a temporary data folder (or on ``HUB_DATABASE__URL``: use a scratch
database, the bench writes into it), creates an account and token with ``hub accounts``, connects a
few sellers through the consent page, imports their orders, then posts one label at a time and
waits for its confirmation before the next. Labels go round-robin over the sellers, spaced so that
each seller stays within confirmShipment's usage plan (2/s).

The simulator notes the moment each confirmation is stored (``SimulatorState.save_package``), so
the figure has no polling error. Latency is measured from the API's response (the label is stored
and its push job committed), and, for reference, from sending the request. The daemon's
``jobs.tick_seconds`` stays at its default of 15 s: only LISTEN/NOTIFY can make a push start sooner.

    python bench/push_latency.py                       # 200 labels over 4 sellers
    python bench/push_latency.py --labels 500 --sellers 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from connectors.amazon.simulator import SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve

HUB = str(Path(sys.executable).with_name("hub"))

#: confirmShipment's usage plan, per seller: 2 requests a second.
CONFIRM_RATE = 2.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def hub(env: dict[str, str], *args: str) -> str:
    """Run a `hub` command; its output."""
    process = await asyncio.create_subprocess_exec(
        HUB, *args, env=env, cwd=env["HUB_DATA_DIR"], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode:
        raise SystemExit(f"hub {' '.join(args)} failed: {err.decode()}")
    return out.decode().strip()


async def wait_ready(http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process) -> None:
    """Wait until the daemon answers /readyz."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise SystemExit(f"hub serve exited with {process.returncode}")
        try:
            async with http.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("hub serve did not become ready within 60 s")


class Api:
    """The daemon's JSON API for one token."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http, self.url, self.headers = http, url, {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        async with self.http.request(method, self.url + path, json=body, headers=self.headers) as response:
            answer = await response.json()
            if response.status != expect:
                raise SystemExit(f"{method} {path} answered {response.status}: {answer}")
            return answer


async def prepare(api: Api, sim_sellers: list[str]) -> list[dict[str, Any]]:
    """Connect every seller, import, and return the open orders, grouped round-robin by seller."""
    by_connection: dict[int, list[dict[str, Any]]] = {}
    for seller_id in sim_sellers:
        started = await api.call("POST", "/api/v1/connections", {"connector": "amazon", "marketplace": "NL"}, 201)
        callback = await approve(api.http, started["authorize_url"], seller_id)
        async with api.http.get(callback) as response:
            if response.status != 200:
                raise SystemExit(f"the callback answered {response.status}: {await response.text()}")
        connection_id = started["connection"]["id"]
        await api.call("PATCH", f"/api/v1/connections/{connection_id}", {"update_tracking": True})
        run = await api.call("POST", "/api/v1/imports", {"connection_id": connection_id}, 202)
        while run["state"] != "succeeded":
            if run["state"] == "failed":
                raise SystemExit(f"import failed: {run}")
            await asyncio.sleep(0.1)
            run = await api.call("GET", f"/api/v1/imports/{run['id']}")
        body = await api.call("GET", f"/api/v1/orders?connection_id={connection_id}&status=open&limit=500")
        by_connection[connection_id] = body["orders"]
    queues = list(by_connection.values())
    return [queue[n] for n in range(max(map(len, queues))) for queue in queues if n < len(queue)]


async def measure(api: Api, state: Any, orders: list[dict[str, Any]], gap: float) -> tuple[list[float], list[float]]:
    """Post one label per order, one at a time; latencies from the response and from the request, ms."""
    arrived: dict[str, asyncio.Future[float]] = {}
    save_package = state.save_package

    def noting(order: Any, package: Any, payload: dict[str, Any]) -> str:
        action = save_package(order, package, payload)
        waiting = arrived.get(order.order_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(time.perf_counter())
        return action

    state.save_package = noting
    from_response, from_request = [], []
    loop = asyncio.get_running_loop()
    for number, order in enumerate(orders, start=1):
        next_start = time.perf_counter() + gap
        arrived[order["external_id"]] = confirmed = loop.create_future()
        body = {"order_id": order["id"], "label_id": f"bench-{order['id']}", "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}]}
        sent = time.perf_counter()
        await api.call("POST", "/api/v1/labels", body, 201)
        answered = time.perf_counter()
        at_amazon = await asyncio.wait_for(confirmed, 30)
        from_response.append((at_amazon - answered) * 1000)
        from_request.append((at_amazon - sent) * 1000)
        if number % 50 == 0:
            print(f"  {number} labels", file=sys.stderr)
        await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
    return from_response, from_request


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def report(name: str, values: list[float]) -> None:
    print(
        f"{name:<22} p50 {percentile(values, 0.50):7.1f} ms   p90 {percentile(values, 0.90):7.1f} ms   "
        f"p99 {percentile(values, 0.99):7.1f} ms   max {max(values):7.1f} ms   mean {statistics.fmean(values):7.1f} ms"
    )


async def main(labels: int, sellers: int, warmup: int) -> None:
    per_seller = -(-(labels + warmup * sellers) // sellers)
    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    config = SimulatorConfig(sellers=sellers, orders_per_seller=0, marketplaces=["NL"])
    try:
        async with run_simulator(config) as sim, aiohttp.ClientSession() as http:
            for seller_id in sim.state.sellers:
                for _ in range(per_seller):
                    sim.state.add_order(seller_id, items=[{"quantity": 1}])
            sim.state.clock.advance(150)  # searchOrders returns orders updated two minutes ago or earlier
            port = free_port()
            env = {key: value for key, value in os.environ.items() if key.startswith("HUB_DATABASE__") or not key.startswith("HUB_")}
            env |= {
                "HUB_DATA_DIR": str(data_dir),
                "HUB_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
                "HUB_CONNECTORS__AMAZON__ENDPOINT": sim.url,
                "HUB_CONNECTORS__AMAZON__APPLICATION_ID": DEFAULT_APPLICATION_ID,
                "HUB_CONNECTORS__AMAZON__CLIENT_ID": DEFAULT_CLIENT_ID,
                "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "HUB_LOG__LEVEL": "WARNING",
            }
            database = "HUB_DATABASE__URL" if "HUB_DATABASE__URL" in env else f"embedded PostgreSQL in {data_dir}"
            account = f"Latency bench {time.strftime('%Y-%m-%d %H:%M:%S')}"
            await hub(env, "accounts", "create", account)
            token = (await hub(env, "accounts", "token", account)).splitlines()[-1]
            serve = await asyncio.create_subprocess_exec(HUB, "serve", "--port", str(port), env=env, cwd=data_dir)
            try:
                api = Api(http, f"http://127.0.0.1:{port}", token)
                await wait_ready(http, api.url, serve)
                orders = await prepare(api, list(sim.state.sellers))
                gap = 1 / (CONFIRM_RATE * 0.8 * sellers)
                print(
                    f"hub serve on {database}; {sellers} sellers; {warmup * sellers} warm-up labels, then {labels} "
                    f"one at a time, {gap * 1000:.0f} ms apart (each seller at {1 / (gap * sellers):.2f}/s)",
                    file=sys.stderr,
                )
                await measure(api, sim.state, orders[: warmup * sellers], gap)
                from_response, from_request = await measure(api, sim.state, orders[warmup * sellers : warmup * sellers + labels], gap)
            finally:
                serve.terminate()
                await serve.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"label-to-Amazon latency over {len(from_response)} labels on an idle daemon:")
    report("from the API response", from_response)
    report("from the API request", from_request)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=200, help="labels to measure (default 200)")
    parser.add_argument("--sellers", type=int, default=4, help="sellers to spread them over (default 4)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured labels per seller first (default 2)")
    options = parser.parse_args()
    asyncio.run(main(options.labels, options.sellers, options.warmup))
