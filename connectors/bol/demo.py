"""The bol.com shop of ``hub demo``: the simulator with two retailers, their pasted credentials, their orders.

The manifest names ``BolDemo`` (``demo``); ``hub demo`` starts it, points the connector at it,
connects the first retailer with the Client ID and secret a merchant would paste from the Seller
Dashboard, imports, creates labels and reads the orders back. The simulator settles shipments a
second after they are made, as bol.com does within minutes, and delivers its signed webhooks to
the hub's http://127.0.0.1 events URL, which the demo's settings allow.
"""

from __future__ import annotations

import contextlib
from contextlib import AsyncExitStack
from typing import Any

from connectors.bol.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RETAILER_ID,
    RunningSimulator,
    SimulatorConfig,
    run_simulator,
)
from core.hubapi import DemoShop

#: How long the read-back waits for bol.com to settle the demo's shipments (it takes about a second).
SETTLE_WAIT = 10.0
SETTLE_DELAY = 1.0


class BolDemo(DemoShop):
    """The bol.com simulator on a free port of 127.0.0.1, with bol.com's rate limits on."""

    title = "bol.com"
    account = "retailer"

    def __init__(self, orders: int) -> None:
        super().__init__(orders)
        self._stack = AsyncExitStack()
        self._sim: RunningSimulator | None = None

    async def start(self) -> None:
        """Two retailers with ``orders`` orders each (FBR, FBB, VVB, pickup points, ...) and bol.com's demo orders."""
        config = SimulatorConfig(retailers=2, orders_per_retailer=self.orders, settle_delay=SETTLE_DELAY, retry_interval=5.0)
        self._sim = await self._stack.enter_async_context(run_simulator(config))

    async def stop(self) -> None:
        """Stop the simulator."""
        await self._stack.aclose()
        self._sim = None

    @property
    def sim(self) -> RunningSimulator:
        """The running simulator."""
        if self._sim is None:
            raise RuntimeError("start the bol.com demo shop first")
        return self._sim

    @property
    def url(self) -> str:
        """The token endpoint, the Retailer API and the Shared API, at one base URL."""
        return self.sim.url

    def settings(self) -> dict[str, Any]:
        """Every endpoint on the simulator; webhooks to the hub's http://127.0.0.1 events URL allowed."""
        return {"endpoint": self.url, "webhooks_allow_loopback": True}

    def connect_fields(self) -> dict[str, str]:
        """The Client ID and secret the first retailer created under Instellingen > Diensten > API instellingen."""
        return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}

    async def order_lines(self, external_ids: list[str]) -> list[str]:
        """``<order id>: <status at bol.com> (<transporter> <track and trace>, ...)``, once the shipments settled."""
        state = self.sim.state
        wanted = set(external_ids)

        def settled() -> bool:
            items = {item.order_item_id for order_id in wanted for item in state.order(order_id).items}
            return not any(
                status.pending and status.event_type == "CREATE_SHIPMENT" and items & set(status.entity_ids)
                for status in state.processes.values()
            )

        with contextlib.suppress(TimeoutError):
            await state.wait_for(settled, timeout=SETTLE_WAIT)
        lines = []
        for order_id in external_ids:
            order = state.order(order_id)
            shipments = state.shipments_of(order.retailer_id, order_id)
            own = [item for item in order.items if not item.vvb and item.method == "FBR"]
            left = sum(item.open_quantity for item in own)
            shipped = sum(item.quantity_shipped for item in own)
            status = "SHIPPED" if own and not left else "PARTLY SHIPPED" if shipped else "OPEN"
            transports = ", ".join(
                f"{shipment.transport.transporter_code} {shipment.transport.track_and_trace}" for shipment in shipments
            )
            lines.append(f"{order_id}: {status} ({transports or 'no shipment'})")
        return lines

    def describe(self) -> list[str]:
        """Where the token endpoint and the APIs are, and the retailer the merchant connects."""
        return [
            f"token endpoint, Retailer API and Shared API at {self.url} (bol.com's rate limits on; "
            f"shipments settle after {SETTLE_DELAY:g} s)",
            f"retailer {DEFAULT_RETAILER_ID} with client credentials from the Seller Dashboard",
        ]
