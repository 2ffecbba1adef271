"""Crash run for bol.com: `hub serve` daemons pushing labels, killed with SIGKILL, between a shipment POST and its answer too.

Several daemons (``--daemons``) share one PostgreSQL; the bol.com simulator runs in this process,
with its rate limits on and process statuses settling a second after each 202. A merchant connects
``--retailers`` retailers with their pasted client credentials (webhooks to the first daemon's
http://127.0.0.1 events URL). Each round new orders arrive at bol.com (one in three with two items,
one in five with one item of two units, which gets two parcels of one unit: two shipments of one
order item), an import of every connection starts (the ORDER events start more), and a label is
posted for every imported order as it appears (one parcel per item, through any daemon's API).
Then a daemon is killed and started again:

- **held** rounds (even): the simulator is told to hold the answer of the next shipment POST after
  doing the work (fault ``create-shipment:lost-timeout:next=1``: the process status exists, the
  answer never comes); the daemon that sent that POST is killed while it waits for the answer,
  after a random 0 to 0.5 s;
- **any** rounds (odd): a daemon with a call to bol.com in flight (a shipment POST, an order's
  process statuses, a bulk process-status check, an order detail, an order list ...) is killed
  after a random 0 to 0.3 s; what it had in flight at the kill is recorded.

Which daemon sent a request is known exactly: a middleware on the simulator notes each request's
client port, and psutil finds the daemon that owns that port. Beside the kills, a few answers are
lost without a kill (``create-shipment:lost:0.03``, ``create-shipment:lost-504:0.03``) and a few
calls fail (``get-process-status-bulk:503:0.05``, ``get-process-status-entity-id:503:0.03``), and
every shipment POST is answered after 0.15 s (``create-shipment:slow=0.15``, before the work: a
kill then leaves a POST that bol.com carries out after the daemon died).

After the last kill the faults are cleared, every connection is imported once more, every label
posted, and the run waits until no parcel is pending or accepted (settled: confirmed or failed).
Then it checks at the simulator:

- each parcel is exactly one shipment made through the API, found by its ``shipmentReference``,
  with the parcel's items and units and its track and trace (a second shipment with the
  reference, or one with no parcel's reference, is a *duplicate*; a parcel without a shipment,
  or not confirmed in the hub, is *lost*);
- no order item has more units shipped than ordered;
- every own-shipped order of the retailers is stored once.

    python bench/crash_run_bol.py --kills 10
    python bench/crash_run_bol.py --kills 20 --daemons 2 --seed 3 --keep
    python bench/crash_run_bol.py --kills 10 --settle-delay 0.3

With ``--settle-delay 0.3`` processes often settle while a push is reading bol.com: it exposed a
push that read the order before the processes (1 to 3 parcels lost a run, seeds 1 to 3, before
the look-ups were reordered; the default second lost one now and then).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/crash_run_bol.py`
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import psutil  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.harness import HubApi, bol_environment, bol_simulator, crash_arguments, crash_main  # noqa: E402
from connectors.bol.shipping import shipment_reference  # noqa: E402
from connectors.bol.simulator import RunningSimulator, SimulatorConfig, client_id, client_secret, retailer_id  # noqa: E402
from connectors.bol.simulator.state import SimulatorState  # noqa: E402
from core.infra.crypto import new_key  # noqa: E402
from tests.hub.daemons import Daemon, FleetApi, LabelPoster, free_port, new_token, started  # noqa: E402
from tests.waiting import eventually  # noqa: E402

#: Faults for the whole run (see the module docstring); the held answers are added per round.
BACKGROUND = (
    "create-shipment:lost:0.03,create-shipment:lost-504:0.03,"
    "get-process-status-bulk:503:0.05,get-process-status-entity-id:503:0.03,create-shipment:slow=0.15"
)
HOLD_NEXT = "create-shipment:lost-timeout:next=1"
#: How long the simulator holds an answer it will not give (a killed daemon never sees it).
HANG_SECONDS = 4.0
MAX_KILL_DELAY = {"held": 0.5, "any": 0.3}
#: Where the daemons wait for a target to appear before taking any busy daemon, then any daemon.
TARGET_WAIT = 20.0

Log = Callable[[str], None]


def call_name(method: str, path: str) -> str:
    """A short name for a call to bol.com: ``POST shipments``, ``GET order``, ``POST process-status (bulk)`` ..."""
    parts = [part for part in path.split("/") if part]
    if parts[:1] == ["token"]:
        return "POST token"
    if parts[:2] == ["shared", "process-status"]:
        return {"POST": "POST process-status (bulk)"}.get(method, "GET process-status" + (" (by id)" if len(parts) > 2 else " (of an item)"))
    name = parts[1] if len(parts) > 1 else path
    if len(parts) > 2 and name in ("orders", "shipments"):
        name = name[:-1]
    return f"{method} {name}"


@dataclass
class Inflight:
    """What the daemons are asking bol.com right now, by the client port of each request."""

    requests: dict[int, tuple[str, float]] = field(default_factory=dict)  # port -> (operation, started)
    held: dict[int, str] = field(default_factory=dict)  # port -> process status id: shipment made, answer not sent
    throttled: Counter[str] = field(default_factory=Counter)  # 429s the simulator's rate limits gave, per operation
    current: contextvars.ContextVar[int | None] = field(default_factory=lambda: contextvars.ContextVar("port", default=None))

    def middleware(self) -> Any:
        """An aiohttp middleware for the simulator that notes each request while it runs."""

        @web.middleware
        async def note(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
            peer = request.transport.get_extra_info("peername") if request.transport is not None else None
            if not peer or request.path.startswith("/_sim/"):
                return await handler(request)
            port = int(peer[1])
            self.requests[port] = (call_name(request.method, request.path), time.monotonic())
            token = self.current.set(port)
            try:
                return await handler(request)
            finally:
                self.current.reset(token)
                self.requests.pop(port, None)
                self.held.pop(port, None)

        return note

    def watch(self, state: SimulatorState) -> None:
        """Note which request a shipment was accepted in (its answer is then owed)."""
        accept = state.accept_shipment

        def noting(*args: Any, **kwargs: Any) -> Any:
            status = accept(*args, **kwargs)
            port = self.current.get()
            if port is not None:
                self.held[port] = status.process_status_id
            return status

        state.accept_shipment = noting  # type: ignore[method-assign]
        take = state.limiter.take

        def counting(retailer: str, operation: str) -> Any:
            verdict = take(retailer, operation)
            if not verdict.allowed:
                self.throttled[operation] += 1
            return verdict

        state.limiter.take = counting  # type: ignore[method-assign]


@dataclass
class Report:
    """What the run did and what held afterwards."""

    daemons: int
    retailers: int
    kills: int = 0
    kills_by_kind: Counter[str] = field(default_factory=Counter)  # held, any
    in_flight_at_kill: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    orders_at_bol: int = 0
    duplicate_orders: int = 0
    missing_orders: int = 0
    labels: int = 0
    label_answers_repeated: int = 0
    parcels: int = 0
    parcel_states: Counter[str] = field(default_factory=Counter)
    failed_messages: Counter[str] = field(default_factory=Counter)
    shipments: int = 0
    duplicates: int = 0
    lost: int = 0
    lost_parcels: list[str] = field(default_factory=list)
    wrong_items: int = 0
    wrong_tracking: int = 0
    over_shipped: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)  # 429s bol.com's rate limits gave, per operation
    wall: float = 0.0
    settle_wait: float = 0.0

    def problems(self) -> list[str]:
        """Everything that did not hold; empty when the run passed."""
        found = []
        if self.duplicate_orders or self.missing_orders:
            found.append(f"orders: {self.duplicate_orders} stored twice, {self.missing_orders} missing")
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate shipments at bol.com")
        if self.lost:
            found.append(f"{self.lost} parcels lost (no shipment, or not confirmed)")
        if self.wrong_items or self.wrong_tracking:
            found.append(f"{self.wrong_items} shipments with other items, {self.wrong_tracking} with another track and trace")
        if self.over_shipped:
            found.append(f"{self.over_shipped} order items with more units shipped than ordered")
        if self.shipments != self.parcels:
            found.append(f"{self.shipments} shipments made for {self.parcels} parcels")
        return found

    def summary(self) -> str:
        """The figures, one per line."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.kills_by_kind.items()))
        flight = ", ".join(f"{op} {count}" for op, count in self.in_flight_at_kill.most_common())
        ps = {k: v for k, v in self.calls.items() if "process-status" in k}
        lines = [
            f"daemons: {self.daemons}; retailers: {self.retailers}; kills (SIGKILL, restarted): {self.kills} ({kinds})",
            f"  in flight at the kill: {flight or 'nothing'}",
            f"orders: {self.orders} stored, {self.orders_at_bol} own-shipped at bol.com; stored twice "
            f"{self.duplicate_orders}, missing {self.missing_orders}",
            f"labels: {self.labels} posted ({self.label_answers_repeated} posted again after a kill ate the answer); "
            f"parcels: {self.parcels}, by state {dict(self.parcel_states)}",
            f"at bol.com: {self.shipments} shipments made through the API; duplicates {self.duplicates}, "
            f"lost parcels {self.lost}, other items {self.wrong_items}, other track and trace {self.wrong_tracking}, "
            f"order items over-shipped {self.over_shipped}",
            f"calls: POST shipments {self.calls['create-shipment']}, process statuses {ps}, order details "
            f"{self.calls['get-order']}, order lists {self.calls['get-orders']}, shipment lists "
            f"{self.calls['get-shipments']}; 429s (rate limits) {dict(self.throttled) or 0}",
            f"wall time: {self.wall:.1f} s (of which waiting for the last parcels to settle {self.settle_wait:.1f} s)",
        ]
        for message, count in self.failed_messages.most_common():
            lines.append(f"  failed x{count}: {message}")
        for parcel in self.lost_parcels[:10]:
            lines.append(f"  lost: {parcel}")
        return "\n".join(lines)


def parcels_of(order: dict[str, Any]) -> list[dict[str, Any]]:
    """An open order's parcels: one per item; an item of two units goes in two parcels of one."""
    if order["status"] not in ("open", "partially_shipped"):
        return []
    parcels = []
    for item in order["items"]:
        units = item["quantity_unshipped"]
        for quantity in [1] * units if units == 2 else [units]:
            parcels.append({
                "tracking_number": f"GLS{order['id']:08d}{len(parcels) + 1}",
                "items": [{"item_external_id": item["external_id"], "quantity": quantity}],
            })
    return parcels if all(parcel["items"][0]["quantity"] >= 1 for parcel in parcels) else []


def add_orders(sim: RunningSimulator, retailers: list[str], per_retailer: int, rng: random.Random) -> None:
    """New own-shipped orders at bol.com: one item, two items, or one item of two units."""
    for retailer in retailers:
        for _ in range(per_retailer):
            draw = rng.random()
            items = [{"quantity": 2}] if draw < 0.2 else [{"quantity": 1}, {"quantity": 1}] if draw < 0.5 else [{"quantity": 1}]
            sim.state.new_order(retailerId=retailer, shape="fbr", items=items)


def owner_of(port: int, sim_port: int, fleet: dict[str, Daemon]) -> str | None:
    """The daemon whose TCP connection to the simulator has local port ``port``."""
    for name, daemon in fleet.items():
        if daemon.process is None or daemon.process.returncode is not None:
            continue
        try:
            connections = psutil.Process(daemon.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        for conn in connections:
            if conn.laddr and conn.laddr.port == port and conn.raddr and conn.raddr.port == sim_port:
                return name
    return None


async def pick(
    kind: str, inflight: Inflight, sim_port: int, fleet: dict[str, Daemon], rng: random.Random
) -> tuple[str, int | None]:
    """A daemon to kill for ``kind`` and the port of the request that chose it (waiting up to TARGET_WAIT)."""
    deadline = time.monotonic() + TARGET_WAIT
    while time.monotonic() < deadline:
        ports = list(inflight.held) if kind == "held" else list(inflight.requests)
        rng.shuffle(ports)
        for port in ports:
            name = owner_of(port, sim_port, fleet)
            if name is not None:
                return name, port
        await asyncio.sleep(0.01)
    return rng.choice(sorted(fleet)), None


async def kill_one(
    kind: str, inflight: Inflight, sim: RunningSimulator, fleet: dict[str, Daemon], rng: random.Random, log: Log
) -> tuple[str, list[str], bool]:
    """SIGKILL a daemon as ``kind`` asks and start it again; which, what it had in flight, and whether a held answer was its."""
    sim_port = int(sim.url.rsplit(":", 1)[1])
    if kind == "held":
        # First, so that the rules that fire on every shipment POST (slow) do not take its turn.
        sim.state.faults.set(_rules(HOLD_NEXT) + sim.state.faults.rules)
    name, port = await pick(kind, inflight, sim_port, fleet, rng)
    await asyncio.sleep(rng.uniform(0, MAX_KILL_DELAY[kind]))
    victim = fleet[name]
    assert victim.process is not None
    own = [p for p in list(inflight.requests) if owner_of(p, sim_port, fleet) == name]
    doing = sorted(inflight.requests[p][0] + (" (answer held)" if p in inflight.held else "") for p in own if p in inflight.requests)
    held = port is not None and port in inflight.held
    assert await victim.stop(signal.SIGKILL) == -signal.SIGKILL
    if kind == "held":
        # A rule not consumed yet (no shipment POST came) must not hold a later answer unwatched.
        sim.state.faults.set([r for r in sim.state.faults.rules if r.kind != "lost-timeout"])
    await victim.start()
    return name, doing or ["nothing"], held


def _rules(spec: str) -> list[Any]:
    from connectors.bol.simulator import parse_faults

    return parse_faults(spec)


async def settled(db: asyncpg.Pool) -> bool:
    """No parcel is pending or accepted any more."""
    return not await db.fetchval("select exists (select 1 from parcels where push_state in ('pending', 'accepted'))")


async def crash_run(
    kills: int,
    *,
    database_url: str,
    workdir: Path,
    daemons: int = 3,
    retailers: int = 3,
    orders_per_round: int = 4,
    seed: int = 1,
    faults: str = BACKGROUND,
    settle_delay: float = 1.0,
    log: Log = print,
) -> Report:
    """Kill `hub serve` daemons ``kills`` times while they push bol.com labels; check what held afterwards."""
    rng = random.Random(seed)
    report = Report(daemons=daemons, retailers=retailers)
    began = time.monotonic()
    inflight = Inflight()
    config = SimulatorConfig(
        seed=seed, retailers=retailers, orders_per_retailer=0, demo_orders=False, settle_delay=settle_delay,
        retry_interval=0.5, delivery_retries=60, delivery_timeout=2.0, hang_seconds=HANG_SECONDS,
        faults=faults,
    )
    async with bol_simulator(config, middlewares=(inflight.middleware(),)) as sim:
        inflight.watch(sim.state)
        ids = [retailer_id(n) for n in range(1, retailers + 1)]
        add_orders(sim, ids, orders_per_round, rng)
        env = bol_environment(
            database_url, workdir / "data", new_key(), sim.url,
            HUB_LOG__LEVEL="INFO",
            HUB_JOBS__HEARTBEAT_SECONDS="2",
            HUB_JOBS__TICK_SECONDS="1",
            HUB_JOBS__RETRY_BASE_SECONDS="0.2",
            HUB_JOBS__RETRY_MAX_SECONDS="5",
            HUB_JOBS__SETTLE_BASE_SECONDS="1",
            HUB_JOBS__PUSH_MAX_ATTEMPTS="50",
            HUB_CONNECTORS__BOL__SETTLE_RETRY_SECONDS="1",
            HUB_CONNECTORS__BOL__REQUEST_TIMEOUT="10",
            HUB_CONNECTORS__BOL__BACKOFF_BASE="0.1",
            HUB_CONNECTORS__BOL__BACKOFF_MAX="1",
        )
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        fleet = {
            f"hub-bol-{n}": Daemon(free_port(), env, workdir / f"hub-serve-{n}.log") for n in range(1, daemons + 1)
        }
        async with started(fleet), asyncpg.create_pool(database_url, min_size=1, max_size=2) as db:
            token = await new_token(db, "bol.com crash-run merchant")
            first = next(iter(fleet.values()))
            async with aiohttp.ClientSession() as http:
                hub = HubApi(http, token)
                connection_ids = [
                    await hub.connect_bol(first.url, client_id(n), client_secret(n)) for n in range(1, retailers + 1)
                ]
                api = FleetApi(http, token, list(fleet.values()), rng)
                async with LabelPoster(api, parcels_of).posting() as poster:
                    for round_number in range(kills):
                        if round_number:
                            add_orders(sim, ids, orders_per_round, rng)
                        for connection_id in connection_ids:
                            status, run = await api.call("POST", "/api/v1/imports", {"connection_id": connection_id})
                            assert status in (200, 202), run
                        kind = "held" if round_number % 2 == 0 else "any"
                        name, doing, held = await kill_one(kind, inflight, sim, fleet, rng, log)
                        report.kills += 1
                        report.kills_by_kind[kind if kind == "any" or held else "held (none seen)"] += 1
                        report.in_flight_at_kill.update(doing)
                        log(f"kill {report.kills}/{kills} ({kind}): {name}, in flight: {', '.join(doing)}")
                    sim.state.faults.clear()
                    for connection_id in connection_ids:
                        await api.import_to_end(connection_id, timeout=300)
                waited = time.monotonic()
                await eventually(lambda: settled(db), timeout=600, interval=0.2)
                report.settle_wait = time.monotonic() - waited
                report.throttled = Counter(inflight.throttled)
                await check(report, db, sim, poster, dict(zip(connection_ids, ids, strict=True)))
    report.wall = time.monotonic() - began
    return report


async def check(
    report: Report, db: asyncpg.Pool, sim: RunningSimulator, poster: LabelPoster, retailers: dict[int, str]
) -> None:
    """Fill the report from the database and the simulator."""
    state = sim.state
    stored = await db.fetch("select id, connection_id, external_id from orders")
    per_key = Counter((row["connection_id"], row["external_id"]) for row in stored)
    report.orders = len(stored)
    report.duplicate_orders = sum(count - 1 for count in per_key.values())
    at_bol = {
        (connection_id, order.order_id)
        for connection_id, retailer in retailers.items()
        for order in state.orders.values()
        if order.retailer_id == retailer
    }
    report.orders_at_bol = len(at_bol)
    report.missing_orders = len(at_bol - per_key.keys())

    external = {row["id"]: row["external_id"] for row in stored}
    rows = await db.fetch(
        "select p.order_id, p.reference, p.tracking_number, p.items, p.push_state, p.push_message"
        " from parcels p join labels l on l.id = p.label_id"
    )
    report.labels = len(poster.posted)
    report.label_answers_repeated = poster.repeated
    expected: dict[str, tuple[str, list[tuple[str, int]]]] = {}  # shipmentReference -> (track and trace, items)
    confirmed: set[str] = set()
    for row in rows:
        reference = shipment_reference(external[row["order_id"]], row["reference"])
        items = json.loads(row["items"]) if isinstance(row["items"], str) else row["items"]
        expected[reference] = (row["tracking_number"], sorted((i["item_external_id"], i["quantity"]) for i in items))
        report.parcel_states[row["push_state"]] += 1
        if row["push_state"] == "confirmed":
            confirmed.add(reference)
        elif row["push_state"] == "failed":
            report.failed_messages[row["push_message"] or ""] += 1
    report.parcels = len(rows)

    made = state.shipments_made()
    report.shipments = len(made)
    by_reference: dict[str, list[Any]] = {}
    for shipment in made:
        by_reference.setdefault(shipment.reference or "", []).append(shipment)
    report.duplicates = sum(len(found) - 1 for found in by_reference.values()) + sum(
        len(found) for reference, found in by_reference.items() if reference not in expected
    )
    states = {shipment_reference(external[row["order_id"]], row["reference"]): row["push_state"] for row in rows}
    for reference, (tracking, items) in expected.items():
        found = by_reference.get(reference, [])
        if not found or reference not in confirmed:
            report.lost += 1
            report.lost_parcels.append(f"{reference}: {states[reference]} in the hub, {len(found)} shipment(s) at bol.com")
            continue
        shipment = found[0]
        report.wrong_items += sorted(shipment.items) != items
        report.wrong_tracking += shipment.transport.track_and_trace != tracking
    report.over_shipped = sum(
        1 for order, item in state.items.values() if item.quantity_shipped + item.quantity_cancelled > item.quantity
    )
    report.calls = Counter(state.calls)


async def main() -> None:
    parser = crash_arguments(__doc__, kills=10, daemons=3, orders_per_round=4)
    parser.add_argument("--retailers", type=int, default=3)
    parser.add_argument("--faults", default=BACKGROUND, help=f"the simulator's faults for the run (default {BACKGROUND})")
    parser.add_argument("--settle-delay", type=float, default=1.0, help="seconds from a 202 to its status settling")
    args = parser.parse_args()

    async def run(database_url: str, workdir: Path) -> Report:
        return await crash_run(
            args.kills, database_url=database_url, workdir=workdir, daemons=args.daemons, retailers=args.retailers,
            orders_per_round=args.orders_per_round, seed=args.seed, faults=args.faults, settle_delay=args.settle_delay,
        )

    await crash_main(
        "hub-crash-bol-", run, keep=args.keep, notes=(f"faults: {args.faults}; held rounds add {HOLD_NEXT}",),
        held="held: every parcel exactly one shipment at bol.com, none lost, every order stored once",
    )


if __name__ == "__main__":
    asyncio.run(main())
