"""Core's client kit (core.infra.shopclient, in the facade): the one retry loop, shared pacing, tokens."""

from __future__ import annotations

import pytest

from core.contract.errors import ConnectorNotReady, ConnectorRejected, RateLimited
from core.infra.coordination import MemoryCoordination
from core.infra.shopclient import MAX_HOLD, AccessTokens, ClientParts, Pacer, RetryPolicy, retrying
from tests.clock import FakeClock as Clock


class Failing:
    """An attempt that raises the given errors in turn, then returns ``done``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


POLICY = RetryPolicy(retries=3, backoff_base=1.0, backoff_max=4.0, max_wait=60.0)


@pytest.fixture
def parts() -> ClientParts:
    return ClientParts(clock=Clock())


async def test_transient_errors_are_repeated_with_bounded_jittered_backoff(parts: ClientParts) -> None:
    attempt = Failing(ConnectorNotReady("down"), ConnectorNotReady("down"))

    assert await retrying(attempt, POLICY, parts) == "done"

    assert attempt.calls == 3
    clock = parts.clock
    assert isinstance(clock, Clock) and len(clock.sleeps) == 2
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(clock.sleeps, [1, 2], strict=True))


async def test_a_rejection_is_raised_at_once_and_retries_end(parts: ClientParts) -> None:
    with pytest.raises(ConnectorRejected):
        await retrying(Failing(ConnectorRejected("no")), POLICY, parts)
    attempt = Failing(*[ConnectorNotReady("down")] * 5)
    with pytest.raises(ConnectorNotReady) as caught:
        await retrying(attempt, POLICY, parts)
    assert attempt.calls == 4 and caught.value.given_up


async def test_an_error_an_inner_loop_gave_up_on_is_not_repeated_again(parts: ClientParts) -> None:
    inner = Failing(*[ConnectorNotReady("token endpoint down")] * 10)

    async def outer() -> str:
        return await retrying(inner, POLICY, parts)

    with pytest.raises(ConnectorNotReady):
        await retrying(outer, POLICY, parts)
    assert inner.calls == 4, "the outer loop repeated what the inner one gave up on"


async def test_a_call_without_idempotency_is_repeated_only_after_a_429(parts: ClientParts) -> None:
    with pytest.raises(ConnectorNotReady):
        await retrying(Failing(ConnectorNotReady("lost answer")), POLICY, parts, repeatable=False)
    attempt = Failing(RateLimited("429", retry_after=2.0))
    assert await retrying(attempt, POLICY, parts, repeatable=False) == "done"
    assert attempt.calls == 2


async def test_a_429_waits_its_retry_after_unless_its_bucket_holds_it(parts: ClientParts) -> None:
    clock = parts.clock
    assert isinstance(clock, Clock)
    await retrying(Failing(RateLimited("429", retry_after=5.0)), POLICY, parts)
    assert clock.sleeps[-1] >= 5.0
    clock.sleeps.clear()
    paced = RetryPolicy(retries=3, backoff_base=1.0, backoff_max=4.0, max_wait=60.0, paced=True)
    await retrying(Failing(RateLimited("429", retry_after=5.0)), paced, parts)
    assert clock.sleeps == [], "a paced 429 waits in its bucket, not in the loop"
    with pytest.raises(RateLimited):
        await retrying(Failing(RateLimited("429", retry_after=61.0)), paced, parts)


async def test_a_retry_after_held_by_one_process_holds_the_shared_bucket_of_all() -> None:
    clock = Clock()
    shared = MemoryCoordination(clock=clock.monotonic)
    one, other = Pacer("Shop", clock, shared), Pacer("Shop", clock, shared)
    for _ in range(2):
        await one.acquire("pace:x", 1.0, 2, max_wait=60)

    wait = await other.throttled("pace:x", 1.0, 2, hold=5.0)
    await one.acquire("pace:x", 1.0, 2, max_wait=60)
    await other.acquire("pace:x", 1.0, 2, max_wait=60)

    assert wait == 5.0
    assert clock.sleeps[0] == pytest.approx(5.0 + 0.05), "the other process's Retry-After holds this one too"
    assert clock.elapsed == pytest.approx(6.0 + 0.05), "then one token a second, as before"


async def test_an_empty_count_from_the_shop_empties_a_shared_bucket_only_when_it_says_none_left() -> None:
    clock = Clock()
    shared = MemoryCoordination(clock=clock.monotonic)
    pacer = Pacer("Shop", clock, shared)

    assert not pacer.left("pace:x", 1.0, 5, 3)
    assert pacer.left("pace:x", 1.0, 5, 0)
    alone = Pacer("Shop", clock)
    assert not alone.left("pace:x", 1.0, 5, 0)
    assert alone.bucket("pace:x", 1.0, 5).tokens == 0


async def test_a_used_up_plan_is_rate_limited_with_the_catalogued_message() -> None:
    clock = Clock()
    pacer = Pacer("bol.com", clock)
    await pacer.acquire("pace:x", 0.1, 1, max_wait=60)

    with pytest.raises(RateLimited) as caught:
        await pacer.acquire("pace:x", 0.1, 1, max_wait=5)

    assert caught.value.message_code == "rate_plan_used_up" and caught.value.params == {"shop": "bol.com"}
    assert caught.value.retry_after == pytest.approx(10 + 0.05)  # the margin: 0.05 s, under a tenth of a token (1 s)


async def test_tokens_are_used_until_the_margin_and_fetched_once() -> None:
    clock = Clock()
    tokens = AccessTokens(MemoryCoordination(clock=clock.monotonic), margin=30.0)
    fetched: list[str] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(f"t{len(fetched)}")
        return fetched[-1], 299.0

    assert await tokens.get("token:a", fetch) == "t0"
    clock.now = clock.start + 299 - 31
    assert await tokens.get("token:a", fetch) == "t0"
    clock.now = clock.start + 299 - 29
    assert await tokens.get("token:a", fetch) == "t1"
    await tokens.invalidate("token:a", "t0")  # stale: another caller renewed it already
    assert await tokens.get("token:a", fetch) == "t1"
    await tokens.invalidate("token:a", "t1")
    assert await tokens.get("token:a", fetch) == "t2"


async def test_a_burst_keeps_the_tokens_of_its_headroom_unused_at_most_a_fifth() -> None:
    clock = Clock()
    pacer = Pacer("Shop", clock, MemoryCoordination(clock=clock.monotonic), headroom=1.0)

    assert pacer.usable(2.0, 10) == 8, "a second of refill: two tokens"
    assert pacer.usable(100.0, 10) == 8, "at most a fifth of the burst"
    assert pacer.usable(0.5, 30) == 30, "no whole token in a second: the burst is whole"
    for _ in range(8):
        await pacer.acquire("pace:x", 2.0, 10, max_wait=60)
    assert clock.sleeps == []
    await pacer.acquire("pace:x", 2.0, 10, max_wait=60)
    assert clock.sleeps == [pytest.approx(0.5 + 0.05)], "the ninth call waits for a token"


async def test_a_retry_after_beyond_reason_holds_the_bucket_only_max_hold(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    pacer = Pacer("Shop", clock, MemoryCoordination(clock=clock.monotonic))
    wait = await pacer.throttled("pace:x", 1.0, 2, hold=1e9)
    assert wait == MAX_HOLD
    assert "cut to 600 s" in caplog.text
