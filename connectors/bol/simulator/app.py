"""The simulator as an aiohttp app, and a helper that serves it on 127.0.0.1 for tests and the demo.

One base URL serves everything: the token endpoint (``/token``, production
``https://login.bol.com/token``), the Retailer API (``/retailer/...``, production
``https://api.bol.com/retailer/...``), the Shared API (``/shared/process-status...``) and the admin
API (``/_sim/...``). Unknown API paths answer a 404 ``Problem``.

Two background tasks live with the app (``cleanup_ctx``): the settler, which settles process
statuses when they fall due on the simulated clock, and the deliverer's HTTP session, which posts
webhook messages. Both stop with the app; calls held by faults end at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from . import admin, orders, process_status, retailers, shipments, subscriptions, token
from .config import SimulatorConfig
from .problems import BolProblem, problem_answer
from .state import STATE, SimulatorState

log = logging.getLogger(__name__)

_SETTLER_IDLE = 3600.0  # how long the settler sleeps with nothing due (it is woken on every change)


def create_app(config: SimulatorConfig | None = None) -> web.Application:
    """Build the simulator; its state is ``app[STATE]``."""
    app = web.Application(middlewares=[_problems_for_unknown_paths])
    app[STATE] = SimulatorState(config or SimulatorConfig())
    router = app.router
    router.add_post("/token", token.token)
    router.add_get("/retailer/retailers/{retailer_id}", retailers.get_retailer)
    router.add_get("/retailer/orders", orders.get_orders)
    router.add_put("/retailer/orders/cancellation", orders.cancel_order_item)
    router.add_get("/retailer/orders/{order_id}", orders.get_order)
    router.add_post("/retailer/shipments", shipments.create_shipment)
    router.add_get("/retailer/shipments", shipments.get_shipments)
    router.add_get("/retailer/shipments/{shipment_id}", shipments.get_shipment)
    router.add_put("/retailer/transports/{transport_id}", shipments.change_transport)
    router.add_get("/shared/process-status", process_status.get_process_status_entity_id)
    router.add_post("/shared/process-status", process_status.get_process_status_bulk)
    router.add_get("/shared/process-status/{process_status_id}", process_status.get_process_status)
    router.add_get("/retailer/subscriptions", subscriptions.list_subscriptions)
    router.add_post("/retailer/subscriptions", subscriptions.create_subscription)
    router.add_get("/retailer/subscriptions/signature-keys", subscriptions.signature_keys)
    router.add_post("/retailer/subscriptions/test/{subscription_id}", subscriptions.test_subscription)
    router.add_get("/retailer/subscriptions/{subscription_id}", subscriptions.get_subscription)
    router.add_put("/retailer/subscriptions/{subscription_id}", subscriptions.update_subscription)
    router.add_delete("/retailer/subscriptions/{subscription_id}", subscriptions.delete_subscription)
    router.add_routes(admin.routes)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_release_held_calls)
    return app


@web.middleware
async def _problems_for_unknown_paths(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith("/_sim/"):
            return admin.json_response({"error": f"no admin route {request.path}"}, 404)
        return problem_answer(BolProblem(404, "Not Found", f"No resource at {request.path}."), request)
    except web.HTTPMethodNotAllowed as err:
        if request.path.startswith("/_sim/"):
            return admin.json_response({"error": f"{request.method} is not allowed on {request.path}"}, 405)
        problem = BolProblem(405, "Method Not Allowed", f"{request.method} is not supported on {request.path}.",
                             headers={"Allow": ", ".join(sorted(err.allowed_methods))})
        return problem_answer(problem, request)


async def _background(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.closing.clear()
    await state.deliverer.start()
    settler = asyncio.get_running_loop().create_task(_settle_forever(state))
    yield
    state.closing.set()
    settler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await settler
    await state.deliverer.close()


async def _settle_forever(state: SimulatorState) -> None:
    """Settle process statuses as they fall due; woken early by every new status and clock move."""
    while True:
        state.wake.clear()
        try:
            state.settle_due()
        except Exception:  # keep settling later statuses whatever one of them did
            log.exception("settling process statuses failed")
        due = state.next_due()
        wait = _SETTLER_IDLE
        if due is not None and not state.clock.frozen:
            wait = max(0.0, min(wait, due - state.clock.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wake.wait(), wait)


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

    @property
    def token_url(self) -> str:
        """Where to ask for tokens (bol.com: ``https://login.bol.com/token``)."""
        return f"{self.url}/token"

    @property
    def api_url(self) -> str:
        """The API base for ``/retailer/...`` and ``/shared/...`` (bol.com: ``https://api.bol.com``)."""
        return self.url

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
    # access_log=None switches aiohttp's access log off; leaving it out keeps the default logger.
    log_options: dict[str, Any] = {} if access_log else {"access_log": None}
    runner = web.AppRunner(app, shutdown_timeout=2.0, **log_options)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield RunningSimulator(str(URL.build(scheme="http", host=host, port=bound)), app)
    finally:
        await runner.cleanup()
