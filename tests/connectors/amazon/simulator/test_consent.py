"""Seller Central consent page and Login-URI re-authorisation, driven over HTTP like a browser."""

from __future__ import annotations

import re

import pytest
from yarl import URL

from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID
from tests.connectors.amazon.simulator.browser import REDIRECT, open_consent, parse_form, submit


async def test_consent_page_shows_app_role_checkbox_and_buttons(session, sim):
    status, html = await open_consent(session, sim)
    assert status == 200
    assert "<h1>Authorise Hub</h1>" in html
    assert "Direct-to-Consumer Delivery" in html
    assert "I direct Amazon to provide Hub access to my Selling Partner account" in html
    assert re.search(r'<button[^>]*value="confirm"[^>]*>Confirm</button>', html)
    assert re.search(r'<button[^>]*value="cancel"[^>]*>Cancel</button>', html)


async def test_consent_page_offers_every_seller_and_selects_the_first(session, sim):
    _, html = await open_consent(session, sim)
    form = parse_form(html)
    assert form.options == list(sim.state.sellers)
    assert form.fields["selling_partner_id"] == sim.state.first_seller.seller_id


async def test_confirm_with_box_ticked_redirects_with_state_seller_and_code(session, sim):
    _, html = await open_consent(session, sim)
    response = await submit(session, sim, parse_form(html), tick=True)
    assert response.status == 302
    location = URL(response.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["state"] == "st-123"
    assert location.query["selling_partner_id"] == sim.state.first_seller.seller_id
    assert location.query["spapi_oauth_code"] in sim.state.codes


async def test_confirm_for_another_seller_grants_that_seller(session, sim):
    _, html = await open_consent(session, sim)
    form = parse_form(html)
    second = form.options[1]
    response = await submit(session, sim, form, tick=True, selling_partner_id=second)
    code = URL(response.headers["Location"]).query["spapi_oauth_code"]
    assert sim.state.codes[code].seller_id == second


async def test_confirm_without_box_shows_the_page_again_with_an_error(session, sim):
    _, html = await open_consent(session, sim)
    response = await submit(session, sim, parse_form(html), tick=False)
    assert response.status == 400
    page = await response.text()
    assert "Tick the box" in page
    assert "<h1>Authorise Hub</h1>" in page
    assert not sim.state.codes


async def test_cancel_redirects_with_access_denied_and_no_code(session, sim):
    _, html = await open_consent(session, sim)
    response = await submit(session, sim, parse_form(html), tick=False, action="cancel")
    assert response.status == 302
    query = URL(response.headers["Location"]).query
    assert query["error"] == "access_denied"
    assert query["state"] == "st-123"
    assert "spapi_oauth_code" not in query


async def test_redirect_keeps_the_redirect_uris_own_query(session, sim):
    _, html = await open_consent(session, sim, redirect_uri=REDIRECT + "?connection=7")
    response = await submit(session, sim, parse_form(html), tick=True)
    query = URL(response.headers["Location"]).query
    assert query["connection"] == "7"
    assert "spapi_oauth_code" in query


async def test_draft_app_without_version_beta_is_md1000(session, start_simulator):
    sim = await start_simulator(draft=True)
    status, html = await open_consent(session, sim)
    assert status == 400
    assert "MD1000" in html


async def test_draft_app_with_version_beta_shows_consent(session, start_simulator):
    sim = await start_simulator(draft=True)
    status, html = await open_consent(session, sim, version="beta")
    assert status == 200
    response = await submit(session, sim, parse_form(html), tick=True)
    assert response.status == 302


async def test_unregistered_redirect_uri_is_md5101(session, start_simulator):
    sim = await start_simulator(redirect_uris=["https://hub.example/amazon/callback"])
    status, html = await open_consent(session, sim, redirect_uri="https://evil.example/cb")
    assert status == 400
    assert "MD5101" in html


async def test_registered_redirect_uri_is_the_default(session, start_simulator):
    registered = "https://hub.example/amazon/callback"
    sim = await start_simulator(redirect_uris=[registered])
    status, html = await open_consent(session, sim, redirect_uri="")
    assert status == 200
    response = await submit(session, sim, parse_form(html), tick=True)
    assert response.headers["Location"].startswith(registered + "?")


@pytest.mark.parametrize("redirect", ["https://hub.example/cb", "http://10.0.0.1/cb", "ftp://127.0.0.1/cb"])
async def test_without_registered_uris_only_loopback_http_is_accepted(session, sim, redirect):
    status, html = await open_consent(session, sim, redirect_uri=redirect)
    assert status == 400
    assert "MD5101" in html


async def test_redirect_uri_with_fragment_is_md5110(session, sim):
    status, html = await open_consent(session, sim, redirect_uri=REDIRECT + "#top")
    assert status == 400
    assert "MD5110" in html


async def test_unknown_application_id_is_an_error_page(session, sim):
    status, html = await open_consent(session, sim, application_id="amzn1.sellerapps.app.other")
    assert status == 400
    assert "was not found" in html


async def test_tampered_form_redirect_uri_is_rejected(session, start_simulator):
    sim = await start_simulator(redirect_uris=[REDIRECT])
    _, html = await open_consent(session, sim)
    response = await submit(session, sim, parse_form(html), tick=True, redirect_uri="https://evil.example/cb")
    assert response.status == 400
    assert not sim.state.codes


async def test_consent_pages_send_no_referrer(session, sim):
    async with session.get(sim.url + "/apps/authorize/consent",
                           params={"application_id": DEFAULT_APPLICATION_ID, "redirect_uri": REDIRECT}) as response:
        assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_reauthorize_sends_the_browser_to_the_login_uri(session, start_simulator):
    sim = await start_simulator(login_uri="http://127.0.0.1:8080/amazon/login")
    seller = sim.state.first_seller.seller_id
    async with session.get(sim.url + "/_sim/reauthorize", params={"seller": seller}, allow_redirects=False) as response:
        assert response.status == 302
        location = URL(response.headers["Location"])
    assert str(location.with_query(None)) == "http://127.0.0.1:8080/amazon/login"
    assert location.query["selling_partner_id"] == seller
    assert location.query["amazon_callback_uri"] == sim.url + "/apps/authorize/confirm"
    assert location.query["amazon_state"]
    assert "version" not in location.query


async def test_login_uri_callback_redirects_with_a_code(session, start_simulator):
    sim = await start_simulator(login_uri="http://127.0.0.1:8080/amazon/login")
    seller = list(sim.state.sellers)[1]
    async with session.get(sim.url + "/_sim/reauthorize", params={"seller": seller}, allow_redirects=False) as response:
        login = URL(response.headers["Location"])
    callback = URL(login.query["amazon_callback_uri"]).with_query(
        redirect_uri=REDIRECT, amazon_state=login.query["amazon_state"], state="app-state"
    )
    async with session.get(callback, allow_redirects=False) as response:
        assert response.status == 302
        back = URL(response.headers["Location"])
    assert str(back.with_query(None)) == REDIRECT
    assert back.query["state"] == "app-state"
    assert back.query["selling_partner_id"] == seller
    assert sim.state.codes[back.query["spapi_oauth_code"]].seller_id == seller


async def test_amazon_state_is_single_use(session, start_simulator):
    sim = await start_simulator(login_uri="http://127.0.0.1:8080/amazon/login")
    amazon_state = sim.state.start_reauthorization(sim.state.first_seller.seller_id)
    callback = URL(sim.url + "/apps/authorize/confirm").with_query(
        redirect_uri=REDIRECT, amazon_state=amazon_state, state="s"
    )
    async with session.get(callback, allow_redirects=False) as first:
        assert first.status == 302
    async with session.get(callback, allow_redirects=False) as second:
        assert second.status == 400


async def test_reauthorize_of_a_draft_app_passes_version_beta(session, start_simulator):
    sim = await start_simulator(login_uri="http://127.0.0.1:8080/login", draft=True)
    async with session.get(sim.url + "/_sim/reauthorize", allow_redirects=False) as response:
        login = URL(response.headers["Location"])
    assert login.query["version"] == "beta"
    callback = URL(login.query["amazon_callback_uri"]).with_query(
        redirect_uri=REDIRECT, amazon_state=login.query["amazon_state"], state="s"
    )
    async with session.get(callback, allow_redirects=False) as response:
        assert response.status == 400
        assert "MD1000" in await response.text()


async def test_reauthorize_without_login_uri_is_an_error_page(session, sim):
    async with session.get(sim.url + "/_sim/reauthorize", allow_redirects=False) as response:
        assert response.status == 400
        assert "Login URI" in await response.text()
