"""The SP-API client on aiohttp: LWA tokens, pacing by usage plan, bounded retries.

``ClientState`` is what the connector keeps between hook calls in one process: the access tokens
(per refresh token, refreshed five minutes before expiry, one refresh at a time) and the token
buckets (per region, seller and operation). Given core's ``Coordination`` (what
``open_connector`` does), both are shared by every process on the hub's database: N daemons keep
one seller's usage plan together (``SharedPacer``) and refresh its access token once
(``SharedTokens``). Without it (``ClientState(clock=...)``) they are the process's own, on a clock
tests can simulate to run Amazon's real usage plans without waiting. ``Lwa`` talks to the token
endpoint; ``SpApi`` makes the SP-API calls of one connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import aiohttp

from connectors.amazon.const import (
    CONFIRM_SHIPMENT,
    CREDENTIAL_REFRESH_TOKEN,
    CREDENTIAL_REGION,
    GET_MARKETPLACE_PARTICIPATIONS,
    GET_ORDER,
    LWA_RETRYABLE,
    PACING_MARGIN,
    PATHS,
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
    SEARCH_ORDERS,
    TOKEN_REFRESH_MARGIN,
    USAGE_PLANS,
    Region,
    UsagePlan,
    find_marketplace,
)
from connectors.amazon.errors import RECONNECT, api_error, lwa_error, parse_error_list, parse_json
from connectors.amazon.settings import AmazonSettings
from core.hubapi import (
    SHOP_CALLS,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    Coordination,
    HubError,
    RateLimited,
    TransientError,
)

Log = logging.Logger | logging.LoggerAdapter[Any]

_NETWORK_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)

#: The operation name of LWA token calls in ``hub_shop_calls_total``.
LWA_OPERATION = "lwa"


def count_call(operation: str, status: int | BaseException) -> None:
    """Count one HTTP exchange with Amazon: its HTTP status, or ``timeout`` / ``network`` when none came."""
    if isinstance(status, BaseException):
        outcome = "timeout" if isinstance(status, asyncio.TimeoutError) else "network"
    else:
        outcome = str(status)
    SHOP_CALLS.labels("amazon", operation, outcome).inc()


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


class TokenBucket:
    """Amazon's rate limiter mirrored on our side: ``rate`` tokens a second, at most ``burst``.

    Callers reserve a token and then wait for it, so concurrent callers queue in order without a
    lock; a token reserved by a caller that gives up is simply lost (the safe side).
    """

    def __init__(self, plan: UsagePlan, now: float) -> None:
        self.rate = plan.rate
        self.burst = plan.burst
        self.tokens = float(plan.burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, now: float) -> float:
        """Take a token; return how long to wait before it may be spent."""
        self._refill(now)
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        # Arriving exactly on time is too early by a rounding error or a little network jitter;
        # the margin is paid once, after the burst, and then keeps Amazon's bucket that far ahead.
        return -self.tokens / self.rate + min(PACING_MARGIN, 0.1 / self.rate)

    def give_back(self) -> None:
        """Return a reserved token that will not be spent."""
        self.tokens = min(float(self.burst), self.tokens + 1)

    def wait_time(self, now: float) -> float:
        """How long until a token is free."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def drain(self, now: float) -> None:
        """Amazon said the bucket is empty (429): believe it."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)

    def set_rate(self, rate: float, now: float) -> None:
        """Follow the rate Amazon reports for this seller (``x-amzn-RateLimit-Limit``)."""
        if rate > 0 and rate != self.rate:
            self._refill(now)
            self.rate = rate


class Pacer:
    """Token buckets per (region, seller, operation), shared by every call in the process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def bucket(self, key: tuple[str, str, str]) -> TokenBucket:
        """The bucket for a (region, seller, operation) key, created full."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(USAGE_PLANS[key[2]], self._clock.monotonic())
        return bucket

    async def acquire(self, key: tuple[str, str, str], max_wait: float) -> None:
        """Wait until the bucket allows one more call; ``RateLimited`` if that takes over ``max_wait``."""
        bucket = self.bucket(key)
        delay = bucket.reserve(self._clock.monotonic())
        if delay > max_wait:
            bucket.give_back()
            raise RateLimited(
                "Amazon's rate limit for this seller is used up; the hub will continue later.",
                detail=f"{key[2]} would wait {delay:.0f} s for its usage plan (max_pacing_wait {max_wait:g} s)",
                retry_after=delay,
            )
        if delay > 0:
            await self._clock.sleep(delay)

    def wait_time(self, key: tuple[str, str, str]) -> float:
        """Seconds until the bucket has a token."""
        return self.bucket(key).wait_time(self._clock.monotonic())

    async def throttled(self, key: tuple[str, str, str]) -> float:
        """Record a 429; return the seconds until the bucket has a token again."""
        self.bucket(key).drain(self._clock.monotonic())
        return self.wait_time(key)

    def observe(self, key: tuple[str, str, str], headers: Mapping[str, str]) -> None:
        """Adopt the rate in ``x-amzn-RateLimit-Limit`` when Amazon sends one."""
        rate = _rate_header(headers)
        if rate is not None:
            self.bucket(key).set_rate(rate, self._clock.monotonic())


def _rate_header(headers: Mapping[str, str]) -> float | None:
    """The rate in ``x-amzn-RateLimit-Limit``, when Amazon sends a usable one."""
    value = headers.get(RATE_LIMIT_HEADER)
    try:
        rate = float(value) if value is not None else None
    except ValueError:
        return None
    return rate if rate is not None and rate > 0 and rate != float("inf") else None


class SharedPacer:
    """Token buckets per (region, seller, operation) kept in core's ``Coordination``: one bucket for all processes.

    Each call takes a token in one round trip to the shared bucket and waits, on this process's
    clock, for as long as the bucket says. A 429 empties the shared bucket, so every process
    backs off, not only the one that met it.
    """

    def __init__(self, coordination: Coordination, clock: Clock) -> None:
        self._coordination = coordination
        self._clock = clock
        self._rates: dict[tuple[str, str, str], float] = {}

    @staticmethod
    def name(key: tuple[str, str, str]) -> str:
        """The shared bucket's key: ``pace:<region>:<seller>:<operation>``."""
        return "pace:" + ":".join(key)

    def _plan(self, key: tuple[str, str, str]) -> tuple[float, float]:
        plan = USAGE_PLANS[key[2]]
        return self._rates.get(key, plan.rate), float(plan.burst)

    async def acquire(self, key: tuple[str, str, str], max_wait: float) -> None:
        """Wait until the shared bucket allows one more call; ``RateLimited`` if that takes over ``max_wait``."""
        rate, burst = self._plan(key)
        margin = min(PACING_MARGIN, 0.1 / rate)
        slot = await self._coordination.take(self.name(key), rate, burst, max(0.0, max_wait - margin))
        delay = slot.wait + margin if slot.wait > 0 else 0.0
        if not slot.taken:
            raise RateLimited(
                "Amazon's rate limit for this seller is used up; the hub will continue later.",
                detail=f"{key[2]} would wait {delay:.0f} s for its usage plan (max_pacing_wait {max_wait:g} s)",
                retry_after=delay,
            )
        if delay > 0:
            await self._clock.sleep(delay)

    async def throttled(self, key: tuple[str, str, str]) -> float:
        """Record a 429 for every process; return the seconds until the bucket has a token again."""
        rate, burst = self._plan(key)
        return await self._coordination.throttled(self.name(key), rate, burst)

    def observe(self, key: tuple[str, str, str], headers: Mapping[str, str]) -> None:
        """Adopt the rate in ``x-amzn-RateLimit-Limit`` when Amazon sends one (the next take passes it on)."""
        rate = _rate_header(headers)
        if rate is not None:
            self._rates[key] = rate


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class TokenCache:
    """Access tokens per refresh token, refreshed ahead of expiry, one refresh at a time per key."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, _CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def key(refresh_token: str) -> str:
        """The cache key of a refresh token (a digest, so the token itself is kept nowhere else)."""
        return hashlib.sha256(refresh_token.encode()).hexdigest()

    def _lock(self, key: str) -> asyncio.Lock:
        # The process may run several event loops in turn (CLI commands, tests); a lock belongs to one.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._locks = loop, {}
        return self._locks.setdefault(key, asyncio.Lock())

    async def put(self, refresh_token: str, access_token: str, expires_in: float) -> None:
        """Cache an access token valid for ``expires_in`` seconds."""
        self._put(refresh_token, access_token, expires_in)

    def _put(self, refresh_token: str, access_token: str, expires_in: float) -> None:
        self._entries[self.key(refresh_token)] = _CachedToken(
            access_token, self._clock.monotonic() + usable_for(expires_in)
        )

    def _valid(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > self._clock.monotonic():
            return entry.value
        return None

    async def get(
        self, refresh_token: str, fetch: Callable[[], Awaitable[tuple[str, float]]]
    ) -> str:
        """A valid access token: the cached one, or one ``fetch`` returns (once for all waiters)."""
        key = self.key(refresh_token)
        token = self._valid(key)
        if token is not None:
            return token
        async with self._lock(key):
            token = self._valid(key)
            if token is None:
                token, expires_in = await fetch()
                self._put(refresh_token, token, expires_in)
            return token

    async def invalidate(self, refresh_token: str, stale: str) -> None:
        """Forget ``stale`` if it is still the cached token (other callers may have renewed it)."""
        key = self.key(refresh_token)
        entry = self._entries.get(key)
        if entry is not None and entry.value == stale:
            del self._entries[key]

    async def drop(self, refresh_token: str) -> None:
        """Forget the access token of a refresh token."""
        self._entries.pop(self.key(refresh_token), None)


def usable_for(expires_in: float) -> float:
    """How long an access token valid ``expires_in`` seconds is used: until five minutes before it expires."""
    return expires_in - min(TOKEN_REFRESH_MARGIN.total_seconds(), expires_in / 2)


class SharedTokens:
    """Access tokens per refresh token in core's ``Coordination``: one refresh per seller for every process.

    Stored encrypted under a digest of the refresh token (``lwa:<sha256>``), used until five
    minutes before expiry; while one process refreshes, the others wait for its token.
    """

    def __init__(self, coordination: Coordination) -> None:
        self._coordination = coordination

    @staticmethod
    def key(refresh_token: str) -> str:
        """The shared key of a refresh token's access token."""
        return "lwa:" + TokenCache.key(refresh_token)

    async def get(self, refresh_token: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """A valid access token: the one shared, or one ``fetch`` returns (once for every process)."""

        async def fetch_for_all() -> tuple[str, float]:
            token, expires_in = await fetch()
            return token, usable_for(expires_in)

        return await self._coordination.secret(self.key(refresh_token), fetch_for_all)

    async def put(self, refresh_token: str, access_token: str, expires_in: float) -> None:
        """Share an access token valid for ``expires_in`` seconds (unless one is shared already)."""

        async def given() -> tuple[str, float]:
            return access_token, usable_for(expires_in)

        await self._coordination.secret(self.key(refresh_token), given)

    async def invalidate(self, refresh_token: str, stale: str) -> None:
        """Forget ``stale`` if it is still the shared token (another process may have renewed it)."""
        await self._coordination.forget(self.key(refresh_token), stale)

    async def drop(self, refresh_token: str) -> None:
        """Forget the access token of a refresh token, in every process."""
        await self._coordination.forget(self.key(refresh_token))


class ClientState:
    """What the connector keeps in one process: access tokens, rate buckets, clock, randomness.

    With ``coordination`` (core's, from ``open_connector``) the tokens and buckets are shared by
    every process on the hub's database; without it they are this process's own, on ``clock``.
    """

    def __init__(
        self, clock: Clock | None = None, rng: random.Random | None = None, coordination: Coordination | None = None
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.random = rng or random.Random()
        self.coordination = coordination
        self.tokens: TokenCache | SharedTokens
        self.pacer: Pacer | SharedPacer
        if coordination is None:
            self.tokens, self.pacer = TokenCache(self.clock), Pacer(self.clock)
        else:
            self.tokens, self.pacer = SharedTokens(coordination), SharedPacer(coordination, self.clock)


@dataclass(frozen=True)
class TokenGrant:
    """What the LWA token endpoint returned."""

    access_token: str
    expires_in: float
    refresh_token: str | None = None


def _backoff(settings: AmazonSettings, state: ClientState, attempt: int) -> float:
    """Exponential backoff with full jitter."""
    return state.random.uniform(0, min(settings.backoff_max, settings.backoff_base * 2**attempt))


class Lwa:
    """Login with Amazon: exchange an authorisation code, refresh an access token."""

    def __init__(
        self, settings: AmazonSettings, http: aiohttp.ClientSession, state: ClientState, log: Log
    ) -> None:
        self._settings, self._http, self._state, self._log = settings, http, state, log

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Trade the consent's ``spapi_oauth_code`` for a refresh token and an access token."""
        grant = await self._post(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            grant="authorization_code",
        )
        if not grant.refresh_token:
            raise ConnectorNotReady(
                "Amazon's login service answered without a refresh token; click Connect to try again.",
                detail="LWA authorization_code answer without refresh_token",
            )
        return grant

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """A new access token for a refresh token."""
        return await self._post({"grant_type": "refresh_token", "refresh_token": refresh_token}, grant="refresh_token")

    async def _post(self, form: dict[str, str], *, grant: str) -> TokenGrant:
        self._settings.require_app()
        body = urlencode(
            {
                **form,
                "client_id": self._settings.client_id,
                "client_secret": self._settings.client_secret.get_secret_value(),
            }
        )
        headers = {
            "content-type": "application/x-www-form-urlencoded;charset=UTF-8",
            "user-agent": self._settings.user_agent(),
        }
        timeout = aiohttp.ClientTimeout(total=self._settings.request_timeout)
        attempt = 0
        while True:
            try:
                async with self._http.post(
                    self._settings.token_url(), data=body, headers=headers, timeout=timeout
                ) as response:
                    status, payload = response.status, await response.read()
            except _NETWORK_ERRORS as err:
                count_call(LWA_OPERATION, err)
                failure: HubError = ConnectorNotReady(
                    "Amazon's login service did not answer; the hub will try again.",
                    detail=f"LWA {grant} {type(err).__name__}",
                )
                failure.__cause__ = err
            else:
                count_call(LWA_OPERATION, status)
                if status == 200:
                    token = _token_grant(parse_json(payload))
                    if token is not None:
                        self._log.debug("amazon LWA %s grant: new access token", grant)
                        return token
                    failure = ConnectorNotReady(
                        "Amazon's login service sent an unreadable answer; the hub will try again.",
                        detail=f"LWA {grant} HTTP 200 without a usable access_token",
                    )
                else:
                    failure = lwa_error(status, payload, grant=grant)
                    self._log.warning("amazon LWA %s grant failed: %s", grant, failure.detail)
                    data = parse_json(payload)
                    code = data.get("error") if isinstance(data, dict) else None
                    if not (status >= 500 or status == 429 or code in LWA_RETRYABLE):
                        raise failure
            if attempt >= self._settings.max_retries:
                raise failure
            await self._state.clock.sleep(_backoff(self._settings, self._state, attempt))
            attempt += 1


def _token_grant(data: Any) -> TokenGrant | None:
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        return None
    expires_in = data.get("expires_in", 3600)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        return None
    refresh = data.get("refresh_token")
    return TokenGrant(data["access_token"], float(expires_in), refresh if isinstance(refresh, str) else None)


class SpApi:
    """The SP-API calls of one connection (one seller in one region)."""

    def __init__(
        self,
        settings: AmazonSettings,
        http: aiohttp.ClientSession,
        state: ClientState,
        *,
        refresh_token: str,
        region: Region,
        seller: str,
        log: Log,
    ) -> None:
        self._settings, self._http, self._state, self.log = settings, http, state, log
        self._refresh_token = refresh_token
        self.region = region
        self._seller = seller
        self.lwa = Lwa(settings, http, state, log)

    async def access_token(self) -> str:
        """A valid access token for this connection, refreshed when needed."""

        async def fetch() -> tuple[str, float]:
            grant = await self.lwa.refresh(self._refresh_token)
            return grant.access_token, grant.expires_in

        return await self._state.tokens.get(self._refresh_token, fetch)

    async def forget_token(self) -> None:
        """Drop the cached access token (on disconnect)."""
        await self._state.tokens.drop(self._refresh_token)

    async def search_orders(self, query: list[tuple[str, str]]) -> dict[str, Any]:
        """One page of ``searchOrders`` (Orders API 2026-01-01)."""
        return _object(await self.call(SEARCH_ORDERS, query=query), SEARCH_ORDERS)

    async def get_order(self, order_id: str, included_data: list[str]) -> dict[str, Any]:
        """One order by id (``getOrder``, Orders API 2026-01-01)."""
        query = [("includedData", ",".join(included_data))] if included_data else []
        data = _object(await self.call(GET_ORDER, path_params={"orderId": order_id}, query=query), GET_ORDER)
        order = data.get("order")
        if not isinstance(order, dict):
            raise _unreadable(GET_ORDER)
        return order

    async def confirm_shipment(self, order_id: str, payload: dict[str, Any]) -> None:
        """Confirm one package of an order (``confirmShipment``, Orders API v0); 204 on success."""
        await self.call(CONFIRM_SHIPMENT, path_params={"orderId": order_id}, body=payload)

    async def marketplace_participations(self, *, refresh_on_denied: bool = True) -> list[dict[str, Any]]:
        """The seller's marketplaces and store names (``getMarketplaceParticipations``)."""
        data = _object(
            await self.call(GET_MARKETPLACE_PARTICIPATIONS, refresh_on_denied=refresh_on_denied),
            GET_MARKETPLACE_PARTICIPATIONS,
        )
        payload = data.get("payload")
        if not isinstance(payload, list):
            raise _unreadable(GET_MARKETPLACE_PARTICIPATIONS)
        return [entry for entry in payload if isinstance(entry, dict)]

    def bucket_key(self, operation: str) -> tuple[str, str, str]:
        """The pacing key of an operation for this seller."""
        return (self.region.value, self._seller, operation)

    async def call(
        self,
        operation: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        refresh_on_denied: bool = True,
    ) -> Any:
        """Send one operation, paced and retried; return its JSON (``None`` for an empty answer).

        A 401/403 refreshes the access token once and repeats the call; 429, 5xx, timeouts and
        dropped connections are retried ``max_retries`` times with full-jitter backoff; any
        other error status raises at once.
        """
        path = PATHS[operation].format(**{k: quote(v, safe="") for k, v in (path_params or {}).items()})
        url = f"{self._settings.sp_api_url(self.region)}{path}"
        method = "POST" if body is not None else "GET"
        key = self.bucket_key(operation)
        timeout = aiohttp.ClientTimeout(total=self._settings.request_timeout)
        refreshed = not refresh_on_denied
        attempt = 0
        while True:
            if self._settings.pacing:
                await self._state.pacer.acquire(key, self._settings.max_pacing_wait)
            token = await self.access_token()
            headers = {
                "x-amz-access-token": token,
                "user-agent": self._settings.user_agent(),
                "accept": "application/json",
            }
            if body is not None:
                headers["content-type"] = "application/json"
            try:
                async with self._http.request(
                    method, url, params=query or None, json=body, headers=headers, timeout=timeout
                ) as response:
                    status, response_headers, payload = response.status, response.headers, await response.read()
            except _NETWORK_ERRORS as err:
                count_call(operation, err)
                self.log.warning("amazon %s: %s (attempt %d)", operation, type(err).__name__, attempt + 1)
                failure: ConnectorError = ConnectorNotReady(
                    "Amazon did not answer; the hub will try again.", detail=f"{operation} {type(err).__name__}"
                )
                failure.__cause__ = err
            else:
                count_call(operation, status)
                request_id = response_headers.get(REQUEST_ID_HEADER)
                self._state.pacer.observe(key, response_headers)
                if status < 300:
                    self.log.debug("amazon %s -> HTTP %d (x-amzn-RequestId %s)", operation, status, request_id)
                    data = parse_json(payload)
                    if not payload or data is not None:
                        return data
                    failure = _unreadable(operation, request_id)
                elif status in (401, 403) and not refreshed:
                    # The token may have expired early or been revoked: one fresh token settles which.
                    self.log.info(
                        "amazon %s -> HTTP %d (x-amzn-RequestId %s); refreshing the access token",
                        operation, status, request_id,
                    )
                    await self._state.tokens.invalidate(self._refresh_token, token)
                    refreshed = True
                    continue
                else:
                    error = parse_error_list(payload)
                    self.log.warning(
                        "amazon %s -> HTTP %d %s (x-amzn-RequestId %s, attempt %d)",
                        operation, status, error.code or "-", request_id, attempt + 1,
                    )
                    retry_after = await self._state.pacer.throttled(key) if status == 429 else None
                    failure = api_error(status, operation, error, request_id, retry_after)
                    if not isinstance(failure, TransientError):
                        raise failure
            if attempt >= self._settings.max_retries:
                raise failure
            await self._state.clock.sleep(_backoff(self._settings, self._state, attempt))
            attempt += 1


def _unreadable(operation: str, request_id: str | None = None) -> ConnectorNotReady:
    return ConnectorNotReady(
        "Amazon sent an unreadable answer; the hub will try again.",
        detail=f"{operation}: the body is not the JSON the model describes (x-amzn-RequestId {request_id or '-'})",
    )


def _object(data: Any, operation: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _unreadable(operation)
    return data


def connection_api(context: ConnectorContext, settings: AmazonSettings, state: ClientState) -> SpApi:
    """The SP-API client of a connection, from its stored credentials (``refresh_token``, ``region``)."""
    refresh = context.credentials.get(CREDENTIAL_REFRESH_TOKEN)
    if refresh is None or not refresh.get_secret_value():
        raise ConnectorAuthFailed(
            f"Connection {context.connection.id} holds no Amazon authorisation. {RECONNECT}",
            detail="credentials without refresh_token",
        )
    hints = region_hints(context)
    if not hints:
        raise ConnectorAuthFailed(
            f"Connection {context.connection.id} does not say which Amazon region it belongs to. {RECONNECT}",
            detail="credentials without a valid region",
        )
    connection = context.connection
    return SpApi(
        settings,
        context.http,
        state,
        refresh_token=refresh.get_secret_value(),
        region=hints[0],
        seller=connection.external_account_id or f"connection-{connection.id}",
        log=context.log,
    )


def region_hints(context: ConnectorContext) -> list[Region]:
    """The regions a connection's credentials and marketplaces point at, the stored one first."""
    hints = []
    stored = context.credentials.get(CREDENTIAL_REGION)
    if stored is not None and stored.get_secret_value() in Region.__members__:
        hints.append(Region(stored.get_secret_value()))
    for value in context.connection.settings.marketplaces:
        marketplace = find_marketplace(value)
        if marketplace is not None:
            hints.append(marketplace.region)
    return list(dict.fromkeys(hints))
