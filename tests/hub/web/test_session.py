"""The session cookie (aiohttp-session's, encrypted): its attributes, no secret inside, a fresh session
for any cookie that does not decrypt; CSRF tokens tied to one session."""

from __future__ import annotations

import base64
import json
import time

import aiohttp
import aiohttp_session
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from core.infra.crypto import Vault, new_key
from core.infra.settings import HubSettings
from core.storage.tokens import digest
from hub.keys import RUNTIME
from hub.web import session as sessions
from hub.web.session import COOKIE, MAX_AGE, PURPOSE, Session
from tests.hub.web.conftest import Merchant, new_merchant


def stored(data: dict[str, object] | None = None, *, new: bool = False) -> Session:
    """A session as aiohttp-session would load it from a cookie (``new``: made by this request)."""
    payload = None if data is None else {"created": int(time.time()), "session": data}
    return Session(aiohttp_session.Session(None, data=payload, new=new))  # type: ignore[arg-type]


def fernet_of(client: TestClient, key: bytes | None = None) -> Fernet:
    """The cookie's Fernet under the hub's key (or ``key``), as aiohttp-session builds it."""
    return Fernet(base64.urlsafe_b64encode(key or client.server.app[RUNTIME].vault.derive(PURPOSE)))


def cookie_value(fernet: Fernet, data: dict[str, object], at: int | None = None) -> str:
    """A cookie value as aiohttp-session writes it, encrypted at ``at`` (default now)."""
    plain = json.dumps({"created": at or int(time.time()), "session": data}).encode()
    return fernet.encrypt_at_time(plain, at or int(time.time())).decode()


async def signed_in(client: TestClient, value: str) -> tuple[int, bool, str | None]:
    """GET the sign-in form with this cookie value: status, whether it saw a signed-in session, the new cookie."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,  # this cookie and no other
        browser.get(client.make_url("/signin"), headers={"Cookie": f"{COOKIE}={value}"}, allow_redirects=False) as response,
    ):
        sent = response.cookies.get(COOKIE)
        return response.status, response.status == 303, sent.value if sent is not None else None


async def test_every_visitor_gets_an_encrypted_httponly_samesite_cookie_that_expires(client: TestClient) -> None:
    m = await new_merchant(client, "Cookie Merchant")
    try:
        await m.get("/signin")
        async with m.http.post(m.url("/signin"), data={"csrf_token": m.csrf, "token": m.token}, allow_redirects=False) as response:
            assert response.status == 303
            cookie = response.cookies[COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert cookie["max-age"] == str(MAX_AGE) and not cookie["secure"]  # http://127.0.0.1: not Secure
        decrypted = json.loads(fernet_of(client).decrypt(cookie.value.encode()))["session"]
        assert decrypted["account_id"] == m.account_id and m.token not in cookie.value and m.token not in str(decrypted)
        assert m.csrf not in cookie.value  # the CSRF token is inside, encrypted
    finally:
        await m.close()


def test_the_cookie_is_secure_when_the_hub_is_served_over_https(settings: HubSettings) -> None:
    https = settings.model_copy(update={"server": settings.server.model_copy(update={"public_url": "https://hub.example"})})
    assert sessions.storage(https).cookie_params["secure"] is True
    assert sessions.storage(settings).cookie_params["secure"] is False


async def test_a_cookie_made_under_the_hubs_key_signs_in_until_it_expires(client: TestClient, merchant: Merchant) -> None:
    data = {"csrf": "x" * 43, "account_id": merchant.account_id, "token_digest": digest(merchant.token)}
    fernet = fernet_of(client)
    assert (await signed_in(client, cookie_value(fernet, data)))[1]
    status, signed, fresh = await signed_in(client, cookie_value(fernet, data, at=int(time.time()) - MAX_AGE - 5))
    assert status == 200 and not signed and fresh is not None


async def test_a_forged_foreign_or_non_ascii_cookie_is_a_fresh_session_never_an_error(client: TestClient, merchant: Merchant) -> None:
    data = {"csrf": "x" * 43, "account_id": merchant.account_id, "token_digest": digest(merchant.token)}
    genuine = cookie_value(fernet_of(client), data)
    foreign = cookie_value(fernet_of(client, Vault([new_key().encode()]).derive(PURPOSE)), data)  # another hub's key
    for value in (genuine[:-4] + "AAAA", foreign, "garbage", "ü", "eyJuIjoiIn0.s\u00efgn", genuine[:40] + "é" + genuine[41:]):
        status, signed, fresh = await signed_in(client, value)
        assert status == 200 and not signed, value
        assert fresh is not None and fresh != value, "a fresh session is sent in place of the bad cookie"


def test_csrf_tokens_belong_to_one_stored_session() -> None:
    s = stored({"csrf": "a" * 43, "account_id": None, "token_digest": None})
    assert sessions.csrf_ok(s, s.csrf)
    other = stored({"csrf": "b" * 43, "account_id": None, "token_digest": None})
    assert not sessions.csrf_ok(other, s.csrf)
    assert not sessions.csrf_ok(s, None) and not sessions.csrf_ok(s, "") and not sessions.csrf_ok(s, s.csrf + "x")
    assert not sessions.csrf_ok(s, "ü" * len(s.csrf)) and not sessions.csrf_ok(s, 42)
    made = stored(new=True)
    made.sign_out()
    assert not sessions.csrf_ok(made, made.csrf)  # a session made by this request has shown no form yet


def test_signing_in_and_out_renews_the_csrf_token() -> None:
    s = stored(new=True)
    s.sign_out()
    before = s.csrf
    s.sign_in(1, "d")
    after = s.csrf
    assert s.signed_in and (s.account_id, s.token_digest) == (1, "d")
    s.sign_out()
    assert len({before, after, s.csrf}) == 3 and s.account_id is None and not s.signed_in
