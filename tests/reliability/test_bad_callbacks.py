"""Bad input through the routes shops send the browser to, with the fake connector: each case gets a
4xx page (never a traceback) and changes nothing but what the defence itself must record.

``/connect/callback``: missing, forged, tampered, overlong, expired and replayed ``state``; a
replayed or missing code; a connection disconnected meanwhile; a callback meant for another
account (a browser signed in as someone else). ``/connect/login/{connector}``: unknown connector,
a connector without a Login URI. Consuming a valid state is what makes it single use, so that
change (``oauth_states.used_at``) is allowed where a valid state was sent; a refused code also
records the reason on the pending connection.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from core.usecases.oauth import issue_state
from tests.reliability.conftest import FakeWorld
from tests.reliability.snapshot import changes, snapshot

STATE_USED = r"oauth_states\[[^\]]+\]\.used_at changed"
REASON = r"connections\[\d+\]\.reason changed"


@dataclass
class Visit:
    """One browser visit: where to, as whom, and the database changes it may make."""

    path: str
    params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()
    signed_in_as: str | None = None  # "other": a browser signed in as the other account
    headers: dict[str, str] = field(default_factory=dict)


Prepare = Callable[[FakeWorld], Awaitable[Visit]]


async def fresh_state(world: FakeWorld, connection_id: int | None = None, ttl: int = 600) -> str:
    """A valid state for the owner's pending connection (or ``connection_id``)."""
    pool = world.rt.db.pool
    return await issue_state(pool, world.rt.vault, world.api.account_id, connection_id or world.pending_connection_id, ttl)


def fresh_code(world: FakeWorld, state: str) -> str:
    """A consent code the fake shop has not seen used."""
    return world.shop.consent(f"https://x.invalid/consent?state={state}")["code"]


def callback(params: dict[str, str], *allowed: str, signed_in_as: str | None = None) -> Visit:
    return Visit("/connect/callback", params, allowed, signed_in_as)


async def missing_state(world: FakeWorld) -> Visit:
    return callback({"code": fresh_code(world, "x")})


async def empty_state(world: FakeWorld) -> Visit:
    return callback({"state": "", "code": "c"})


async def forged_state(world: FakeWorld) -> Visit:
    return callback({"state": "bm9uY2U.c2lnbmF0dXJl", "code": "c"})


async def state_without_signature(world: FakeWorld) -> Visit:
    nonce = (await fresh_state(world)).split(".")[0]
    return callback({"state": nonce, "code": "c"})


async def state_with_two_dots(world: FakeWorld) -> Visit:
    return callback({"state": (await fresh_state(world)) + ".x", "code": "c"})


async def tampered_signature(world: FakeWorld) -> Visit:
    state = await fresh_state(world)
    flipped = state[:-1] + ("A" if state[-1] != "A" else "B")
    return callback({"state": flipped, "code": fresh_code(world, state)})


async def signature_of_another_nonce(world: FakeWorld) -> Visit:
    first, second = await fresh_state(world), await fresh_state(world)
    return callback({"state": first.split(".")[0] + "." + second.split(".")[1], "code": "c"})


async def overlong_state(world: FakeWorld) -> Visit:
    return callback({"state": "A" * 5000 + "." + "B" * 43, "code": "c"})


async def state_with_nul(world: FakeWorld) -> Visit:
    state = await fresh_state(world)
    return callback({"state": state + "\x00", "code": "c"})


async def state_with_unicode(world: FakeWorld) -> Visit:
    return callback({"state": "nönce.sïgnätüre", "code": "c"})


async def expired_state(world: FakeWorld) -> Visit:
    state = await fresh_state(world, ttl=-60)
    return callback({"state": state, "code": fresh_code(world, state)})


async def replayed_callback(world: FakeWorld) -> Visit:
    return callback(dict(world.used_callback))


async def replayed_code(world: FakeWorld) -> Visit:
    state = await fresh_state(world)
    return callback({"state": state, "code": world.used_callback["code"]}, STATE_USED, REASON)


async def missing_code(world: FakeWorld) -> Visit:
    return callback({"state": await fresh_state(world)}, STATE_USED)


async def disconnected_meanwhile(world: FakeWorld) -> Visit:
    state = await fresh_state(world, world.disconnected_connection_id)
    return callback({"state": state, "code": fresh_code(world, state)}, STATE_USED)


async def meant_for_another_account(world: FakeWorld) -> Visit:
    state = await fresh_state(world)
    return callback({"state": state, "code": fresh_code(world, state)}, STATE_USED, signed_in_as="other")


async def non_ascii_session_cookie(world: FakeWorld) -> Visit:
    visit = callback({"state": "bm9uY2U.c2lnbmF0dXJl", "code": "c"})
    visit.headers = {"Cookie": "hub_session=eyJuIjoiIn0.s\u00efgn"}
    return visit


async def login_unknown_connector(world: FakeWorld) -> Visit:
    return Visit("/connect/login/nope", {"selling_partner_id": "A1"})


async def login_uppercase_connector(world: FakeWorld) -> Visit:
    return Visit("/connect/login/FAKE", {"selling_partner_id": "A1"})


async def login_without_login_uri(world: FakeWorld) -> Visit:
    return Visit("/connect/login/fake", {"account": "fake-default"})


CASES: list[tuple[Prepare, int, str]] = [
    (missing_state, 400, "invalid"),
    (empty_state, 400, "invalid"),
    (forged_state, 400, "invalid"),
    (state_without_signature, 400, "invalid"),
    (state_with_two_dots, 400, "invalid"),
    (tampered_signature, 400, "invalid"),
    (signature_of_another_nonce, 400, "invalid"),
    (overlong_state, 400, "invalid"),
    (state_with_nul, 400, "invalid"),
    (state_with_unicode, 400, "invalid"),
    (expired_state, 400, "expired"),
    (replayed_callback, 400, "used already"),
    (replayed_code, 400, "refused the consent code"),
    (missing_code, 400, "no code"),
    (disconnected_meanwhile, 409, "disconnected"),
    (meant_for_another_account, 400, "another account"),
    (non_ascii_session_cookie, 400, "invalid"),
    (login_unknown_connector, 404, "Unknown connector"),
    (login_uppercase_connector, 404, "Unknown connector"),
    (login_without_login_uri, 400, "re-authorisation"),
]


async def signed_in_browser(world: FakeWorld, token: str) -> aiohttp.ClientSession:
    """A browser with its own cookies, signed in to the hub's pages with ``token``."""
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with browser.get(world.client.make_url("/signin")) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert csrf, "the sign-in page has no CSRF token"
    data = {"csrf_token": csrf.group(1), "token": token}
    async with browser.post(world.client.make_url("/signin"), data=data, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    return browser


@pytest.mark.parametrize(("prepare", "status", "says"), CASES, ids=[c[0].__name__.replace("_", "-") for c in CASES])
async def test_bad_callback_gets_a_4xx_page_and_changes_only_the_used_state(
    fake_world: FakeWorld, prepare: Prepare, status: int, says: str
) -> None:
    visit = await prepare(fake_world)
    pool = fake_world.rt.db.pool
    browser = await signed_in_browser(fake_world, fake_world.other.token) if visit.signed_in_as else fake_world.client.session
    try:
        before = await snapshot(pool)
        url = fake_world.client.make_url(visit.path).with_query(visit.params) if visit.params else fake_world.client.make_url(visit.path)
        async with browser.get(url, allow_redirects=False, headers=visit.headers) as response:
            text = html.unescape(await response.text())
            assert (response.status, response.content_type) == (status, "text/html"), text[:800]
        after = await snapshot(pool)
    finally:
        if visit.signed_in_as:
            await browser.close()
    assert says.lower() in text.lower(), text[:2000]
    assert "Traceback" not in text and "Exception" not in text
    unexpected = [line for line in changes(before, after) if not any(re.fullmatch(p, line) for p in visit.allowed)]
    assert unexpected == []


async def test_callback_with_markup_in_its_parameters_shows_no_markup(fake_world: FakeWorld) -> None:
    markup = "<script>alert(1)</script>"
    before = await snapshot(fake_world.rt.db.pool)
    response = await fake_world.client.get("/connect/callback", params={"state": markup, "code": markup, "error": markup})
    raw = await response.text()
    assert response.status == 400 and response.content_type == "text/html"
    assert "<script>alert" not in raw
    assert changes(before, await snapshot(fake_world.rt.db.pool)) == []


async def test_sign_in_with_a_non_ascii_csrf_token_is_refused(fake_world: FakeWorld) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(fake_world.client.make_url("/signin")) as response:
            assert response.status == 200
        before = await snapshot(fake_world.rt.db.pool)
        data = {"csrf_token": "ä" * 43, "token": fake_world.api.token}
        async with browser.post(fake_world.client.make_url("/signin"), data=data, allow_redirects=False) as response:
            assert response.status == 403, await response.text()
    assert changes(before, await snapshot(fake_world.rt.db.pool)) == []
