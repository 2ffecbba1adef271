"""A stand-in for Example Shop's API on 127.0.0.1, in memory, for the connector's tests.

It answers what the connector calls, with the real shop's rules: a bearer API key, orders paged
by (updated_at, id) behind an opaque ``next`` token, shipments put by reference (a repeat
replaces, never adds). Tests drive it directly: ``add_order``, ``change_order``, ``fail_next``,
and its clock (``now``, frozen unless ``tick`` moves it). ``shipments`` and ``requests`` are what
it received.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

GOOD_KEY = "exs_live_8f14e45fceea167a5a36dedd4bea2543"
ACCOUNT = {"id": "shop-4711", "name": "Kaasboerderij Jansen"}


class ShopServer:
    """Example Shop's API for one test: start it, drive it, stop it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        self.orders: dict[str, dict[str, Any]] = {}
        self.shipments: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests = 0
        self.url = ""
        self._ids = itertools.count(1001)
        self._faults: list[str] = []
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(middlewares=[self._count_and_fail])
        app.router.add_get("/v1/account", self._account)
        app.router.add_get("/v1/orders", self._orders)
        app.router.add_put("/v1/orders/{order_id}/shipments/{reference}", self._put_shipment)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Answer any request held by a timeout fault, and stop listening."""
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # driving the shop ---------------------------------------------------------------------------

    def tick(self, seconds: float = 1) -> None:
        """Move the shop's clock on."""
        self.now += timedelta(seconds=seconds)

    def add_order(self, delivery: str = "ship") -> str:
        """A new open order with two lines, placed now (the clock then ticks); returns its id."""
        order_id = str(next(self._ids))
        stamp = self.now.isoformat()
        self.tick()
        self.orders[order_id] = {
            "id": order_id,
            "number": f"EX-{order_id}",
            "status": "open",
            "delivery": delivery,
            "currency": "EUR",
            "created_at": stamp,
            "updated_at": stamp,
            "ship_to": {"name": "A. de Vries", "street": "Oudegracht 12", "postal_code": "3511 AP",
                        "city": "Utrecht", "country": "NL", "email": "a.devries@example.invalid"},
            "lines": [
                {"id": f"{order_id}-1", "sku": "GOUDA-1KG", "title": "Gouda, 1 kg", "quantity": 2, "shipped": 0,
                 "price": "14.50"},
                {"id": f"{order_id}-2", "sku": "MOSTERD", "title": "Mosterd", "quantity": 1, "shipped": 0,
                 "price": "3.95"},
            ],
        }
        return order_id

    def change_order(self, order_id: str, **ship_to: str) -> None:
        """The customer changes the address: the order is updated now (the clock then ticks)."""
        order = self.orders[order_id]
        order["ship_to"] = {**order["ship_to"], **ship_to}
        order["updated_at"] = self.now.isoformat()
        self.tick()

    def fail_next(self, kind: str, calls: int) -> None:
        """The next ``calls`` requests fail: ``"5xx"`` (503), ``"429"``, ``"timeout"`` (no answer), or
        ``"lost"`` (the work is done, but the answer never comes)."""
        self._faults.extend([kind] * calls)

    # the API ------------------------------------------------------------------------------------

    @web.middleware
    async def _count_and_fail(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        fault = self._faults.pop(0) if self._faults else None
        if fault == "timeout":
            # Hold the answer until the test ends (stop() releases it); the client gives up first.
            await self._released.wait()
            return web.json_response({"error": "too late"}, status=503)
        if fault == "5xx":
            return web.json_response({"error": "maintenance"}, status=503)
        if fault == "429":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "2"})
        if request.headers.get("Authorization") != f"Bearer {GOOD_KEY}":
            return web.json_response({"error": "invalid API key"}, status=401)
        response = await handler(request)
        if fault == "lost":
            await self._released.wait()
        return response

    async def _account(self, request: web.Request) -> web.Response:
        return web.json_response(ACCOUNT)

    async def _orders(self, request: web.Request) -> web.Response:
        try:
            after = datetime.fromisoformat(request.query["updated_after"])
            before = datetime.fromisoformat(request.query["updated_before"])
            limit = min(int(request.query.get("limit", "50")), 100)
        except (KeyError, ValueError):
            return web.json_response({"error": "updated_after, updated_before and limit are required"}, status=400)
        found = sorted(
            (o for o in self.orders.values() if after < datetime.fromisoformat(o["updated_at"]) <= before),
            key=_position,
        )
        if "after" in request.query:
            found = [o for o in found if _position(o) > tuple(request.query["after"].split("|", 1))]
        page = found[:limit]
        more = len(found) > limit
        return web.json_response({"orders": page, "next": "|".join(_position(page[-1])) if more else None})

    async def _put_shipment(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        body = await request.json()
        lines = {line["id"] for line in order["lines"]}
        unknown = [line["line_id"] for line in body.get("lines", []) if line["line_id"] not in lines]
        if unknown or not body.get("tracking_number"):
            return web.json_response({"error": f"unknown order lines {unknown} or no tracking number"}, status=422)
        key = (order["id"], request.match_info["reference"])
        created = key not in self.shipments
        self.shipments[key] = body
        return web.json_response({"reference": key[1], **body}, status=201 if created else 200)


def _position(order: dict[str, Any]) -> tuple[str, str]:
    # Every stamp comes from one clock in one time zone, so the ISO strings sort as the times do;
    # ids are zero-free counters of equal length.
    return (order["updated_at"], order["id"])
