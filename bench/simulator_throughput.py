"""How fast the Amazon simulator serves searchOrders: orders per second through pages of 100.

Starts ``hub amazon simulator`` in its own process with many orders and rate limits off, takes an
access token through the admin API, pages through ``searchOrders`` (``maxResultsPerPage=100``,
``includedData=RECIPIENT,FULFILLMENT,PACKAGES``, as the hub imports) with a plain aiohttp client,
and prints orders/s and pages/s. ``--concurrency`` runs several independent pagers at once (each
pages the whole window); ``--hub-filters`` adds the hub's filters (merchant-fulfilled, unshipped or
partially shipped).

    python bench/simulator_throughput.py                  # 100,000 orders, one pager
    python bench/simulator_throughput.py --orders 20000 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
START_SIMULATOR = "from connectors.amazon.cli import amazon; amazon()"
USER_AGENT = "HubBench/1.0 (Language=Python)"


async def start_simulator(orders: int, seed: int) -> tuple[asyncio.subprocess.Process, str, float]:
    """Run the simulator CLI; return the process, its base URL and how long it took to come up."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", START_SIMULATOR, "simulator", "--port", "0", "--sellers", "1",
        "--orders", str(orders), "--seed", str(seed), "--no-rate-limits", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=REPO,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = []
    while True:
        line = (await process.stdout.readline()).decode()
        if not line:
            raise SystemExit("the simulator did not start:\n" + "".join(banner))
        banner.append(line)
        if line.startswith("Amazon simulator at "):
            url = line.split()[-1]
        if "Press Ctrl-C" in line:
            return process, url, time.perf_counter() - started


async def page_through(session: aiohttp.ClientSession, url: str, token: str, params: dict[str, str]) -> tuple[int, int]:
    """Every page of one search: (orders, pages)."""
    headers = {"x-amz-access-token": token, "User-Agent": USER_AGENT}
    orders = pages = 0
    query = dict(params)
    while True:
        async with session.get(url + "/orders/2026-01-01/orders", params=query, headers=headers) as response:
            if response.status != 200:
                raise SystemExit(f"searchOrders answered {response.status}: {await response.text()}")
            body = await response.json()
        orders += len(body["orders"])
        pages += 1
        token_next = body.get("pagination", {}).get("nextToken")
        if token_next is None:
            return orders, pages
        query = dict(params, paginationToken=token_next)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders of the one seller (default 100000)")
    parser.add_argument("--concurrency", type=int, default=1, help="pagers running at once (default 1)")
    parser.add_argument("--hub-filters", action="store_true", help="add the hub's filters")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    process, url, startup = await start_simulator(args.orders, args.seed)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/_sim/sellers") as response:
                seller = (await response.json())["sellers"][0]["sellerId"]
            async with session.post(url + f"/_sim/sellers/{seller}/grant") as response:
                token = (await response.json())["access_token"]
            params = {"lastUpdatedAfter": "2000-01-01T00:00:00Z", "maxResultsPerPage": "100",
                      "includedData": "RECIPIENT,FULFILLMENT,PACKAGES"}
            if args.hub_filters:
                params |= {"fulfilledBy": "MERCHANT", "fulfillmentStatuses": "UNSHIPPED,PARTIALLY_SHIPPED"}
            began = time.perf_counter()
            results = await asyncio.gather(*(page_through(session, url, token, params) for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - began
    finally:
        process.terminate()
        await process.wait()

    orders = sum(r[0] for r in results)
    pages = sum(r[1] for r in results)
    print(f"simulator: {args.orders} orders seeded, up in {startup:.2f} s (process start included)")
    print(f"searchOrders, pages of 100, includedData RECIPIENT,FULFILLMENT,PACKAGES"
          f"{', hub filters' if args.hub_filters else ''}, {args.concurrency} pager(s):")
    print(f"  {orders} orders in {pages} pages in {elapsed:.2f} s")
    print(f"  {orders / elapsed:,.0f} orders/s, {pages / elapsed:,.1f} pages/s")


if __name__ == "__main__":
    asyncio.run(main())
