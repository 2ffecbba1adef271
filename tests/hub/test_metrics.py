"""/metrics counts what `hub serve` did: imports, orders, parcel pushes, Amazon calls, job latency.

A fresh daemon process starts every counter at zero, so the figures after one merchant journey
are exact. The scheduler is slowed down so that only the merchant's import runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from connectors.amazon.simulator import RunningSimulator
from connectors.amazon.simulator.faults import parse_faults
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from tests.hub.daemons import SIM_ORDERS as ORDERS
from tests.hub.daemons import Daemon, Merchant, daemons, hub_environment, one_seller_sim
from tests.waiting import eventually

__all__ = ["daemons", "one_seller_sim"]  # fixtures


async def scrape(http: aiohttp.ClientSession, daemon: Daemon) -> dict[tuple[str, frozenset], float]:
    """Every sample at /metrics by name and labels."""
    async with http.get(daemon.url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_a_merchant_journey(
    settings: HubSettings, database_url: str, sim: RunningSimulator, daemons: Callable[..., Awaitable[Daemon]]
) -> None:
    daemon = await daemons(hub_environment(settings, sim, HUB_JOBS__TICK_SECONDS="600"))
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool, aiohttp.ClientSession() as http:
        merchant = Merchant(http, await create_token(pool, (await create_account(pool, "Merchant")).id), sim)
        connection_id = await merchant.connect(daemon, sim.state.first_seller.seller_id)
        await merchant.import_orders(daemon, connection_id)
        sim.state.faults.set(parse_faults("confirmShipment:503:next=1"))  # one call fails, the client retries it
        for order in await merchant.orders(daemon):
            await merchant.label(daemon, order)

        async def pushed() -> dict[tuple[str, frozenset], float] | None:
            samples = await scrape(http, daemon)
            return samples if sample(samples, "hub_parcel_pushes_total", connector="amazon", outcome="confirmed") == ORDERS else None

        samples = await eventually(pushed)

    assert sample(samples, "hub_imports_total", connector="amazon", outcome="succeeded") == 1
    assert sample(samples, "hub_orders_imported_total", connector="amazon", kind="new") == ORDERS
    assert sample(samples, "hub_orders_imported_total", connector="amazon", kind="skipped") == 0
    calls = {"connector": "amazon"}
    assert sample(samples, "hub_shop_calls_total", **calls, operation="getMarketplaceParticipations", status="200") == 1
    assert sample(samples, "hub_shop_calls_total", **calls, operation="searchOrders", status="200") == 1
    assert sample(samples, "hub_shop_calls_total", **calls, operation="confirmShipment", status="503") == 1
    assert sample(samples, "hub_shop_calls_total", **calls, operation="confirmShipment", status="204") == ORDERS
    assert sample(samples, "hub_shop_calls_total", **calls, operation="lwa", status="200") == 1  # the code exchange; its access token serves on
    assert sample(samples, "hub_job_latency_seconds_count", entrypoint="push") == ORDERS
    assert sample(samples, "hub_job_duration_seconds_count", entrypoint="push") == ORDERS
    assert sample(samples, "hub_job_latency_seconds_count", entrypoint="import") == 1
    assert 0 < sample(samples, "hub_job_latency_seconds_sum", entrypoint="push") < ORDERS * 5
    assert any(name == "hub_queue_jobs" for name, _ in samples)
