"""The parts every shop's HTTP client is made of, offered to connectors through the facade.

A connector talks to its shop through a client that paces its calls, keeps access tokens and
repeats what may pass. Those parts are the same for every shop; only the shop's limits, its
error bodies and its idempotency differ. So a client is built of:

- ``ClientParts``: what the connector keeps in one process (``open_connector`` returns it, or
  something built on it): a ``Clock``, randomness for the backoff jitter, the ``Coordination``
  (core's, shared by every process on the hub's database; without one, a ``MemoryCoordination``
  of the process's own on the same clock), and on it a ``Pacer`` and ``AccessTokens``.
- ``Pacer``: token buckets by key. Shared, each call takes its token in one round trip to the
  bucket every process uses, and a 429 empties it for all; alone, the process keeps a
  ``TokenBucket`` per key and pays no await for it. The shop's own figures (its rate, its count
  of calls left, a ``Retry-After``) only ever make a bucket stricter.
- ``AccessTokens``: tokens by key, used until a margin before they expire, fetched by one caller
  at a time (one process at a time, shared) and kept in memory, so a valid one costs nothing.
- ``retrying``: the one loop that repeats a call. What an error *is* comes from core's table
  (``error_for_status`` / ``shop_error``): a ``TransientError`` is repeated with full-jitter
  backoff, anything else is raised at once.
- ``exchange``: one HTTP exchange, counted in ``hub_shop_calls_total``; ``ConnectorNotReady``
  when no answer came (``NETWORK_ERRORS``).
- ``parse_json``, ``header_number``, ``retry_after_seconds``: reading answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson

from core.contract.errors import ConnectorNotReady, RateLimited, TransientError
from core.infra.coordination import Coordination, Fetch, MemoryCoordination
from core.infra.metrics import SHOP_CALLS

__all__ = [
    "NETWORK_ERRORS",
    "AccessTokens",
    "ClientParts",
    "Clock",
    "Pacer",
    "RetryPolicy",
    "SystemClock",
    "TokenBucket",
    "count_call",
    "exchange",
    "header_number",
    "parse_json",
    "retry_after_seconds",
    "retrying",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The longest a 429's Retry-After holds a bucket, seconds (``Pacer.throttled``).
MAX_HOLD = 600.0

#: What aiohttp raises when no answer came (a timeout, a refused or dropped connection, a cut body).
NETWORK_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class Clock(Protocol):
    """A source of monotonic time and a way to wait; tests pass a simulated one."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)


def parse_json(body: bytes) -> Any:
    """The JSON in ``body``, or ``None`` when it is empty or not JSON."""
    if not body:
        return None
    try:
        return orjson.loads(body)
    except ValueError:
        pass
    try:  # what orjson refuses and the standard library reads (integers beyond 64 bits, NaN)
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


#: ``hub_shop_calls_total``'s counters by (shop, operation, outcome): ``labels()`` takes a lock and
#: checks its arguments on every call, which costs more than the count.
_COUNTERS: dict[tuple[str, str, int | str], Any] = {}


def count_call(shop: str, operation: str, status: int | BaseException) -> None:
    """Count one HTTP exchange with a shop: its HTTP status, or ``timeout`` / ``network`` when none came."""
    if isinstance(status, BaseException):
        outcome: int | str = "timeout" if isinstance(status, asyncio.TimeoutError) else "network"
    else:
        outcome = status
    counter = _COUNTERS.get((shop, operation, outcome))
    if counter is None:
        counter = _COUNTERS[(shop, operation, outcome)] = SHOP_CALLS.labels(shop, operation, str(outcome))
    counter.inc()


async def exchange(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    shop: str,
    shop_id: str,
    operation: str,
    log: logging.Logger | logging.LoggerAdapter[Any],
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    params: Any = None,
    data: Any = None,
    json: Any = None,
) -> tuple[int, Mapping[str, str], bytes]:
    """One HTTP exchange with a shop, counted (``count_call``): its status, headers and body.

    When no answer came (``NETWORK_ERRORS``) it logs the kind of failure and raises
    ``ConnectorNotReady`` with the catalogued "``shop`` did not answer". ``params``, ``data``,
    ``json``, ``headers`` and ``timeout`` are aiohttp's.
    """
    try:
        async with http.request(
            method, url, params=params, data=data, json=json, headers=headers, timeout=timeout
        ) as response:
            status, answer_headers, payload = response.status, response.headers, await response.read()
    except NETWORK_ERRORS as err:
        count_call(shop_id, operation, err)
        log.warning("%s %s: %s", shop_id, operation, type(err).__name__)
        raise ConnectorNotReady.coded(
            "shop_silent", {"shop": shop}, detail=f"{operation} {type(err).__name__}"
        ) from err
    count_call(shop_id, operation, status)
    return status, answer_headers, payload


class TokenBucket:
    """A shop's rate limit mirrored in this process: ``rate`` tokens a second, at most ``burst``, full when new.

    Callers reserve a token and then wait for it, so concurrent callers queue in order without a
    lock; a token reserved by a caller that gives up is given back or lost (the safe side).
    ``hold_until`` keeps every call back until then (a 429's ``Retry-After``).
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now
        self.hold_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, now: float, margin: float = 0.0) -> float:
        """Take a token; return how long to wait before spending it (``margin`` more once past the burst)."""
        self._refill(now)
        self.tokens -= 1
        wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate + margin
        return wait if self.hold_until <= now else max(wait, self.hold_until - now)

    def give_back(self) -> None:
        """Return a reserved token that will not be spent."""
        self.tokens = min(self.burst, self.tokens + 1)

    def wait_time(self, now: float) -> float:
        """How long until a token is free."""
        self._refill(now)
        wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
        return max(wait, self.hold_until - now)

    def drain(self, now: float, hold: float = 0.0) -> None:
        """The shop said the bucket is empty (429): believe it, and make no call for ``hold`` seconds."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)
        self.hold_until = max(self.hold_until, now + hold)

    def cap(self, tokens: float, now: float) -> None:
        """The shop counts ``tokens`` calls left: never assume more."""
        self._refill(now)
        self.tokens = min(self.tokens, tokens)

    def resize(self, rate: float, burst: float, now: float) -> None:
        """Follow the rate and burst the shop reports (what was refilled so far at the old rate)."""
        self._refill(now)
        self.rate, self.burst = rate, float(burst)
        self.tokens = min(self.tokens, self.burst)


class Pacer:
    """Token buckets by key, for one shop: the process's own, or with ``coordination`` one for every process.

    Each call passes its bucket's plan (``rate`` a second, ``burst``); a plan the shop reported
    (``resize``) replaces it from then on. ``margin`` is paid once past the burst, at most
    ``margin_share`` of a token's time (``margin_for``): arriving exactly on time is too early by a
    rounding error or the jitter of a busy event loop. It costs each paced call that much latency,
    never throughput: the bucket's schedule stays the same. The margin covers calls that waited
    only; ``headroom`` covers every call: the tokens ``headroom`` seconds refill (whole ones, at most
    a fifth of the burst) are never spent (``usable``), so the shop's bucket keeps that many for a
    call that reaches it late while the next one is on time.
    """

    def __init__(
        self,
        shop: str,
        clock: Clock,
        coordination: Coordination | None = None,
        margin: float = 0.05,
        margin_share: float = 0.1,
        headroom: float = 0.0,
    ) -> None:
        self.shop = shop
        self.margin = margin
        self.margin_share = margin_share
        self.headroom = headroom
        self.coordination = coordination
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._plans: dict[str, tuple[float, float]] = {}

    def plan(self, key: str, rate: float, burst: float) -> tuple[float, float]:
        """The plan of ``key`` as paced: the one the shop reported, else the one given, with its ``usable`` burst."""
        rate, burst = self._plans.get(key) or (rate, burst)
        return rate, self.usable(rate, burst)

    def usable(self, rate: float, burst: float) -> float:
        """How many calls of a bucket of ``burst`` refilling at ``rate`` are made at once (``headroom`` kept)."""
        kept = min(math.floor(rate * self.headroom), math.floor(burst / 5))
        return burst - kept if kept > 0 else burst

    def bucket(self, key: str, rate: float, burst: float) -> TokenBucket:
        """This process's bucket for ``key`` (created full on the plan given)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            rate, burst = self.plan(key, rate, burst)
            bucket = self._buckets[key] = TokenBucket(rate, burst, self._clock.monotonic())
        return bucket

    async def acquire(self, key: str, rate: float, burst: float, max_wait: float) -> None:
        """Wait until the bucket ``key`` allows one more call; ``RateLimited`` when that takes over ``max_wait``."""
        if self.coordination is None:
            bucket = self.bucket(key, rate, burst)
            delay = bucket.reserve(self._clock.monotonic(), self.margin_for(bucket.rate))
            if delay > max_wait:
                bucket.give_back()
                raise self._used_up(key, delay, max_wait)
        else:
            rate, burst = self.plan(key, rate, burst)
            margin = self.margin_for(rate)
            slot = await self.coordination.take(key, rate, burst, max(0.0, max_wait - margin))
            delay = slot.wait + margin if slot.wait > 0 else 0.0
            if not slot.taken or delay > max_wait:
                raise self._used_up(key, delay, max_wait)
        if delay > 0:
            await self._clock.sleep(delay)

    def margin_for(self, rate: float) -> float:
        """The seconds a paced call of a bucket refilling at ``rate`` waits past its token's time."""
        return min(self.margin, self.margin_share / rate)

    def _used_up(self, key: str, delay: float, max_wait: float) -> RateLimited:
        return RateLimited.coded(
            "rate_plan_used_up",
            {"shop": self.shop},
            detail=f"{key} would wait {delay:.0f} s for its rate limit (max_pacing_wait {max_wait:g} s)",
            retry_after=delay,
        )

    def resize(self, key: str, rate: float, burst: float) -> None:
        """The shop reported the bucket's plan (its rate, or its size): keep to it from now on."""
        if rate <= 0 or burst < 1 or self._plans.get(key) == (rate, burst):
            return
        self._plans[key] = (rate, burst)
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.resize(rate, self.usable(rate, burst), self._clock.monotonic())

    def left(self, key: str, rate: float, burst: float, tokens: float) -> bool:
        """The shop counts ``tokens`` calls left in the bucket: never assume more.

        Shared, what the others took meanwhile is not in one answer's count, so only an empty
        count matters: ``True`` says so, and the caller empties the shared bucket for every
        process with ``throttled`` (an await only then).
        """
        if self.coordination is None:
            self.bucket(key, rate, burst).cap(tokens, self._clock.monotonic())
            return False
        return tokens < 1

    async def throttled(self, key: str, rate: float, burst: float, hold: float | None = None) -> float:
        """The shop refused a call (429): empty the bucket, hold it ``hold`` seconds; return the wait for its next token.

        Shared, the bucket holds every process: whoever takes its next token waits ``hold`` first.
        A hold longer than ``MAX_HOLD`` (a shop's Retry-After gone wrong) is cut to it and logged:
        a shared bucket would otherwise stop every process, across restarts, for that long.
        """
        if hold is not None and hold > MAX_HOLD:
            log.warning("a Retry-After of %.0f s for %s is cut to %.0f s", hold, key, MAX_HOLD)
            hold = MAX_HOLD
        now = self._clock.monotonic()
        if self.coordination is None:
            bucket = self.bucket(key, rate, burst)
            bucket.drain(now, hold or 0.0)
            return bucket.wait_time(now)
        rate, burst = self.plan(key, rate, burst)
        return await self.coordination.throttled(key, rate, burst, hold or 0.0)


class AccessTokens:
    """Access tokens by key, used until ``margin`` seconds before they expire (at most half their life).

    They live in ``coordination``: core's (one fetch for every process) or the process's own. The
    key should be a digest where it would otherwise hold a secret.
    """

    def __init__(self, coordination: Coordination, margin: float) -> None:
        self._coordination = coordination
        self.margin = margin

    def usable_for(self, expires_in: float) -> float:
        """How long a token valid ``expires_in`` seconds is used."""
        return expires_in - min(self.margin, expires_in / 2)

    async def get(self, key: str, fetch: Fetch) -> str:
        """A valid token for ``key``: the one kept, or one ``fetch`` returns with its ``expires_in`` (once for all)."""
        token = self._coordination.held(key)
        if token is not None:
            return token
        return await self._coordination.secret(key, _Usable(self, fetch))

    async def put(self, key: str, token: str, expires_in: float) -> None:
        """Keep a token valid for ``expires_in`` seconds (unless one is kept already)."""

        async def given() -> tuple[str, float]:
            return token, expires_in

        await self.get(key, given)

    async def invalidate(self, key: str, stale: str) -> None:
        """Forget ``stale`` if it is still the token kept (another caller may have renewed it)."""
        await self._coordination.forget(key, stale)

    async def drop(self, key: str) -> None:
        """Forget the token of ``key``."""
        await self._coordination.forget(key)


@dataclass(frozen=True, slots=True)
class _Usable:
    """A fetch whose validity is cut by the tokens' margin (a class, not a closure: cheap and plain)."""

    tokens: AccessTokens
    fetch: Fetch

    async def __call__(self) -> tuple[str, float]:
        token, expires_in = await self.fetch()
        return token, self.tokens.usable_for(expires_in)


class ClientParts:
    """What a shop's client keeps in one process: clock, randomness, coordination, a ``Pacer`` and ``AccessTokens``.

    With ``coordination`` (core's, from ``open_connector``: ``setup.coordination``) the buckets
    and tokens are shared by every process on the hub's database; without it they are this
    process's own, on ``clock``. A connector subclasses it, naming its shop and margins.
    """

    #: The shop's name in messages (``Pacer``'s "rate limit used up").
    shop = "The shop"
    #: Seconds a paced call waits beyond the bucket's exact refill time, at most ``pacing_margin_share``
    #: of a token's time.
    pacing_margin = 0.05
    #: The share of a token's time the margin may take at most (``Pacer.margin_for``).
    pacing_margin_share = 0.1
    #: Seconds of refill each bucket's burst keeps unused (``Pacer.usable``): none by default.
    burst_headroom = 0.0
    #: Seconds before an access token expires when a new one is fetched (at most half its life).
    token_margin = 30.0

    def __init__(
        self, clock: Clock | None = None, rng: random.Random | None = None, coordination: Coordination | None = None
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.random = rng or random.Random()
        #: Core's coordination when the state is shared, else ``None``.
        self.coordination = coordination
        #: Where tokens and other short-lived values live: core's coordination, or the process's own.
        self.store: Coordination = coordination or MemoryCoordination(clock=self.clock.monotonic)
        self.pacer = Pacer(
            self.shop, self.clock, coordination, self.pacing_margin, self.pacing_margin_share, self.burst_headroom
        )
        self.tokens = AccessTokens(self.store, self.token_margin)

    def backoff(self, attempt: int, policy: RetryPolicy) -> float:
        """Exponential backoff with full jitter: up to ``base * 2**attempt`` seconds, at most ``cap``."""
        return self.random.uniform(0, min(policy.backoff_max, policy.backoff_base * 2**attempt))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a call is repeated: ``retries`` more times at most, with full-jitter backoff.

    A ``RateLimited`` that asks for more than ``max_wait`` seconds gives up at once (its
    ``retry_after`` says when to come back); with ``paced``, a ``RateLimited`` call waits in its
    bucket (the pacer holds it) instead of a backoff.
    """

    retries: int
    backoff_base: float
    backoff_max: float
    max_wait: float
    paced: bool = False

    @classmethod
    def of(cls, settings: RetrySettings, *, paced: bool) -> RetryPolicy:
        """The policy a connector's settings give (``max_retries``, ``backoff_base``, ``backoff_max``, ``max_pacing_wait``)."""
        return cls(settings.max_retries, settings.backoff_base, settings.backoff_max, settings.max_pacing_wait, paced)


class RetrySettings(Protocol):
    """The settings a ``RetryPolicy`` is made of, as a connector's settings name them."""

    @property
    def max_retries(self) -> int:
        """How many times a call is repeated at most."""
        ...

    @property
    def backoff_base(self) -> float:
        """The first backoff's ceiling, seconds."""
        ...

    @property
    def backoff_max(self) -> float:
        """The largest backoff ceiling, seconds."""
        ...

    @property
    def max_pacing_wait(self) -> float:
        """The longest wait for a rate limit before giving up with ``RateLimited``."""
        ...


async def retrying(
    attempt: Callable[[], Awaitable[T]], policy: RetryPolicy, parts: ClientParts, *, repeatable: bool = True
) -> T:
    """Run ``attempt`` until it returns; repeat it after a ``TransientError`` as ``policy`` says; raise anything else.

    An error some loop inside ``attempt`` gave up on already (``given_up``) is not repeated here.

    ``repeatable=False`` (a call that creates something without an idempotency key, whose answer
    may have been lost) repeats only after a ``RateLimited``, which a shop answers before doing
    anything; any other transient error is raised for the caller to find out what happened.
    """
    tries = 0
    while True:
        try:
            return await attempt()
        except TransientError as err:
            throttled = isinstance(err, RateLimited)
            if (
                err.given_up
                or tries >= policy.retries
                or not (repeatable or throttled)
                or (throttled and err.retry_after is not None and err.retry_after > policy.max_wait)
            ):
                err.given_up = True
                raise
            if throttled and policy.paced:
                pass  # the bucket holds the call until the shop's bucket has a token again
            else:
                wait = parts.backoff(tries, policy)
                if throttled and err.retry_after is not None:
                    wait = max(wait, err.retry_after)
                await parts.clock.sleep(wait)
            tries += 1


def header_number(value: str | None) -> float | None:
    """A header's value as a finite number, when it holds one."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The seconds in a ``Retry-After`` header, when it holds a number."""
    seconds = header_number(headers.get("retry-after"))
    return max(seconds, 0.0) if seconds is not None else None
