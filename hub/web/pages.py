"""What every merchant page shares: the page marker, the middleware, rendering and redirects.

A handler marked with ``@page()`` (or ``@page(public=True)``, ``@page(json=True)``) gets, from
``pages_middleware``: the session (aiohttp-session's encrypted cookie, hub.web.session), the
language, the signed-in account (or a redirect to sign-in), a CSRF check on every POST before the
handler runs, errors as pages in the merchant's language, and the security headers. Routes that
are not marked (the JSON API, the operations routes, static files) pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.contract.errors import HubError, NotFound
from core.storage.accounts import get_account
from hub.api.errors import Handler, status_of
from hub.keys import RUNTIME
from hub.web import i18n
from hub.web import session as sessions
from hub.web.i18n import N_
from hub.web.session import Session

log = logging.getLogger(__name__)

TEMPLATES = web.AppKey("hub.web.templates", jinja2.Environment)

#: Request keys.
SESSION, LANG, ACCOUNT_NAME = "hub.web.session", "hub.web.lang", "hub.web.account_name"

#: The form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PageKind:
    """How the middleware treats a page route."""

    public: bool = False
    json: bool = False


def page(*, public: bool = False, json: bool = False) -> Callable[[F], F]:
    """Mark a handler as a merchant page (``public``: no sign-in needed; ``json``: answers JSON)."""

    def mark(handler: F) -> F:
        handler.hub_page = PageKind(public=public, json=json)  # type: ignore[attr-defined]
        return handler

    return mark


def session_of(request: web.Request) -> Session:
    """The request's session."""
    session: Session = request[SESSION]
    return session


def account_of(request: web.Request) -> int:
    """The signed-in account id (the middleware lets only signed-in requests reach private pages)."""
    account_id = session_of(request).account_id
    assert account_id is not None
    return account_id


def translator(request: web.Request) -> Callable[..., str]:
    """The ``t`` of the request's language."""
    return i18n.translator(request[LANG])


def when(value: datetime | None) -> str:
    """A timestamp as the pages show it (UTC, to the minute)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def day(value: datetime | None) -> str:
    """A date as the pages' tables show it (UTC)."""
    return value.strftime("%Y-%m-%d") if value else "–"


def render(request: web.Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    """A page from a template, with what every page needs in its context."""
    common = {
        "lang": request[LANG],
        "t": translator(request),
        "csrf_token": session_of(request).csrf,
        "account": request.get(ACCOUNT_NAME),
        "here": request.path_qs if request.method == "GET" else "/",
        "when": when,
        "day": day,
        "section": None,
        "notice": None,
        "error": None,
    }
    return aiohttp_jinja2.render_template(template, request, {**common, **(context or {})}, status=status, app_key=TEMPLATES)


def see_other(location: str) -> web.Response:
    """A 303 redirect (after a POST, or to sign in)."""
    return web.Response(status=303, headers={"Location": location})


def local_path(value: object, default: str = "/") -> str:
    """``value`` if it is a path on this site (no open redirect), else ``default``."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 2000:
        return value
    return default


def error_page(request: web.Request, status: int, title: str, message: str, back: str | None = None) -> web.Response:
    """A page that says what went wrong and what to do."""
    return render(request, "error.html", {"title": title, "message": message, "back": back}, status=status)


TITLES = {
    400: N_("That did not work"),
    403: N_("Form refused"),
    404: N_("Not found"),
    409: N_("Not possible now"),
}


def _hub_error(request: web.Request, kind: PageKind, err: HubError) -> web.Response:
    status = status_of(err)
    if status >= 500:
        log.warning("%s %s failed: %s (%s)", request.method, request.path, err, err.detail)
    if kind.json:
        return web.json_response({"error": {"code": err.code, "message": err.message}}, status=status)
    if isinstance(err, NotFound):
        # Another account's ids look exactly like ids that do not exist.
        return error_page(request, 404, TITLES[404], N_("This page does not exist, or it belongs to another account."))
    return error_page(request, status, TITLES.get(status, N_("Something went wrong")), err.message)


def _refused(request: web.Request, kind: PageKind) -> web.Response:
    message = N_(
        "This form was not sent from this page or is out of date, so nothing was changed. "
        "Reload the page and try again."
    )
    if kind.json:
        return web.json_response({"error": {"code": "csrf", "message": message}}, status=403)
    return error_page(request, 403, TITLES[403], message)


def _finish(request: web.Request, kind: PageKind, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not kind.json:
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Language", request[LANG])
        headers.setdefault("Vary", "Cookie, Accept-Language")


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, language, sign-in, CSRF, error pages and headers for the routes marked ``@page``."""
    kind: PageKind | None = getattr(request.match_info.handler, "hub_page", None)
    if kind is None:
        return await handler(request)
    rt = request.app[RUNTIME]
    session = await sessions.load(rt, request)
    request[SESSION] = session
    request[LANG] = i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("Accept-Language"))
    if session.signed_in:
        request[ACCOUNT_NAME] = (await get_account(rt.db.pool, session.account_id)).name  # type: ignore[arg-type]
    try:
        if request.method not in SAFE_METHODS:
            try:
                form = await request.post()
            except ValueError:
                form = None
            if form is None or not sessions.csrf_ok(session, form.get(CSRF_FIELD)):
                response: web.StreamResponse = _refused(request, kind)
                _finish(request, kind, response)
                return response
        if not kind.public and not session.signed_in:
            if kind.json:
                response = web.json_response(
                    {"error": {"code": "unauthorized", "message": "Sign in first."}}, status=401
                )
            else:
                target = request.path_qs if request.method == "GET" else "/"
                response = see_other(f"/signin?next={quote(target, safe='')}")
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        _finish(request, kind, exc)
        raise
    except HubError as err:
        response = _hub_error(request, kind, err)
    except Exception:  # noqa: BLE001 - a page with no internals; the rest goes to the log
        log.exception("%s %s crashed", request.method, request.path)
        crashed = N_("Something went wrong in the hub; it was logged. Try again later.")
        if kind.json:
            response = web.json_response({"error": {"code": "internal", "message": crashed}}, status=500)
        else:
            response = error_page(request, 500, N_("Something went wrong"), crashed)
    _finish(request, kind, response)
    return response
