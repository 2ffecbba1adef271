"""Connecting with pasted credentials, checking, subscribing to events and letting go, against aioresponses."""

from __future__ import annotations

import orjson
import pytest
from aioresponses import aioresponses
from pydantic import SecretStr, ValidationError

from connectors import bol
from connectors.bol import subscription as subscription_module
from connectors.bol.client import BolState, connection_api
from connectors.bol.settings import BolSettings
from core.hubapi import AuthCredentials, AuthStart, ConnectorAuthFailed, InvalidInput, TransientError
from tests.connectors.bol.conftest import MakeContext
from tests.connectors.bol.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    EVENTS_URL,
    RETAILER_ID,
    RETAILER_URL,
    SUBSCRIPTIONS_URL,
    TOKEN_URL,
    FakeClock,
    bol_settings,
    process_status,
    requests_to,
    retailer_answer,
    token_answer,
)
from tests.connectors.bol.sent import check_all, from_mock

PASTED = AuthCredentials(fields={"client_id": SecretStr(f" {CLIENT_ID} "), "client_secret": SecretStr(CLIENT_SECRET)})


def subscription(url: str, *, enabled: bool = True, resources: list[str] | None = None) -> dict[str, object]:
    return {"id": "1234", "resources": resources or ["ORDER", "PROCESS_STATUS"], "url": url, "subscriptionType": "WEBHOOK",
            "enabled": enabled}


async def test_pasted_credentials_are_checked_and_keyed_by_the_retailer(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    context = make_context(credentials={}, external_account_id=None)
    grant = await bol.authorize(context, PASTED)
    assert grant.external_account_id == RETAILER_ID
    assert grant.display_name == "Fietsentuin"
    assert {k: v.get_secret_value() for k, v in grant.credentials.items()} == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert not requests_to(mocked, "GET", SUBSCRIPTIONS_URL)  # no events URL: polling only


async def test_refused_credentials_raise_auth_failed_with_bols_reason(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, status=401, payload={"error": "invalid_client", "error_description": "Bad client credentials"})
    with pytest.raises(ConnectorAuthFailed, match="Bad client credentials"):
        await bol.authorize(make_context(credentials={}, external_account_id=None), PASTED)


async def test_an_empty_field_names_itself(make_context: MakeContext) -> None:
    step = AuthCredentials(fields={"client_id": SecretStr(CLIENT_ID), "client_secret": SecretStr("  ")})
    with pytest.raises(InvalidInput) as caught:
        await bol.authorize(make_context(credentials={}), step)
    assert caught.value.field == "client_secret"
    assert caught.value.message_code == "field_missing" and caught.value.params["field"] == "Client secret"


async def test_a_consent_step_is_refused(make_context: MakeContext) -> None:
    with pytest.raises(InvalidInput, match="Client ID and secret"):
        await bol.authorize(make_context(), AuthStart(state="s", redirect_uri="https://hub.example/connect/callback"))


async def test_a_reconnect_must_name_the_same_retailer(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer("999"))
    with pytest.raises(InvalidInput, match="belong to bol.com retailer 999") as caught:
        await bol.authorize(make_context(), PASTED)
    assert caught.value.message_code == "other_account" and caught.value.params["found"] == "999"


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_connect_subscribes_an_https_events_url_to_orders_and_process_statuses(
    mocked: aioresponses, make_context: MakeContext
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": [subscription("https://elsewhere.example/hook")]})
    mocked.post(SUBSCRIPTIONS_URL, status=202, payload=process_status("sub-1", event="CREATE_SUBSCRIPTION"))
    await bol.authorize(make_context(credentials={}, external_account_id=None, events_url=EVENTS_URL), PASTED)
    ((_, call),) = requests_to(mocked, "POST", SUBSCRIPTIONS_URL)
    assert orjson.loads(call["data"]) == {
        "resources": ["ORDER", "PROCESS_STATUS"], "url": EVENTS_URL, "subscriptionType": "WEBHOOK", "enabled": True,
    }
    check_all(from_mock(mocked))


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_subscription_bol_disabled_is_enabled_again_by_the_check(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": [subscription(EVENTS_URL, enabled=False)]})
    mocked.put(f"{SUBSCRIPTIONS_URL}/1234", status=202, payload=process_status("sub-2", event="UPDATE_SUBSCRIPTION"))
    await bol.check_connection(make_context(events_url=EVENTS_URL))
    ((_, call),) = requests_to(mocked, "PUT", f"{SUBSCRIPTIONS_URL}/1234")
    assert orjson.loads(call["data"])["enabled"] is True
    check_all(from_mock(mocked))


async def test_a_subscription_failure_does_not_fail_the_connect(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(SUBSCRIPTIONS_URL, status=500, payload={"title": "Internal Server Error", "status": 500}, repeat=True)
    context = make_context(credentials={}, external_account_id=None, events_url=EVENTS_URL, settings=bol_settings(max_retries=0))
    assert (await bol.authorize(context, PASTED)).external_account_id == RETAILER_ID


@pytest.mark.parametrize(
    ("url", "loopback", "used"),
    [
        ("https://hub.example/events/x", False, True),
        ("http://hub.example/events/x", False, False),
        ("http://hub.example/events/x", True, False),
        ("http://127.0.0.1:8080/events/x", False, False),
        ("http://127.0.0.1:8080/events/x", True, True),
        (None, True, False),
    ],
)
def test_webhooks_need_https_or_the_loopback_setting(url: str | None, loopback: bool, used: bool) -> None:
    settings = BolSettings(webhooks_allow_loopback=loopback)
    assert (settings.webhook_url(url) is not None) is used


async def test_disconnect_unsubscribes_and_forgets_the_token(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": [subscription(EVENTS_URL), {**subscription("https://other"), "id": "9"}]})
    mocked.delete(f"{SUBSCRIPTIONS_URL}/1234", status=202, payload=process_status("sub-3", event="DELETE_SUBSCRIPTION"))
    context = make_context(events_url=EVENTS_URL)
    await bol.disconnect(context)
    assert len(requests_to(mocked, "DELETE", f"{SUBSCRIPTIONS_URL}/1234")) == 1
    assert not requests_to(mocked, "DELETE", f"{SUBSCRIPTIONS_URL}/9")
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": []})
    await bol.disconnect(context)
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2  # the token was forgotten


def test_the_intermediary_code_flow_refuses_to_be_turned_on() -> None:
    with pytest.raises(ValidationError, match="not implemented yet"):
        BolSettings(intermediary_code_flow=True)


def test_endpoint_points_everything_at_one_host() -> None:
    settings = BolSettings(endpoint="http://127.0.0.1:9000/")
    assert (settings.base_url(), settings.token_endpoint()) == ("http://127.0.0.1:9000", "http://127.0.0.1:9000/token")
    production = BolSettings()
    assert (production.base_url(), production.token_endpoint()) == ("https://api.bol.com", "https://login.bol.com/token")


async def test_a_second_subscription_to_the_same_url_is_removed(mocked: aioresponses, make_context: MakeContext) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": [subscription(EVENTS_URL), {**subscription(EVENTS_URL), "id": "5678"}]})
    mocked.delete(f"{SUBSCRIPTIONS_URL}/5678", status=202, payload=process_status("sub-4", event="DELETE_SUBSCRIPTION"))
    await bol.check_connection(make_context(events_url=EVENTS_URL))
    assert len(requests_to(mocked, "DELETE", f"{SUBSCRIPTIONS_URL}/5678")) == 1
    assert not requests_to(mocked, "POST", SUBSCRIPTIONS_URL)


async def test_the_import_right_after_a_connect_asks_for_no_second_subscription_while_bol_makes_the_first(
    mocked: aioresponses, make_context: MakeContext, state: BolState, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": []}, repeat=True)  # bol.com has not made it yet
    mocked.post(SUBSCRIPTIONS_URL, status=202, payload=process_status("sub-1", event="CREATE_SUBSCRIPTION"), repeat=True)
    context = make_context(events_url=EVENTS_URL)
    settings = bol_settings()
    api = connection_api(context, settings, state)

    await bol.authorize(context, PASTED)
    await subscription_module.ensure_now_and_then(context, settings, state, api)  # the first import, at once
    assert len(requests_to(mocked, "POST", SUBSCRIPTIONS_URL)) == 1
    clock.now += settings.subscription_check_minutes * 60 + 1
    await subscription_module.ensure_now_and_then(context, settings, state, api)  # a later import looks again
    assert len(requests_to(mocked, "POST", SUBSCRIPTIONS_URL)) == 2


async def test_a_subscription_made_stands_when_its_mark_cannot_be_kept(
    mocked: aioresponses, make_context: MakeContext, state: BolState, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": []})
    mocked.post(SUBSCRIPTIONS_URL, status=202, payload=process_status("sub-1", event="CREATE_SUBSCRIPTION"))
    context = make_context(events_url=EVENTS_URL)
    settings = bol_settings()

    async def database_down(*_: object, **__: object) -> None:
        raise TransientError("The hub's database did not answer while pacing the calls to the shop; the hub will retry.")

    monkeypatch.setattr(state.store, "forget", database_down)
    done = await subscription_module.ensure(context, settings, state, connection_api(context, settings, state))

    assert done == "subscribed"
    assert len(requests_to(mocked, "POST", SUBSCRIPTIONS_URL)) == 1
