"""Crash run: `hub serve` killed with SIGKILL at random moments during imports and tracking pushes.

Two daemons (``--daemons``) share one PostgreSQL; the Amazon simulator runs in this process. A
merchant connects a few sellers; each round new orders arrive at Amazon and an import of every
connection starts, while a label is posted for every imported order as it appears (through either
daemon's API, as the carrier's platform would). Then the run kills a daemon that is importing (even
rounds) or pushing (odd rounds) and starts it again. Which daemon is doing what is read from
PostgreSQL: the import advisory locks its connections hold, named by the ``application_name`` each
daemon's database URL carries; a push holds no connection while Amazon answers, only a lease on
its label, which names no daemon, so while any push lease is live every daemon counts as pushing
(both take push jobs). It waits a random 0 to 0.5 s after seeing
the work start, and records what the daemon held at the moment of the kill. The other daemon works
on meanwhile; the killed one's jobs are taken again once their heartbeat is
``jobs.heartbeat_seconds`` (2 s) old.

Imports are stretched so that kills land inside them: pages of 5 orders, each ``searchOrders``
answered after 0.2 s; each ``confirmShipment`` after 0.1 s. Amazon's usage plans are off (pacing
across restarts is not what this run is about).

After the last kill: one more import of every connection, every label posted, every push done.
Then the checks:

- orders: each stored once per connection and external id, and the stored set equals the set the
  simulator holds for the import's filter (merchant-fulfilled orders of the seller);
- labels: each label posted is stored, once, with every parcel confirmed (else it is *lost*);
- at Amazon: each parcel is one package, created once under its ``packageReferenceId`` with the
  label's tracking number (a second creation, or a package no label has, is a *duplicate*). A
  confirmShipment repeated for a package already there is an *edit* of that package, which the
  design allows (a kill between Amazon's answer and the stored outcome repeats the push); edits are
  counted apart and must carry the same tracking number.

``crash_run(kills, ...)`` runs it: ``tests/reliability/test_crash.py`` with 3 kills,
``bench/crash_run.py`` with 25 (or as many as it is told), printing the figures:

    python bench/crash_run.py                   # 25 kills, two daemons
    python bench/crash_run.py --kills 20 --daemons 1 --seed 3
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from core.infra.crypto import new_key
from core.infra.settings import HubSettings
from core.storage.imports import IMPORT_LOCK
from tests.hub.daemons import Daemon, FleetApi, LabelPoster, Merchant, free_port, hub_environment, new_token, started
from tests.waiting import eventually

#: What a daemon can be doing, by the first key of the advisory lock it holds.
WORK = {IMPORT_LOCK: "import"}

#: Faults that stretch the work so that kills land inside it (see the module docstring).
STRETCH = "searchOrders:slow=0.2,confirmShipment:slow=0.1"

#: How far Amazon's clock moves each round: new orders become visible to searchOrders.
ROUND_SECONDS = 121

#: Longest random wait between seeing the work start and the kill, seconds.
MAX_KILL_DELAY = 0.5

Log = Callable[[str], None]


@dataclass
class CrashReport:
    """What a crash run did and what held afterwards."""

    daemons: int
    kills: int = 0
    kills_by_work: Counter[str] = field(default_factory=Counter)  # "import", "push", "import+push", "idle"
    orders: int = 0  # stored
    orders_at_amazon: int = 0  # what the simulator holds for the import's filter
    duplicate_orders: int = 0  # (connection, external id) stored more than once
    missing_orders: int = 0  # at Amazon, not stored
    extra_orders: int = 0  # stored, not at Amazon
    labels: int = 0  # posted
    parcels: int = 0  # in the labels posted
    packages: int = 0  # created at Amazon
    duplicates: int = 0  # packages created twice, or created for no parcel
    edits: int = 0  # confirmShipment repeated for a package already there
    wrong_tracking: int = 0  # a package (or an edit) with another tracking number than its parcel's
    lost: int = 0  # labels posted but not stored, or with a parcel not confirmed
    label_answers_repeated: int = 0  # a label posted again after a kill ate the answer (200: it existed)
    import_runs: Counter[str] = field(default_factory=Counter)  # by final state
    wall: float = 0.0

    def problems(self) -> list[str]:
        """Everything that did not hold; empty when the run passed."""
        found = []
        if self.duplicate_orders or self.missing_orders or self.extra_orders:
            found.append(
                f"orders: {self.duplicate_orders} stored twice, {self.missing_orders} missing, {self.extra_orders} extra"
            )
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate packages at Amazon")
        if self.wrong_tracking:
            found.append(f"{self.wrong_tracking} packages with a wrong tracking number")
        if self.lost:
            found.append(f"{self.lost} labels lost")
        if self.packages != self.parcels:
            found.append(f"{self.packages} packages created for {self.parcels} parcels")
        if set(self.import_runs) - {"succeeded"}:
            found.append(f"import runs not succeeded: {dict(self.import_runs)}")
        return found

    def summary(self) -> str:
        """The figures, one per line."""
        work = ", ".join(f"{kind} {count}" for kind, count in sorted(self.kills_by_work.items()))
        return "\n".join(
            [
                f"daemons: {self.daemons}; kills (SIGKILL, restarted): {self.kills} (daemon was doing: {work})",
                f"orders: {self.orders} stored, {self.orders_at_amazon} at Amazon; stored twice {self.duplicate_orders}, "
                f"missing {self.missing_orders}, extra {self.extra_orders}",
                f"import runs: {dict(self.import_runs)}",
                f"labels: {self.labels} posted ({self.label_answers_repeated} posted again after a kill ate the answer); "
                f"parcels: {self.parcels}",
                f"at Amazon: {self.packages} packages created, duplicates {self.duplicates}, "
                f"edits (same packageReferenceId sent again) {self.edits}, wrong tracking number {self.wrong_tracking}",
                f"lost labels: {self.lost}",
                f"wall time: {self.wall:.1f} s",
            ]
        )


def parcels_of(order: dict[str, Any]) -> list[dict[str, Any]]:
    """One parcel per item, all its units."""
    return [
        {
            "tracking_number": f"GLS{order['id']:08d}{n}",
            "items": [{"item_external_id": item["external_id"], "quantity": item["quantity_ordered"]}],
        }
        for n, item in enumerate(order["items"], start=1)
    ]


def add_orders(sim: RunningSimulator, per_seller: int, rng: random.Random) -> None:
    """New open orders for every seller (one in three with two items), visible to searchOrders at once."""
    for seller_id in sim.state.sellers:
        for _ in range(per_seller):
            items = [{"quantity": 1}, {"quantity": 1}] if rng.random() < 1 / 3 else [{"quantity": 1}]
            sim.state.add_order(seller_id, items=items)
    # searchOrders answers only orders updated at least two minutes ago.
    sim.state.clock.advance(ROUND_SECONDS)


async def held_work(db: asyncpg.Pool, fleet: dict[str, Daemon]) -> dict[str, set[str]]:
    """What each daemon is doing now: application name -> {"import", "push"}.

    Imports from the advisory locks; pushes from the label leases, which name no daemon.
    """
    rows = await db.fetch(
        "select a.application_name, l.classid::bigint as key from pg_locks l join pg_stat_activity a on a.pid = l.pid"
        " where l.locktype = 'advisory' and l.granted and l.classid::bigint = any($1::bigint[])",
        list(WORK),
    )
    work: dict[str, set[str]] = {}
    for row in rows:
        work.setdefault(row["application_name"], set()).add(WORK[row["key"]])
    if await db.fetchval("select exists (select 1 from labels where push_until > now())"):
        for name in fleet:
            work.setdefault(name, set()).add("push")
    return work


async def pick_victim(db: asyncpg.Pool, fleet: dict[str, Daemon], target: str, rng: random.Random) -> str:
    """A daemon doing ``target`` work (waiting up to 20 s for one), else one doing any work, else any."""
    for wanted, timeout in ((target, 20.0), (None, 10.0)):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            work = await held_work(db, fleet)
            busy = [name for name, kinds in work.items() if name in fleet and (wanted in kinds if wanted else kinds)]
            if busy:
                return rng.choice(sorted(busy))
            await asyncio.sleep(0.02)
    return rng.choice(sorted(fleet))


async def kill_one(db: asyncpg.Pool, fleet: dict[str, Daemon], target: str, rng: random.Random) -> tuple[str, str]:
    """SIGKILL a daemon at a random moment of ``target`` work and start it again; which one, and what it was doing."""
    name = await pick_victim(db, fleet, target, rng)
    await asyncio.sleep(rng.uniform(0, MAX_KILL_DELAY))  # a random moment within the work
    doing = "+".join(sorted((await held_work(db, fleet)).get(name, set()))) or "idle"
    victim = fleet[name]
    assert await victim.stop(signal.SIGKILL) == -signal.SIGKILL
    await victim.start()
    return name, doing


def with_application_name(url: str, name: str) -> str:
    """The database URL with an ``application_name`` (asyncpg passes unknown parameters to the server)."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


async def crash_run(
    kills: int,
    *,
    database_url: str,
    workdir: Path,
    daemons: int = 2,
    sellers: int = 4,
    first_orders: int = 10,
    orders_per_round: int = 10,
    seed: int = 1,
    log: Log = print,
) -> CrashReport:
    """Kill a `hub serve` ``kills`` times during imports and pushes; check what held afterwards.

    ``database_url`` is an empty PostgreSQL database (the daemons migrate it) or a migrated one;
    ``workdir`` gets the daemons' data folder and logs (``hub-serve-N.log``).
    """
    rng = random.Random(seed)
    report = CrashReport(daemons=daemons)
    began = time.monotonic()
    # Amazon's clock runs behind the hub's, far enough for every round's 121 s (see add_orders): an
    # import whose cursor is under two minutes old by the hub's clock would not ask at all.
    behind = timedelta(seconds=ROUND_SECONDS * (kills + 2) + 600)
    config = SimulatorConfig(
        sellers=sellers, orders_per_seller=0, marketplaces=["NL"], rate_limits=False, faults=STRETCH, seed=seed,
        start_time=datetime.now(UTC) - behind,
    )
    async with run_simulator(config) as sim:
        add_orders(sim, first_orders, rng)
        settings = HubSettings(
            data_dir=workdir / "data", database={"url": database_url}, security={"encryption_keys": [new_key()]}
        )
        base = hub_environment(
            settings,
            sim,
            HUB_JOBS__HEARTBEAT_SECONDS="2",
            HUB_JOBS__TICK_SECONDS="1",
            HUB_CONNECTORS__AMAZON__PAGE_SIZE="5",
            HUB_CONNECTORS__AMAZON__PACING="false",
        )
        fleet = {
            f"hub-crash-{n}": Daemon(
                free_port(),
                {**base, "HUB_DATABASE__URL": with_application_name(database_url, f"hub-crash-{n}")},
                workdir / f"hub-serve-{n}.log",
            )
            for n in range(1, daemons + 1)
        }
        async with started(fleet), asyncpg.create_pool(database_url, min_size=1, max_size=2) as db:
            token = await new_token(db, "Crash-run merchant")
            first = next(iter(fleet.values()))
            async with aiohttp.ClientSession() as http:
                connection_ids = [await Merchant(http, token, sim).connect(first, seller) for seller in sim.state.sellers]
                api = FleetApi(http, token, list(fleet.values()), rng)
                async with LabelPoster(api, parcels_of).posting() as poster:
                    for round_number in range(kills):
                        if round_number:
                            add_orders(sim, orders_per_round, rng)
                        for connection_id in connection_ids:
                            status, run = await api.call("POST", "/api/v1/imports", {"connection_id": connection_id})
                            assert status in (200, 202), run
                        name, doing = await kill_one(db, fleet, "import" if round_number % 2 == 0 else "push", rng)
                        report.kills += 1
                        report.kills_by_work[doing] += 1
                        log(f"kill {report.kills}/{kills}: {name} ({doing})")
                    for connection_id in connection_ids:
                        await api.import_to_end(connection_id)
                await eventually(lambda: pushes_done(db), timeout=300)
            await check(report, db, sim, poster, connection_ids)
    report.wall = time.monotonic() - began
    return report


async def pushes_done(db: asyncpg.Pool) -> bool:
    """No parcel is pending any more."""
    return not await db.fetchval("select exists (select 1 from parcels where push_state = 'pending')")


async def check(
    report: CrashReport, db: asyncpg.Pool, sim: RunningSimulator, poster: LabelPoster, connection_ids: list[int]
) -> None:
    """Fill the report's figures from the database and the simulator."""
    sellers = dict(zip(connection_ids, sim.state.sellers, strict=True))
    stored = await db.fetch("select id, connection_id, external_id from orders")
    per_key = Counter((row["connection_id"], row["external_id"]) for row in stored)
    report.orders = len(stored)
    report.duplicate_orders = sum(count - 1 for count in per_key.values())
    at_amazon = {
        (connection_id, order.order_id)
        for connection_id, seller_id in sellers.items()
        for order in sim.state.orders.values()
        if order.seller_id == seller_id and order.fulfilled_by == "MERCHANT"
    }
    report.orders_at_amazon = len(at_amazon)
    report.missing_orders = len(at_amazon - per_key.keys())
    report.extra_orders = len(per_key.keys() - at_amazon)
    report.import_runs = Counter(dict(await db.fetch("select state, count(*) from import_runs group by 1")))

    external = {row["id"]: row["external_id"] for row in stored}
    rows = await db.fetch(
        "select l.order_id, l.external_id, p.reference, p.tracking_number, p.push_state"
        " from labels l join parcels p on p.label_id = l.id"
    )
    parcels: dict[int, dict[str, tuple[str, str]]] = {}  # order id -> reference -> (tracking number, state)
    labels = await db.fetch("select order_id, external_id from labels")
    label_ids = Counter((row["order_id"], row["external_id"]) for row in labels)
    for row in rows:
        parcels.setdefault(row["order_id"], {})[row["reference"]] = (row["tracking_number"], row["push_state"])
    report.labels = len(poster.posted)
    report.label_answers_repeated = poster.repeated
    expected: dict[tuple[str, str], str] = {}  # (Amazon order id, packageReferenceId) -> tracking number
    for order_id, body in poster.posted.items():
        stored_parcels = parcels.get(order_id, {})
        wanted = [parcel["tracking_number"] for parcel in body["parcels"]]
        report.parcels += len(wanted)
        intact = (
            label_ids[(order_id, body["label_id"])] == 1
            and sorted(number for number, _ in stored_parcels.values()) == sorted(wanted)
            and all(state == "confirmed" for _, state in stored_parcels.values())
        )
        report.lost += not intact
        for reference, (number, _) in stored_parcels.items():
            expected[(external[order_id], reference)] = number

    created = Counter((c.order_id, c.package_reference_id) for c in sim.state.confirmations if c.action == "created")
    report.packages = sum(created.values())
    report.duplicates = sum(count - 1 for count in created.values()) + sum(
        count for key, count in created.items() if key not in expected
    )
    report.edits = sum(c.action == "updated" for c in sim.state.confirmations)
    report.wrong_tracking = sum(
        c.payload["packageDetail"]["trackingNumber"] != expected.get((c.order_id, c.package_reference_id))
        for c in sim.state.confirmations
    )
