"""LWA token endpoint: both grants, code rules, revocation and the exact error bodies of the contract."""

from __future__ import annotations

import pytest
from yarl import URL

from connectors.amazon.simulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.connectors.amazon.simulator.browser import REDIRECT, open_consent, parse_form, submit

CODE_ERROR = {"error_description": "The request has an invalid grant parameter : code", "error": "invalid_grant"}
REFRESH_ERROR = {
    "error_description": "The request has an invalid grant parameter : refresh_token",
    "error": "invalid_grant",
}
REVOKED_ERROR = {
    "error_description": "The request has an invalid grant parameter : refresh_token. "
    "User may have revoked or didn't grant the permission.",
    "error": "invalid_grant",
}


async def post_token(session, sim, **form):
    """POST the token endpoint with our client credentials unless overridden (None drops a field)."""
    data = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET} | form
    data = {k: v for k, v in data.items() if v is not None}
    async with session.post(sim.url + "/auth/o2/token", data=data) as response:
        return response.status, response.headers, await response.json()


def new_code(sim, seller_id=None):
    """A fresh authorisation code for REDIRECT."""
    return sim.state.issue_code(seller_id or sim.state.first_seller.seller_id, REDIRECT)


async def test_code_exchange_returns_access_and_refresh_tokens(session, sim):
    status, headers, body = await post_token(
        session, sim, grant_type="authorization_code", code=new_code(sim), redirect_uri=REDIRECT
    )
    assert status == 200
    assert body["access_token"].startswith("Atza|")
    assert body["refresh_token"].startswith("Atzr|")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert headers["Cache-Control"] == "no-store"
    assert sim.state.authenticate(body["access_token"]) == sim.state.first_seller.seller_id


async def test_code_is_single_use(session, sim):
    code = new_code(sim)
    first, _, _ = await post_token(session, sim, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    status, _, body = await post_token(session, sim, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert first == 200
    assert (status, body) == (400, CODE_ERROR)


async def test_code_expires_after_five_minutes(session, sim):
    code = new_code(sim)
    sim.state.clock.advance(301)
    status, _, body = await post_token(session, sim, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert (status, body) == (400, CODE_ERROR)


async def test_code_is_valid_just_before_five_minutes(session, sim):
    code = new_code(sim)
    sim.state.clock.advance(299)
    status, _, _ = await post_token(session, sim, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert status == 200


async def test_code_needs_the_same_redirect_uri(session, sim):
    status, _, body = await post_token(
        session, sim, grant_type="authorization_code", code=new_code(sim), redirect_uri=REDIRECT + "/other"
    )
    assert (status, body) == (400, CODE_ERROR)


async def test_unknown_code_is_invalid_grant(session, sim):
    status, _, body = await post_token(session, sim, grant_type="authorization_code", code="ANnope", redirect_uri=REDIRECT)
    assert (status, body) == (400, CODE_ERROR)


async def test_refresh_grant_returns_a_new_access_token_and_the_same_refresh_token(session, sim):
    refresh = sim.state.grant()
    status, headers, body = await post_token(session, sim, grant_type="refresh_token", refresh_token=refresh)
    assert status == 200
    assert body["refresh_token"] == refresh
    assert body["access_token"].startswith("Atza|")
    assert body["expires_in"] == 3600
    assert headers["Cache-Control"] == "no-store"


async def test_access_token_expires_after_an_hour(session, sim):
    _, _, body = await post_token(session, sim, grant_type="refresh_token", refresh_token=sim.state.grant())
    sim.state.clock.advance(3599)
    assert sim.state.authenticate(body["access_token"]) is not None
    sim.state.clock.advance(1)
    assert sim.state.authenticate(body["access_token"]) is None


async def test_revocation_makes_refresh_invalid_grant_with_revoked_message(session, sim):
    refresh = sim.state.grant()
    sim.state.revoke(sim.state.first_seller.seller_id)
    status, _, body = await post_token(session, sim, grant_type="refresh_token", refresh_token=refresh)
    assert (status, body) == (400, REVOKED_ERROR)


async def test_revocation_only_hits_that_seller(session, sim):
    other = list(sim.state.sellers)[1]
    refresh = sim.state.grant(other)
    sim.state.revoke(sim.state.first_seller.seller_id)
    status, _, _ = await post_token(session, sim, grant_type="refresh_token", refresh_token=refresh)
    assert status == 200


async def test_unknown_refresh_token_is_invalid_grant(session, sim):
    status, _, body = await post_token(session, sim, grant_type="refresh_token", refresh_token="Atzr|nope")
    assert (status, body) == (400, REFRESH_ERROR)


async def test_wrong_client_secret_is_invalid_client(session, sim):
    status, headers, body = await post_token(
        session, sim, grant_type="refresh_token", refresh_token=sim.state.grant(), client_secret="old-secret"
    )
    assert status == 401
    assert body == {"error_description": "Client authentication failed", "error": "invalid_client"}
    assert headers["Cache-Control"] == "no-store"


async def test_rotated_client_secret_rejects_the_old_one(session, sim):
    refresh = sim.state.grant()
    sim.state.config.client_secret = "rotated-secret"
    old, _, _ = await post_token(session, sim, grant_type="refresh_token", refresh_token=refresh)
    new, _, _ = await post_token(
        session, sim, grant_type="refresh_token", refresh_token=refresh, client_secret="rotated-secret"
    )
    assert (old, new) == (401, 200)


async def test_wrong_client_id_is_invalid_client(session, sim):
    status, _, body = await post_token(
        session, sim, grant_type="refresh_token", refresh_token=sim.state.grant(), client_id="amzn1.application-oa2-client.x"
    )
    assert (status, body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("missing", ["grant_type", "client_id", "client_secret", "refresh_token"])
async def test_missing_parameter_is_invalid_request(session, sim, missing):
    form = {"grant_type": "refresh_token", "refresh_token": sim.state.grant()} | {missing: None}
    status, _, body = await post_token(session, sim, **form)
    assert status == 400
    assert body == {
        "error_description": f"The request is missing a required parameter : {missing}",
        "error": "invalid_request",
    }


async def test_code_grant_without_redirect_uri_is_invalid_request(session, sim):
    status, _, body = await post_token(session, sim, grant_type="authorization_code", code=new_code(sim))
    assert (status, body["error"]) == (400, "invalid_request")


async def test_unknown_grant_type_is_unsupported_grant_type(session, sim):
    status, _, body = await post_token(session, sim, grant_type="password")
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def test_json_body_is_invalid_request(session, sim):
    async with session.post(sim.url + "/auth/o2/token", json={"grant_type": "refresh_token"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"


async def test_consent_code_and_token_endpoint_work_end_to_end(session, sim):
    _, html = await open_consent(session, sim, redirect_uri=REDIRECT)
    response = await submit(session, sim, parse_form(html), tick=True)
    code = URL(response.headers["Location"]).query["spapi_oauth_code"]
    status, _, body = await post_token(session, sim, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert status == 200
    refreshed, _, _ = await post_token(session, sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed == 200
