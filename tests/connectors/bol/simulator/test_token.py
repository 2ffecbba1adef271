"""``POST /token``: client credentials, 299-second tokens, refusals as bol.com gives them, counting."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from connectors.bol.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_RETAILER_ID, client_id
from connectors.bol.simulator.config import client_secret
from tests.connectors.bol.simulator.conftest import BolApi, admin

GOOD = aiohttp.BasicAuth(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
BAD_CLIENT = {"error": "invalid_client", "error_description": "Bad client credentials"}


async def ask(session, sim, auth=GOOD, data=None, params=None, headers=None):
    """POST /token: status and JSON body."""
    form = {"grant_type": "client_credentials"} if data is None else data
    async with session.post(sim.url + "/token", data=form, params=params, auth=auth,
                            headers={"Accept": "application/json", **(headers or {})}) as response:
        assert response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        return response.status, await response.json()


def claims(token: str) -> dict:
    """The payload of a JWT."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_client_credentials_give_a_299_second_bearer_token(session, sim):
    status, body = await ask(session, sim)
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 299, "RETAILER")
    token = claims(body["access_token"])
    assert token["aid"] == f"CLNTC:{DEFAULT_CLIENT_ID} SLR:{DEFAULT_RETAILER_ID}"
    assert token["exp"] - token["iat"] == 300


async def test_the_token_opens_the_retailer_api(session, sim):
    _, body = await ask(session, sim)
    api = BolApi(session, sim)
    api.token = body["access_token"]
    answer = await api.call("get-retailer-information", path={"retailer-id": "current"})
    assert (answer.status, answer.body["retailerId"]) == (200, DEFAULT_RETAILER_ID)


async def test_grant_type_in_the_query_string_is_accepted(session, sim):
    async with session.post(sim.url + "/token", params={"grant_type": "client_credentials"}, auth=GOOD) as response:
        assert response.status == 200


@pytest.mark.parametrize("auth", [
    aiohttp.BasicAuth(DEFAULT_CLIENT_ID, "wrong"),
    aiohttp.BasicAuth("0b01c0de-0000-0000-0000-000000000000", DEFAULT_CLIENT_SECRET),
    None,
])
async def test_wrong_credentials_are_invalid_client(session, sim, auth):
    assert await ask(session, sim, auth=auth) == (401, BAD_CLIENT)


async def test_other_grant_types_are_refused(session, sim):
    status, body = await ask(session, sim, data={"grant_type": "authorization_code", "code": "x"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body = await ask(session, sim, data={})
    assert (status, body["error"]) == (400, "invalid_request")


async def test_token_requests_are_counted_per_client_id(session, start_simulator):
    sim = await start_simulator(retailers=2)
    second = aiohttp.BasicAuth(client_id(2), client_secret(2))
    for _ in range(3):
        await ask(session, sim)
    await ask(session, sim, auth=second)
    await ask(session, sim, auth=aiohttp.BasicAuth(DEFAULT_CLIENT_ID, "wrong"))
    await ask(session, sim, auth=aiohttp.BasicAuth("stranger", "x"))
    status, body = await admin(session, sim, "GET", "/_sim/tokens")
    assert status == 200
    assert body["clients"][DEFAULT_CLIENT_ID] == {"requests": 4, "issued": 3, "refused": 1}
    assert body["clients"][client_id(2)] == {"requests": 1, "issued": 1, "refused": 0}
    assert body["unknownClients"] == {"stranger": 1}
    assert sim.state.clients[DEFAULT_CLIENT_ID].token_requests == 4


async def test_a_token_works_for_299_seconds_then_answers_expired_jwt(session, sim):
    _, body = await ask(session, sim)
    api = BolApi(session, sim)
    api.token = body["access_token"]
    sim.state.clock.advance(298)
    assert (await api.orders()).status == 200
    sim.state.clock.advance(1)
    answer = await api.orders()
    assert answer.status == 401
    assert answer.body["title"] == "Expired JWT"
    assert answer.body["detail"].startswith("JWT expired at 2026-03-02T12:04:59Z.")


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not-a-token", "Basic abc"])
async def test_missing_or_unknown_tokens_are_401(api, authorization):
    answer = await api.call("get-orders", headers={"Authorization": authorization})
    assert answer.status == 401
    assert answer.body["title"] in ("Unauthorized", "Invalid JWT")


async def test_deleted_credentials_stop_new_and_given_tokens(session, sim):
    _, body = await ask(session, sim)
    api = BolApi(session, sim)
    api.token = body["access_token"]
    status, _ = await admin(session, sim, "DELETE", f"/_sim/clients/{DEFAULT_CLIENT_ID}")
    assert status == 200
    assert await ask(session, sim) == (401, BAD_CLIENT)
    assert (await api.orders()).status == 401


async def test_new_credentials_from_the_admin_api_work(session, sim):
    status, body = await admin(session, sim, "POST", "/_sim/clients", {"clientSecret": "s3cret"})
    assert status == 201
    status, token = await ask(session, sim, auth=aiohttp.BasicAuth(body["clientId"], "s3cret"))
    assert status == 200
    assert claims(token["access_token"])["aid"].endswith(f"SLR:{DEFAULT_RETAILER_ID}")


async def test_token_faults(session, start_simulator):
    sim = await start_simulator(faults="token:503:next=1")
    status, body = await ask(session, sim)
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert (await ask(session, sim))[0] == 200


async def test_inactive_account_is_403(session, api):
    status, _ = await admin(session, api.sim, "PATCH", f"/_sim/retailers/{DEFAULT_RETAILER_ID}", {"active": False})
    assert status == 200
    answer = await api.orders()
    assert answer.status == 403
    assert answer.body["detail"].startswith("Account is not active, access denied.")
