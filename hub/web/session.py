"""The merchant pages' session: aiohttp-session's encrypted cookie, and the CSRF token kept in it.

aiohttp-session's ``EncryptedCookieStorage`` keeps the session in the cookie, encrypted and
authenticated with Fernet under a key derived from the vault's newest key. It holds no secret: the
account id, the digest of the API token signed in with (so that revoking the token ends the session)
and the forms' CSRF token. It lasts ``MAX_AGE`` from its last change (Fernet's time-to-live, checked
on every read; the cookie's Max-Age tells the browser the same), and it is HttpOnly and
SameSite=Lax (Secure when the hub's public URL is https). A cookie that does not decrypt (forged,
expired, made under another key, not even ASCII) is a fresh anonymous session, never an error.

A new newest key in ``security.encryption_keys`` (a rotation) or a new ``PURPOSE`` signs everybody
out. Every visitor gets a session, signed in or not, so that the sign-in form has a CSRF token too.

A form's CSRF token is a random value kept in the session: a page of this site can show it, another
site can neither read the cookie (encrypted, HttpOnly) nor guess the value. Signing in and out
replace it, so a session planted before signing in is worth nothing after.
"""

from __future__ import annotations

import hmac
import secrets

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from core.infra.crypto import open_vault
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.storage.tokens import account_of_digest

COOKIE = "hub_session"
#: HKDF purpose of the cookie's Fernet key: a new version signs everybody out. (v1 signed a cookie
#: of our own with HMAC; v2 is aiohttp-session's Fernet cookie.)
PURPOSE = "hub web session v2"
#: How long a session lasts after it last changed (a sign-in), seconds.
MAX_AGE = 12 * 3600

#: The keys inside the stored session.
_CSRF, _ACCOUNT, _DIGEST = "csrf", "account_id", "token_digest"


def storage(settings: HubSettings) -> EncryptedCookieStorage:
    """aiohttp-session's encrypted cookie storage for these settings (its key from the vault)."""
    return EncryptedCookieStorage(
        open_vault(settings).derive(PURPOSE),
        cookie_name=COOKIE,
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.server.public_url.startswith("https://"),
    )


def middleware(settings: HubSettings) -> Middleware:
    """aiohttp-session's middleware: it sends the cookie again after a page changed the session."""
    return aiohttp_session.session_middleware(storage(settings))


class Session:
    """One browser's session: our view of aiohttp-session's stored one."""

    def __init__(self, stored: aiohttp_session.Session) -> None:
        self._stored = stored

    @property
    def account_id(self) -> int | None:
        """The signed-in account, or None."""
        account_id = self._stored.get(_ACCOUNT)
        return int(account_id) if account_id is not None else None

    @property
    def token_digest(self) -> str | None:
        """The digest of the API token signed in with, or None."""
        token_digest = self._stored.get(_DIGEST)
        return str(token_digest) if token_digest is not None else None

    @property
    def signed_in(self) -> bool:
        """Whether an account is signed in."""
        return self.account_id is not None

    @property
    def new(self) -> bool:
        """Whether this request made the session (no page can have shown its CSRF token yet)."""
        return self._stored.new

    @property
    def csrf(self) -> str:
        """The CSRF token of this session's forms."""
        return str(self._stored[_CSRF])

    def sign_in(self, account_id: int, token_digest: str) -> None:
        """Sign an account in, with a new CSRF token (no session fixation)."""
        self._renew(account_id, token_digest)

    def sign_out(self) -> None:
        """Forget the account, with a new CSRF token."""
        self._renew(None, None)

    def _renew(self, account_id: int | None, token_digest: str | None) -> None:
        self._stored.update({_CSRF: secrets.token_urlsafe(32), _ACCOUNT: account_id, _DIGEST: token_digest})


async def load(rt: Runtime, request: web.Request) -> Session:
    """The request's session; a new anonymous one when the cookie does not decrypt, expired or its token is revoked."""
    stored = await aiohttp_session.get_session(request)
    if not stored.new and isinstance(stored.get(_CSRF), str):
        session = Session(stored)
        if not session.signed_in:
            return session
        if await account_of_digest(rt.db.pool, session.token_digest or "") == session.account_id:
            return session
    session = Session(await aiohttp_session.new_session(request))
    session.sign_out()
    return session


def csrf_ok(session: Session, token: object) -> bool:
    """Whether a submitted token belongs to this (existing) session."""
    if session.new or not isinstance(token, str) or not token.isascii() or len(token) > 100:
        return False
    return hmac.compare_digest(token, session.csrf)
