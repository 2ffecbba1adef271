"""The baseline: python-amazon-sp-api fetching a seller's open merchant orders from the simulator.

Runs in its own virtual environment, never the hub's (the hub does not depend on it)::

    python3 -m venv bench/.venv-baseline
    bench/.venv-baseline/bin/pip install python-amazon-sp-api==2.1.35 psutil

``bench/import_throughput.py`` starts it with that interpreter; by hand::

    bench/.venv-baseline/bin/python bench/baseline_spapi.py --url http://127.0.0.1:PORT \\
        --refresh-token Atzr|... --mode search

Modes: ``search`` pages the Orders API 2026-01-01 ``search_orders`` (``OrdersV20260101``) with the
hub's query, keeping nothing; ``v0`` is the loop most tools still run (``Orders().get_orders`` pages,
then ``get_order_items`` and ``get_order_address`` per order, nothing kept), against the
simulator's Orders v0 reads. Prints one JSON line: orders, pages, calls, wall and CPU seconds, peak
resident set. An error answer (a 429 with usage plans on, say) ends the run with the library's
exception: the figures would not mean anything.

Pointing the library at 127.0.0.1 needs no patch of its constants: the SP-API base URL is the
client's ``endpoint`` attribute (set after construction), and the LWA token URL is built from
``scheme`` + ``host`` of the access-token client class, which ``Client`` takes as
``auth_token_client_class`` (a two-line subclass here). One quirk: the library derives the Host
header as ``endpoint[8:]`` (it assumes ``https://``), so with ``http://127.0.0.1:PORT`` it sends a
wrong Host header; the simulator ignores it, as does aiohttp routing.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sp_api.__version__ import __version__
from sp_api.api import Orders
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces

CREDENTIALS = {
    "lwa_app_id": "amzn1.application-oa2-client.hubsimulator",
    "lwa_client_secret": "simulator-secret",
}


def token_client_for(url: str) -> type[AccessTokenClient]:
    """The library's LWA client, sending its token requests to the simulator."""
    parts = urlsplit(url)

    class SimulatorTokenClient(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc

    return SimulatorTokenClient


def client(url: str, refresh_token: str, version: str) -> Orders:
    """An Orders client of the given version on the simulator."""
    orders = Orders(
        version=version,
        marketplace=Marketplaces.NL,
        refresh_token=refresh_token,
        credentials=CREDENTIALS,
        auth_token_client_class=token_client_for(url),
    )
    orders.endpoint = url
    return orders


def search(url: str, refresh_token: str, since: str) -> dict[str, object]:
    """Every page of the hub's searchOrders query, 2026-01-01, nothing kept."""
    api = client(url, refresh_token, "2026-01-01")
    query = {
        "lastUpdatedAfter": since,
        "fulfillmentStatuses": ["UNSHIPPED", "PARTIALLY_SHIPPED"],
        "fulfilledBy": ["MERCHANT"],
        "marketplaceIds": [Marketplaces.NL.marketplace_id],
        "includedData": ["RECIPIENT", "FULFILLMENT", "PACKAGES"],
        "maxResultsPerPage": 100,
    }
    orders = pages = 0
    token = None
    while True:
        response = api.search_orders(**query, **({"paginationToken": token} if token else {}))
        orders += len(response.payload.get("orders", []))
        pages += 1
        token = response.next_token
        if not token:
            return {"orders": orders, "pages": pages, "calls": pages}


def v0_loop(url: str, refresh_token: str, since: str) -> dict[str, object]:
    """getOrders pages, then getOrderItems and getOrderAddress per order, as most tools do."""
    api = client(url, refresh_token, "v0")
    orders = pages = calls = 0
    token = None
    while True:
        if token:
            response = api.get_orders(NextToken=token)
        else:
            response = api.get_orders(
                LastUpdatedAfter=since, FulfillmentChannels=["MFN"],
                OrderStatuses=["Unshipped", "PartiallyShipped"], MaxResultsPerPage=100,
            )
        calls += 1
        pages += 1
        for order in response.payload["Orders"]:
            api.get_order_items(order["AmazonOrderId"])
            api.get_order_address(order["AmazonOrderId"])
            calls += 2
            orders += 1
        token = response.next_token
        if not token:
            return {"orders": orders, "pages": pages, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--refresh-token", required=True)
    parser.add_argument("--mode", choices=["search", "v0"], default="search")
    parser.add_argument("--lookback-days", type=int, default=14)
    args = parser.parse_args()
    since = (datetime.now(UTC) - timedelta(days=args.lookback_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    began_wall, began_cpu = time.perf_counter(), time.process_time()
    result = (search if args.mode == "search" else v0_loop)(args.url, args.refresh_token, since)
    result.update(
        wall=time.perf_counter() - began_wall,
        cpu=time.process_time() - began_cpu,
        peak_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        library=f"python-amazon-sp-api {__version__}",
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
