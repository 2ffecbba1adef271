"""Fixtures for the simulator's tests: a served simulator and an SP-API caller that checks answers.

Every SP-API answer that ``SpApi.call`` receives is validated against Amazon's models (strict:
no properties the models do not define), so each test also proves the simulator speaks the
models' shapes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from tests.connectors.amazon.spapi_models import validate_response

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
USER_AGENT = "HubTests/1.0 (Language=Python/3.11)"

OPERATIONS = {
    "searchOrders": ("orders_2026-01-01.json", "GET", "/orders/2026-01-01/orders"),
    "getOrder": ("orders_2026-01-01.json", "GET", "/orders/2026-01-01/orders/{orderId}"),
    "confirmShipment": ("ordersV0.json", "POST", "/orders/v0/orders/{orderId}/shipmentConfirmation"),
    "getOrders": ("ordersV0.json", "GET", "/orders/v0/orders"),
    "getOrderItems": ("ordersV0.json", "GET", "/orders/v0/orders/{orderId}/orderItems"),
    "getOrderAddress": ("ordersV0.json", "GET", "/orders/v0/orders/{orderId}/address"),
    "getMarketplaceParticipations": ("sellers.json", "GET", "/sellers/v1/marketplaceParticipations"),
}

StartSimulator = Callable[..., Awaitable[RunningSimulator]]


@dataclass
class Answer:
    """An SP-API answer: status, headers and the decoded JSON body (None when empty)."""

    status: int
    headers: Any
    body: Any


class SpApi:
    """Calls one simulator's SP-API as one seller and validates each answer against the models."""

    def __init__(self, session: aiohttp.ClientSession, sim: RunningSimulator, seller_id: str) -> None:
        self.session = session
        self.sim = sim
        self.seller_id = seller_id
        self.token = sim.state.issue_access_token(seller_id)

    def renew(self) -> None:
        """Take a fresh access token (after moving the clock past the old one's hour)."""
        self.token = self.sim.state.issue_access_token(self.seller_id)

    async def call(
        self,
        operation: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        order_id: str | None = None,
        token: str | None = None,
        headers: dict[str, str | None] | None = None,
        **request_options: Any,
    ) -> Answer:
        """Call ``operation`` and return its validated answer."""
        model_file, method, path = OPERATIONS[operation]
        url = self.sim.url + path.replace("{orderId}", order_id or "")
        sent = {"x-amz-access-token": self.token if token is None else token, "User-Agent": USER_AGENT}
        sent.update(headers or {})
        sent = {name: value for name, value in sent.items() if value is not None}
        async with self.session.request(method, url, params=params, json=json, headers=sent, **request_options) as response:
            text = await response.text()
            body = None if not text else await response.json(content_type=None)
            validate_response(model_file, operation, response.status, body, strict=True)
            return Answer(response.status, response.headers, body)

    async def search(self, **params: str) -> Answer:
        """searchOrders with these query parameters."""
        return await self.call("searchOrders", params=params)

    async def get_order(self, order_id: str, included: str | None = None) -> Answer:
        """getOrder, with includedData when given."""
        return await self.call("getOrder", order_id=order_id, params={"includedData": included} if included else None)

    async def confirm(self, order_id: str, payload: Any) -> Answer:
        """confirmShipment with this JSON body."""
        return await self.call("confirmShipment", order_id=order_id, json=payload)


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators (frozen clock at START unless overridden); all stop after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningSimulator:
            values = {"start_time": START, "freeze_clock": True} | overrides
            return await stack.enter_async_context(run_simulator(SimulatorConfig(**values)))

        yield start


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> RunningSimulator:
    """A simulator with the default world: 2 sellers, 50 orders each, NL and DE."""
    return await start_simulator()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(session: aiohttp.ClientSession, sim: RunningSimulator) -> SpApi:
    """The SP-API of ``sim`` as its first seller."""
    return SpApi(session, sim, sim.state.first_seller.seller_id)
