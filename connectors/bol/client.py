"""The Retailer API client on aiohttp: client-credential tokens, pacing per endpoint, core's retry loop.

``BolState`` is what the connector keeps between hook calls in one process (``open_connector``
returns it): core's client kit (``ClientParts``) for bol.com, holding the access tokens (one per
client id and secret, reused until 30 seconds before they expire, one request at a time: bol.com
blocks addresses that ask for too many), the rate buckets (per client and endpoint, from
bol.com's published limits, corrected by every answer's ``X-RateLimit-*`` headers and by
``Retry-After``) and bol.com's webhook signature keys (``SignatureKeys``). Given core's
``Coordination`` (what ``open_connector`` does), all three are shared by every process on the
hub's database: N daemons keep one client's limits together, ask one token for it and fetch the
keys once. Without it (``BolState(clock=...)``) they are the process's own, on a clock tests can
simulate. ``BolApi`` makes the calls of one client.

Requests and answers use bol.com's media type ``application/vnd.retailer.v10+json``. A 401
gets one new token and one repeat; 429s are waited out (``Retry-After``) and repeated; 5xx,
timeouts and dropped connections are repeated with backoff by core's loop (``retrying``), except
for the calls that create something and take no idempotency key (``const.NOT_REPEATABLE``):
after those the caller must first find out what happened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
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
from connectors.bol.errors import LOGIN, RECONNECT, SHOP, Problem, api_error, token_error
from connectors.bol.settings import BolSettings
from core.hubapi import (
    ClientParts,
    Clock,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    Coordination,
    RetryPolicy,
    TransientError,
    exchange,
    header_number,
    parse_json,
    retry_after_seconds,
    retrying,
)

Log = logging.Logger | logging.LoggerAdapter[Any]

#: The shop's name in ``hub_shop_calls_total``.
SHOP_ID = "bol"
TOKEN_OPERATION = "token"


def operation_name(operation: Operation) -> str:
    """``GET /retailer/orders``: how logs and metrics name an operation."""
    return f"{operation[0]} {operation[1]}"


#: Paid once after a burst, so that the hub's calls never reach bol.com a hair before its bucket refills.
PACING_MARGIN = 0.05

#: The share of a bucket's burst the hub leaves unused (at least one call): calls reach bol.com
#: later than the hub counts them (a busy event loop, the network), and bol.com's bucket starts
#: refilling only once the burst has arrived, so a burst of the whole size leaves no room for that.
BURST_HEADROOM = 0.2


def usable_burst(capacity: float) -> float:
    """How many calls of a bucket of ``capacity`` the hub makes at once."""
    return capacity if capacity < 2 else capacity - max(1.0, math.floor(capacity * BURST_HEADROOM))


def plan_of(limit: RateLimit) -> tuple[float, float]:
    """A published limit as the hub paces it: calls a second, and the usable burst."""
    return limit.capacity / limit.per_seconds, usable_burst(limit.capacity)


_PLANS = {operation: plan_of(limit) for operation, limit in RATE_LIMITS.items()}
_DEFAULT_PLAN = plan_of(DEFAULT_RATE_LIMIT)


#: How long fetched signature keys are kept at most; an unknown key id fetches them again sooner.
SIGNATURE_KEYS_KEPT = 24 * 3600.0


class SignatureKeys:
    """bol.com's webhook signature keys (id -> public key, DER), fetched when an unknown id comes.

    Kept in the state's store (shared by every process, with core's coordination) as JSON. bol.com
    allows few calls to the keys endpoint, so a refetch happens at most once per ``min_interval``
    among all processes (a marker in the store, valid that long, says one happened); an id still
    unknown after that is refused.
    """

    KEYS = "signature-keys"
    FETCHED = "signature-keys:fetched"

    def __init__(self, store: Coordination) -> None:
        self._store = store
        self._read: tuple[str, dict[str, bytes]] = ("", {})
        #: How many times this process fetched the keys (for tests and logs).
        self.fetches = 0

    def _keys(self, text: str) -> dict[str, bytes]:
        if text != self._read[0]:
            data = parse_json(text.encode())
            keys = {}
            for key_id, encoded in (data.items() if isinstance(data, dict) else ()):
                try:
                    keys[key_id] = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    continue
            self._read = (text, keys)
        return self._read[1]

    async def key(
        self, key_id: str, fetch: Callable[[], Awaitable[dict[str, bytes]]], min_interval: float
    ) -> bytes | None:
        """The public key ``key_id`` (DER), fetching the keys when it is unknown and not fetched lately."""

        marked = False

        async def fetch_text() -> tuple[str, float]:
            keys = await fetch()
            self.fetches += 1
            text = orjson.dumps({key: base64.b64encode(der).decode() for key, der in keys.items()}).decode()
            return text, SIGNATURE_KEYS_KEPT

        async def mark() -> tuple[str, float]:
            nonlocal marked
            marked = True
            return "fetched", min_interval

        fetches = self.fetches
        text = await self._store.secret(self.KEYS, fetch_text)
        if self.fetches != fetches:
            await self._store.secret(self.FETCHED, mark)
        found = self._keys(text).get(key_id)
        if found is not None or self.fetches != fetches:
            return found
        await self._store.secret(self.FETCHED, mark)
        if not marked:
            return None  # fetched lately, by this process or another
        await self._store.forget(self.KEYS, text)
        return self._keys(await self._store.secret(self.KEYS, fetch_text)).get(key_id)


class BolState(ClientParts):
    """What the connector keeps in one process: tokens, rate buckets, signature keys, clock, randomness.

    With ``coordination`` (core's, from ``open_connector``) the tokens, buckets and signature keys
    are shared by every process on the hub's database; without it they are this process's own.
    """

    shop = "bol.com"
    pacing_margin = PACING_MARGIN
    token_margin = TOKEN_REFRESH_MARGIN

    def __init__(
        self, clock: Clock | None = None, rng: random.Random | None = None, coordination: Coordination | None = None
    ) -> None:
        super().__init__(clock, rng, coordination)
        self.signature_keys = SignatureKeys(self.store)


def client_key(client_id: str, client_secret: str) -> str:
    """The cache and pacing key of a client: a digest, so the secret is kept nowhere else."""
    return hashlib.sha256(f"{client_id}\x00{client_secret}".encode()).hexdigest()[:32]


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
        self._token_key = f"token:{self.key}"
        self._policy = RetryPolicy.of(settings, paced=settings.pacing)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout)

    # tokens -----------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid access token for this client: the one kept, or a new one."""
        return await self._state.tokens.get(self._token_key, self._request_token)

    async def forget_token(self) -> None:
        """Drop this client's token (on disconnect), in every process."""
        await self._state.tokens.drop(self._token_key)

    async def invalidate_token(self, stale: str) -> None:
        """Forget ``stale`` if it is still this client's token (bol.com refused it)."""
        await self._state.tokens.invalidate(self._token_key, stale)

    def bucket_key(self, operation: Operation) -> str:
        """The pacing key of an endpoint for this client: ``pace:<client digest>:<method> <path>``."""
        return f"pace:{self.key}:{operation[0]} {operation[1]}"

    async def _request_token(self) -> tuple[str, float]:
        """``POST /token`` with Basic auth and ``grant_type=client_credentials``."""
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        headers = {
            "authorization": f"Basic {basic}",
            "accept": "application/json",
            "content-type": "application/x-www-form-urlencoded",
        }

        async def attempt() -> tuple[str, float]:
            status, _, payload = await exchange(
                self._http, "POST", self.settings.token_endpoint(), shop=LOGIN, shop_id=SHOP_ID,
                operation=TOKEN_OPERATION, log=self.log, data="grant_type=client_credentials", headers=headers,
                timeout=self._timeout,
            )
            if status != 200:
                failure = token_error(status, payload)
                self.log.warning("bol.com token request failed: %s", failure.detail)
                raise failure
            token = _token(parse_json(payload))
            if token is None:
                raise ConnectorNotReady(
                    "bol.com's login service sent an unreadable answer; the hub will try again.",
                    detail="token HTTP 200 without a usable access_token",
                )
            self.log.debug("bol.com: new access token")
            return token

        return await retrying(attempt, RetryPolicy.of(self.settings, paced=False), self._state)

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
        """Make one call, paced and repeated by core's loop; return its JSON (``None`` for no body, or a 404 when ``missing_ok``)."""
        call = _Call(self, operation, path, query, body, missing_ok)
        return await retrying(call.attempt, self._policy, self._state, repeatable=operation not in NOT_REPEATABLE)


class _Call:
    """One Retailer API call with its arguments; ``attempt`` makes it once (and once more with a new token)."""

    __slots__ = ("api", "operation", "name", "url", "query", "data", "missing_ok", "key", "plan", "refreshed")

    def __init__(
        self,
        api: BolApi,
        operation: Operation,
        path: Mapping[str, str] | None,
        query: list[tuple[str, str]] | None,
        body: dict[str, Any] | None,
        missing_ok: bool,
    ) -> None:
        self.api, self.operation, self.query, self.missing_ok = api, operation, query or None, missing_ok
        self.name = operation_name(operation)
        self.url = api.settings.base_url() + _fill(operation[1], path or {})
        self.data = orjson.dumps(body) if body is not None else None
        self.key = api.bucket_key(operation)
        self.plan = _PLANS.get(operation, _DEFAULT_PLAN)
        self.refreshed = False

    async def attempt(self) -> Any:
        """Make the call once; a first 401 gets a new token and one repeat. Raise what it failed with."""
        status, headers, payload, token = await self._send()
        if status == 401 and not self.refreshed:
            # The token may have expired early or been revoked: one new token settles which.
            self.api.log.info("bol.com %s -> HTTP 401; getting a new access token", self.name)
            self.refreshed = True
            await self.api.invalidate_token(token)
            status, headers, payload, token = await self._send()
        if status < 300:
            self.api.log.debug("bol.com %s -> HTTP %d", self.name, status)
            parsed = parse_json(payload)
            if not payload or parsed is not None:
                return parsed
            raise _unreadable(self.operation)
        if status == 404 and self.missing_ok:
            return None
        problem = Problem.read(status, payload)
        self.api.log.warning("bol.com %s -> HTTP %d %s", self.name, status, problem.text())
        retry_after = None
        if status == 429:
            pacer = self.api._state.pacer
            rate, burst = pacer.plan(self.key, *self.plan)
            hold = retry_after_seconds(headers)
            retry_after = await pacer.throttled(self.key, rate, burst, 1 / rate if hold is None else hold)
        raise api_error(status, self.name, problem, retry_after)

    async def _send(self) -> tuple[int, Mapping[str, str], bytes, str]:
        api, settings, pacer = self.api, self.api.settings, self.api._state.pacer
        rate, burst = self.plan
        if settings.pacing:
            await pacer.acquire(self.key, rate, burst, settings.max_pacing_wait)
        token = await api.access_token()
        headers = {"authorization": f"Bearer {token}", "accept": MEDIA_TYPE}
        if self.data is not None:
            headers["content-type"] = MEDIA_TYPE
        status, answer_headers, payload = await exchange(
            api._http, self.operation[0], self.url, shop=SHOP, shop_id=SHOP_ID, operation=self.name, log=api.log,
            params=self.query, data=self.data, headers=headers, timeout=api._timeout,
        )
        # bol.com's X-RateLimit-* (names in any case) only ever make the bucket stricter: its size
        # (Limit) and fewer calls left (Remaining: bol.com's own count, no headroom needed).
        # X-RateLimit-Reset is not used: bol.com has sent it as seconds, as a time stamp and as the
        # time until the bucket is full; a 429's Retry-After corrects anything else.
        limit = header_number(answer_headers.get("x-ratelimit-limit"))
        if limit is not None and limit >= 1:
            period = RATE_LIMITS.get(self.operation, DEFAULT_RATE_LIMIT).per_seconds
            pacer.resize(self.key, limit / period, usable_burst(limit))
        remaining = header_number(answer_headers.get("x-ratelimit-remaining"))
        if remaining is not None and remaining >= 0 and pacer.left(self.key, rate, burst, remaining):
            try:
                await pacer.throttled(self.key, rate, burst)
            except TransientError as err:
                # bol.com has answered (a shipment POST may have made a shipment): a shared bucket
                # the hub's database could not empty must not turn that answer into a failure.
                api.log.warning("bol.com %s: answered, but the rate bucket was not emptied: %s", self.name, err.detail)
        return status, answer_headers, payload, token


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
