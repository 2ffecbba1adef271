"""Stopping `hub serve` in the middle of tracking pushes loses no job and confirms no parcel twice.

SIGTERM: the daemon takes no new job, lets the running ones finish (or, past
``jobs.shutdown_seconds``, queues them again) and exits 0; the next daemon does the rest. SIGKILL:
the jobs stay picked until their heartbeat is ``jobs.heartbeat_seconds`` old, then another
worker takes them. The simulator's faults hold confirmShipment calls so that work is in flight.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import pytest

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.faults import parse_faults
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from tests.hub.daemons import Daemon, Merchant, daemons, gather_limited, hub_environment, seed_orders
from tests.waiting import eventually

__all__ = ["daemons"]

SELLERS = 2
ORDERS_PER_SELLER = 10
LABELS = SELLERS * ORDERS_PER_SELLER
SHUTDOWN_SECONDS = 5

Start = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """The simulator with Amazon's usage plans: two sellers in NL, ten open orders each."""
    async with run_simulator(SimulatorConfig(sellers=SELLERS, orders_per_seller=0, marketplaces=["NL"])) as running:
        seed_orders(running, ORDERS_PER_SELLER)
        yield running


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The test's own connections to the daemons' database."""
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as opened:
        yield opened


@pytest.fixture
def env(settings: HubSettings, sim: RunningSimulator) -> dict[str, str]:
    """The daemons' environment: a short grace period and heartbeat, so the test need not wait long."""
    return hub_environment(
        settings, sim, HUB_JOBS__SHUTDOWN_SECONDS=str(SHUTDOWN_SECONDS), HUB_JOBS__HEARTBEAT_SECONDS="2"
    )


async def orders_to_label(daemon: Daemon, pool: asyncpg.Pool, sim: RunningSimulator, http: aiohttp.ClientSession) -> tuple[Merchant, list[dict]]:
    """An account with every seller connected and imported."""
    account = await create_account(pool, "Merchant")
    merchant = Merchant(http, await create_token(pool, account.id), sim)
    for seller_id in sim.state.sellers:
        await merchant.import_orders(daemon, await merchant.connect(daemon, seller_id))
    orders = await merchant.orders(daemon)
    assert len(orders) == LABELS
    return merchant, orders


async def pushes_running(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("select count(*) from pgqueuer where status = 'picked' and entrypoint = 'push'") > 0


async def parcel_states(pool: asyncpg.Pool) -> dict[str, int]:
    return dict(await pool.fetch("select push_state, count(*) from parcels group by 1"))


async def all_confirmed(pool: asyncpg.Pool) -> bool:
    states = await parcel_states(pool)
    assert states.keys() <= {"pending", "confirmed"}, states
    return states.get("confirmed") == LABELS


def assert_each_parcel_created_once(sim: RunningSimulator, orders: list[dict]) -> Counter[str]:
    """Every order has its one package at Amazon; returns the confirmations by action."""
    packages = Counter((c.order_id, c.package_reference_id) for c in sim.state.confirmations if c.action == "created")
    assert packages == Counter({(o["external_id"], "1"): 1 for o in orders})
    return Counter(c.action for c in sim.state.confirmations)


async def test_sigterm_finishes_running_pushes_and_a_restart_pushes_the_rest(
    env: dict[str, str], sim: RunningSimulator, pool: asyncpg.Pool, daemons: Start
) -> None:
    # 5 jobs at once, each confirmShipment 2 s: far fewer than 20 pushes can finish before the SIGTERM.
    first = await daemons({**env, "HUB_JOBS__SHUTDOWN_SECONDS": "20", "HUB_JOBS__CONCURRENCY": "5"})
    async with aiohttp.ClientSession() as http:
        merchant, orders = await orders_to_label(first, pool, sim, http)
        sim.state.faults.set(parse_faults("confirmShipment:slow=2"))
        await gather_limited(10, [lambda order=order: merchant.label(first, order) for order in orders])
        await eventually(lambda: pushes_running(pool))

        assert await first.stop(signal.SIGTERM, timeout=20) == 0, first.log()
        confirmed_at_exit = len(sim.state.confirmations)
        assert 0 < confirmed_at_exit < LABELS, "the daemon finished the pushes it had started, and took no more"
        assert "interrupting" not in first.log()
        assert await pool.fetchval("select count(*) from pgqueuer where status = 'picked'") == 0
        assert (await parcel_states(pool)) == {"confirmed": confirmed_at_exit, "pending": LABELS - confirmed_at_exit}

        sim.state.faults.clear()
        await daemons(env)
        await eventually(lambda: all_confirmed(pool))
    assert assert_each_parcel_created_once(sim, orders) == {"created": LABELS}, "no parcel was sent twice"


async def test_sigterm_requeues_pushes_that_outlast_the_grace_period(
    env: dict[str, str], sim: RunningSimulator, pool: asyncpg.Pool, daemons: Start
) -> None:
    first = await daemons(env)
    async with aiohttp.ClientSession() as http:
        merchant, orders = await orders_to_label(first, pool, sim, http)
        # Amazon holds the next three calls without answering; the client would wait 30 s.
        sim.state.faults.set(parse_faults("confirmShipment:timeout:next=3"))
        for order in orders[:3]:
            await merchant.label(first, order)
        await eventually(lambda: _true(not sim.state.faults.rules))

        assert await first.stop(signal.SIGTERM, timeout=SHUTDOWN_SECONDS + 10) == 0, first.log()
        assert "interrupting" in first.log()
        assert await pool.fetchval("select count(*) from pgqueuer where status = 'queued' and entrypoint = 'push'") == 3

        second = await daemons(env)
        for order in orders[3:]:
            await merchant.label(second, order)
        await eventually(lambda: all_confirmed(pool))
    assert assert_each_parcel_created_once(sim, orders) == {"created": LABELS}


async def test_jobs_of_a_killed_daemon_are_taken_again_after_their_heartbeat_stops(
    env: dict[str, str], sim: RunningSimulator, pool: asyncpg.Pool, daemons: Start
) -> None:
    first = await daemons(env)
    async with aiohttp.ClientSession() as http:
        merchant, orders = await orders_to_label(first, pool, sim, http)
        sim.state.faults.set(parse_faults("confirmShipment:timeout:next=3"))
        for order in orders[:3]:
            await merchant.label(first, order)
        await eventually(lambda: _true(not sim.state.faults.rules))

        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert await pool.fetchval("select count(*) from pgqueuer where status = 'picked'") == 3

        second = await daemons(env)
        for order in orders[3:]:
            await merchant.label(second, order)
        await eventually(lambda: all_confirmed(pool))
    assert assert_each_parcel_created_once(sim, orders) == {"created": LABELS}


async def _true(value: object) -> bool:
    return bool(value)
