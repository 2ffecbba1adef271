"""authorize, check_connection and disconnect: consent URLs, the callback, the Login URI."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from aioresponses import aioresponses

import connectors.amazon
from connectors.amazon.client import ClientState
from core.contract.errors import ConfigError, ConnectorAuthFailed, InvalidInput
from core.contract.models import AuthCallback, Authorization, AuthRedirect, AuthStart, ConnectionState
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import (
    CLIENT_SECRET,
    DE,
    NL,
    PARTICIPATIONS_URL,
    REFRESH_TOKEN,
    TOKEN_URL,
    amazon_settings,
    participations_answer,
    requests_to,
    token_answer,
)

REDIRECT_URI = "https://hub.example/connect/callback"
PRODUCTION = {"endpoint": None}


def start(marketplace: str | None = "NL", **options: str) -> AuthStart:
    chosen = {"marketplace": marketplace} if marketplace else {}
    return AuthStart(state="signed.state", redirect_uri=REDIRECT_URI, options={**chosen, **options})


def callback(**params: str) -> AuthCallback:
    values = {"state": "signed.state", "selling_partner_id": "A3NEWSELLER", "spapi_oauth_code": "ANcode123"}
    return AuthCallback(redirect_uri=REDIRECT_URI, params={k: v for k, v in {**values, **params}.items() if v})


def pending(make_context: MakeContext, **changes: object) -> object:
    return make_context(
        credentials={}, marketplaces=[], external_account_id=None, connection_state=ConnectionState.PENDING, **changes
    )


async def test_consent_url_goes_to_the_marketplaces_seller_central(make_context: MakeContext) -> None:
    redirect = await connectors.amazon.authorize(
        pending(make_context, settings=amazon_settings(**PRODUCTION)), start("NL")
    )

    assert isinstance(redirect, AuthRedirect)
    url = urlsplit(redirect.url)
    assert (url.scheme, url.netloc, url.path) == ("https", "sellercentral.amazon.nl", "/apps/authorize/consent")
    assert parse_qs(url.query) == {
        "application_id": ["amzn1.sellerapps.app.test"],
        "state": ["signed.state"],
        "redirect_uri": [REDIRECT_URI],
    }


@pytest.mark.parametrize(
    ("chosen", "host"),
    [
        ("DE", "sellercentral-europe.amazon.com"),
        (DE, "sellercentral-europe.amazon.com"),
        ("us", "sellercentral.amazon.com"),
    ],
)
async def test_marketplace_may_be_a_country_or_an_id(make_context: MakeContext, chosen: str, host: str) -> None:
    redirect = await connectors.amazon.authorize(
        pending(make_context, settings=amazon_settings(**PRODUCTION)), start(chosen)
    )
    assert urlsplit(redirect.url).netloc == host


async def test_a_draft_app_asks_for_the_beta_version(make_context: MakeContext) -> None:
    redirect = await connectors.amazon.authorize(
        pending(make_context, settings=amazon_settings(draft_app=True)), start()
    )
    assert parse_qs(urlsplit(redirect.url).query)["version"] == ["beta"]
    assert redirect.url.startswith("https://amazon.test/apps/authorize/consent?")


async def test_without_a_choice_the_connections_first_marketplace_is_used(make_context: MakeContext) -> None:
    context = make_context(settings=amazon_settings(**PRODUCTION), marketplaces=[DE, NL])
    redirect = await connectors.amazon.authorize(context, start(None))
    assert urlsplit(redirect.url).netloc == "sellercentral-europe.amazon.com"


@pytest.mark.parametrize("marketplace", [None, "XX"])
async def test_an_unknown_or_missing_marketplace_is_invalid_input(
    make_context: MakeContext, marketplace: str | None
) -> None:
    with pytest.raises(InvalidInput, match="NL, DE"):
        await connectors.amazon.authorize(pending(make_context), start(marketplace))


async def test_an_unconfigured_app_cannot_start(make_context: MakeContext) -> None:
    with pytest.raises(ConfigError, match="application_id"):
        await connectors.amazon.authorize(pending(make_context, settings=amazon_settings(application_id="")), start())


async def test_login_uri_reauthorisation_sends_the_browser_back_to_amazon(make_context: MakeContext) -> None:
    step = start(
        None,
        amazon_callback_uri="https://sellercentral.amazon.nl/apps/authorize/confirm/amzn1.sellerapps.app.test",
        amazon_state="amz-state-1",
        version="beta",
    )

    redirect = await connectors.amazon.authorize(make_context(settings=amazon_settings(**PRODUCTION)), step)

    url = urlsplit(redirect.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == step.options["amazon_callback_uri"]
    assert parse_qs(url.query) == {
        "redirect_uri": [REDIRECT_URI],
        "amazon_state": ["amz-state-1"],
        "state": ["signed.state"],
        "version": ["beta"],
    }


@pytest.mark.parametrize(
    "callback_uri",
    [
        "https://evil.example/apps/authorize/confirm",
        "javascript:alert(1)",
        "https://sellercentral.amazon.nl.evil.example/x",
    ],
)
async def test_login_uri_never_redirects_outside_seller_central(make_context: MakeContext, callback_uri: str) -> None:
    step = start(None, amazon_callback_uri=callback_uri, amazon_state="s")
    with pytest.raises(InvalidInput, match="Seller Central"):
        await connectors.amazon.authorize(make_context(settings=amazon_settings(**PRODUCTION)), step)


async def test_callback_exchanges_the_code_and_reads_the_marketplaces(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload={**token_answer("Atza|new"), "refresh_token": "Atzr|new-grant"})
    mocked.get(
        PARTICIPATIONS_URL,
        payload=participations_answer(
            (NL, "NL", True), (DE, "DE", True), ("A13V1IB3VIYZZH", "FR", False), ("A1ZFFQZ3HTUKT9", "DE", True)
        ),
    )

    result = await connectors.amazon.authorize(pending(make_context), callback())

    assert isinstance(result, Authorization)
    assert result.external_account_id == "A3NEWSELLER"
    assert {key: value.get_secret_value() for key, value in result.credentials.items()} == {
        "refresh_token": "Atzr|new-grant",
        "region": "EU",
    }
    # Every offered marketplace the seller sells in, as the codes the manifest offers; FR is not
    # participating and the unknown id is none the hub offers.
    assert result.marketplaces == ["NL", "DE"]
    assert result.display_name == "Koffiebranderij De Boon"
    [(_, exchange)] = requests_to(mocked, "POST", TOKEN_URL)
    assert parse_qs(exchange["data"]) == {
        "grant_type": ["authorization_code"],
        "code": ["ANcode123"],
        "redirect_uri": [REDIRECT_URI],
        "client_id": ["amzn1.application-oa2-client.test"],
        "client_secret": [CLIENT_SECRET],
    }
    [(_, call)] = requests_to(mocked, "GET", PARTICIPATIONS_URL)
    assert call["headers"]["x-amz-access-token"] == "Atza|new", "the exchanged access token is used, not refreshed"


async def test_callback_finds_the_region_the_grant_belongs_to(
    mocked: aioresponses, http: object, state: ClientState, make_context: MakeContext
) -> None:
    settings = amazon_settings(
        endpoint=None,
        lwa_url=TOKEN_URL,
        sp_api={"EU": "https://eu.amazon.test", "NA": "https://na.amazon.test", "FE": "https://fe.amazon.test"},
    )
    mocked.post(TOKEN_URL, payload=token_answer())
    denied = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
    mocked.get("https://eu.amazon.test/sellers/v1/marketplaceParticipations", status=403, payload=denied)
    mocked.get(
        "https://na.amazon.test/sellers/v1/marketplaceParticipations",
        payload=participations_answer(("ATVPDKIKX0DER", "US", True)),
    )

    result = await connectors.amazon.authorize(pending(make_context, settings=settings), callback())

    assert result.credentials["region"].get_secret_value() == "NA"
    assert result.marketplaces == [], "the hub offers no NA marketplace"
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 1, "a wrong region is not a reason to refresh"


async def test_callback_refused_in_every_region_is_auth_failed(
    mocked: aioresponses, state: ClientState, make_context: MakeContext
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(
        PARTICIPATIONS_URL, status=403, payload={"errors": [{"code": "Unauthorized", "message": "denied"}]}, repeat=True
    )

    with pytest.raises(ConnectorAuthFailed, match="roles"):
        await connectors.amazon.authorize(pending(make_context), callback())
    assert len(requests_to(mocked, "GET", PARTICIPATIONS_URL)) == 3


async def test_a_declined_consent_is_auth_failed(mocked: aioresponses, make_context: MakeContext) -> None:
    with pytest.raises(ConnectorAuthFailed, match="declined"):
        await connectors.amazon.authorize(pending(make_context), callback(error="access_denied", spapi_oauth_code=""))
    assert mocked.requests == {}


@pytest.mark.parametrize(
    "missing", [{"spapi_oauth_code": ""}, {"selling_partner_id": ""}, {"selling_partner_id": "A1<script>"}]
)
async def test_callback_without_code_or_seller_is_invalid_input(
    mocked: aioresponses, make_context: MakeContext, missing: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput):
        await connectors.amazon.authorize(pending(make_context), callback(**missing))
    assert mocked.requests == {}


async def test_an_expired_code_asks_to_connect_again(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(
        TOKEN_URL,
        status=400,
        payload={"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : code"},
    )

    with pytest.raises(ConnectorAuthFailed, match="expired or was already used"):
        await connectors.amazon.authorize(pending(make_context), callback())


async def test_check_connection_refreshes_and_reads_participations(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload=participations_answer((NL, "NL", True)))

    await connectors.amazon.check_connection(make_context())

    [(_, refresh)] = requests_to(mocked, "POST", TOKEN_URL)
    assert parse_qs(refresh["data"])["refresh_token"] == [REFRESH_TOKEN]


async def test_check_connection_of_a_revoked_grant_is_auth_failed(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, status=400, payload={"error": "invalid_grant", "error_description": "User may have revoked"})
    with pytest.raises(ConnectorAuthFailed):
        await connectors.amazon.check_connection(make_context())


async def test_disconnect_forgets_the_access_token(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(PARTICIPATIONS_URL, payload=participations_answer((NL, "NL", True)), repeat=True)
    context = make_context()

    await connectors.amazon.check_connection(context)
    await connectors.amazon.check_connection(context)
    await connectors.amazon.disconnect(context)
    await connectors.amazon.check_connection(context)

    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2
