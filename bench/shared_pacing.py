"""Shared pacing: 3 `hub serve` daemons push a burst of 100 labels for one seller; 429s and LWA refreshes.

Per run (``--modes shared,per-process`` runs both, each on a fresh embedded PostgreSQL): the
Amazon simulator in this process (Amazon's usage plans on, real clock: confirmShipment 2/s, burst
10 per seller), ``--daemons`` daemons on one database, one seller connected through the consent
page and imported through the API, then the hour of the access token from the consent is made to
pass (the simulator's clock moves on an hour, so Amazon refuses that token everywhere), and
``--labels`` one-parcel labels are POSTed at once, round-robin over the daemons. Measured, for
that burst:

- 429s met: confirmShipment calls the simulator's token bucket refused;
- LWA refreshes: refresh_token grants the simulator's LWA answered (and how many calls Amazon
  refused with 403 because the daemon still held the expired token);
- confirmations/s and the time from the first POST to the last confirmation stored, beside the
  least the usage plan allows ((labels - burst) / rate);
- pushes per daemon.

``shared``: the hub as it is (``connectors.amazon.shared_pacing`` on: buckets and tokens in
PostgreSQL). ``per-process``: ``shared_pacing = false``, each daemon pacing and refreshing on its
own, as before.

    python bench/shared_pacing.py                                # 3 daemons, 100 labels, both modes
    python bench/shared_pacing.py --modes shared --labels 200
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
if str(REPO) not in sys.path:  # run as `python bench/shared_pacing.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from bench.harness import machine  # noqa: E402
from bench.push_daemon import metric  # noqa: E402
from connectors.amazon.simulator import SimulatorConfig, run_simulator  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from core.infra.settings import HubSettings  # noqa: E402
from core.storage.accounts import create_account  # noqa: E402
from core.storage.database import embedded_url  # noqa: E402
from core.storage.tokens import create_token  # noqa: E402
from tests.hub.daemons import Daemon, Merchant, free_port, hub_environment, stop_running  # noqa: E402

PUSHED = 'hub_parcel_pushes_total{connector="amazon",outcome="confirmed"} '
RATE, BURST = 2.0, 10
HOUR = 3600


async def run(mode: str, daemons: int, labels: int, workdir: Path) -> dict[str, Any]:
    url, server = await asyncio.to_thread(embedded_url, workdir / "pg")
    config = SimulatorConfig(sellers=1, orders_per_seller=0, marketplaces=["NL"])
    try:
        async with run_simulator(config) as sim, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=600)
        ) as http:
            seller_id = sim.state.first_seller.seller_id
            for _ in range(labels):
                sim.state.add_order(seller_id, items=[{"quantity": 1}])
            sim.state.clock.advance(150)  # searchOrders answers orders updated two minutes ago or earlier
            settings = HubSettings(
                data_dir=workdir / "data", database={"url": url}, security={"encryption_keys": [new_key()]}
            )
            env = hub_environment(
                settings, sim, HUB_LOG__LEVEL="WARNING",
                HUB_CONNECTORS__AMAZON__SHARED_PACING="true" if mode == "shared" else "false",
            )
            for key in ("HUB_JOBS__TICK_SECONDS", "HUB_JOBS__RETRY_BASE_SECONDS"):
                env.pop(key)  # the hub's defaults
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            fleet = [Daemon(free_port(), env, workdir / f"hub-serve-{n}.log") for n in range(1, daemons + 1)]
            db = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                await fleet[0].start()  # migrates the empty database
                await asyncio.gather(*(daemon.start() for daemon in fleet[1:]))
                account = await create_account(db, "Shared pacing bench merchant")
                merchant = Merchant(http, await create_token(db, account.id), sim)
                connection_id = await merchant.connect(fleet[0], seller_id)
                await merchant.import_orders(fleet[0], connection_id)
                orders = [o for o in await merchant.orders(fleet[0]) if o["status"] == "open"][:labels]

                # The access token from the consent has had its hour: Amazon refuses it from now on.
                sim.state.clock.advance(HOUR)
                arrived: dict[str, float] = {}
                refused, refreshes, denied = [0], [0], [0]
                save_package, within_quota = sim.state.save_package, sim.state.within_quota
                refresh, authenticate = sim.state.refresh, sim.state.authenticate

                def noting(order: Any, package: Any, payload: dict[str, Any]) -> str:
                    action = save_package(order, package, payload)
                    arrived.setdefault(order.order_id, time.perf_counter())
                    return action

                def counting(seller: str, operation: str) -> bool:
                    allowed = within_quota(seller, operation)
                    refused[0] += not allowed and operation == "confirmShipment"
                    return allowed

                def refreshing(refresh_token: str) -> Any:
                    refreshes[0] += 1
                    return refresh(refresh_token)

                def checking(access_token: str | None) -> str | None:
                    seller = authenticate(access_token)
                    denied[0] += seller is None
                    return seller

                sim.state.save_package, sim.state.within_quota = noting, counting  # type: ignore[method-assign]
                sim.state.refresh, sim.state.authenticate = refreshing, checking  # type: ignore[method-assign]

                async def post(n: int, order: dict[str, Any]) -> None:
                    body = {
                        "order_id": order["id"],
                        "label_id": f"bench-{order['id']}",
                        "parcels": [{"tracking_number": f"GLS{order['id']:09d}"}],
                    }
                    status, answer = await merchant.call(fleet[n % daemons], "POST", "/api/v1/labels", body)
                    if status != 201:
                        raise SystemExit(f"POST /api/v1/labels answered {status}: {answer}")

                started = time.perf_counter()
                await asyncio.gather(*(post(n, order) for n, order in enumerate(orders)))
                posted = time.perf_counter()
                deadline = time.monotonic() + 900
                while len(arrived) < len(orders) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                last = max(arrived.values()) if arrived else time.perf_counter()
                per_daemon = [await metric(http, d, PUSHED) for d in fleet]
                retried = [await metric(http, d, 'hub_parcel_pushes_total{connector="amazon",outcome="retry"} ') for d in fleet]
            finally:
                await db.close()
                await stop_running(fleet)
    finally:
        await asyncio.to_thread(server.cleanup)
    return {
        "mode": mode,
        "daemons": daemons,
        "labels": len(orders),
        "confirmed": len(arrived),
        "post_seconds": posted - started,
        "seconds": last - started,
        "rate": len(arrived) / (last - started),
        "floor": max(0.0, (len(orders) - BURST) / RATE),
        "refused": refused[0],
        "refreshes": refreshes[0],
        "denied": denied[0],
        "per_daemon": per_daemon,
        "retried": sum(retried),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--daemons", type=int, default=3)
    parser.add_argument("--modes", default="shared,per-process", help="shared, per-process or both (default)")
    args = parser.parse_args()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    print(f"machine: {machine()}")
    print(
        f"simulator: 1 seller, NL, usage plans on (confirmShipment {RATE:g}/s, burst {BURST}), in this process; "
        f"{args.daemons} hub serve daemons on one PostgreSQL; a burst of {args.labels} labels POSTed at once, "
        "after the access token of the consent expired"
    )
    for mode in args.modes.split(","):
        workdir = Path(tempfile.mkdtemp(prefix="hub-shared-pacing-"))
        try:
            r = await run(mode, args.daemons, args.labels, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(
            f"{r['mode']}: {r['confirmed']} of {r['labels']} labels confirmed by {r['daemons']} daemons "
            f"(POSTed in {r['post_seconds']:.1f} s)\n"
            f"  confirmShipment 429s met: {r['refused']}; pushes put back for a retry: {r['retried']:.0f}\n"
            f"  LWA refreshes: {r['refreshes']} (calls Amazon refused for the expired token: {r['denied']})\n"
            f"  {r['rate']:.2f} confirmations/s, {r['seconds']:.1f} s from the first POST to the last confirmation "
            f"(the plan allows {r['floor']:.0f} s at best)\n"
            f"  pushes per daemon: {', '.join(f'{p:.0f}' for p in r['per_daemon'])}"
        )


if __name__ == "__main__":
    asyncio.run(main())
