"""The simulator as an aiohttp app, and a helper that serves it on 127.0.0.1 for tests and the demo.

One base URL serves everything: Seller Central (``/apps/authorize/...``), LWA
(``/auth/o2/token``), the SP-API (``/sellers/v1/...``, ``/orders/2026-01-01/...``,
``/orders/v0/...``: getOrders, getOrderItems, getOrderAddress, confirmShipment) and the admin API
(``/_sim/...``). Point the hub's Seller Central, LWA and SP-API endpoints at it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from . import admin, consent, lwa, orders, orders_v0, sellers
from .config import SimulatorConfig
from .sandbox import SandboxCases, models_dir
from .state import STATE, SimulatorState


def create_app(config: SimulatorConfig | None = None) -> web.Application:
    """Build the simulator; its state is ``app[STATE]``."""
    config = config or SimulatorConfig()
    app = web.Application()
    state = SimulatorState(config)
    if config.sandbox_cases:
        state.sandbox = SandboxCases.load(models_dir(config.models_dir))
    app[STATE] = state
    router = app.router
    router.add_get("/apps/authorize/consent", consent.consent_page)
    router.add_post("/apps/authorize/consent", consent.consent_submit)
    router.add_get("/apps/authorize/confirm", consent.confirm)
    router.add_get("/_sim/reauthorize", consent.reauthorize)
    router.add_post("/auth/o2/token", lwa.token)
    router.add_get("/sellers/v1/marketplaceParticipations", sellers.marketplace_participations)
    router.add_get("/orders/2026-01-01/orders", orders.search_orders)
    router.add_get("/orders/2026-01-01/orders/{orderId}", orders.get_order)
    router.add_get("/orders/v0/orders", orders_v0.get_orders)
    router.add_get("/orders/v0/orders/{orderId}/orderItems", orders_v0.get_order_items)
    router.add_get("/orders/v0/orders/{orderId}/address", orders_v0.get_order_address)
    router.add_post("/orders/v0/orders/{orderId}/shipmentConfirmation", orders.confirm_shipment)
    router.add_routes(admin.routes)
    app.on_startup.append(_hold_calls)
    app.on_shutdown.append(_release_held_calls)
    return app


async def _hold_calls(app: web.Application) -> None:
    app[STATE].closing.clear()


async def _release_held_calls(app: web.Application) -> None:
    # Calls held by "timeout" and "slow" faults end now instead of delaying the shutdown.
    app[STATE].closing.set()


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator being served: its base URL, app and state."""

    url: str
    app: web.Application

    @property
    def state(self) -> SimulatorState:
        """The simulator's state (the same object as ``app[STATE]``)."""
        return self.app[STATE]

    def __str__(self) -> str:
        return self.url


@asynccontextmanager
async def run_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    access_log: bool = False,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on ``host``:``port`` (0: a free port) for the duration of the block."""
    app = create_app(config)
    # access_log=None switches aiohttp's access log off; the default keeps aiohttp's logger.
    runner = (
        web.AppRunner(app, shutdown_timeout=2.0)
        if access_log
        else web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield RunningSimulator(str(URL.build(scheme="http", host=host, port=bound)), app)
    finally:
        await runner.cleanup()
