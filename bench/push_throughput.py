"""Figure 3: tracking pushes, 10,000 labels over 100 sellers, through core's push path.

The simulator runs in its own process with Amazon's usage plans on, on the real clock
(confirmShipment: 2/s, burst 10, per seller), ``--sellers`` sellers in NL. This process connects
every seller through the consent page, imports their orders, then creates labels (core's
``create_label``, one parcel each) round-robin over the sellers at ``--rate`` labels a second
(0: all at once) and pushes each as soon as it is stored (core's ``push_label``, by ``--workers``
concurrent workers, as the daemon's push jobs would; the client paces itself per seller).

Printed: confirmations per second, label-to-Amazon latency (label stored -> Amazon's 204 received)
p50 / p99 / max, the least time the sellers' plans allow for the same labels, and the
confirmShipment calls by status (429s mean a plan was not respected).

This goes through core directly, not through ``hub serve`` and its job workers (the multi-process
harness for the daemon was being written when this was measured): it measures the push path and
the pacing, not the job queue's pickup delay.

    python bench/push_throughput.py                        # 10,000 labels, 100 sellers, 150 labels/s
    python bench/push_throughput.py --labels 1000 --sellers 10 --rate 0
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import harness

CONFIRM_RATE, CONFIRM_BURST = 2.0, 10


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--sellers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=150.0, help="labels created per second; 0: all at once")
    parser.add_argument("--pool-max", type=int, default=10, help="database.pool_max (default 10, the hub's default)")
    parser.add_argument("--workers", type=int, default=0,
                        help="concurrent pushes; default pool_max - 1, what one `hub serve` runs at most")
    args = parser.parse_args()
    harness.quiet_logs()

    from core.contract.models import OrderStatus
    from core.infra.metrics import SHOP_CALLS
    from core.infra.runtime import open_runtime
    from core.storage.accounts import create_account
    from core.storage.orders import list_orders
    from core.usecases import connections
    from core.usecases.imports import run_import
    from core.usecases.labels import NewLabel, NewParcel, create_label, push_label

    # push_label holds a pooled connection (its advisory lock) for the whole push, pacing waits
    # included: one process pushes at most pool_max - 1 at once, which is the daemon's job cap.
    args.workers = args.workers or args.pool_max - 1
    per_seller = -(-args.labels // args.sellers)
    seeded = int(per_seller / 0.33 / 0.85 * 1.25) + 60  # open, not Easy Ship / Ship+, with margin
    print(f"machine: {harness.machine()}")
    print(f"simulator: {args.sellers} sellers x {seeded} orders, NL, usage plans on (real clock), own process")
    async with harness.simulator_process(seeded, sellers=args.sellers, rate_limits=True) as (url, _sim), \
            harness.embedded_database() as db:
        settings = harness.hub_settings(db.url, Path(tempfile.mkdtemp(prefix="hub-bench-")), url, pacing=True)
        settings = settings.model_copy(update={"database": settings.database.model_copy(update={"pool_max": args.pool_max})})
        async with open_runtime(settings) as rt, aiohttp.ClientSession() as session:
            async with session.get(url + "/_sim/sellers") as response:
                sellers = [s["sellerId"] for s in (await response.json())["sellers"]]
            account_id = (await create_account(rt.db.pool, "Bench pushes")).id
            began = time.perf_counter()
            orders_by_seller = []
            for seller in sellers:
                connection_id = await harness.connect(rt, seller_id=seller, account_id=account_id)
                await connections.change_settings(rt, account_id, connection_id, {"update_tracking": True})
                await run_import(rt, connection_id)
                stored = await list_orders(rt.db.pool, rt.vault, connection_id=connection_id,
                                           status=OrderStatus.OPEN.value, limit=per_seller)
                orders_by_seller.append([o.id for o in stored])
            print(f"  {len(sellers)} sellers connected and imported in {time.perf_counter() - began:.1f} s")
            plan = [orders[i] for i in range(per_seller) for orders in orders_by_seller if i < len(orders)]
            plan = plan[: args.labels]

            def calls() -> dict[str, float]:
                found = {}
                for metric in SHOP_CALLS.collect():
                    for sample in metric.samples:
                        if sample.name.endswith("_total") and sample.labels["operation"] == "confirmShipment":
                            found[sample.labels["status"]] = sample.value
                return found

            calls_before = calls()
            queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
            latencies: list[float] = []
            failures: list[str] = []

            async def worker() -> None:
                while (job := await queue.get()) is not None:
                    label_id, created = job
                    try:
                        await push_label(rt, label_id)
                        latencies.append(time.perf_counter() - created)
                    except Exception as err:  # noqa: BLE001 - counted and reported
                        failures.append(f"{type(err).__name__}: {err}")

            workers = [asyncio.create_task(worker()) for _ in range(args.workers)]
            started = time.perf_counter()
            for n, order_id in enumerate(plan):
                if args.rate:
                    delay = started + n / args.rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                label = await create_label(rt, order_id, NewLabel(
                    external_id=f"B-{n}", parcels=[NewParcel(tracking_number=f"GLSB{n:07d}")]))
                queue.put_nowait((label.id, time.perf_counter()))
            created_in = time.perf_counter() - started
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
            elapsed = time.perf_counter() - started
            by_status = {k: v - calls_before.get(k, 0) for k, v in calls().items()}

    done = len(latencies)
    ordered = sorted(latencies)
    per = [len(o[:per_seller]) for o in orders_by_seller]
    least = max(max(0, n - CONFIRM_BURST) / CONFIRM_RATE for n in per)
    if args.rate:
        least = max(least, (len(plan) - 1) / args.rate)
    print(f"{done:,} labels confirmed of {len(plan):,} ({len(failures)} failed) over {len(sellers)} sellers, "
          f"{args.workers} workers, labels created at {'once' if not args.rate else f'{args.rate:g}/s'} "
          f"(all created in {created_in:.1f} s)")
    print(f"  {done / elapsed:,.1f} confirmations/s ({elapsed:.1f} s from the first label to the last 204; "
          f"the plans and the arrival rate allow it in {least:.1f} s at best)")
    if ordered:
        print(f"  label-to-Amazon latency: p50 {statistics.median(ordered) * 1000:,.0f} ms, "
              f"p99 {ordered[int(0.99 * (len(ordered) - 1))] * 1000:,.0f} ms, max {ordered[-1] * 1000:,.0f} ms")
    print("  confirmShipment calls by status: " + ", ".join(f"{k}: {v:.0f}" for k, v in sorted(by_status.items()) if v))
    if failures:
        print(f"  first failure: {failures[0]}")


if __name__ == "__main__":
    asyncio.run(main())
