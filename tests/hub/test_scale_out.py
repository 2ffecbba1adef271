"""Three `hub serve` processes on one PostgreSQL share the work: 1,000 labels, each parcel confirmed once.

Amazon's real usage plans stay on in the simulator. 100 sellers (one connection each) with 10
orders each keep every seller within confirmShipment's burst of 10, whichever processes push its
parcels, so no 429 slows the test; pacing across processes is not what it proves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import pytest

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from tests.hub.daemons import Daemon, Merchant, daemons, gather_limited, hub_environment, seed_orders
from tests.waiting import eventually

__all__ = ["daemons"]

SELLERS = 100
ORDERS_PER_SELLER = 10
LABELS = SELLERS * ORDERS_PER_SELLER


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """The simulator with Amazon's usage plans and 100 sellers in NL, 10 open orders each."""
    async with run_simulator(SimulatorConfig(sellers=SELLERS, orders_per_seller=0, marketplaces=["NL"])) as running:
        seed_orders(running, ORDERS_PER_SELLER)
        yield running


async def pushes_counted(http: aiohttp.ClientSession, daemon: Daemon) -> float:
    """The confirmed parcel pushes a daemon reports at /metrics."""
    async with http.get(daemon.url + "/metrics") as response:
        text = await response.text()
    prefix = 'hub_parcel_pushes_total{connector="amazon",outcome="confirmed"} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


async def test_three_daemons_confirm_1000_labels_each_parcel_once(
    settings: HubSettings,
    database_url: str,
    sim: RunningSimulator,
    daemons: Callable[..., Awaitable[Daemon]],
) -> None:
    env = hub_environment(settings, sim)
    fleet = list(await asyncio.gather(daemons(env), daemons(env), daemons(env)))
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        account = await create_account(pool, "Scale-out merchant")
        token = await create_token(pool, account.id)
        async with aiohttp.ClientSession() as http:
            merchant = Merchant(http, token, sim)

            async def onboard(n: int, seller_id: str) -> None:
                daemon = fleet[n % 3]
                # The scheduler may import a new connection first; either way the run ends succeeded.
                await merchant.import_orders(daemon, await merchant.connect(daemon, seller_id))

            await gather_limited(10, [lambda n=n, s=s: onboard(n, s) for n, s in enumerate(sim.state.sellers)])
            orders = await merchant.orders(fleet[0])
            assert len(orders) == LABELS

            started = time.monotonic()
            labels = await gather_limited(
                30, [lambda n=n, o=o: merchant.label(fleet[n % 3], o) for n, o in enumerate(orders)]
            )
            assert len({label["id"] for label in labels}) == LABELS

            async def all_confirmed() -> bool:
                states = dict(await pool.fetch("select push_state, count(*) from parcels group by 1"))
                assert states.keys() <= {"pending", "confirmed"}, states
                return states.get("confirmed") == LABELS

            await eventually(all_confirmed, timeout=60)
            elapsed = time.monotonic() - started
            per_daemon = [await pushes_counted(http, daemon) for daemon in fleet]
    finally:
        await pool.close()

    confirmations = sim.state.confirmations
    assert len(confirmations) == LABELS, f"{len(confirmations)} confirmShipment calls for {LABELS} parcels"
    assert Counter(c.action for c in confirmations) == {"created": LABELS}
    confirmed = {(c.order_id, c.package_reference_id): c.payload["packageDetail"]["trackingNumber"] for c in confirmations}
    expected = {(o["external_id"], "1"): f"GLS{o['id']:09d}" for o in orders}
    assert confirmed == expected, "every label's parcel is confirmed once, with its own tracking number"
    assert all(sim.state.order(order_id).status == "SHIPPED" for order_id, _ in expected)
    assert sum(per_daemon) == LABELS and all(count > 0 for count in per_daemon), per_daemon
    print(f"{LABELS} labels confirmed in {elapsed:.1f} s; pushes per daemon: {per_daemon}")
