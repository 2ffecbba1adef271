"""The session cookie: signed, expiring, no secret inside; CSRF tokens tied to one session."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace

from core.infra.crypto import Vault, new_key
from hub.web import session as sessions
from hub.web.session import Session


def runtime(key: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(vault=Vault([(key or new_key()).encode()]))


def test_a_session_survives_the_cookie_round_trip() -> None:
    rt = runtime()
    s = Session()
    s.sign_in(7, "digest-of-token")
    back = sessions.decode(rt, sessions.encode(rt, s))
    assert back is not None and not back.changed
    assert (back.account_id, back.token_digest, back.nonce) == (7, "digest-of-token", s.nonce)


def test_forged_tampered_or_foreign_cookies_are_no_session() -> None:
    rt = runtime()
    s = Session()
    s.sign_in(7, "d")
    value = sessions.encode(rt, s)
    payload, signature = value.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"n": "x", "a": 1, "d": "d", "i": int(time.time())}).encode()).decode()
    for bad in (None, "", "garbage", "ü.ü", f"{forged.rstrip('=')}.{signature}", f"{payload}.{signature[::-1]}", value + ".x"):
        assert sessions.decode(rt, bad) is None
    assert sessions.decode(runtime(), value) is None  # another key (another hub, or a rotated vault)


def test_a_session_expires() -> None:
    rt = runtime()
    s = Session(issued=int(time.time()) - sessions.MAX_AGE - 1)
    assert sessions.decode(rt, sessions.encode(rt, s)) is None
    assert sessions.decode(rt, sessions.encode(rt, Session())) is not None


def test_csrf_tokens_belong_to_one_stored_session() -> None:
    rt = runtime()
    s = sessions.decode(rt, sessions.encode(rt, Session()))
    assert s is not None
    token = sessions.csrf_token(rt, s)
    assert sessions.csrf_ok(rt, s, token)
    assert token != s.nonce
    other = sessions.decode(rt, sessions.encode(rt, Session()))
    assert not sessions.csrf_ok(rt, other, token)
    assert not sessions.csrf_ok(rt, s, None) and not sessions.csrf_ok(rt, s, "") and not sessions.csrf_ok(rt, s, token + "x")
    assert not sessions.csrf_ok(rt, s, "ü" * len(token))
    assert not sessions.csrf_ok(rt, Session(), sessions.csrf_token(rt, Session()))  # a session just made has no form yet


def test_signing_in_and_out_renews_the_csrf_secret() -> None:
    s = Session()
    before = s.nonce
    s.sign_in(1, "d")
    after = s.nonce
    s.sign_out()
    assert len({before, after, s.nonce}) == 3 and s.account_id is None and s.changed
