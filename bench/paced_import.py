"""Figure 2: an import paced by Amazon's usage plans, on the simulated clock, against the minimum.

The simulator runs in this process with its usage plans on (``USAGE_PLANS`` of its ``ratelimit``:
searchOrders 0.0056/s, burst 20; the minimum below is computed from the same plans) and
its clock running (real time plus whatever is skipped). The Amazon connector's clock is the
simulator's: when the client's token bucket says wait, the simulated clock jumps forward instead,
so a nine-hour import takes seconds of wall time while every wait is counted. Processing time is
real and counts too.

For each size: ``--sizes`` open merchant orders of one seller, imported once by core's
``run_import`` (connect through the consent page first). Printed: simulated duration of the
import, the minimum the token bucket allows for the calls the import needs
(``max(0, pages - burst) / rate``, pages = ceil(orders / 100)), the calls the hub made by
operation, the 429s Amazon (the simulator) answered, and the calls and minimum time of the v0-style
loop (getOrders pages + getOrderItems + getOrderAddress per order) for the same orders.

    python bench/paced_import.py                       # 2,000 and 20,000 orders
    python bench/paced_import.py --sizes 2000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import harness

from connectors.amazon.simulator.ratelimit import USAGE_PLANS, UsagePlan

#: Usage plans from the Orders API models, as the simulator enforces them; v0 reads are deprecated.
SEARCH_ORDERS = USAGE_PLANS["searchOrders"]
V0 = {operation: USAGE_PLANS[operation] for operation in ("getOrders", "getOrderItems", "getOrderAddress")}


class SimulatorClock:
    """The connector's clock on the simulator's: sleeping moves simulated time on, at once."""

    def __init__(self, sim_clock: Any) -> None:
        self.sim_clock = sim_clock
        self.slept = 0.0

    def monotonic(self) -> float:
        """Seconds on the simulated clock."""
        return float(self.sim_clock.time())

    async def sleep(self, seconds: float) -> None:
        """Skip the wait on the simulated clock, and let other tasks run."""
        self.slept += seconds
        self.sim_clock.advance(seconds)
        await asyncio.sleep(0)


def minimum(calls: int, plan: UsagePlan) -> float:
    """The least time ``calls`` calls take under a token bucket that starts full."""
    return max(0, calls - plan.burst) / plan.rate


def hours(seconds: float) -> str:
    """Seconds, with hours beside when long."""
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)" if seconds >= 600 else f"{seconds:,.1f} s"


async def one_size(target: int, seed: int, database_url: str) -> None:
    """Import ``target`` open merchant orders with pacing on; print the figures."""
    from connectors.amazon.client import ClientState
    from connectors.amazon.simulator import SimulatorConfig, run_simulator
    from core.infra.metrics import SHOP_CALLS
    from core.infra.runtime import open_runtime
    from core.usecases.imports import run_import

    seeded = harness.orders_for(target, seed=seed)
    config = SimulatorConfig(seed=seed, sellers=1, orders_per_seller=seeded, marketplaces=["NL"], rate_limits=True)
    async with run_simulator(config) as sim:
        answers: Counter[tuple[str, bool]] = Counter()
        within_quota = sim.state.within_quota

        def counted(seller_id: str, operation: str) -> bool:
            allowed = within_quota(seller_id, operation)
            answers[(operation, allowed)] += 1
            return allowed

        sim.state.within_quota = counted  # type: ignore[method-assign]
        clock = SimulatorClock(sim.state.clock)
        settings = harness.hub_settings(database_url, Path(tempfile.mkdtemp(prefix="hub-bench-")), sim.url, pacing=True)
        async with open_runtime(settings) as rt:
            # The connector's process state on the simulated clock, in place of what open_connector made.
            rt.connector_states["amazon"] = ClientState(clock=clock)
            connection_id = await harness.connect(rt)
            before_calls = {k: v for k, v in _shop_calls(SHOP_CALLS).items()}
            answers.clear()
            began_sim, began_wall, slept = sim.state.clock.time(), time.perf_counter(), clock.slept
            run = await run_import(rt, connection_id)
            took_sim, took_wall = sim.state.clock.time() - began_sim, time.perf_counter() - began_wall
            waited = clock.slept - slept
            calls = Counter({k: v - before_calls.get(k, 0) for k, v in _shop_calls(SHOP_CALLS).items()})

    fetched = run.new + run.skipped_total
    pages = math.ceil(fetched / 100)
    least = minimum(pages, SEARCH_ORDERS)
    made = sum(v for (op, _), v in answers.items() if op == "searchOrders")
    throttled = sum(v for (op, ok), v in answers.items() if not ok)
    print(f"{target:,} open merchant orders ({seeded:,} seeded; {fetched:,} fetched, {run.new:,} stored):")
    print(f"  import took {hours(took_sim)} on the simulated clock ({hours(waited)} of it pacing waits skipped, "
          f"{took_wall:.1f} s wall)")
    print(f"  minimum for {pages} searchOrders pages at {SEARCH_ORDERS.rate:g}/s burst {SEARCH_ORDERS.burst}: {hours(least)}")
    if least:
        print(f"  over the minimum by {took_sim - least:,.1f} s = {(took_sim - least) / least:.3%} (target: within 2%)")
    else:
        print(f"  over the minimum by {took_sim:,.1f} s (the pages fit in the burst)")
    print(f"  searchOrders calls made: {made} (pages needed: {pages}); "
          f"429s answered by Amazon: {throttled} (target: 0)")
    print("  hub calls by operation and status: "
          + ", ".join(f"{op} {status}: {n}" for (op, status), n in sorted(calls.items()) if n))
    v0_calls = {"getOrders": pages, "getOrderItems": fetched, "getOrderAddress": fetched}
    v0_least = max(minimum(n, V0[op]) for op, n in v0_calls.items())
    print(f"  v0-style loop for the same orders: {sum(v0_calls.values()):,} calls "
          f"({pages} getOrders + {fetched:,} getOrderItems + {fetched:,} getOrderAddress, plus Restricted Data "
          f"Tokens for the addresses); minimum {hours(v0_least)} even with the three operations in parallel")


def _shop_calls(counter: Any) -> dict[tuple[str, str], float]:
    """``hub_shop_calls_total`` for Amazon now: {(operation, status): count}."""
    found = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("connector") == "amazon":
                found[(sample.labels["operation"], sample.labels["status"])] = sample.value
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000", help="open merchant orders per run, comma-separated")
    args = parser.parse_args()
    harness.quiet_logs()
    print(f"machine: {harness.machine()}")
    print("simulator in this process, usage plans on, clock shared with the connector (waits skipped)")
    async with harness.embedded_database() as db:
        for seed, size in enumerate((int(s) for s in args.sizes.split(",")), start=1):
            await one_size(size, seed, db.url)


if __name__ == "__main__":
    asyncio.run(main())
