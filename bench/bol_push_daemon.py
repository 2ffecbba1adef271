"""bol.com figures 2 and 3: shipments per second through `hub serve`, and process-status calls per shipment.

Per run (``--webhooks on,off``: one run where bol.com's PROCESS_STATUS webhooks reach the daemon,
one polling only), a fresh embedded PostgreSQL, the bol.com simulator in this process (its rate
limits on, real clock; each shipment's process status settles ``--settle-delay`` seconds after the
202), ``--retailers`` retailers with one-item own-shipped orders, connected through the daemon's
API with their pasted credentials and imported. Then one one-parcel label per order is POSTed to
the API, round-robin over the retailers, ``--inflight`` at once, and the daemon does the rest with
its job workers: each push reads the order and the item's process statuses at bol.com and POSTs
the shipment (202: accepted), and settle jobs ask bol.com in bulk how the process statuses ended
(with webhooks, each PROCESS_STATUS message makes its parcel due at once; without, the parcels are
asked about after ``jobs.settle_base_seconds`` (5 s), doubling, and found by the scheduler's tick).
The daemon runs with the hub's defaults.

Measured:

- labels/s the API took; shipments/s: shipment POSTs bol.com accepted per second, from the first
  label POST to the last shipment (``SimulatorState.accept_shipment`` is wrapped: no polling error);
- confirmations/s: parcels confirmed per second, from the first POST to the last confirmation;
  latency per parcel from the database's own times: label stored (``labels.created_at``) ->
  accepted at bol.com (``parcels.accepted_at``) -> confirmed (``parcels.pushed_at``), p50 and p99;
- calls per shipment from the simulator's counters: process statuses (by item before each POST,
  in bulk to settle, by id), order details, shipment lists; 429s its rate limits gave;
- what bol.com's limits allow: 25 shipment POSTs a second per retailer; a push also reads the
  order (25 a second) and the item's process statuses (bol.com publishes no limit: the hub starts
  at 10 a second and adopts the answers' ``X-RateLimit-Limit``, the simulator's 25): 25 parcels a
  second per retailer, after a burst;
- CPU seconds of the daemon, of PostgreSQL and of this process (simulator and load).

    python bench/bol_push_daemon.py                         # 2,000 labels over 10 retailers, webhooks on then off
    python bench/bol_push_daemon.py --labels 500 --webhooks on
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
if str(REPO) not in sys.path:  # run as `python bench/bol_push_daemon.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import psutil  # noqa: E402

from bench.harness import (  # noqa: E402
    HubApi,
    bol_environment,
    bol_simulator,
    cpu_seconds,
    machine,
    percentile,
)
from bench.push_daemon import postgres_processes  # noqa: E402
from connectors.bol.simulator import SimulatorConfig, client_id, client_secret, retailer_id  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.database import embedded_url  # noqa: E402
from core.storage.tokens import create_token  # noqa: E402
from tests.hub.daemons import Daemon, free_port, gather_limited, stop_running  # noqa: E402

PROCESS_STATUS_CALLS = ("get-process-status-entity-id", "get-process-status-bulk", "get-process-status")
#: Parcels a second per retailer that bol.com's limits allow (POST shipments, and the order and process-status reads).
LIMIT_PER_RETAILER = 25.0


async def run(
    webhooks: bool, labels: int, retailers: int, inflight: int, settle_delay: float, workdir: Path
) -> dict[str, Any]:
    per_retailer = -(-labels // retailers)
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    config = SimulatorConfig(
        retailers=retailers, orders_per_retailer=0, demo_orders=False, settle_delay=settle_delay, retry_interval=5.0
    )
    accepted: list[float] = []
    refused: dict[str, int] = {}
    try:
        async with bol_simulator(config) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=inflight + 20), timeout=aiohttp.ClientTimeout(total=600)
        ) as http:
            ids = [retailer_id(n) for n in range(1, retailers + 1)]
            for retailer in ids:
                for _ in range(per_retailer):
                    sim.state.new_order(retailerId=retailer, shape="fbr", items=[{"quantity": 1}])
            env = bol_environment(
                url, workdir / "data", new_key(), sim.url,
                HUB_CONNECTORS__BOL__WEBHOOKS="true" if webhooks else "false",
            )
            (workdir / "data").mkdir(parents=True, exist_ok=True)
            daemon = Daemon(free_port(), env, workdir / "hub-serve.log")
            db = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                await daemon.start()
                account = await create_account(db, "bol.com push bench")
                hub = HubApi(http, await create_token(db, account.id))
                began = time.perf_counter()
                connections = [
                    await hub.connect_bol(daemon.url, client_id(n), client_secret(n)) for n in range(1, retailers + 1)
                ]
                if webhooks:  # the subscriptions exist once bol.com settles their creation
                    await sim.state.wait_for(lambda: len(sim.state.subscriptions) == retailers, timeout=30)
                for connection_id in connections:
                    run_ = await hub.import_now(daemon.url, connection_id)
                    if run_["state"] != "succeeded":
                        raise SystemExit(f"import failed: {run_}")
                orders = [o for o in await hub.orders(daemon.url) if o["status"] == "open"]
                onboarding = time.perf_counter() - began
                by_connection: dict[int, list[dict[str, Any]]] = {}
                for order in orders:
                    by_connection.setdefault(order["connection_id"], []).append(order)
                queues = list(by_connection.values())
                orders = [q[n] for n in range(max(map(len, queues))) for q in queues if n < len(q)][:labels]

                accept, take = sim.state.accept_shipment, sim.state.limiter.take

                def noting(*args: Any, **kwargs: Any) -> Any:
                    status = accept(*args, **kwargs)
                    accepted.append(time.perf_counter())
                    return status

                def counting(retailer: str, operation: str) -> Any:
                    verdict = take(retailer, operation)
                    if not verdict.allowed:
                        refused[operation] = refused.get(operation, 0) + 1
                    return verdict

                sim.state.accept_shipment = noting  # type: ignore[method-assign]
                sim.state.limiter.take = counting  # type: ignore[method-assign]
                calls_before = dict(sim.state.calls)
                assert daemon.process is not None
                procs = [psutil.Process(daemon.process.pid)], postgres_processes((workdir / "pg").resolve()), [psutil.Process()]
                cpu0 = [cpu_seconds(p) for p in procs]
                wall0 = time.time()
                started = time.perf_counter()

                async def post(order: dict[str, Any]) -> None:
                    body = {"order_id": order["id"], "label_id": f"bench-{order['id']}",
                            "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}]}
                    status, label = await hub.call(daemon.url, "POST", "/api/v1/labels", body)
                    if status != 201:
                        raise SystemExit(f"POST /api/v1/labels answered {status}: {label}")

                await gather_limited(inflight, [lambda o=o: post(o) for o in orders])
                posted = time.perf_counter() - started

                async def confirmed() -> int:
                    return await db.fetchval("select count(*) from parcels where push_state = 'confirmed'")

                deadline = time.monotonic() + 1800
                while await confirmed() < len(orders) and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                cpu1 = [cpu_seconds(p) for p in procs]
                rows = await db.fetch(
                    "select extract(epoch from l.created_at) as created, extract(epoch from p.accepted_at) as accepted,"
                    " extract(epoch from p.pushed_at) as confirmed, p.push_state from parcels p join labels l on l.id = p.label_id"
                )
                calls = {k: v - calls_before.get(k, 0) for k, v in sim.state.calls.items()}
                made = len(sim.state.shipments_made())
            finally:
                await db.close()
                await stop_running([daemon])
    finally:
        await asyncio.to_thread(server.cleanup)
    done = [r for r in rows if r["push_state"] == "confirmed"]
    last = max(float(r["confirmed"]) for r in done) - wall0
    return {
        "webhooks": webhooks, "retailers": retailers, "labels": len(orders), "confirmed": len(done), "made": made,
        "onboarding": onboarding, "posted": posted, "shipments_seconds": max(accepted) - started if accepted else 0.0,
        "shipments": len(accepted), "last": last,
        "push_latency": [(float(r["accepted"]) - float(r["created"])) * 1000 for r in done if r["accepted"]],
        "settle_latency": [(float(r["confirmed"]) - float(r["accepted"])) * 1000 for r in done if r["accepted"]],
        "total_latency": [(float(r["confirmed"]) - float(r["created"])) * 1000 for r in done],
        "calls": calls, "refused": refused,
        "cpu": [b - a for a, b in zip(cpu0, cpu1, strict=True)],
    }


def report(r: dict[str, Any], settle_delay: float) -> None:
    """Print one run's figures."""
    n, calls = r["made"] or 1, r["calls"]
    ps = {name: calls.get(name, 0) for name in PROCESS_STATUS_CALLS}
    allowed = LIMIT_PER_RETAILER * r["retailers"]
    print(f"webhooks {'on (PROCESS_STATUS messages to the daemon)' if r['webhooks'] else 'off (polling only)'}: "
          f"{r['confirmed']:,} of {r['labels']:,} labels confirmed over {r['retailers']} retailers "
          f"(connected and imported in {r['onboarding']:.1f} s)")
    print(f"  API took the labels at {r['labels'] / r['posted']:.1f}/s ({r['posted']:.1f} s)")
    print(f"  shipments: {r['shipments']:,} POSTs accepted by bol.com in {r['shipments_seconds']:.1f} s: "
          f"{r['shipments'] / r['shipments_seconds']:.1f} shipments/s (bol.com's limits allow {allowed:.0f}/s over "
          f"{r['retailers']} retailers after a burst); {r['made']:,} shipments made")
    print(f"  confirmed: {r['confirmed'] / r['last']:.1f}/s ({r['last']:.1f} s from the first POST to the last confirmation; "
          f"process statuses settle {settle_delay:g} s after the 202)")
    for name, values in (("label -> accepted", r["push_latency"]), ("accepted -> confirmed", r["settle_latency"]),
                         ("label -> confirmed", r["total_latency"])):
        print(f"  latency {name}: p50 {percentile(values, 0.5):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, "
              f"max {max(values):.0f} ms")
    print(f"  process-status calls per shipment: {sum(ps.values()) / n:.2f} "
          f"(by item before the POST {ps['get-process-status-entity-id'] / n:.2f}, bulk {ps['get-process-status-bulk'] / n:.3f} "
          f"= {ps['get-process-status-bulk']:,} calls, by id {ps['get-process-status'] / n:.2f})")
    print(f"  other calls per shipment: order details {calls.get('get-order', 0) / n:.2f}, shipment lists "
          f"{calls.get('get-shipments', 0) / n:.2f}, POST shipments {calls.get('create-shipment', 0) / n:.2f}; "
          f"429s: {r['refused'] or 0}")
    print(f"  CPU s: daemon {r['cpu'][0]:.0f}, PostgreSQL {r['cpu'][1]:.0f}, this process (simulator + load) {r['cpu'][2]:.0f}; "
          f"CPU per shipment: daemon {r['cpu'][0] * 1000 / n:.1f} ms, PostgreSQL {r['cpu'][1] * 1000 / n:.1f} ms, "
          f"together {(r['cpu'][0] + r['cpu'][1]) * 1000 / n:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--retailers", type=int, default=10)
    parser.add_argument("--inflight", type=int, default=20, help="label POSTs in flight (default 20)")
    parser.add_argument("--settle-delay", type=float, default=1.0, help="seconds from a 202 to its process status settling")
    parser.add_argument("--webhooks", default="on,off", help="runs with webhooks on, off, or both in turn (default on,off)")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    print(f"machine: {machine()}")
    print(f"simulator: {args.retailers} retailers, rate limits on, process statuses settle after {args.settle_delay:g} s, "
          f"in this process; 1 `hub serve` with the hub's defaults; {args.inflight} label POSTs in flight")
    for mode in args.webhooks.split(","):
        workdir = Path(tempfile.mkdtemp(prefix="hub-bol-push-"))
        try:
            r = await run(mode.strip() == "on", args.labels, args.retailers, args.inflight, args.settle_delay, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        report(r, args.settle_delay)


if __name__ == "__main__":
    asyncio.run(main())
