"""The Retailer API client on aiohttp: client-credential tokens, pacing per endpoint, bounded retries.

``BolState`` is what the connector keeps between hook calls in one process (``open_connector``
returns it): the access tokens (one per client id and secret, reused until 30 seconds before
they expire, one request at a time: bol.com blocks addresses that ask for too many), the rate
buckets (per client and endpoint, from bol.com's published limits, corrected by every answer's
``X-RateLimit-*`` headers and by ``Retry-After``) and bol.com's webhook signature keys. ``BolApi``
makes the calls of one client. Time comes from a ``Clock`` so tests can run the limits on a
simulated clock.

Requests and answers use bol.com's media type ``application/vnd.retailer.v10+json``. A 401
gets one new token and one repeat; 429s are waited out (``Retry-After``) and repeated; 5xx,
timeouts and dropped connections are repeated with backoff, except for the calls that create
something and take no idempotency key (``const.NOT_REPEATABLE``): after those the caller must
first find out what happened.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import orjson

from connectors.bol.const import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_RATE_LIMIT,
    DELETE_SUBSCRIPTION,
    GET_ORDER,
    GET_ORDERS,
    GET_PROCESS_STATUS,
    GET_PROCESS_STATUSES,
    GET_RETAILER,
    GET_SHIPMENT,
    GET_SHIPMENTS,
    GET_SIGNATURE_KEYS,
    GET_SUBSCRIPTIONS,
    MEDIA_TYPE,
    NOT_REPEATABLE,
    POST_PROCESS_STATUSES,
    POST_SHIPMENT,
    POST_SUBSCRIPTION,
    PUT_SUBSCRIPTION,
    PUT_TRANSPORT,
    RATE_LIMITS,
    TOKEN_REFRESH_MARGIN,
    Operation,
    RateLimit,
)
from connectors.bol.errors import RECONNECT, Problem, api_error, parse_json, token_error
from connectors.bol.settings import BolSettings
from core.hubapi import (
    SHOP_CALLS,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    RateLimited,
    TransientError,
)

Log = logging.Logger | logging.LoggerAdapter[Any]

_NETWORK_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
TOKEN_OPERATION = "token"


def operation_name(operation: Operation) -> str:
    """``GET /retailer/orders``: how logs and metrics name an operation."""
    return f"{operation[0]} {operation[1]}"


def count_call(operation: str, status: int | BaseException) -> None:
    """Count one HTTP exchange with bol.com: its status, or ``timeout`` / ``network`` when none came."""
    if isinstance(status, BaseException):
        outcome = "timeout" if isinstance(status, asyncio.TimeoutError) else "network"
    else:
        outcome = str(status)
    SHOP_CALLS.labels("bol", operation, outcome).inc()


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


#: Paid once after a burst, so that the hub's calls never reach bol.com a hair before its bucket refills.
PACING_MARGIN = 0.05

#: The share of a bucket's burst the hub leaves unused (at least one call): calls reach bol.com
#: later than the hub counts them (a busy event loop, the network), and bol.com's bucket starts
#: refilling only once the burst has arrived, so a burst of the whole size leaves no room for that.
BURST_HEADROOM = 0.2


def usable_burst(capacity: float) -> float:
    """How many calls of a bucket of ``capacity`` the hub makes at once."""
    return capacity if capacity < 2 else capacity - max(1.0, math.floor(capacity * BURST_HEADROOM))


class Bucket:
    """One endpoint's rate limit on our side: ``capacity`` calls refilled evenly over the limit's period.

    Callers reserve a call and then wait for it, so concurrent callers queue in order without a
    lock. bol.com's answers only ever make it stricter: its size (``X-RateLimit-Limit``), fewer calls
    left (``X-RateLimit-Remaining``), or a pause until ``Retry-After`` after a 429.
    """

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.period = limit.per_seconds
        self.capacity = float(limit.capacity)
        self.burst = usable_burst(self.capacity)
        self.tokens = self.burst
        self.updated = now
        self.hold_until = 0.0

    @property
    def rate(self) -> float:
        """Calls a second."""
        return self.capacity / self.period

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, now: float) -> float:
        """Take a call; return how long to wait before making it."""
        self._refill(now)
        self.tokens -= 1
        wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate + min(PACING_MARGIN, 0.1 / self.rate)
        return max(wait, self.hold_until - now)

    def give_back(self) -> None:
        """Return a reserved call that will not be made."""
        self.tokens = min(self.burst, self.tokens + 1)

    def wait_time(self, now: float) -> float:
        """How long until a call is free."""
        self._refill(now)
        wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
        return max(wait, self.hold_until - now)

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Adopt what bol.com's ``X-RateLimit-*`` headers say (names in any case).

        ``X-RateLimit-Limit`` is the bucket's size; ``X-RateLimit-Remaining`` caps what is left.
        ``X-RateLimit-Reset`` is not used: bol.com has sent it as seconds and as a time stamp, and
        as the time until the bucket is full; an empty bucket waits for its next call at the
        limit's rate, and a 429's ``Retry-After`` corrects anything else.
        """
        self._refill(now)
        limit = _number(headers.get("x-ratelimit-limit"))
        if limit is not None and limit >= 1 and limit != self.capacity:
            self.capacity = limit
            self.burst = usable_burst(limit)
            self.tokens = min(self.tokens, self.burst)
        remaining = _number(headers.get("x-ratelimit-remaining"))
        if remaining is not None and remaining >= 0:
            self.tokens = min(self.tokens, remaining)  # bol.com's own count: no headroom for jitter needed

    def hold(self, now: float, seconds: float) -> None:
        """Make no call for ``seconds`` (a 429's ``Retry-After``); bol.com's bucket is empty meanwhile."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)
        self.hold_until = max(self.hold_until, now + seconds)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class Pacer:
    """Buckets per (client, endpoint), shared by every call of the process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, Operation], Bucket] = {}

    def bucket(self, client: str, operation: Operation) -> Bucket:
        """The bucket of a client's endpoint, created full from the published limit."""
        key = (client, operation)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = RATE_LIMITS.get(operation, DEFAULT_RATE_LIMIT)
            bucket = self._buckets[key] = Bucket(limit, self._clock.monotonic())
        return bucket

    async def acquire(self, client: str, operation: Operation, max_wait: float) -> None:
        """Wait until the endpoint allows one more call; ``RateLimited`` if that takes over ``max_wait``."""
        bucket = self.bucket(client, operation)
        delay = bucket.reserve(self._clock.monotonic())
        if delay > max_wait:
            bucket.give_back()
            raise RateLimited(
                "bol.com's rate limit for this account is used up; the hub will continue later.",
                detail=f"{operation_name(operation)} would wait {delay:.0f} s for its rate limit "
                f"(max_pacing_wait {max_wait:g} s)",
                retry_after=delay,
            )
        if delay > 0:
            await self._clock.sleep(delay)

    def observe(self, client: str, operation: Operation, headers: Mapping[str, str]) -> None:
        """Adopt an answer's rate-limit headers."""
        self.bucket(client, operation).observe(headers, self._clock.monotonic())

    def throttled(self, client: str, operation: Operation, retry_after: float | None) -> float:
        """Record a 429; return how long until the endpoint may be called again."""
        bucket = self.bucket(client, operation)
        now = self._clock.monotonic()
        bucket.hold(now, retry_after if retry_after is not None else 1 / bucket.rate)
        return bucket.wait_time(now)


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class TokenCache:
    """Access tokens per client, reused until shortly before they expire, one request at a time per client."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, _CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: How many tokens were requested, per client (for tests and metrics).
        self.requests: dict[str, int] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        # The process may run several event loops in turn (CLI commands, tests); a lock belongs to one.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._locks = loop, {}
        return self._locks.setdefault(key, asyncio.Lock())

    def _valid(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > self._clock.monotonic():
            return entry.value
        return None

    async def get(self, key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """A valid access token: the cached one, or one ``fetch`` returns (once for all waiters)."""
        token = self._valid(key)
        if token is not None:
            return token
        async with self._lock(key):
            token = self._valid(key)
            if token is None:
                token, expires_in = await fetch()
                self.requests[key] = self.requests.get(key, 0) + 1
                margin = min(TOKEN_REFRESH_MARGIN, expires_in / 2)
                self._entries[key] = _CachedToken(token, self._clock.monotonic() + expires_in - margin)
            return token

    def invalidate(self, key: str, stale: str) -> None:
        """Forget ``stale`` if it is still the cached token (another caller may have renewed it)."""
        entry = self._entries.get(key)
        if entry is not None and entry.value == stale:
            del self._entries[key]

    def drop(self, key: str) -> None:
        """Forget a client's token."""
        self._entries.pop(key, None)


class SignatureKeys:
    """bol.com's webhook signature keys (id -> public key, DER), fetched when an unknown id comes.

    bol.com allows few calls to the keys endpoint, so a refetch happens at most once per
    ``min_interval``; an id still unknown after that is refused.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.keys: dict[str, bytes] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._lock is None:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock

    async def key(self, key_id: str, fetch: Callable[[], Awaitable[dict[str, bytes]]], min_interval: float) -> bytes | None:
        """The public key ``key_id`` (DER), fetching the keys when it is unknown and not fetched lately."""
        if key_id in self.keys:
            return self.keys[key_id]
        async with self._guard():
            if key_id in self.keys:
                return self.keys[key_id]
            now = self._clock.monotonic()
            if self.fetched_at is not None and now - self.fetched_at < min_interval:
                return None
            self.keys = await fetch()
            self.fetches += 1
            self.fetched_at = self._clock.monotonic()
            return self.keys.get(key_id)


@dataclass
class BolState:
    """What the connector keeps in one process: tokens, rate buckets, signature keys, clock, randomness."""

    clock: Clock = field(default_factory=SystemClock)
    random: random.Random = field(default_factory=random.Random)
    tokens: TokenCache = field(init=False)
    pacer: Pacer = field(init=False)
    signature_keys: SignatureKeys = field(init=False)
    #: When each connection's event subscription was last made sure of (monotonic seconds).
    subscriptions_checked: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self.clock)
        self.pacer = Pacer(self.clock)
        self.signature_keys = SignatureKeys(self.clock)


def client_key(client_id: str, client_secret: str) -> str:
    """The cache and pacing key of a client: a digest, so the secret is kept nowhere else."""
    return hashlib.sha256(f"{client_id}\x00{client_secret}".encode()).hexdigest()[:32]


def _backoff(settings: BolSettings, state: BolState, attempt: int) -> float:
    """Exponential backoff with full jitter."""
    return state.random.uniform(0, min(settings.backoff_max, settings.backoff_base * 2**attempt))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    seconds = _number(headers.get("retry-after"))
    return max(seconds, 0.0) if seconds is not None else None


class BolApi:
    """The Retailer API calls made with one client id and secret."""

    def __init__(
        self,
        settings: BolSettings,
        http: aiohttp.ClientSession,
        state: BolState,
        *,
        client_id: str,
        client_secret: str,
        log: Log,
    ) -> None:
        self.settings, self._http, self._state, self.log = settings, http, state, log
        self._client_id, self._client_secret = client_id, client_secret
        self.key = client_key(client_id, client_secret)

    # tokens -----------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid access token for this client: the cached one, or a new one."""
        return await self._state.tokens.get(self.key, self._request_token)

    def forget_token(self) -> None:
        """Drop this client's cached token (on disconnect)."""
        self._state.tokens.drop(self.key)

    async def _request_token(self) -> tuple[str, float]:
        """``POST /token`` with Basic auth and ``grant_type=client_credentials``."""
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        headers = {
            "authorization": f"Basic {basic}",
            "accept": "application/json",
            "content-type": "application/x-www-form-urlencoded",
        }
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        attempt = 0
        while True:
            try:
                async with self._http.post(
                    self.settings.token_endpoint(), data="grant_type=client_credentials", headers=headers, timeout=timeout
                ) as response:
                    status, payload = response.status, await response.read()
            except _NETWORK_ERRORS as err:
                count_call(TOKEN_OPERATION, err)
                failure: ConnectorError = ConnectorNotReady(
                    "bol.com's login service did not answer; the hub will try again.", detail=f"token {type(err).__name__}"
                )
                failure.__cause__ = err
            else:
                count_call(TOKEN_OPERATION, status)
                if status == 200:
                    token = _token(parse_json(payload))
                    if token is not None:
                        self.log.debug("bol.com: new access token")
                        return token
                    failure = ConnectorNotReady(
                        "bol.com's login service sent an unreadable answer; the hub will try again.",
                        detail="token HTTP 200 without a usable access_token",
                    )
                else:
                    failure = token_error(status, payload)
                    self.log.warning("bol.com token request failed: %s", failure.detail)
                    if not isinstance(failure, TransientError):
                        raise failure
            if attempt >= self.settings.max_retries:
                raise failure
            await self._state.clock.sleep(_backoff(self.settings, self._state, attempt))
            attempt += 1

    # the calls the connector makes -----------------------------------------------------------

    async def retailer(self) -> dict[str, Any]:
        """``GET /retailer/retailers/current``: the merchant's own retailer account."""
        return _object(await self.call(GET_RETAILER, path={"retailer-id": "current"}), GET_RETAILER)

    async def orders(self, page: int, **filters: str) -> list[dict[str, Any]]:
        """One page (50) of ``GET /retailer/orders``; ``{}`` (no orders) is an empty list."""
        query = [("page", str(page)), *filters.items()]
        data = _object(await self.call(GET_ORDERS, query=[(k.replace("_", "-"), v) for k, v in query]), GET_ORDERS)
        orders = data.get("orders", [])
        if not isinstance(orders, list):
            raise _unreadable(GET_ORDERS)
        return [order for order in orders if isinstance(order, dict)]

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """``GET /retailer/orders/{order-id}``; ``None`` when bol.com does not know it."""
        data = await self.call(GET_ORDER, path={"order-id": order_id}, missing_ok=True)
        return None if data is None else _object(data, GET_ORDER)

    async def shipments_of(self, order_id: str) -> list[dict[str, Any]]:
        """``GET /retailer/shipments?order-id=``: the shipments of one order (no paging with order-id)."""
        data = _object(await self.call(GET_SHIPMENTS, query=[("order-id", order_id)]), GET_SHIPMENTS)
        shipments = data.get("shipments", [])
        if not isinstance(shipments, list):
            raise _unreadable(GET_SHIPMENTS)
        return [shipment for shipment in shipments if isinstance(shipment, dict)]

    async def shipment(self, shipment_id: str) -> dict[str, Any] | None:
        """``GET /retailer/shipments/{shipment-id}``; ``None`` when bol.com does not know it."""
        data = await self.call(GET_SHIPMENT, path={"shipment-id": shipment_id}, missing_ok=True)
        return None if data is None else _object(data, GET_SHIPMENT)

    async def create_shipment(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /retailer/shipments``: 202 and a process status. Never repeated after a lost answer."""
        return _object(await self.call(POST_SHIPMENT, body=request), POST_SHIPMENT)

    async def change_transport(self, transport_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """``PUT /retailer/transports/{transport-id}``: a new track and trace; 202 and a process status."""
        return _object(await self.call(PUT_TRANSPORT, path={"transport-id": transport_id}, body=request), PUT_TRANSPORT)

    async def process_statuses(self, ids: list[str]) -> list[dict[str, Any]]:
        """``POST /shared/process-status`` for up to 1000 ids; ids bol.com no longer keeps are missing."""
        body = {"processStatusQueries": [{"processStatusId": value} for value in ids]}
        return _statuses(await self.call(POST_PROCESS_STATUSES, body=body), POST_PROCESS_STATUSES)

    async def process_statuses_of(self, entity_id: str, event_type: str) -> list[dict[str, Any]]:
        """``GET /shared/process-status?entity-id=&event-type=``: first page (newest first)."""
        query = [("entity-id", entity_id), ("event-type", event_type), ("page", "1")]
        return _statuses(await self.call(GET_PROCESS_STATUSES, query=query), GET_PROCESS_STATUSES)

    async def process_status(self, process_status_id: str) -> dict[str, Any] | None:
        """``GET /shared/process-status/{id}``; ``None`` once bol.com no longer keeps it."""
        data = await self.call(GET_PROCESS_STATUS, path={"process-status-id": process_status_id}, missing_ok=True)
        return None if data is None else _object(data, GET_PROCESS_STATUS)

    async def subscriptions(self) -> list[dict[str, Any]]:
        """``GET /retailer/subscriptions``."""
        data = _object(await self.call(GET_SUBSCRIPTIONS), GET_SUBSCRIPTIONS)
        found = data.get("subscriptions", [])
        if not isinstance(found, list):
            raise _unreadable(GET_SUBSCRIPTIONS)
        return [entry for entry in found if isinstance(entry, dict)]

    async def create_subscription(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /retailer/subscriptions``: 202 and a process status. Never repeated after a lost answer."""
        return _object(await self.call(POST_SUBSCRIPTION, body=request), POST_SUBSCRIPTION)

    async def update_subscription(self, subscription_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """``PUT /retailer/subscriptions/{id}`` (enable it again, change its resources)."""
        path = {"subscription-id": subscription_id}
        return _object(await self.call(PUT_SUBSCRIPTION, path=path, body=request), PUT_SUBSCRIPTION)

    async def delete_subscription(self, subscription_id: str) -> None:
        """``DELETE /retailer/subscriptions/{id}``; one already gone is fine."""
        await self.call(DELETE_SUBSCRIPTION, path={"subscription-id": subscription_id}, missing_ok=True)

    async def signature_keys(self) -> list[dict[str, Any]]:
        """``GET /retailer/subscriptions/signature-keys``."""
        data = _object(await self.call(GET_SIGNATURE_KEYS), GET_SIGNATURE_KEYS)
        keys = data.get("signatureKeys", [])
        if not isinstance(keys, list):
            raise _unreadable(GET_SIGNATURE_KEYS)
        return [key for key in keys if isinstance(key, dict)]

    # one call -----------------------------------------------------------------------------------

    async def call(
        self,
        operation: Operation,
        *,
        path: Mapping[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """Make one call, paced and retried; return its JSON (``None`` for no body, or a 404 when ``missing_ok``)."""
        method, template = operation
        url = self.settings.base_url() + _fill(template, path or {})
        name = operation_name(operation)
        repeatable = operation not in NOT_REPEATABLE
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        data = orjson.dumps(body) if body is not None else None
        refreshed = False
        attempt = 0
        while True:
            if self.settings.pacing:
                await self._state.pacer.acquire(self.key, operation, self.settings.max_pacing_wait)
            token = await self.access_token()
            headers = {"authorization": f"Bearer {token}", "accept": MEDIA_TYPE}
            if data is not None:
                headers["content-type"] = MEDIA_TYPE
            try:
                async with self._http.request(
                    method, url, params=query or None, data=data, headers=headers, timeout=timeout
                ) as response:
                    status, answer_headers, payload = response.status, response.headers, await response.read()
            except _NETWORK_ERRORS as err:
                count_call(name, err)
                self.log.warning("bol.com %s: %s (attempt %d)", name, type(err).__name__, attempt + 1)
                failure: ConnectorError = ConnectorNotReady(
                    "bol.com did not answer; the hub will try again.", detail=f"{name} {type(err).__name__}"
                )
                if not repeatable:
                    raise failure from err
                failure.__cause__ = err
            else:
                count_call(name, status)
                self._state.pacer.observe(self.key, operation, answer_headers)
                if status < 300:
                    self.log.debug("bol.com %s -> HTTP %d", name, status)
                    parsed = parse_json(payload)
                    if not payload or parsed is not None:
                        return parsed
                    failure = _unreadable(operation)
                    if not repeatable:
                        raise failure
                elif status == 404 and missing_ok:
                    return None
                elif status == 401 and not refreshed:
                    # The token may have expired early or been revoked: one new token settles which.
                    self.log.info("bol.com %s -> HTTP 401; getting a new access token", name)
                    self._state.tokens.invalidate(self.key, token)
                    refreshed = True
                    continue
                else:
                    problem = Problem.read(status, payload)
                    self.log.warning("bol.com %s -> HTTP %d %s (attempt %d)", name, status, problem.text(), attempt + 1)
                    retry_after = None
                    if status == 429:
                        retry_after = self._state.pacer.throttled(self.key, operation, _retry_after(answer_headers))
                    failure = api_error(status, name, problem, retry_after)
                    if not isinstance(failure, TransientError) or (status != 429 and not repeatable):
                        raise failure
                    if status == 429 and retry_after is not None and retry_after > self.settings.max_pacing_wait:
                        raise failure
            if attempt >= self.settings.max_retries:
                raise failure
            if not (isinstance(failure, RateLimited) and self.settings.pacing):
                # With pacing the bucket holds a 429's endpoint until Retry-After; without, the wait is here.
                wait = _backoff(self.settings, self._state, attempt)
                if isinstance(failure, RateLimited) and failure.retry_after is not None:
                    wait = max(wait, failure.retry_after)
                await self._state.clock.sleep(wait)
            attempt += 1


def _fill(template: str, values: Mapping[str, str]) -> str:
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def _token(data: Any) -> tuple[str, float] | None:
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        return None
    expires_in = data.get("expires_in", 299)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        return None
    return data["access_token"], float(expires_in)


def _unreadable(operation: Operation) -> ConnectorNotReady:
    return ConnectorNotReady(
        "bol.com sent an unreadable answer; the hub will try again.",
        detail=f"{operation_name(operation)}: the body is not the JSON bol.com describes",
    )


def _object(data: Any, operation: Operation) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _unreadable(operation)
    return data


def _statuses(data: Any, operation: Operation) -> list[dict[str, Any]]:
    statuses = _object(data, operation).get("processStatuses", [])
    if not isinstance(statuses, list):
        raise _unreadable(operation)
    return [status for status in statuses if isinstance(status, dict)]


def connection_api(context: ConnectorContext, settings: BolSettings, state: BolState) -> BolApi:
    """The API client of a connection, from its stored ``client_id`` and ``client_secret``."""
    client_id, client_secret = context.credentials.get(CLIENT_ID), context.credentials.get(CLIENT_SECRET)
    if client_id is None or client_secret is None or not client_id.get_secret_value() or not client_secret.get_secret_value():
        raise ConnectorAuthFailed(
            f"Connection {context.connection.id} holds no bol.com client credentials. {RECONNECT}",
            detail="credentials without client_id or client_secret",
        )
    return BolApi(
        settings,
        context.http,
        state,
        client_id=client_id.get_secret_value(),
        client_secret=client_secret.get_secret_value(),
        log=context.log,
    )


def state_of(context: ConnectorContext) -> BolState:
    """The process's ``BolState`` in a hook's context (what ``open_connector`` returned)."""
    if isinstance(context.state, BolState):
        return context.state
    raise ConnectorError(
        "The bol.com connector was not set up in this process; restart the hub and report it if it persists.",
        detail=f"context.state is {type(context.state).__name__}, not the BolState of open_connector",
    )
