"""The Amazon shop of ``hub demo``: the simulator with two sellers, its consent page, its orders.

The manifest names ``AmazonDemo`` (``demo``); ``hub demo`` starts it, points the connector at it,
connects marketplace NL through the consent page as a merchant would, and reads the orders back.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from core.hubapi import DemoShop


class AmazonDemo(DemoShop):
    """The Amazon simulator on a free port of 127.0.0.1, with Amazon's usage plans on."""

    title = "Amazon"
    account = "seller"
    consented = 'the merchant ticked "I direct Amazon to provide Hub demo access ..." and confirmed'

    def __init__(self, orders: int) -> None:
        super().__init__(orders)
        self._stack = AsyncExitStack()
        self._sim: RunningSimulator | None = None

    async def start(self) -> None:
        """Two sellers in NL, DE and BE, each with ``orders`` orders, as the app "Hub demo"."""
        config = SimulatorConfig(
            sellers=2, orders_per_seller=self.orders, marketplaces=["NL", "DE", "BE"], application_name="Hub demo"
        )
        self._sim = await self._stack.enter_async_context(run_simulator(config))

    async def stop(self) -> None:
        """Stop the simulator."""
        await self._stack.aclose()
        self._sim = None

    @property
    def sim(self) -> RunningSimulator:
        """The running simulator."""
        if self._sim is None:
            raise RuntimeError("start the Amazon demo shop first")
        return self._sim

    @property
    def url(self) -> str:
        """Seller Central, LWA and the SP-API, all at one base URL."""
        return self.sim.url

    def settings(self) -> dict[str, Any]:
        """Every endpoint on the simulator, with the app the simulator knows."""
        return {
            "endpoint": self.url,
            "application_id": DEFAULT_APPLICATION_ID,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        }

    def connect_fields(self) -> dict[str, str]:
        """The merchant picks marketplace NL."""
        return {"marketplace": "NL"}

    async def consent(self, url: str) -> str:
        """Tick the box on the consent page and confirm; Amazon's redirect back to the hub."""
        async with aiohttp.ClientSession() as browser:
            return await approve(browser, url)

    async def order_lines(self, external_ids: list[str]) -> list[str]:
        """``<order id>: <fulfillment status> (<carrier> <tracking>, ...)`` from the simulator's admin API."""
        lines = []
        async with aiohttp.ClientSession() as session:
            for external_id in external_ids:
                async with session.get(f"{self.url}/_sim/orders/{external_id}") as response:
                    order = (await response.json())["order"]
                status = order.get("fulfillment", {}).get("fulfillmentStatus", "?")
                packages = ", ".join(f"{p.get('carrier')} {p.get('trackingNumber')}" for p in order.get("packages", []))
                lines.append(f"{order['orderId']}: {status} ({packages})")
        return lines

    def describe(self) -> list[str]:
        """Where Seller Central, LWA and the SP-API are."""
        return [f"Seller Central, LWA and SP-API at {self.url} (Amazon's usage plans on)"]
