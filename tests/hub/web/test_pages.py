"""The merchant pages at the HTTP level: sign-in, sessions, CSRF, bad input, isolation, languages, the journey."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from importlib import resources
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from core.contract.models import ConnectionState
from core.infra.runtime import EVENTS_PATH
from core.storage import connections as connection_store
from core.storage import labels as label_store
from core.storage import orders as order_store
from core.usecases import lifecycle
from hub.web import pages
from hub.web.session import COOKIE
from tests.contract.fake.shop import FakeShop
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.web.conftest import Merchant, connect_fake, new_merchant, query_of
from tests.waiting import eventually

FORGED = "forged-token"


async def tracking_on(m: Merchant, connection_id: int) -> None:
    await m.get(f"/settings/integrations/{connection_id}")
    status, text, _ = await m.post(
        f"/settings/integrations/{connection_id}/settings", {"update_tracking": "on", "import_interval_minutes": "5"}
    )
    assert status == 200 and "Settings saved." in text, text


async def imported(m: Merchant, shop: FakeShop, orders: int = 2) -> int:
    """Connect, add orders to the shop, import them through the pages; the connection id."""
    connection_id = await connect_fake(m, shop)
    for _ in range(orders):
        shop.add_order(name="Anna de Vries", street="Kerkstraat 1", postal_code="1011 AB", city="Amsterdam", country="NL")
    await m.get("/shipping/import")
    status, _, location = await m.post("/shipping/import", {"connection_id": str(connection_id)}, follow=False)
    assert status == 303 and re.search(r"/shipping/import/\d+$", location)
    run_path = location.split(m.url(""))[-1] if location.startswith("http") else location

    async def finished() -> dict | None:
        async with m.http.get(m.url(run_path + "/progress")) as response:
            body = await response.json()
        return body if body["finished"] else None

    assert (await eventually(finished))["new"] == orders
    return connection_id


async def first_order_id(m: Merchant) -> int:
    orders = await order_store.list_orders(m.rt.db.pool, m.rt.vault, account_id=m.account_id)
    return orders[0].id


# sign-in and sessions


async def test_pages_ask_to_sign_in_first(client: TestClient) -> None:
    m = await new_merchant(client, "Nobody Yet")
    try:
        status, text = await m.get("/shipping/shipments")
        assert status == 200 and "<h1>Sign in</h1>" in text
        async with m.http.get(m.url("/shipping/shipments"), allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/signin?next=%2Fshipping%2Fshipments"
        async with m.http.get(m.url("/shipping/labels/1/state")) as response:
            assert response.status == 401
    finally:
        await m.close()


async def test_sign_in_with_a_wrong_token_is_refused_with_a_message(client: TestClient) -> None:
    m = await new_merchant(client, "Typo Merchant")
    try:
        await m.get("/signin")
        status, text, _ = await m.post("/signin", {"token": "hub_not-a-real-token"})
        assert status == 400 and "unknown or revoked" in text and 'aria-invalid="true"' in text
        status, text = await m.get("/settings/integrations")
        assert "<h1>Sign in</h1>" in text
    finally:
        await m.close()


async def test_sign_in_sets_an_encrypted_httponly_samesite_cookie_and_goes_to_next(client: TestClient) -> None:
    m = await new_merchant(client, "Cookie Merchant")
    try:
        await m.get("/signin?next=/shipping/import")
        async with m.http.post(
            m.url("/signin"), data={"csrf_token": m.csrf, "token": m.token, "next": "/shipping/import"}, allow_redirects=False
        ) as response:
            assert response.status == 303 and response.headers["Location"] == "/shipping/import"
            cookie = response.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
            assert m.token not in cookie.value
        status, text = await m.get("/shipping/import")
        assert status == 200 and "Cookie Merchant" in text
        # A tampered cookie is no session at all.
        tampered = cookie.value[:-6] + ("AAAAAA" if not cookie.value.endswith("AAAAAA") else "BBBBBB")
        m.http.cookie_jar.update_cookies({COOKIE: tampered}, response_url=m.client.make_url("/"))
        status, text = await m.get("/shipping/import")
        assert "<h1>Sign in</h1>" in text
    finally:
        await m.close()


async def test_next_never_leaves_the_site(client: TestClient) -> None:
    m = await new_merchant(client, "Redirect Merchant")
    try:
        await m.get("/signin")
        status, _, location = await m.post("/signin", {"token": m.token, "next": "//evil.example/x"}, follow=False)
        assert status == 303 and location == "/settings/integrations"
    finally:
        await m.close()


async def test_sign_out_and_token_revocation_end_the_session(merchant: Merchant) -> None:
    await merchant.get("/settings/integrations")
    status, text, _ = await merchant.post("/signout")
    assert "You are signed out." in text and "<h1>Sign in</h1>" in text
    await merchant.sign_in()
    await merchant.rt.db.pool.execute("update api_tokens set revoked_at = now() where account_id = $1", merchant.account_id)
    _, text = await merchant.get("/settings/integrations")
    assert "<h1>Sign in</h1>" in text


# CSRF


async def test_forged_csrf_token_is_refused_and_changes_nothing(merchant: Merchant, other: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    order_id = await first_order_id(merchant)
    before = await connection_store.get_connection(merchant.rt.db.pool, connection_id)
    await other.get("/settings/integrations")
    forms = [
        (f"/settings/integrations/{connection_id}/settings", {"update_tracking": "on", "import_interval_minutes": "9"}),
        (f"/settings/integrations/{connection_id}/disconnect", {"confirm": "yes"}),
        (f"/settings/integrations/{connection_id}/disable", {}),
        (f"/shipping/shipments/{order_id}/label", {"tracking_number": "FORGED1"}),
        ("/shipping/import", {"connection_id": str(connection_id)}),
        ("/settings/integrations/fake/connect", {}),
        ("/signout", {}),
    ]
    runs = await merchant.rt.db.pool.fetchval("select count(*) from import_runs")
    for path, data in forms:
        for token in (FORGED, "", other.csrf):  # made up, missing, another session's
            status, text, _ = await merchant.post(path, data, csrf=token)
            assert status == 403 and "nothing was changed" in text, (path, token)
    assert await connection_store.get_connection(merchant.rt.db.pool, connection_id) == before
    assert await label_store.labels_of_order(merchant.rt.db.pool, order_id) == []
    assert await merchant.rt.db.pool.fetchval("select count(*) from import_runs") == runs
    assert len(await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id)) == 1
    _, text = await merchant.get("/settings/integrations")
    assert "Bakkerij Jansen" in text  # still signed in


async def test_every_form_route_checks_the_csrf_token(client: TestClient, merchant: Merchant) -> None:
    posts = [
        route
        for route in client.server.app.router.routes()
        if route.method == "POST" and getattr(route.handler, "hub_page", None) is not None
    ]
    assert len(posts) >= 9
    for route in posts:
        path = re.sub(r"\{id[^}]*\}", "1", route.resource.canonical)
        path = re.sub(r"\{connector[^}]*\}", "fake", path)
        status, text, _ = await merchant.post(path, {}, csrf=FORGED)
        assert status == 403 and "Form refused" in text, path
    # The shops' event route is no browser form: the connector verifies each message instead.
    unmarked = [
        route.resource.canonical
        for route in client.server.app.router.routes()
        if route.method == "POST" and not route.resource.canonical.startswith(("/api/", EVENTS_PATH))
        and getattr(route.handler, "hub_page", None) is None
    ]
    assert unmarked == []


async def test_sign_in_form_needs_its_csrf_token(client: TestClient) -> None:
    m = await new_merchant(client, "Login CSRF")
    try:
        status, text, _ = await m.post("/signin", {"token": m.token}, csrf="")
        assert status == 403
        _, text = await m.get("/settings/integrations")
        assert "<h1>Sign in</h1>" in text
    finally:
        await m.close()


# bad input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"update_tracking": "on", "import_interval_minutes": "abc"}, "whole number of minutes"),
        ({"update_tracking": "on", "import_interval_minutes": "0"}, "whole number of minutes"),
        ({"update_tracking": "on", "import_interval_minutes": "99999"}, "whole number of minutes"),
        ({"update_tracking": "maybe", "import_interval_minutes": "5"}, "ticked or not"),
    ],
)
async def test_bad_settings_are_refused_with_a_message_and_change_nothing(
    merchant: Merchant, shop: FakeShop, data: dict[str, str], message: str
) -> None:
    connection_id = await connect_fake(merchant, shop)
    before = await connection_store.get_connection(merchant.rt.db.pool, connection_id)
    await merchant.get(f"/settings/integrations/{connection_id}")
    status, text, _ = await merchant.post(f"/settings/integrations/{connection_id}/settings", data)
    assert status == 400 and message in text and 'role="alert"' in text
    assert await connection_store.get_connection(merchant.rt.db.pool, connection_id) == before


async def test_disconnect_needs_the_confirmation_box(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    await merchant.get(f"/settings/integrations/{connection_id}")
    status, text, _ = await merchant.post(f"/settings/integrations/{connection_id}/disconnect", {})
    assert status == 400 and "nothing was changed" in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state.value == "connected"
    status, text, _ = await merchant.post(f"/settings/integrations/{connection_id}/disconnect", {"confirm": "yes"})
    assert status == 200 and "Disconnected. The orders imported before stay." in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state.value == "disconnected"


async def test_disable_pauses_the_connection_and_enable_resumes_it(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    _, text = await merchant.get(f"/settings/integrations/{connection_id}")
    assert ">Disable</button>" in text and ">Enable</button>" not in text
    status, text, _ = await merchant.post(f"/settings/integrations/{connection_id}/disable", {})
    assert status == 200 and "Disabled" in text and ">Enable</button>" in text and "disabled by the merchant" in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state.value == "disabled"
    _, text = await merchant.get("/shipping/import")
    assert f'value="{connection_id}"' not in text, "a disabled shop offers no import"
    status, text, _ = await merchant.post(f"/settings/integrations/{connection_id}/enable", {})
    assert status == 200 and ">Disable</button>" in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state.value == "connected"


async def test_unknown_marketplace_is_refused_and_creates_no_connection(merchant: Merchant) -> None:
    status, text = await merchant.get("/settings/integrations/amazon/connect")
    assert status == 200 and '<option value="NL" selected>NL – Netherlands</option>' in text
    status, text, _ = await merchant.post("/settings/integrations/amazon/connect", {"marketplace": "XX"})
    assert status == 400 and "Marketplace: choose one from the list." in text
    assert await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id) == []
    status, _, location = await merchant.post("/settings/integrations/amazon/connect", {"marketplace": "DE"}, follow=False)
    assert status == 303 and location.startswith("http://127.0.0.1:9/apps/authorize/consent?")
    (pending,) = await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id)
    assert pending.state.value == "pending_authorization" and pending.settings.marketplaces == ["DE"]


async def test_bad_tracking_number_is_refused_and_creates_no_label(merchant: Merchant, shop: FakeShop) -> None:
    await imported(merchant, shop, orders=1)
    order_id = await first_order_id(merchant)
    await merchant.get(f"/shipping/shipments/{order_id}")
    for bad in ("has spaces", "", "x" * 65, "ünïcode"):
        status, text, _ = await merchant.post(f"/shipping/shipments/{order_id}/label", {"tracking_number": bad})
        assert status == 400 and "1 to 64 letters, digits or dashes" in text, bad
        assert 'aria-invalid="true"' in text and f"<h1 id=\"order-title\">Order {order_id}" not in text
    assert await label_store.labels_of_order(merchant.rt.db.pool, order_id) == []
    for query in ("state=lost", "status=open&state=x", "after=-1", "after=x", "before=x", "after=1&before=2"):
        status, text = await merchant.get(f"/shipping/shipments?{query}")
        assert status == 400 and "<h1>That did not work</h1>" in text, query


async def test_import_of_a_connection_not_connected_is_refused(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    await merchant.get(f"/settings/integrations/{connection_id}")
    await merchant.post(f"/settings/integrations/{connection_id}/disconnect", {"confirm": "yes"})
    status, text, _ = await merchant.post("/shipping/import", {"connection_id": str(connection_id)})
    assert status == 409 and "not connected" in text
    status, text, _ = await merchant.post("/shipping/import", {"connection_id": "one"})
    assert status == 400 and "Choose the shop" in text
    assert await merchant.rt.db.pool.fetchval("select count(*) from import_runs") == 0


# isolation


async def test_another_accounts_ids_answer_404_and_change_nothing(merchant: Merchant, other: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    await tracking_on(merchant, connection_id)
    order_id = await first_order_id(merchant)
    await merchant.get(f"/shipping/shipments/{order_id}")
    await merchant.post(f"/shipping/shipments/{order_id}/label", {"tracking_number": "TRACK1"})
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, order_id)
    run_id = await merchant.rt.db.pool.fetchval("select max(id) from import_runs")
    before = await connection_store.get_connection(merchant.rt.db.pool, connection_id)

    for path in (
        f"/settings/integrations/{connection_id}",
        f"/shipping/import/{run_id}",
        f"/shipping/import/{run_id}/progress",
        f"/shipping/labels/{label_id}/state",
        f"/shipping/shipments/{order_id}",
    ):
        status, text = await other.get(path)
        assert status == 404, path
    await other.get("/settings/integrations")
    for path, data in (
        (f"/settings/integrations/{connection_id}/settings", {"import_interval_minutes": "60"}),
        (f"/settings/integrations/{connection_id}/disconnect", {"confirm": "yes"}),
        (f"/settings/integrations/{connection_id}/reconnect", {}),
        (f"/settings/integrations/{connection_id}/disable", {}),
        (f"/settings/integrations/{connection_id}/enable", {}),
        ("/shipping/import", {"connection_id": str(connection_id)}),
        (f"/shipping/shipments/{order_id}/label", {"tracking_number": "THEIRS1"}),
        (f"/shipping/labels/{label_id}/retry", {}),
    ):
        status, text, _ = await other.post(path, data)
        assert status == 404 and "belongs to another account" in text, path
    assert await connection_store.get_connection(merchant.rt.db.pool, connection_id) == before
    assert await label_store.labels_of_order(merchant.rt.db.pool, order_id) == [label_id]
    assert await merchant.rt.db.pool.fetchval("select max(id) from import_runs") == run_id
    for state in ("to_ship", "attention", "shipped", "all"):
        _, text = await other.get(f"/shipping/shipments?state={state}&q=Amsterdam")
        assert "No shipments match" in text and "Amsterdam</td>" not in text and f"order-{order_id}" not in text
    _, text = await other.get(f"/shipping/shipments?after={order_id}")  # another account's id anchors nothing
    assert f"order-{order_id}" not in text


async def test_callback_refuses_a_state_of_another_signed_in_account(merchant: Merchant, other: Merchant, shop: FakeShop) -> None:
    await merchant.get("/settings/integrations/fake/connect")
    _, _, location = await merchant.post("/settings/integrations/fake/connect", {}, follow=False)
    params = shop.consent(location)
    status, text = await other.get("/connect/callback?" + urlencode(params))
    assert status == 400 and "another account" in text
    (connection,) = await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id)
    assert connection.state.value == "pending_authorization"


# connect results


async def test_connect_result_pages_say_what_happened(client: TestClient, merchant: Merchant, shop: FakeShop) -> None:
    status, text = await merchant.get("/connect/callback?state=forged.state&code=x")
    assert status == 400 and "<h1>Not connected</h1>" in text and "link is invalid" in text

    await merchant.get("/settings/integrations/fake/connect")
    _, _, location = await merchant.post("/settings/integrations/fake/connect", {}, follow=False)
    params = shop.consent(location)
    await merchant.rt.db.pool.execute("update oauth_states set expires_at = now() - interval '1 minute'")
    status, text = await merchant.get("/connect/callback?" + urlencode(params))
    assert status == 400 and "<h1>The link has expired</h1>" in text

    await merchant.get("/settings/integrations/amazon/connect")
    _, _, location = await merchant.post("/settings/integrations/amazon/connect", {"marketplace": "NL"}, follow=False)
    declined = {"state": query_of(location)["state"], "error": "access_denied"}
    async with merchant.http.get(merchant.url("/connect/callback?" + urlencode(declined))) as response:
        text = await response.text()
        assert response.status == 400 and response.headers["Referrer-Policy"] == "no-referrer"
    assert "<h1>Not connected</h1>" in text and "You declined the authorisation" in text

    connection_id = await connect_fake(merchant, shop)
    _, text = await merchant.get("/settings/integrations")
    assert f'href="/settings/integrations/{connection_id}"' in text and "Connect another account" in text


async def test_logos_come_from_the_connector_packages(merchant: Merchant) -> None:
    async with merchant.http.get(merchant.url("/settings/integrations/amazon/logo")) as response:
        assert response.status == 200 and response.content_type == "image/svg+xml"
        assert await response.read() == resources.files("connectors.amazon").joinpath("logo.svg").read_bytes()
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    async with merchant.http.get(merchant.url("/settings/integrations/fake/logo")) as response:
        assert response.status == 200 and b">F</text>" in await response.read()
    async with merchant.http.get(merchant.url("/settings/integrations/nope/logo")) as response:
        assert response.status == 404
    _, text = await merchant.get("/settings/integrations")
    assert text.count('class="card"') == 3 and "Amazon" in text and "Fake shop" in text and "Key shop" in text


# languages


async def test_language_follows_the_browser_then_the_switch(client: TestClient) -> None:
    m = await new_merchant(client, "Taal Merchant")
    try:
        dutch = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}
        status, text = await m.get("/signin", headers=dutch)
        assert '<html lang="nl">' in text and "<h1>Aanmelden</h1>" in text
        status, text = await m.get("/signin", headers={"Accept-Language": "de-DE, en;q=0.3, nl;q=0.2"})
        assert '<html lang="en">' in text
        await m.post("/signin", {"token": m.token})
        _, text = await m.get("/settings/integrations", headers=dutch)
        assert "Alle integraties" in text and "Koppelen" in text
        status, text, _ = await m.post("/language", {"lang": "en", "next": "/settings/integrations"})
        assert status == 200 and '<html lang="en">' in text
        _, text = await m.get("/settings/integrations", headers=dutch)
        assert '<html lang="en">' in text and "All integrations" in text
        status, text, _ = await m.post("/language", {"lang": "fr"})
        assert status == 400 and "Choose Nederlands or English." in text
    finally:
        await m.close()


async def test_dutch_pages_translate_states_and_labels(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    await merchant.post("/language", {"lang": "nl"})
    _, text = await merchant.get(f"/settings/integrations/{connection_id}")
    assert "Integratie details" in text and "Update de trackingcode in de shop" in text and "Gekoppeld" in text
    _, text = await merchant.get("/shipping/import")
    assert "Importeer uit Shop" in text and "Verzenden" in text and "Import starten" in text


# the journey over HTTP


async def test_import_label_push_and_retry_over_the_pages(merchant: Merchant, shop: FakeShop) -> None:
    shop.add_order(skip_reason="fulfilled by the marketplace")
    connection_id = await imported(merchant, shop, orders=2)
    run_id = await merchant.rt.db.pool.fetchval("select max(id) from import_runs")
    _, text = await merchant.get(f"/shipping/import/{run_id}")
    assert "Result: Finished" in text and "fulfilled by the marketplace" in text
    assert re.search(r'data-field="new">2<', text) and re.search(r'data-field="skipped">1<', text)

    order_id = await first_order_id(merchant)
    _, text = await merchant.get("/shipping/shipments")
    assert "Amsterdam" in text and "Fake product" in text and f'href="/shipping/shipments/{order_id}"' in text
    assert "Kerkstraat 1" not in text  # the list shows the city; the address is on the order's page
    _, text = await merchant.get(f"/shipping/shipments/{order_id}")
    assert "Anna de Vries" in text and "Kerkstraat 1" in text and "Fake product" in text and "No label yet." in text

    # Tracking off: the label is stored, its push skipped, and Retry offered.
    status, text, _ = await merchant.post(f"/shipping/shipments/{order_id}/label", {"tracking_number": "GLS-001"})
    assert status == 200 and "Label created." in text
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, order_id)

    async def settled() -> dict | None:
        async with merchant.http.get(merchant.url(f"/shipping/labels/{label_id}/state")) as response:
            body = await response.json()
        return None if body["pending"] else body

    body = await eventually(settled)
    assert body["parcels"][0]["state"] == "skipped" and body["retryable"]

    # Tracking on, the order gone from the shop: Amazon-like rejection, shown with its message.
    await tracking_on(merchant, connection_id)
    stored = await order_store.get_order(merchant.rt.db.pool, merchant.rt.vault, order_id)
    removed = shop.orders.pop(stored.order.external_id)
    await merchant.get(f"/shipping/shipments/{order_id}")
    status, text, _ = await merchant.post(f"/shipping/labels/{label_id}/retry")
    assert status == 200 and "sent to the shop again" in text
    body = await eventually(settled)
    assert body["parcels"][0]["state"] == "failed" and "not found" in body["parcels"][0]["message"]
    _, text = await merchant.get(f"/shipping/shipments/{order_id}")
    assert "Not accepted by the shop" in text and "Message from the shop:" in text and f"/shipping/labels/{label_id}/retry" in text
    _, text = await merchant.get("/shipping/shipments?state=attention")
    assert f"order-{order_id}" in text and "GLS-001" in text and "Not accepted by the shop" in text

    # Back in the shop, Retry confirms it.
    shop.orders[removed.id] = removed
    await merchant.post(f"/shipping/labels/{label_id}/retry")
    body = await eventually(settled)
    assert body["parcels"][0]["state"] == "confirmed"
    assert (removed.id, "1") in shop.confirmations
    _, text = await merchant.get(f"/shipping/shipments/{order_id}")
    assert "Confirmed by the shop" in text and "GLS-001" in text
    _, text = await merchant.get("/shipping/shipments?state=shipped")
    assert f"order-{order_id}" in text and "Confirmed by the shop" in text


async def test_pages_send_security_headers(merchant: Merchant) -> None:
    async with merchant.http.get(merchant.url("/settings/integrations")) as response:
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
        assert headers["Content-Language"] == "en"


def test_csp_allows_no_inline_script() -> None:
    assert "script-src 'self'" in pages.CSP and "unsafe-inline" not in pages.CSP


async def test_a_connection_needing_reconnect_offers_reconnect(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    async with merchant.rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, connection_id, ConnectionState.AUTH_REQUIRED, "the shop refused the API key")
    _, text = await merchant.get("/settings/integrations")
    assert "Reconnect needed" in text and f'action="/settings/integrations/{connection_id}/reconnect"' in text
    status, _, location = await merchant.post(f"/settings/integrations/{connection_id}/reconnect", follow=False)
    assert status == 303 and "fake-shop.invalid/consent" in location
    status, text = await merchant.get("/connect/callback?" + urlencode(shop.consent(location)))
    assert status == 200 and "<h1>Connected</h1>" in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state.value == "connected"


class Controls(HTMLParser):
    """The form controls, labels, headings and buttons of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labels: set[str] = set()
        self.h1 = 0
        self.lang = ""
        self.buttons: list[str] = []
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        elif tag == "label":
            self.labels.add(a.get("for", ""))
        elif tag == "h1":
            self.h1 += 1
        elif tag == "button":
            self._button = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None


async def test_every_page_has_labelled_controls_one_heading_and_a_language(merchant: Merchant, shop: FakeShop, keyshop: KeyShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    keyshop_id = await connect_keyshop(merchant)
    run_id = await merchant.rt.db.pool.fetchval("select max(id) from import_runs")
    for path in (
        "/settings/integrations",
        "/settings/integrations/amazon/connect",
        KEYSHOP_CONNECT,
        f"/settings/integrations/{keyshop_id}/reconnect",
        f"/settings/integrations/{keyshop_id}/connected",
        f"/settings/integrations/{connection_id}",
        "/shipping/import",
        f"/shipping/import/{run_id}",
        "/shipping/shipments",
        "/shipping/shipments?state=all&q=Amsterdam",
        f"/shipping/shipments/{await first_order_id(merchant)}",
        "/connect/callback?state=bad",
        "/settings/integrations/999999",
    ):
        for lang in ("en", "nl"):
            _, text = await merchant.get(path, headers={"Accept-Language": lang})
            page = Controls()
            page.feed(text)
            assert page.lang == lang and page.h1 == 1, path
            for control in page.controls:
                assert control.get("id") in page.labels, (path, control)
            assert all(page.buttons), path


# connecting with credentials (the key shop) and parcels the shop accepts


WRONG_SECRET = "keyshop-secret-wrong-9d1e"
KEYSHOP_CONNECT = "/settings/integrations/keyshop/connect"


async def connect_keyshop(m: Merchant, client_id: str = GOOD_CLIENT_ID, secret: str = GOOD_CLIENT_SECRET) -> int:
    """Connect the key shop through its form; the connection id."""
    await m.get(KEYSHOP_CONNECT)
    status, _, location = await m.post(KEYSHOP_CONNECT, {"client_id": client_id, "client_secret": secret}, follow=False)
    assert status == 303, location
    found = re.search(r"/settings/integrations/(\d+)/connected$", location)
    assert found and secret not in location, location
    return int(found.group(1))


async def test_all_integrations_shows_each_connector(merchant: Merchant) -> None:
    _, text = await merchant.get("/settings/integrations")
    for connector in ("amazon", "fake", "keyshop"):
        assert f'id="integration-{connector}"' in text and f'href="/settings/integrations/{connector}/connect"' in text


async def test_the_credentials_form_is_the_connectors_declared_form(merchant: Merchant) -> None:
    status, text = await merchant.get(KEYSHOP_CONNECT)
    assert status == 200 and "<h1>Connect Key shop</h1>" in text
    assert re.search(r'<input type="text" id="field-client_id" name="client_id" value="" autocomplete="off"', text)
    assert re.search(r'<input type="password" id="field-client_secret" name="client_secret" autocomplete="off"', text)
    assert '<label for="field-client_secret">Client secret' in text
    assert "Create them in the shop&#39;s settings under API access." in text
    assert 'href="https://keyshop.invalid/settings/api" target="_blank" rel="noopener noreferrer">Where to find it</a>' in text
    assert "Continue to" not in text  # no consent page to go to
    _, dutch = await merchant.get(KEYSHOP_CONNECT, headers={"Accept-Language": "nl"})
    assert "Key shop koppelen" in dutch and "Maak ze aan in de instellingen van de shop onder API-toegang." in dutch
    assert "Waar u dit vindt" in dutch and "Geheime waarden worden nooit meer getoond." in dutch


async def test_connect_with_credentials_lands_on_the_connected_page(
    merchant: Merchant, keyshop: KeyShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connection_id = await connect_keyshop(merchant)
    status, text = await merchant.get(f"/settings/integrations/{connection_id}/connected")
    assert status == 200 and "<h1>Connected</h1>" in text and "Key shop is connected" in text
    connection = await connection_store.get_connection(merchant.rt.db.pool, connection_id)
    assert (connection.state.value, connection.external_account_id) == ("connected", "keyshop-default")
    _, text = await merchant.get("/settings/integrations")
    assert "Key shop keyshop-default" in text or "Key shop default" in text
    assert GOOD_CLIENT_SECRET not in text and GOOD_CLIENT_SECRET not in caplog.text


async def test_a_wrong_secret_keeps_the_merchant_on_the_form_with_the_shops_reason(
    merchant: Merchant, keyshop: KeyShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await merchant.get(KEYSHOP_CONNECT)
    status, text, _ = await merchant.post(KEYSHOP_CONNECT, {"client_id": GOOD_CLIENT_ID, "client_secret": WRONG_SECRET})
    assert status == 400 and "<h1>Connect Key shop</h1>" in text
    assert "The shop did not accept these details: Key shop refused this client ID and secret" in text
    assert f'name="client_id" value="{GOOD_CLIENT_ID}"' in text  # the id stays filled in
    assert WRONG_SECRET not in text and WRONG_SECRET not in caplog.text  # the secret never comes back
    assert await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id) == []
    # The merchant corrects the secret on the same form and is connected.
    assert await connect_keyshop(merchant) > 0


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"client_id": GOOD_CLIENT_ID, "client_secret": ""}, "client_secret", "Client secret: fill this in."),
        ({"client_id": "  ", "client_secret": GOOD_CLIENT_SECRET}, "client_id", "Client ID: fill this in."),
        ({"client_id": "x" * 501, "client_secret": GOOD_CLIENT_SECRET}, "client_id", "at most 500 characters"),
        ({"client_id": "a\tb", "client_secret": GOOD_CLIENT_SECRET}, "client_id", "without line breaks or control characters"),
        ({"client_id": GOOD_CLIENT_ID}, "client_secret", "Client secret: fill this in."),
    ],
    ids=["secret-empty", "id-blank", "id-too-long", "id-control-char", "secret-missing"],
)
async def test_a_field_at_fault_shows_its_message_beside_it(
    merchant: Merchant, keyshop: KeyShop, data: dict[str, str], field: str, says: str
) -> None:
    await merchant.get(KEYSHOP_CONNECT)
    status, text, _ = await merchant.post(KEYSHOP_CONNECT, data)
    assert status == 400
    error = re.search(rf'<p class="error" role="alert" id="field-{field}-error">([^<]*)</p>', text)
    assert error and says in error.group(1), text
    assert re.search(rf'id="field-{field}"[^>]*aria-describedby="[^"]*field-{field}-error"[^>]*aria-invalid="true"', text)
    assert GOOD_CLIENT_SECRET not in text
    assert keyshop.token_requests() == 0
    assert await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id) == []


async def test_field_messages_in_dutch(merchant: Merchant, keyshop: KeyShop) -> None:
    await merchant.post("/language", {"lang": "nl", "next": "/"})
    await merchant.get(KEYSHOP_CONNECT)
    status, text, _ = await merchant.post(KEYSHOP_CONNECT, {"client_id": GOOD_CLIENT_ID, "client_secret": ""})
    assert status == 400 and "Client secret: vul dit in." in text
    status, text, _ = await merchant.post(KEYSHOP_CONNECT, {"client_id": GOOD_CLIENT_ID, "client_secret": WRONG_SECRET})
    assert status == 400 and "De shop accepteerde deze gegevens niet:" in text


async def test_the_same_shop_account_twice_stays_on_the_form(merchant: Merchant, keyshop: KeyShop) -> None:
    await connect_keyshop(merchant)
    await merchant.get(KEYSHOP_CONNECT)
    status, text, _ = await merchant.post(KEYSHOP_CONNECT, {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET})
    assert status == 409 and "connected already" in text and "<h1>Connect Key shop</h1>" in text
    assert GOOD_CLIENT_SECRET not in text
    assert len(await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id)) == 1


async def test_the_consent_form_renders_the_declared_pick_list(merchant: Merchant) -> None:
    status, text = await merchant.get("/settings/integrations/amazon/connect?marketplace=DE")
    assert status == 200 and '<option value="DE" selected>DE – Germany</option>' in text
    assert 'type="password"' not in text and "Continue to Amazon" in text
    _, text = await merchant.get("/settings/integrations/amazon/connect?marketplace=XX")
    assert '<option value="NL" selected>' in text  # an unknown preset is ignored


async def test_reconnect_with_new_credentials_for_the_same_shop_account(merchant: Merchant, keyshop: KeyShop) -> None:
    connection_id = await connect_keyshop(merchant)
    keyshop.revoke_client(GOOD_CLIENT_ID)
    async with merchant.rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, connection_id, ConnectionState.AUTH_REQUIRED, "the shop refused the stored credentials")
    _, text = await merchant.get("/settings/integrations")
    # Reconnect of a credentials connection opens its form (no POST needed to see it).
    assert f'<a class="button primary" href="/settings/integrations/{connection_id}/reconnect"' in text
    status, text = await merchant.get(f"/settings/integrations/{connection_id}/reconnect")
    assert status == 200 and "<h1>Reconnect Key shop</h1>" in text and "same shop account" in text
    status, text, _ = await merchant.post(
        f"/settings/integrations/{connection_id}/reconnect", {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}
    )
    assert status == 400 and "Key shop refused this client ID and secret" in text and GOOD_CLIENT_SECRET not in text
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state is ConnectionState.AUTH_REQUIRED
    client_id, secret = keyshop.add_client()
    status, _, location = await merchant.post(
        f"/settings/integrations/{connection_id}/reconnect", {"client_id": client_id, "client_secret": secret}, follow=False
    )
    assert status == 303 and location.endswith(f"/settings/integrations/{connection_id}/connected")
    assert (await connection_store.get_connection(merchant.rt.db.pool, connection_id)).state is ConnectionState.CONNECTED
    # A Reconnect button's POST (no fields) shows the form instead of sending anything to the shop.
    requests = keyshop.token_requests()
    status, _, location = await merchant.post(f"/settings/integrations/{connection_id}/reconnect", {}, follow=False)
    assert status == 303 and location.endswith(f"/settings/integrations/{connection_id}/reconnect")
    assert keyshop.token_requests() == requests


async def test_another_account_cannot_see_or_use_the_reconnect_form(merchant: Merchant, other: Merchant, keyshop: KeyShop) -> None:
    connection_id = await connect_keyshop(merchant)
    status, _ = await other.get(f"/settings/integrations/{connection_id}/reconnect")
    assert status == 404
    status, _ = await other.get(f"/settings/integrations/{connection_id}/connected")
    assert status == 404
    requests = keyshop.token_requests()
    status, _, _ = await other.post(
        f"/settings/integrations/{connection_id}/reconnect", {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}
    )
    assert status == 404 and keyshop.token_requests() == requests


async def test_forged_csrf_on_the_credentials_forms_changes_nothing(merchant: Merchant, other: Merchant, keyshop: KeyShop) -> None:
    connection_id = await connect_keyshop(merchant)
    await other.get("/settings/integrations")
    requests = keyshop.token_requests()
    before = await connection_store.get_connection(merchant.rt.db.pool, connection_id)
    client_id, secret = keyshop.add_client()
    forms = [
        (KEYSHOP_CONNECT, {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}),
        (f"/settings/integrations/{connection_id}/reconnect", {"client_id": client_id, "client_secret": secret}),
    ]
    for path, data in forms:
        for token in (FORGED, "", other.csrf):
            status, text, _ = await merchant.post(path, data, csrf=token)
            assert status == 403 and "nothing was changed" in text, (path, token)
            assert data["client_secret"] not in text
    assert keyshop.token_requests() == requests  # the shop was never asked
    assert await connection_store.get_connection(merchant.rt.db.pool, connection_id) == before
    assert len(await connection_store.list_connections(merchant.rt.db.pool, merchant.account_id)) == 1


async def keyshop_label(m: Merchant, keyshop: KeyShop) -> int:
    """Connect the key shop, tracking on, import one order, create a label on Shipments; the order id."""
    connection_id = await connect_keyshop(m)
    await tracking_on(m, connection_id)
    keyshop.add_order(name="Kees Keyzer", street="Sleutelstraat 2", postal_code="3511 AA", city="Utrecht", country="NL")
    await m.get("/shipping/import")
    status, _, location = await m.post("/shipping/import", {"connection_id": str(connection_id)}, follow=False)
    assert status == 303

    async def imported() -> int | None:
        orders = await order_store.list_orders(m.rt.db.pool, m.rt.vault, account_id=m.account_id)
        return orders[0].id if orders else None

    order_id = await eventually(imported)
    await m.get(f"/shipping/shipments/{order_id}")
    status, _, _ = await m.post(f"/shipping/shipments/{order_id}/label", {"tracking_number": "GLSKEY42"}, follow=False)
    assert status == 303
    return order_id


async def test_shipments_show_a_parcel_accepted_then_confirmed(merchant: Merchant, keyshop: KeyShop) -> None:
    order_id = await keyshop_label(merchant, keyshop)
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, order_id)

    async def state() -> dict:
        async with merchant.http.get(merchant.url(f"/shipping/labels/{label_id}/state")) as response:
            return await response.json()

    accepted = await eventually(lambda: _when(state, lambda s: s["parcels"][0]["state"] == "accepted"))
    assert accepted["pending"] is True  # the page keeps following it
    assert accepted["parcels"][0]["state_text"] == "Accepted by the shop, waiting for its confirmation"
    for path in (f"/shipping/shipments/{order_id}", "/shipping/shipments"):
        _, text = await merchant.get(path)
        assert "Accepted by the shop, waiting for its confirmation" in text and 'class="badge accepted"' in text, path
        _, dutch = await merchant.get(path, headers={"Accept-Language": "nl"})
        assert "Geaccepteerd door de shop, wacht op bevestiging" in dutch, path
    (process_id,) = keyshop.pending_processes()
    keyshop.settle(process_id, "SUCCESS")
    confirmed = await eventually(lambda: _when(state, lambda s: s["parcels"][0]["state"] == "confirmed"))
    assert confirmed["pending"] is False and confirmed["parcels"][0]["state_text"] == "Confirmed by the shop"
    _, text = await merchant.get(f"/shipping/shipments/{order_id}")
    assert "Confirmed by the shop" in text and "Accepted by the shop" not in text


async def _when(read, holds):  # noqa: ANN001, ANN202
    value = await read()
    return value if holds(value) else None
