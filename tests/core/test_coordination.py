"""Coordination between processes on one PostgreSQL: shared token buckets and shared secrets.

"Processes" here are separate pools and ``DatabaseCoordination`` objects on the test's database,
as separate ``hub serve`` processes would have; ``MemoryCoordination`` is checked for the same
answers within one process.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from core.infra.coordination import Coordination, DatabaseCoordination, MemoryCoordination
from core.infra.crypto import Vault, new_key
from core.infra.runtime import Runtime
from core.usecases.retention import delete_expired_personal_data

RATE, BURST = 2.0, 10.0


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Three pools on the test's (migrated) database: three processes."""
    opened = [await asyncpg.create_pool(database_url, min_size=1, max_size=3) for _ in range(3)]
    yield opened
    for pool in opened:
        await pool.close()


@pytest.fixture
def vault() -> Vault:
    return Vault([new_key().encode()])


@pytest.fixture
def processes(pools: list[asyncpg.Pool], vault: Vault) -> list[Coordination]:
    return [DatabaseCoordination(pool, vault) for pool in pools]


class Clock:
    """A clock tests move by hand (for MemoryCoordination)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def memory() -> tuple[list[Coordination], Clock]:
    clock = Clock()
    shared = MemoryCoordination(clock=clock)
    return [shared, shared, shared], clock


CLOCK = "select extract(epoch from clock_timestamp())::float8"


class Stopwatch:
    """The database's seconds between entering and leaving (0 without a pool: a memory clock stands still).

    A bucket refills while statements run, so a wait measured after some time is that much
    shorter: each check allows the time the statements took, on a busy machine too.
    """

    def __init__(self, pool: asyncpg.Pool | None) -> None:
        self.pool, self.spread = pool, 0.0

    async def __aenter__(self) -> Stopwatch:
        self.started = await self.pool.fetchval(CLOCK) if self.pool else 0.0
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.pool:
            self.spread = await self.pool.fetchval(CLOCK) - self.started


def near(wait: float, expected: float, watch: Stopwatch) -> bool:
    """Whether ``wait`` is ``expected`` less at most the time the statements took."""
    return expected - watch.spread - 1e-6 <= wait <= expected + 1e-6


async def test_processes_take_successive_tokens_from_one_bucket(
    processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    started = await pools[0].fetchval(CLOCK)
    slots = await asyncio.gather(*(processes[n % 3].take("pace:seller", RATE, BURST) for n in range(25)))
    spread = await pools[0].fetchval(CLOCK) - started

    assert all(slot.taken for slot in slots)
    waits = sorted(slot.wait for slot in slots)
    assert waits[:10] == [0.0] * 10, "the burst goes at once"
    # Then one every 1/rate seconds from the first take: the n-th token after the burst is due
    # n/rate after it, and a take whose statement ran later waits that much less (the bucket
    # refilled meanwhile). The statements ran within ``spread`` (long on a busy machine).
    for n, wait in enumerate(waits[10:], start=1):
        assert n / RATE - spread - 1e-6 <= wait <= n / RATE + 1e-6, (n, wait, spread)


async def test_processes_sharing_memory_take_the_same_slots() -> None:
    processes, _ = memory()
    slots = await asyncio.gather(*(processes[n % 3].take("pace:seller", RATE, BURST) for n in range(25)))

    assert sorted(slot.wait for slot in slots) == pytest.approx([0.0] * 10 + [n / RATE for n in range(1, 16)])


async def test_the_bucket_refills_on_the_databases_clock(processes: list[Coordination], pools: list[asyncpg.Pool]) -> None:
    async with Stopwatch(pools[0]) as watch:
        for _ in range(int(BURST)):
            await processes[0].take("pace:seller", RATE, BURST)
        # Two seconds pass (the row is moved back rather than the test waiting).
        await pools[0].execute("update shared_buckets set updated_at = updated_at - interval '2 seconds'")
        slots = [await processes[n % 3].take("pace:seller", RATE, BURST) for n in range(5)]

    assert [slot.wait for slot in slots[:4]] == [0.0] * 4
    assert near(slots[4].wait, 1 / RATE, watch)


@pytest.mark.parametrize("where", ["database", "memory"])
async def test_a_wait_beyond_max_wait_takes_nothing(
    where: str, processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    shared = processes if where == "database" else memory()[0]
    async with Stopwatch(pools[0] if where == "database" else None) as watch:
        for _ in range(int(BURST)):
            await shared[0].take("pace:seller", RATE, BURST)
        refused = await shared[1].take("pace:seller", RATE, BURST, max_wait=0.1)
        taken = await shared[2].take("pace:seller", RATE, BURST, max_wait=1.0)

    assert not refused.taken and near(refused.wait, 1 / RATE, watch)
    assert taken.taken and near(taken.wait, 1 / RATE, watch), "the refused call kept no token"


@pytest.mark.parametrize("where", ["database", "memory"])
async def test_a_429_in_one_process_empties_the_bucket_for_all(
    where: str, processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    shared = processes if where == "database" else memory()[0]
    await shared[0].take("pace:seller", RATE, BURST)
    async with Stopwatch(pools[0] if where == "database" else None) as watch:
        wait = await shared[1].throttled("pace:seller", RATE, BURST)
        slot = await shared[2].take("pace:seller", RATE, BURST)

    assert near(wait, 1 / RATE, watch)
    assert slot.taken and near(slot.wait, 1 / RATE, watch)


@pytest.mark.parametrize("where", ["database", "memory"])
async def test_a_429s_retry_after_holds_every_process(
    where: str, processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    shared = processes if where == "database" else memory()[0]
    await shared[0].take("pace:seller", RATE, BURST)
    async with Stopwatch(pools[0] if where == "database" else None) as watch:
        wait = await shared[1].throttled("pace:seller", RATE, BURST, hold=5.0)
        first = await shared[2].take("pace:seller", RATE, BURST)
        second = await shared[0].take("pace:seller", RATE, BURST)

    assert near(wait, 5.0, watch)
    assert first.taken and near(first.wait, 5.0, watch), "another process waits the Retry-After too"
    assert second.taken and near(second.wait, 5.0 + 1 / RATE, watch)


@pytest.mark.parametrize("where", ["database", "memory"])
async def test_a_429s_hold_on_a_new_bucket_holds_every_process(
    where: str, processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    shared = processes if where == "database" else memory()[0]
    async with Stopwatch(pools[0] if where == "database" else None) as watch:
        wait = await shared[1].throttled("pace:seller", RATE, BURST, hold=3.0)
        slot = await shared[2].take("pace:seller", RATE, BURST)

    assert near(wait, 3.0, watch)
    assert slot.taken and near(slot.wait, 3.0, watch)


async def test_buckets_are_separate_per_key_and_plans_are_checked(processes: list[Coordination]) -> None:
    for _ in range(int(BURST)):
        await processes[0].take("pace:one", RATE, BURST)

    assert (await processes[1].take("pace:other", RATE, BURST)).wait == 0.0
    with pytest.raises(ValueError, match="rate above 0"):
        await processes[0].take("pace:one", 0.0, BURST)
    with pytest.raises(ValueError, match="burst of at least 1"):
        await processes[0].take("pace:one", RATE, math.inf)


def fetcher(values: list[str], lifetime: float = 3600.0) -> tuple[Callable[[], object], list[int]]:
    calls = [0]

    async def fetch() -> tuple[str, float]:
        calls[0] += 1
        await asyncio.sleep(0.05)  # as long as an LWA call: the others arrive meanwhile
        return values[calls[0] - 1], lifetime

    return fetch, calls


async def test_a_secret_is_fetched_once_for_every_process(
    processes: list[Coordination], pools: list[asyncpg.Pool]
) -> None:
    fetch, calls = fetcher(["Atza|one"])

    got = await asyncio.gather(*(processes[n % 3].secret("lwa:seller", fetch) for n in range(12)))  # type: ignore[arg-type]

    assert got == ["Atza|one"] * 12 and calls == [1]
    stored = await pools[0].fetchval("select value from shared_secrets where key = 'lwa:seller'")
    assert b"Atza" not in bytes(stored), "stored encrypted"


async def test_an_expired_secret_is_fetched_again(processes: list[Coordination], pools: list[asyncpg.Pool]) -> None:
    fetch, calls = fetcher(["Atza|one", "Atza|two"], lifetime=0.2)

    assert await processes[0].secret("lwa:seller", fetch) == "Atza|one"  # type: ignore[arg-type]
    # The secret's lifetime passing (a clock, not work): every process's copy is stale after it.
    await asyncio.sleep(0.3)

    assert await processes[1].secret("lwa:seller", fetch) == "Atza|two"  # type: ignore[arg-type]
    assert await processes[0].secret("lwa:seller", fetch) == "Atza|two"  # type: ignore[arg-type]
    assert calls == [2]


async def test_forgetting_a_stale_secret_leaves_a_renewed_one(processes: list[Coordination]) -> None:
    fetch, calls = fetcher(["Atza|one", "Atza|two", "Atza|three"])
    await processes[0].secret("lwa:seller", fetch)  # type: ignore[arg-type]
    await processes[1].forget("lwa:seller", "Atza|one")  # refused by the shop in process 1
    assert await processes[1].secret("lwa:seller", fetch) == "Atza|two"  # type: ignore[arg-type]

    await processes[0].forget("lwa:seller", "Atza|one")  # process 0 meets its old token refused too

    assert await processes[0].secret("lwa:seller", fetch) == "Atza|two"  # type: ignore[arg-type]
    await processes[2].forget("lwa:seller")
    assert await processes[2].secret("lwa:seller", fetch) == "Atza|three"  # type: ignore[arg-type]
    assert calls == [3]


async def test_a_secret_the_keys_cannot_read_any_more_is_fetched_again(
    pools: list[asyncpg.Pool], processes: list[Coordination]
) -> None:
    fetch, calls = fetcher(["Atza|one", "Atza|two"])
    await processes[0].secret("lwa:seller", fetch)  # type: ignore[arg-type]
    rotated = DatabaseCoordination(pools[1], Vault([new_key().encode()]))

    assert await rotated.secret("lwa:seller", fetch) == "Atza|two"  # type: ignore[arg-type]
    assert calls == [2]


async def test_a_failed_fetch_stores_nothing_and_lets_the_next_caller_try(processes: list[Coordination]) -> None:
    async def failing() -> tuple[str, float]:
        raise RuntimeError("LWA is down")

    with pytest.raises(RuntimeError):
        await processes[0].secret("lwa:seller", failing)
    fetch, calls = fetcher(["Atza|one"])
    assert await processes[1].secret("lwa:seller", fetch) == "Atza|one"  # type: ignore[arg-type]


async def test_the_runtime_gives_each_connector_its_own_keys(runtime: Runtime) -> None:
    amazon, other = runtime.coordination_of("amazon"), runtime.coordination_of("bol")
    for _ in range(int(BURST)):
        await amazon.take("pace:seller", RATE, BURST)

    assert (await other.take("pace:seller", RATE, BURST)).wait == 0.0
    keys = {row["key"] for row in await runtime.db.pool.fetch("select key from shared_buckets")}
    assert keys == {"amazon:pace:seller", "bol:pace:seller"}
    assert runtime.setup_of("amazon").coordination is not None


async def test_retention_forgets_expired_secrets_and_idle_buckets(runtime: Runtime) -> None:
    pool = runtime.db.pool
    await pool.execute(
        "insert into shared_secrets (key, value, digest, expires_at) values"
        " ('old', '\\x00', 'd', now() - interval '1 minute'), ('live', '\\x00', 'd', now() + interval '1 hour')"
    )
    await pool.execute(
        "insert into shared_buckets (key, tokens, rate, burst, updated_at) values"
        " ('idle', 1, 1, 1, now() - interval '2 days'), ('busy', 1, 1, 1, now())"
    )
    await delete_expired_personal_data(runtime)
    assert [r["key"] for r in await pool.fetch("select key from shared_secrets")] == ["live"]
    assert [r["key"] for r in await pool.fetch("select key from shared_buckets")] == ["busy"]
