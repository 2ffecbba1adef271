"""The Retailer API client's edge cases against aioresponses: tokens, retries, throttling, errors, headers."""

from __future__ import annotations

import asyncio
import base64
import logging

import asyncpg
import pytest
from aioresponses import aioresponses

from connectors.bol.client import PACING_MARGIN, BolApi, BolState, connection_api, plan_of, usable_burst
from connectors.bol.const import GET_ORDERS, MEDIA_TYPE, RATE_LIMITS
from connectors.bol.errors import BolRejected
from core.hubapi import (
    ConnectorAuthFailed,
    ConnectorNotReady,
    ConnectorRejected,
    RateLimited,
)
from core.infra.coordination import DatabaseCoordination, MemoryCoordination
from core.infra.crypto import Vault, new_key
from core.infra.shopclient import TokenBucket
from tests.connectors.bol.conftest import MakeContext
from tests.connectors.bol.fakes import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ORDERS_URL,
    RETAILER_URL,
    SHIPMENTS_URL,
    TOKEN_URL,
    FakeClock,
    bol_settings,
    reduced_order,
    requests_to,
    retailer_answer,
    token_answer,
)

EXPIRED = {"title": "Expired JWT", "status": 401, "detail": "JWT expired at 2026-03-02T11:04:59Z."}
TOO_MANY = {"title": "Too Many Requests", "status": 429, "detail": "Too many requests, retry in 4 seconds."}
BAD_CLIENT = {"error": "invalid_client", "error_description": "Bad client credentials"}
SERVER = {"type": "https://api.bol.com/problems", "title": "Internal Server Error", "status": 500, "detail": "Oops", "violations": []}


def api_for(make_context: MakeContext, state: BolState, **settings: object) -> BolApi:
    context = make_context(settings=bol_settings(**settings))
    return connection_api(context, context.settings, state)  # type: ignore[arg-type]


async def test_one_token_serves_many_calls_and_is_renewed_before_it_expires(
    mocked: aioresponses, api: BolApi, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer("token-1"))
    mocked.post(TOKEN_URL, payload=token_answer("token-2"))
    mocked.get(RETAILER_URL, payload=retailer_answer(), repeat=True)

    await asyncio.gather(*(api.retailer() for _ in range(20)))
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1
    clock.now = clock.start + 299 - 31  # still valid, and more than 30 s left (pacing moved the clock a little)
    await api.retailer()
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1
    clock.now = clock.start + 299 - 29  # under 30 s left: renewed first
    await api.retailer()
    tokens = requests_to(mocked, "POST", TOKEN_URL)
    assert len(tokens) == 2
    last_call = requests_to(mocked, "GET", RETAILER_URL)[-1][1]
    assert last_call["headers"]["authorization"] == "Bearer token-2"


async def test_token_request_is_basic_auth_with_a_form_body(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    await api.retailer()
    (_, call), = requests_to(mocked, "POST", TOKEN_URL)
    assert call["data"] == "grant_type=client_credentials"
    assert call["headers"]["authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert call["headers"]["accept"] == "application/json"


async def test_calls_send_and_accept_the_v10_media_type(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(SHIPMENTS_URL, status=202, payload={"processStatusId": "1", "eventType": "CREATE_SHIPMENT",
                                                     "description": "x", "status": "PENDING",
                                                     "createTimestamp": "2026-03-02T13:00:00+01:00", "links": []})
    await api.create_shipment({"orderItems": [{"orderItemId": "1"}]})
    (_, call), = requests_to(mocked, "POST", SHIPMENTS_URL)
    assert call["headers"]["accept"] == MEDIA_TYPE
    assert call["headers"]["content-type"] == MEDIA_TYPE
    assert call["headers"]["authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_an_expired_token_is_renewed_once_and_the_call_repeated(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer("token-1"))
    mocked.post(TOKEN_URL, payload=token_answer("token-2"))
    mocked.get(RETAILER_URL, status=401, payload=EXPIRED)
    mocked.get(RETAILER_URL, payload=retailer_answer())
    assert (await api.retailer())["retailerId"] == "1055479"
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2


async def test_a_second_401_means_the_credentials_are_refused(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(RETAILER_URL, status=401, payload=EXPIRED, repeat=True)
    with pytest.raises(ConnectorAuthFailed, match="reconnect bol.com"):
        await api.retailer()
    assert len(requests_to(mocked, "GET", RETAILER_URL)) == 2


async def test_bad_client_credentials_say_where_to_find_good_ones(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, status=401, payload=BAD_CLIENT, repeat=True)
    with pytest.raises(ConnectorAuthFailed, match="Instellingen > Diensten > API instellingen") as caught:
        await api.retailer()
    assert "Bad client credentials" in str(caught.value)
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1  # refused credentials are not asked again


async def test_429_waits_retry_after_and_repeats(mocked: aioresponses, api: BolApi, clock: FakeClock) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=429, payload=TOO_MANY, headers={"Retry-After": "4"})
    mocked.get(RETAILER_URL, payload=retailer_answer())
    await api.retailer()
    assert clock.elapsed >= 4


async def test_429_beyond_retries_raises_rate_limited_with_retry_after(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    api = api_for(make_context, state, max_retries=1)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=429, payload=TOO_MANY, headers={"retry-after": "3"}, repeat=True)
    with pytest.raises(RateLimited) as caught:
        await api.retailer()
    assert caught.value.retry_after == pytest.approx(3, abs=0.2)


async def test_a_long_retry_after_gives_up_at_once(mocked: aioresponses, make_context: MakeContext, state: BolState) -> None:
    api = api_for(make_context, state, max_pacing_wait=10)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=429, payload=TOO_MANY, headers={"Retry-After": "120"}, repeat=True)
    with pytest.raises(RateLimited):
        await api.retailer()
    assert len(requests_to(mocked, "GET", RETAILER_URL)) == 1


async def test_5xx_is_retried_then_not_ready(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=500, payload=SERVER, repeat=True)
    with pytest.raises(ConnectorNotReady):
        await api.retailer()
    assert len(requests_to(mocked, "GET", RETAILER_URL)) == 4  # max_retries 3


async def test_a_shipment_post_is_never_repeated_after_a_5xx_or_a_timeout(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(SHIPMENTS_URL, status=503, payload=SERVER)
    with pytest.raises(ConnectorNotReady):
        await api.create_shipment({"orderItems": [{"orderItemId": "1"}]})
    mocked.post(SHIPMENTS_URL, exception=TimeoutError())
    with pytest.raises(ConnectorNotReady):
        await api.create_shipment({"orderItems": [{"orderItemId": "1"}]})
    assert len(requests_to(mocked, "POST", SHIPMENTS_URL)) == 2


async def test_a_shipment_post_is_repeated_after_a_429(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(SHIPMENTS_URL, status=429, payload=TOO_MANY, headers={"Retry-After": "1"})
    mocked.post(SHIPMENTS_URL, status=202, payload={"processStatusId": "7", "status": "PENDING"})
    assert (await api.create_shipment({"orderItems": [{"orderItemId": "1"}]}))["processStatusId"] == "7"


async def test_a_problem_becomes_a_rejection_naming_the_violation(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    problem = {
        "type": "https://api.bol.com/problems", "title": "Error validating request.", "status": 400,
        "detail": "Bad request", "violations": [{"name": "orderItems[0].quantity", "reason": "Must be at least 1."}],
    }
    mocked.post(SHIPMENTS_URL, status=400, payload=problem)
    with pytest.raises(BolRejected, match=r"orderItems\[0\]\.quantity: Must be at least 1") as caught:
        await api.create_shipment({"orderItems": [{"orderItemId": "1", "quantity": 0}]})
    assert isinstance(caught.value, ConnectorRejected)


async def test_an_inactive_account_is_auth_failed_with_the_reason(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    forbidden = {"title": "Forbidden", "status": 403, "detail": "Account is not active, access denied."}
    mocked.get(RETAILER_URL, status=403, payload=forbidden, repeat=True)
    with pytest.raises(ConnectorAuthFailed, match="Account is not active"):
        await api.retailer()


async def test_an_empty_order_list_is_no_orders(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDERS_URL, payload={})
    assert await api.orders(1, status="OPEN") == []


async def test_an_unknown_order_is_none(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    missing = {"type": "https://api.bol.com/problems", "title": "Not Found", "status": 404, "detail": "Not found", "violations": []}
    mocked.get(f"{RETAILER_URL.rsplit('/retailers', 1)[0]}/orders/A2K8290LP8", status=404, payload=missing)
    assert await api.order("A2K8290LP8") is None


async def test_an_empty_bucket_at_bol_waits_for_the_next_call_at_the_limits_rate(
    mocked: aioresponses, api: BolApi, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    headers = {"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"}
    mocked.get(ORDERS_URL, payload={"orders": [reduced_order("1")]}, headers=headers)
    mocked.get(ORDERS_URL, payload={})
    await api.orders(1)
    assert clock.elapsed == 0
    await api.orders(2)
    assert clock.elapsed == pytest.approx(60 / 25, abs=0.1)  # one call's worth, not the whole window


def test_a_bucket_paces_a_burst_at_the_published_rate() -> None:
    rate, burst = plan_of(RATE_LIMITS[GET_ORDERS])  # 25 a minute
    bucket = TokenBucket(rate, burst, now=0.0)
    waits = [bucket.reserve(0.0, PACING_MARGIN) for _ in range(30)]
    assert burst == usable_burst(25) == 20  # a fifth held back for calls that reach bol.com late
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(60 / 25, abs=0.1)
    assert waits[29] == pytest.approx(10 * 60 / 25, abs=0.1)


async def test_rate_limit_headers_only_make_the_bucket_stricter(
    mocked: aioresponses, api: BolApi, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDERS_URL, payload={}, headers={"x-ratelimit-remaining": "30"})
    mocked.get(ORDERS_URL, payload={}, headers={"X-RateLimit-Remaining": "3"})
    mocked.get(ORDERS_URL, payload={}, headers={"X-Ratelimit-Limit": "10", "x-ratelimit-remaining": "0"})
    rate, burst = plan_of(RATE_LIMITS[GET_ORDERS])
    bucket = state.pacer.bucket(api.bucket_key(GET_ORDERS), rate, burst)
    now = state.clock.monotonic()

    await api.orders(1)
    assert bucket.tokens == pytest.approx(usable_burst(25) - 1)  # never more than the hub's own burst
    await api.orders(2)
    assert bucket.tokens == pytest.approx(3)
    await api.orders(3)
    assert bucket.rate == pytest.approx(10 / 60) and bucket.burst == usable_burst(10)
    assert bucket.wait_time(now) == pytest.approx(6)  # 10 a minute


async def test_secrets_never_reach_the_logs(
    mocked: aioresponses, api: BolApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=401, payload=EXPIRED)
    mocked.post(TOKEN_URL, status=401, payload=BAD_CLIENT)
    with pytest.raises(ConnectorAuthFailed):
        await api.retailer()
    text = caplog.text
    assert caplog.records
    for secret in (CLIENT_SECRET, ACCESS_TOKEN, base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()):
        assert secret not in text


async def test_without_pacing_a_429_still_waits_its_retry_after(
    mocked: aioresponses, make_context: MakeContext, state: BolState, clock: FakeClock
) -> None:
    api = api_for(make_context, state, pacing=False)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, status=429, payload=TOO_MANY, headers={"Retry-After": "4"})
    mocked.get(RETAILER_URL, payload=retailer_answer())
    await api.retailer()
    assert clock.elapsed >= 4


async def test_processes_sharing_cores_coordination_ask_one_token_and_keep_one_bucket(
    mocked: aioresponses, make_context: MakeContext, clock: FakeClock
) -> None:
    shared = MemoryCoordination(clock=clock.monotonic)
    states = [BolState(clock=clock, coordination=shared) for _ in range(3)]
    apis = [api_for(make_context, state) for state in states]
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDERS_URL, payload={}, repeat=True)

    await asyncio.gather(*(apis[n % 3].orders(n + 1) for n in range(24)))

    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1
    rate, burst = plan_of(RATE_LIMITS[GET_ORDERS])
    # Alone, each process would have spent a burst of its own (8 calls each, under 20): no call would wait.
    assert len(clock.sleeps) == 24 - burst
    assert clock.sleeps[0] == pytest.approx(1 / rate + PACING_MARGIN)


async def test_signature_keys_are_fetched_once_for_every_process_and_at_most_once_per_interval(
    clock: FakeClock,
) -> None:
    shared = MemoryCoordination(clock=clock.monotonic)
    one, other = (BolState(clock=clock, coordination=shared).signature_keys for _ in range(2))
    published = {"1": b"first"}
    fetched = 0

    async def fetch() -> dict[str, bytes]:
        nonlocal fetched
        fetched += 1
        return dict(published)

    assert await one.key("1", fetch, 60) == b"first"
    assert await other.key("1", fetch, 60) == b"first"
    assert fetched == 1
    published["2"] = b"rotated"
    assert await other.key("2", fetch, 60) is None, "fetched within the interval: refused, not fetched again"
    clock.now += 61
    assert await other.key("2", fetch, 60) == b"rotated"
    assert await one.key("2", fetch, 60) == b"rotated"
    assert await one.key("3", fetch, 60) is None
    assert fetched == 2 and (one.fetches, other.fetches) == (1, 1)


class _BucketWriteFails(MemoryCoordination):
    """Buckets taken in memory, but emptying one meets a database that went away (its pool closed)."""

    def __init__(self, gone: DatabaseCoordination, clock: FakeClock) -> None:
        super().__init__(clock=clock.monotonic)
        self.gone = gone

    async def throttled(self, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
        return await self.gone.throttled(key, rate, burst, hold)


async def test_an_answer_is_kept_when_the_shared_bucket_cannot_be_emptied(
    mocked: aioresponses, make_context: MakeContext, clock: FakeClock, database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    gone = DatabaseCoordination(pool, Vault([new_key().encode()]))
    api = api_for(make_context, BolState(clock=clock, coordination=_BucketWriteFails(gone, clock)))
    mocked.post(TOKEN_URL, payload=token_answer())
    accepted = {"processStatusId": "019d4d55-0001", "eventType": "CREATE_SHIPMENT", "status": "PENDING",
                "description": "Create shipment", "createTimestamp": "2026-03-02T13:00:00+01:00", "links": []}
    mocked.post(SHIPMENTS_URL, status=202, payload=accepted, headers={"X-RateLimit-Remaining": "0"})

    status = await api.create_shipment({"orderItems": [{"orderItemId": "6107331383", "quantity": 1}]})

    assert status["processStatusId"] == "019d4d55-0001"  # delivered, though the bucket write failed
    assert len(requests_to(mocked, "POST", SHIPMENTS_URL)) == 1
    assert "the rate bucket was not emptied" in caplog.text
