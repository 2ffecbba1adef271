"""The merchant pages' session: a signed cookie, and CSRF tokens tied to it.

The cookie holds no secret: the account id, the digest of the API token signed in with (so that
revoking the token ends the session), a random nonce and the issue time, signed with HMAC-SHA256
under a key derived from the vault. It is HttpOnly and SameSite=Lax (Secure when the hub's public
URL is https). Every visitor gets one, signed in or not, so that the sign-in form has a CSRF token
too; signing in and out replace the nonce.

A form's CSRF token is an HMAC of the session's nonce: a page of this site can show it, another
site cannot compute it, and it changes with every new session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from core.infra.runtime import Runtime
from core.storage.tokens import account_of_digest

COOKIE = "hub_session"
#: HKDF purpose of the signing key: a new version logs everybody out.
PURPOSE = "hub web session v1"
#: How long a sign-in lasts, seconds.
MAX_AGE = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Session:
    """One browser's session; ``changed`` says the cookie must be sent again."""

    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    account_id: int | None = None
    token_digest: str | None = None
    issued: int = field(default_factory=lambda: int(time.time()))
    changed: bool = True

    @property
    def signed_in(self) -> bool:
        """Whether an account is signed in."""
        return self.account_id is not None

    def sign_in(self, account_id: int, token_digest: str) -> None:
        """Sign an account in, with a new nonce (no session fixation)."""
        self._renew(account_id, token_digest)

    def sign_out(self) -> None:
        """Forget the account, with a new nonce."""
        self._renew(None, None)

    def _renew(self, account_id: int | None, token_digest: str | None) -> None:
        self.nonce = secrets.token_urlsafe(18)
        self.account_id, self.token_digest = account_id, token_digest
        self.issued, self.changed = int(time.time()), True


def _key(rt: Runtime) -> bytes:
    return rt.vault.derive(PURPOSE)


def encode(rt: Runtime, session: Session) -> str:
    """The cookie value: payload and signature."""
    payload = _b64(
        json.dumps(
            {"n": session.nonce, "a": session.account_id, "d": session.token_digest, "i": session.issued},
            separators=(",", ":"),
        ).encode()
    )
    signature = _b64(hmac.new(_key(rt), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def decode(rt: Runtime, value: str | None, now: float | None = None) -> Session | None:
    """The session in a cookie value, or None when it is missing, forged or too old."""
    if not value or len(value) > 1024 or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    expected = _b64(hmac.new(_key(rt), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):  # str: ASCII only, else TypeError
        return None
    try:
        data = json.loads(_unb64(payload))
        session = Session(
            nonce=str(data["n"]),
            account_id=int(data["a"]) if data["a"] is not None else None,
            token_digest=str(data["d"]) if data["d"] is not None else None,
            issued=int(data["i"]),
            changed=False,
        )
    except (ValueError, KeyError, TypeError):
        return None
    if (now if now is not None else time.time()) - session.issued > MAX_AGE:
        return None
    return session


async def load(rt: Runtime, request: web.Request) -> Session:
    """The request's session; a new anonymous one when the cookie is missing, forged, expired or its token revoked."""
    session = decode(rt, request.cookies.get(COOKIE))
    if session is None:
        return Session()
    if session.signed_in:
        live = await account_of_digest(rt.db.pool, session.token_digest or "")
        if live != session.account_id:
            return Session()
    return session


def save(rt: Runtime, session: Session, response: web.StreamResponse) -> None:
    """Send the cookie again if the session changed."""
    if not session.changed:
        return
    response.set_cookie(
        COOKIE,
        encode(rt, session),
        httponly=True,
        samesite="Lax",
        secure=rt.settings.server.public_url.startswith("https://"),
        path="/",
    )


def csrf_token(rt: Runtime, session: Session) -> str:
    """The CSRF token of a session's forms."""
    return _b64(hmac.new(_key(rt), b"csrf:" + session.nonce.encode(), hashlib.sha256).digest())


def csrf_ok(rt: Runtime, session: Session, token: object) -> bool:
    """Whether a submitted token belongs to this (existing) session."""
    if session.changed or not isinstance(token, str) or len(token) > 100:
        return False
    return hmac.compare_digest(token.encode(), csrf_token(rt, session).encode())  # str: ASCII only, else TypeError
