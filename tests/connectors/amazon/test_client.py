"""The SP-API client's edge cases against aioresponses: tokens, retries, throttling, logs."""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qs

import aiohttp
import pytest
from aioresponses import aioresponses

from connectors.amazon.client import ClientState, SpApi, bucket_key, connection_api
from connectors.amazon.const import (
    GET_MARKETPLACE_PARTICIPATIONS,
    GET_ORDER,
    PACING_MARGIN,
    SEARCH_ORDERS,
    USAGE_PLANS,
    Region,
)
from connectors.amazon.errors import AmazonError, AmazonRejected, api_error
from core.contract.errors import (
    ConfigError,
    ConnectorAuthFailed,
    ConnectorNotReady,
    ConnectorRejected,
    RateLimited,
    read_message,
)
from core.infra.coordination import MemoryCoordination
from core.infra.shopclient import TokenBucket
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    ENDPOINT,
    PARTICIPATIONS_URL,
    REFRESH_TOKEN,
    SELLER,
    TOKEN_URL,
    FakeClock,
    amazon_settings,
    participations_answer,
    requests_to,
    token_answer,
)

ORDER_URL = re.compile(r"^https://amazon\.test/orders/2026-01-01/orders/[^/?]+(\?.*)?$")
PARTICIPATIONS = participations_answer(("A1805IZSGTT6HS", "NL", True))
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided is revoked, malformed or invalid.",
        }
    ]
}
QUOTA = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}


def api_for(make_context: MakeContext, state: ClientState, **settings: object) -> SpApi:
    context = make_context(settings=amazon_settings(**settings))
    return connection_api(context, context.settings, state)  # type: ignore[arg-type]


async def test_calls_carry_user_agent_token_and_json_headers(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS, headers={"x-amzn-RequestId": "req-1"})

    await api_for(make_context, state).marketplace_participations()

    [(_, lwa)] = requests_to(mocked, "POST", TOKEN_URL)
    form = parse_qs(lwa["data"])
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH_TOKEN],
        "client_id": ["amzn1.application-oa2-client.test"],
        "client_secret": [CLIENT_SECRET],
    }
    assert lwa["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    [(_, call)] = requests_to(mocked, "GET", PARTICIPATIONS_URL)
    assert call["headers"]["x-amz-access-token"] == ACCESS_TOKEN
    assert re.fullmatch(r"hub/[\w.+-]+ \(Language=Python/\d+\.\d+\.\d+\w*\)", call["headers"]["user-agent"])


async def test_access_token_is_reused_until_five_minutes_before_expiry(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer("Atza|first"))
    mocked.post(TOKEN_URL, payload=token_answer("Atza|second"))
    mocked.get(ORDER_URL, payload={"order": {}}, repeat=True)
    api = api_for(make_context, state)

    await api.get_order("028-1", [])
    clock.now += 3600 - 301
    await api.get_order("028-1", [])
    clock.now += 2
    await api.get_order("028-1", [])

    tokens = [call["headers"]["x-amz-access-token"] for _, call in requests_to(mocked, "GET", ORDER_URL)]
    assert tokens == ["Atza|first", "Atza|first", "Atza|second"]


async def test_concurrent_calls_share_one_token_refresh(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    refreshes = 0

    async def slow_token(url: object, **kwargs: object) -> None:
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0)  # let every other caller reach the lock meanwhile

    mocked.post(TOKEN_URL, payload=token_answer(), callback=slow_token, repeat=True)
    mocked.get(ORDER_URL, payload={"order": {"orderId": "x"}}, repeat=True)
    api = api_for(make_context, state)

    await asyncio.gather(*(api.get_order(f"028-{n}", []) for n in range(25)))

    assert refreshes == 1
    assert len(requests_to(mocked, "GET", ORDER_URL)) == 25


async def test_denied_call_refreshes_the_token_once_and_repeats(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer("Atza|stale"))
    mocked.post(TOKEN_URL, payload=token_answer("Atza|fresh"))
    mocked.get(PARTICIPATIONS_URL, status=403, payload=UNAUTHORIZED)
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS)

    result = await api_for(make_context, state).marketplace_participations()

    assert result[0]["marketplace"]["id"] == "A1805IZSGTT6HS"
    tokens = [call["headers"]["x-amz-access-token"] for _, call in requests_to(mocked, "GET", PARTICIPATIONS_URL)]
    assert tokens == ["Atza|stale", "Atza|fresh"]


async def test_denied_again_with_a_fresh_token_is_auth_failed(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(PARTICIPATIONS_URL, status=403, payload=UNAUTHORIZED, repeat=True)

    with pytest.raises(ConnectorAuthFailed, match="Reconnect Amazon"):
        await api_for(make_context, state).marketplace_participations()

    assert len(requests_to(mocked, "GET", PARTICIPATIONS_URL)) == 2
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2


async def test_revoked_refresh_token_is_auth_failed_asking_to_reconnect(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(
        TOKEN_URL,
        status=400,
        payload={
            "error": "invalid_grant",
            "error_description": "The request has an invalid grant parameter : refresh_token. "
            "User may have revoked or didn't grant the permission.",
        },
    )

    with pytest.raises(ConnectorAuthFailed, match="Reconnect Amazon under Settings > Integrations") as caught:
        await api_for(make_context, state).marketplace_participations()

    assert "revoked" in (caught.value.detail or "")
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1, "a refused grant is not retried"
    assert requests_to(mocked, "GET", PARTICIPATIONS_URL) == []


async def test_wrong_client_secret_is_a_config_error_for_the_operator(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(
        TOKEN_URL, status=401, payload={"error": "invalid_client", "error_description": "Client authentication failed"}
    )

    with pytest.raises(ConfigError, match="client_secret"):
        await api_for(make_context, state).marketplace_participations()


async def test_lwa_server_error_is_retried(mocked: aioresponses, make_context: MakeContext, state: ClientState) -> None:
    mocked.post(TOKEN_URL, status=500, payload={"error": "server_error", "error_description": "oops"})
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS)

    assert await api_for(make_context, state).marketplace_participations()


async def test_throttled_lwa_is_rate_limited(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(
        TOKEN_URL, status=429, payload={"error": "slow_down", "error_description": "Too many requests."}, repeat=True
    )

    with pytest.raises(RateLimited):
        await api_for(make_context, state).marketplace_participations()
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 4


async def test_missing_app_credentials_name_the_settings(make_context: MakeContext, state: ClientState) -> None:
    with pytest.raises(ConfigError, match="connectors.amazon.client_id"):
        await api_for(make_context, state, client_id="").marketplace_participations()


async def test_throttled_call_without_rate_header_waits_for_the_bucket_then_succeeds(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, status=429, payload=QUOTA)
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS)

    assert await api_for(make_context, state).marketplace_participations()

    # Amazon said the bucket is empty: the next call waits at least one token's worth (1/0.016 s).
    assert clock.elapsed >= 1 / USAGE_PLANS[GET_MARKETPLACE_PARTICIPATIONS].rate
    assert len(requests_to(mocked, "GET", PARTICIPATIONS_URL)) == 2


async def test_throttling_that_persists_is_rate_limited_with_a_retry_after(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDER_URL, status=429, payload=QUOTA, repeat=True)

    with pytest.raises(RateLimited) as caught:
        await api_for(make_context, state).get_order("028-1", [])

    assert caught.value.retry_after == pytest.approx(1 / USAGE_PLANS[GET_ORDER].rate)
    assert len(requests_to(mocked, "GET", ORDER_URL)) == 4  # max_retries=3


async def test_server_errors_are_retried_a_bounded_number_of_times_with_jitter(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(
        ORDER_URL, status=503, payload={"errors": [{"code": "ServiceUnavailable", "message": "busy"}]}, repeat=True
    )

    with pytest.raises(ConnectorNotReady):
        await api_for(make_context, state, max_retries=4, backoff_base=1.0, backoff_max=5.0).get_order("028-1", [])

    assert len(requests_to(mocked, "GET", ORDER_URL)) == 5
    assert len(clock.sleeps) == 4
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(clock.sleeps, [1, 2, 4, 5], strict=True))


async def test_timeouts_and_dropped_connections_are_retried(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDER_URL, exception=TimeoutError())
    mocked.get(ORDER_URL, exception=aiohttp.ServerDisconnectedError())
    mocked.get(ORDER_URL, payload={"order": {"orderId": "028-1"}})

    assert await api_for(make_context, state).get_order("028-1", []) == {"orderId": "028-1"}


async def test_malformed_json_is_retried_as_a_server_fault(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDER_URL, body=b'{"order": {"orderId": "028-1"', content_type="application/json")
    mocked.get(ORDER_URL, payload={"order": {"orderId": "028-1"}})

    assert await api_for(make_context, state).get_order("028-1", []) == {"orderId": "028-1"}


async def test_malformed_json_that_persists_is_not_ready(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDER_URL, body=b"<html>gateway</html>", content_type="text/html", repeat=True)

    with pytest.raises(ConnectorNotReady, match="unreadable"):
        await api_for(make_context, state).get_order("028-1", [])


async def test_json_of_the_wrong_shape_is_not_ready(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload={"payload": {"not": "a list"}})

    with pytest.raises(ConnectorNotReady):
        await api_for(make_context, state).marketplace_participations()


async def test_bad_request_is_rejected_at_once_with_amazons_message(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(
        ORDER_URL,
        status=400,
        payload={"errors": [{"code": "InvalidInput", "message": "Invalid orderId", "details": ""}]},
    )

    with pytest.raises(ConnectorRejected, match="InvalidInput: Invalid orderId"):
        await api_for(make_context, state).get_order("bad", [])

    assert len(requests_to(mocked, "GET", ORDER_URL)) == 1


async def test_rate_header_sets_the_sellers_bucket_rate(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS, headers={"x-amzn-RateLimit-Limit": "0.5"})
    api = api_for(make_context, state)

    await api.marketplace_participations()

    plan = USAGE_PLANS[GET_MARKETPLACE_PARTICIPATIONS]
    assert state.pacer.bucket(api.bucket_key(GET_MARKETPLACE_PARTICIPATIONS), plan.rate, plan.burst).rate == 0.5


async def test_request_ids_are_logged_and_secrets_never(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, status=403, payload=UNAUTHORIZED, headers={"x-amzn-RequestId": "rid-denied"})
    mocked.post(TOKEN_URL, payload=token_answer("Atza|second-SECRET"))
    mocked.get(PARTICIPATIONS_URL, status=500, payload={"errors": []}, headers={"x-amzn-RequestId": "rid-500"})
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS, headers={"x-amzn-RequestId": "rid-ok"})

    await api_for(make_context, state).marketplace_participations()

    for request_id in ("rid-denied", "rid-500", "rid-ok"):
        assert request_id in caplog.text
    for secret in (REFRESH_TOKEN, ACCESS_TOKEN, "Atza|second-SECRET", CLIENT_SECRET, "SECRET"):
        assert secret not in caplog.text


async def test_connection_without_credentials_is_auth_failed(make_context: MakeContext, state: ClientState) -> None:
    context = make_context(credentials={})
    with pytest.raises(ConnectorAuthFailed, match="Reconnect"):
        connection_api(context, context.settings, state)  # type: ignore[arg-type]


def test_region_comes_from_the_marketplaces_when_credentials_lack_it(
    make_context: MakeContext, state: ClientState
) -> None:
    context = make_context(credentials={"refresh_token": REFRESH_TOKEN}, marketplaces=["ATVPDKIKX0DER"])
    api = connection_api(context, context.settings, state)  # type: ignore[arg-type]
    assert api.region is Region.NA
    assert api.bucket_key(SEARCH_ORDERS) == bucket_key("NA", SELLER, SEARCH_ORDERS) == f"pace:NA:{SELLER}:{SEARCH_ORDERS}"


def test_bucket_spends_its_burst_then_paces_by_rate() -> None:
    plan = USAGE_PLANS[SEARCH_ORDERS]
    bucket = TokenBucket(plan.rate, plan.burst, now=0.0)
    assert [bucket.reserve(0.0, PACING_MARGIN) for _ in range(20)] == [0.0] * 20
    assert bucket.reserve(0.0, PACING_MARGIN) == pytest.approx(1 / 0.0056 + PACING_MARGIN)
    assert bucket.reserve(0.0, PACING_MARGIN) == pytest.approx(2 / 0.0056 + PACING_MARGIN)
    assert bucket.reserve(300.0, PACING_MARGIN) == pytest.approx(3 / 0.0056 - 300 + PACING_MARGIN)


def test_bucket_believes_amazon_when_it_throttles() -> None:
    plan = USAGE_PLANS[GET_ORDER]
    bucket = TokenBucket(plan.rate, plan.burst, now=0.0)
    bucket.drain(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(2.0)
    bucket.resize(1.0, plan.burst, 0.0)
    assert bucket.wait_time(0.0) == pytest.approx(1.0)


def test_production_endpoints_by_region_and_marketplace() -> None:
    from connectors.amazon.const import MARKETPLACES
    from connectors.amazon.settings import AmazonSettings

    settings = AmazonSettings(seller_central={"nl": "https://sc.example"})
    assert settings.sp_api_url(Region.EU) == "https://sellingpartnerapi-eu.amazon.com"
    assert settings.sp_api_url(Region.FE) == "https://sellingpartnerapi-fe.amazon.com"
    assert settings.token_url() == "https://api.amazon.com/auth/o2/token"
    assert settings.consent_url(MARKETPLACES["NL"]) == "https://sc.example/apps/authorize/consent"
    assert settings.consent_url(MARKETPLACES["DE"]) == "https://sellercentral-europe.amazon.com/apps/authorize/consent"
    override = AmazonSettings(endpoint="http://127.0.0.1:9000/")
    assert override.sp_api_url(Region.NA) == "http://127.0.0.1:9000"
    assert override.token_url() == "http://127.0.0.1:9000/auth/o2/token"
    assert override.consent_url(MARKETPLACES["JP"]) == "http://127.0.0.1:9000/apps/authorize/consent"
    assert ENDPOINT.startswith("https://amazon.test")


def shared_states(clock: FakeClock, count: int) -> list[ClientState]:
    """``count`` processes' states whose tokens and buckets live in one coordination service."""
    shared = MemoryCoordination(clock=clock.monotonic)
    return [ClientState(clock=clock, coordination=shared) for _ in range(count)]


async def test_processes_sharing_cores_coordination_refresh_a_token_once(
    mocked: aioresponses, make_context: MakeContext, clock: FakeClock
) -> None:
    refreshes = 0

    async def slow_token(url: object, **kwargs: object) -> None:
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0)

    mocked.post(TOKEN_URL, payload=token_answer(), callback=slow_token, repeat=True)
    mocked.get(ORDER_URL, payload={"order": {"orderId": "x"}}, repeat=True)
    apis = [api_for(make_context, state) for state in shared_states(clock, 3)]

    await asyncio.gather(*(apis[n % 3].get_order(f"028-{n}", []) for n in range(9)))
    clock.now += 3600 - 300 - 1  # still inside the hour, five minutes before expiry
    await apis[2].get_order("028-later", [])

    assert refreshes == 1
    clock.now += 2  # within five minutes of expiry: one process refreshes, for all
    await asyncio.gather(*(api.get_order("028-renewed", []) for api in apis))
    assert refreshes == 2


async def test_a_token_refused_in_one_process_is_renewed_once_for_all(
    mocked: aioresponses, make_context: MakeContext, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer("Atza|stale"))
    mocked.post(TOKEN_URL, payload=token_answer("Atza|fresh"))
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS)
    mocked.get(PARTICIPATIONS_URL, status=403, payload=UNAUTHORIZED)
    mocked.get(PARTICIPATIONS_URL, payload=PARTICIPATIONS, repeat=True)
    one, other = (api_for(make_context, state) for state in shared_states(clock, 2))

    await one.marketplace_participations()  # Atza|stale, accepted
    await other.marketplace_participations()  # Atza|stale refused: renewed for everyone
    await one.marketplace_participations()  # Atza|fresh, no refresh

    tokens = [call["headers"]["x-amz-access-token"] for _, call in requests_to(mocked, "GET", PARTICIPATIONS_URL)]
    assert tokens == ["Atza|stale", "Atza|stale", "Atza|fresh", "Atza|fresh"]
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (429, RateLimited, "shop_throttled"),
        (401, ConnectorAuthFailed, "access_refused"),
        (403, ConnectorAuthFailed, "access_refused"),
        (500, ConnectorNotReady, "shop_not_answering"),
        (408, ConnectorNotReady, "shop_not_answering"),
        (400, AmazonRejected, "request_rejected"),
    ],
)
def test_amazons_answers_follow_cores_status_table_with_catalogued_messages(
    status: int, kind: type[Exception], code: str
) -> None:
    error = AmazonError("InvalidInput", "carrierCode is invalid", "GLS")

    err = api_error(status, GET_ORDER, error, "rid-1", retry_after=2.0)

    assert type(err) is kind and err.message_code == code and err.params["shop"] == "Amazon"
    assert read_message(err.message) == (code, err.params)
    if isinstance(err, AmazonRejected):
        assert err.error is error and err.params["reason"] == "InvalidInput: carrierCode is invalid (GLS)"
    if isinstance(err, RateLimited):
        assert err.retry_after == 2.0
