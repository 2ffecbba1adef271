"""The push baseline: python-amazon-sp-api's ``confirm_shipment`` in a bare loop, nothing stored.

Runs in its own virtual environment, never the hub's (see ``bench/baseline_spapi.py`` for making
it); ``bench/push_daemon.py --baseline`` writes the plan and starts it with that interpreter
against the simulator the hub meets in the same run::

    bench/.venv-baseline/bin/python bench/baseline_confirm.py --url http://127.0.0.1:PORT \\
        --plan plan.json --threads 20

The plan is a JSON list of sellers, each ``{"refresh_token": ..., "orders": [{"order_id": ...,
"item_id": ..., "reference": ..., "tracking": ...}, ...]}``. ``--threads`` threads confirm at once
(the hub's ``jobs.concurrency``); the sellers are dealt out to the threads, and each thread goes
round its sellers one confirmation at a time, with one ``OrdersV0`` client per seller (the
library caches the access token per refresh token). Each seller's confirmShipment plan (2/s,
burst 10) is kept by a token bucket per seller, the thread waiting for it as the hub's pacer
does (with the same small margin); a 429 met all the same empties the seller's bucket and the call
waits its turn again, as the hub's client does, and is counted. Any other error answer ends the run.
Prints one JSON line: confirmations, wall and CPU seconds, the rate, peak resident set.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from datetime import UTC, datetime
from typing import Any

from baseline_spapi import client as spapi_client
from sp_api.__version__ import __version__
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiRequestThrottledException

RATE, BURST = 2.0, 10

#: Seconds added to each paced wait, as the hub's pacer adds (``core.infra.shopclient.Pacer``:
#: the smaller of its margin and a tenth of a token): a request that reaches Amazon a little
#: early after a late one would be refused.
MARGIN = 0.1 / RATE


class Bucket:
    """One seller's confirmShipment plan, as Amazon counts it: ``BURST`` at first, ``RATE`` a second after."""

    def __init__(self) -> None:
        self.tokens, self.at = float(BURST), time.monotonic()

    def take(self) -> None:
        """Wait for a token and spend it."""
        while True:
            now = time.monotonic()
            self.tokens = min(BURST, self.tokens + (now - self.at) * RATE)
            self.at = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            time.sleep((1.0 - self.tokens) / RATE + MARGIN)


def client(url: str, refresh_token: str) -> Any:
    """An Orders v0 client for one seller, on the simulator."""
    return spapi_client(url, refresh_token, "v0")


def work(
    sellers: list[tuple[Any, dict[str, Any]]], done: list[int], failures: list[str], throttled: list[int]
) -> None:
    """Confirm every order of these sellers (client, seller), round the sellers one at a time."""
    confirmed = 0
    try:
        buckets = [Bucket() for _ in sellers]
        ship_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        longest = max((len(seller["orders"]) for _, seller in sellers), default=0)
        for n in range(longest):
            for (api, seller), bucket in zip(sellers, buckets, strict=True):
                if n >= len(seller["orders"]):
                    continue
                order = seller["orders"][n]
                while True:
                    bucket.take()
                    try:
                        api.confirm_shipment(
                            order["order_id"],
                            marketplaceId=Marketplaces.NL.marketplace_id,
                            packageDetail={
                                "packageReferenceId": order["reference"],
                                "carrierCode": "GLS",
                                "trackingNumber": order["tracking"],
                                "shipDate": ship_date,
                                "orderItems": [{"orderItemId": order["item_id"], "quantity": 1}],
                            },
                        )
                        break
                    except SellingApiRequestThrottledException:
                        # As the hub's client does: a 429 empties the bucket, the call waits its turn.
                        throttled.append(1)
                        bucket.tokens = 0.0
                confirmed += 1
    except Exception as err:  # noqa: BLE001 - reported; the figure would not mean anything
        failures.append(f"{type(err).__name__}: {err}")
    done.append(confirmed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as file:
        sellers = json.load(file)
    # The clients and their access tokens before the clock starts: the hub's are warm too.
    clients = [client(args.url, seller["refresh_token"]) for seller in sellers]
    for api in clients:
        api.auth  # noqa: B018 - fetches and caches the access token
    pairs = list(zip(clients, sellers, strict=True))
    share = [pairs[k :: args.threads] for k in range(args.threads)]
    done: list[int] = []
    failures: list[str] = []
    began_wall, began_cpu = time.perf_counter(), time.process_time()
    throttled: list[int] = []
    threads = [threading.Thread(target=work, args=(mine, done, failures, throttled)) for mine in share if mine]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - began_wall, time.process_time() - began_cpu
    print(json.dumps({
        "confirmed": sum(done),
        "failures": failures[:3],
        "throttled": len(throttled),
        "wall": wall,
        "cpu": cpu,
        "rate": sum(done) / wall,
        "threads": len(threads),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "library": f"python-amazon-sp-api {__version__}",
    }))


if __name__ == "__main__":
    main()
