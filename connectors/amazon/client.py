"""The SP-API client on aiohttp: LWA tokens, pacing by usage plan, one retry loop on core's table.

``ClientState`` is what the connector keeps between hook calls in one process: core's client kit
(``ClientParts``) for Amazon, holding the access tokens (per refresh token, refreshed five minutes
before expiry, one refresh at a time) and the token buckets (per region, seller and operation).
Given core's ``Coordination`` (what ``open_connector`` does), both are shared by every process on
the hub's database: N daemons keep one seller's usage plan together and refresh its access token
once. Without it (``ClientState(clock=...)``) they are the process's own, on a clock tests can
simulate to run Amazon's real usage plans without waiting.

``Lwa`` talks to the token endpoint; ``SpApi`` makes the SP-API calls of one connection. Both
repeat a call through core's one loop (``retrying``): what an answer means comes from core's
status table (``errors``), a transient error is repeated with full-jitter backoff (a 429 waits in
its bucket), anything else is raised at once. A 401/403 first gets one fresh access token and one
repeat. ``confirmShipment`` is repeated after a lost answer too: it names the parcel's
``packageReferenceId``, so a repeat edits that package at Amazon and never adds a second one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from connectors.amazon.const import (
    CONFIRM_SHIPMENT,
    CREDENTIAL_REFRESH_TOKEN,
    CREDENTIAL_REGION,
    GET_MARKETPLACE_PARTICIPATIONS,
    GET_ORDER,
    PACING_MARGIN,
    PATHS,
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
    SEARCH_ORDERS,
    TOKEN_REFRESH_MARGIN,
    USAGE_PLANS,
    Region,
    find_marketplace,
)
from connectors.amazon.errors import LOGIN, RECONNECT, SHOP, api_error, lwa_error, parse_error_list
from connectors.amazon.settings import AmazonSettings
from core.hubapi import (
    ClientParts,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorNotReady,
    RetryPolicy,
    exchange,
    header_number,
    parse_json,
    retrying,
)

Log = logging.Logger | logging.LoggerAdapter[Any]

#: The shop's name in ``hub_shop_calls_total``.
SHOP_ID = "amazon"
#: The operation name of LWA token calls in ``hub_shop_calls_total``.
LWA_OPERATION = "lwa"


class ClientState(ClientParts):
    """What the connector keeps in one process: access tokens, rate buckets, clock, randomness.

    With ``coordination`` (core's, from ``open_connector``) the tokens and buckets are shared by
    every process on the hub's database; without it they are this process's own, on ``clock``.
    """

    shop = "Amazon"
    pacing_margin = PACING_MARGIN
    #: confirmShipment's 2 calls a second would allow 0.05 s at a tenth of a token: less than the
    #: jitter of a busy event loop between taking a token and the call reaching Amazon, which met
    #: 4-26 429s in 10,000 pushes (bench/push_daemon.py). Half a token lets PACING_MARGIN through
    #: whole (0.25 s): latency of a paced call only, the bucket's schedule is the same.
    pacing_margin_share = 0.5
    #: The margin alone still met 15 in 10,000 (calls that did not wait, late while the next was on
    #: time): a second of refill stays unused, two of confirmShipment's ten. The slower plans
    #: (getOrder 0.5/s, searchOrders one call in three minutes) refill no whole token in a second
    #: and keep their burst whole.
    burst_headroom = 1.0
    token_margin = TOKEN_REFRESH_MARGIN.total_seconds()


def token_key(refresh_token: str) -> str:
    """Where the access token of a refresh token is kept: ``lwa:<sha256>`` (the token itself is kept nowhere else)."""
    return "lwa:" + hashlib.sha256(refresh_token.encode()).hexdigest()


def bucket_key(region: str, seller: str, operation: str) -> str:
    """The bucket of an operation for one seller: ``pace:<region>:<seller>:<operation>``."""
    return f"pace:{region}:{seller}:{operation}"


def rate_header(headers: Mapping[str, str]) -> float | None:
    """The rate in ``x-amzn-RateLimit-Limit``, when Amazon sends a usable one."""
    rate = header_number(headers.get(RATE_LIMIT_HEADER))
    return rate if rate is not None and rate > 0 else None


@dataclass(frozen=True)
class TokenGrant:
    """What the LWA token endpoint returned."""

    access_token: str
    expires_in: float
    refresh_token: str | None = None


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

        async def attempt() -> TokenGrant:
            status, _, payload = await exchange(
                self._http, "POST", self._settings.token_url(), shop=LOGIN, shop_id=SHOP_ID,
                operation=LWA_OPERATION, log=self._log, data=body, headers=headers, timeout=timeout,
            )
            if status != 200:
                failure = lwa_error(status, payload, grant=grant)
                self._log.warning("amazon LWA %s grant failed: %s", grant, failure.detail)
                raise failure
            token = _token_grant(parse_json(payload))
            if token is None:
                raise ConnectorNotReady(
                    "Amazon's login service sent an unreadable answer; the hub will try again.",
                    detail=f"LWA {grant} HTTP 200 without a usable access_token",
                )
            self._log.debug("amazon LWA %s grant: new access token", grant)
            return token

        return await retrying(attempt, RetryPolicy.of(self._settings, paced=False), self._state)


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
        self._token_key = token_key(refresh_token)
        self.region = region
        self._seller = seller
        self.lwa = Lwa(settings, http, state, log)
        self._policy = RetryPolicy.of(settings, paced=settings.pacing)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
        self._user_agent = settings.user_agent()

    async def access_token(self) -> str:
        """A valid access token for this connection, refreshed when needed."""
        return await self._state.tokens.get(self._token_key, self._fetch_token)

    async def _fetch_token(self) -> tuple[str, float]:
        grant = await self.lwa.refresh(self._refresh_token)
        return grant.access_token, grant.expires_in

    async def forget_token(self) -> None:
        """Drop the cached access token (on disconnect)."""
        await self._state.tokens.drop(self._token_key)

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
        """Confirm one package of an order (``confirmShipment``, Orders API v0); 204 on success.

        Repeated after a lost answer like any call: the package's ``packageReferenceId`` makes a
        repeat edit the same package at Amazon.
        """
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

    def bucket_key(self, operation: str) -> str:
        """The pacing key of an operation for this seller."""
        return bucket_key(self.region.value, self._seller, operation)

    async def call(
        self,
        operation: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        refresh_on_denied: bool = True,
    ) -> Any:
        """Send one operation, paced and repeated by core's loop; return its JSON (``None`` for an empty answer).

        A 401/403 refreshes the access token once and repeats the call; 429, 5xx, timeouts,
        dropped connections and unreadable answers are repeated ``max_retries`` times (see the
        module docstring); any other error status raises at once.
        """
        path = PATHS[operation].format(**{k: quote(v, safe="") for k, v in (path_params or {}).items()})
        call = _Call(self, operation, f"{self._settings.sp_api_url(self.region)}{path}", query, body)
        call.refreshed = not refresh_on_denied
        return await retrying(call.attempt, self._policy, self._state)


class _Call:
    """One SP-API operation with its arguments; ``attempt`` sends it once (and once more with a fresh token)."""

    __slots__ = ("api", "operation", "url", "method", "query", "body", "key", "plan", "refreshed")

    def __init__(
        self, api: SpApi, operation: str, url: str, query: list[tuple[str, str]] | None, body: dict[str, Any] | None
    ) -> None:
        self.api, self.operation, self.url, self.query, self.body = api, operation, url, query or None, body
        self.method = "POST" if body is not None else "GET"
        self.key = api.bucket_key(operation)
        self.plan = USAGE_PLANS[operation]
        self.refreshed = False

    async def attempt(self) -> Any:
        """Send the call once; a first 401/403 gets a fresh access token and one repeat. Raise what it failed with."""
        status, headers, payload, token = await self._send()
        if status in (401, 403) and not self.refreshed:
            # The token may have expired early or been revoked: one fresh token settles which.
            self.api.log.info(
                "amazon %s -> HTTP %d (x-amzn-RequestId %s); refreshing the access token",
                self.operation, status, headers.get(REQUEST_ID_HEADER),
            )
            self.refreshed = True
            await self.api._state.tokens.invalidate(self.api._token_key, token)
            status, headers, payload, token = await self._send()
        request_id = headers.get(REQUEST_ID_HEADER)
        if status < 300:
            self.api.log.debug("amazon %s -> HTTP %d (x-amzn-RequestId %s)", self.operation, status, request_id)
            data = parse_json(payload)
            if not payload or data is not None:
                return data
            raise _unreadable(self.operation, request_id)
        error = parse_error_list(payload)
        self.api.log.warning(
            "amazon %s -> HTTP %d %s (x-amzn-RequestId %s)", self.operation, status, error.code or "-", request_id
        )
        retry_after = None
        if status == 429 and self.api._settings.pacing:
            # Amazon sends no Retry-After: the wait is its bucket's, which only pacing keeps.
            retry_after = await self.api._state.pacer.throttled(self.key, self.plan.rate, self.plan.burst)
        raise api_error(status, self.operation, error, request_id, retry_after)

    async def _send(self) -> tuple[int, Mapping[str, str], bytes, str]:
        api, settings, state = self.api, self.api._settings, self.api._state
        if settings.pacing:
            await state.pacer.acquire(self.key, self.plan.rate, self.plan.burst, settings.max_pacing_wait)
        token = await api.access_token()
        headers = {"x-amz-access-token": token, "user-agent": api._user_agent, "accept": "application/json"}
        if self.body is not None:
            headers["content-type"] = "application/json"
        status, answer_headers, payload = await exchange(
            api._http, self.method, self.url, shop=SHOP, shop_id=SHOP_ID, operation=self.operation, log=api.log,
            params=self.query, json=self.body, headers=headers, timeout=api._timeout,
        )
        rate = rate_header(answer_headers)
        if rate is not None:
            state.pacer.resize(self.key, rate, self.plan.burst)
        return status, answer_headers, payload, token


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
