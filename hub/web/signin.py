"""Signing in with an account's API token, signing out, and the language switch."""

from __future__ import annotations

from aiohttp import web

from core.storage.tokens import account_for, digest
from hub.keys import RUNTIME
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.pages import error_page, local_path, page, render, see_other, session_of

routes = web.RouteTableDef()

HOME = "/settings/integrations"


@routes.get("/")
@page(public=True)
async def home(request: web.Request) -> web.Response:
    """The start page: All integrations, or sign in first."""
    return see_other(HOME if session_of(request).signed_in else "/signin")


@routes.get("/signin")
@page(public=True)
async def signin_form(request: web.Request) -> web.Response:
    """The sign-in form."""
    target = local_path(request.query.get("next"), HOME)
    if session_of(request).signed_in:
        return see_other(target)
    notice = N_("You are signed out.") if request.query.get("done") == "signed_out" else None
    return render(request, "signin.html", {"next": target, "notice": notice})


@routes.post("/signin")
@page(public=True)
async def signin(request: web.Request) -> web.Response:
    """Sign in with an API token; a wrong one changes nothing."""
    form = await request.post()
    token = form.get("token")
    target = local_path(form.get("next"), HOME)
    token = token.strip() if isinstance(token, str) else ""
    account_id = await account_for(request.app[RUNTIME].db.pool, token) if token else None
    if account_id is None:
        error = N_("This API token is unknown or revoked. Check it, or ask an administrator for a new one.")
        return render(request, "signin.html", {"next": target, "error": error}, status=400)
    session_of(request).sign_in(account_id, digest(token))
    return see_other(target)


@routes.post("/signout")
@page(public=True)
async def signout(request: web.Request) -> web.Response:
    """Sign out: the session forgets the account and gets a new CSRF secret."""
    session_of(request).sign_out()
    return see_other("/signin?done=signed_out")


@routes.post("/language")
@page(public=True)
async def language(request: web.Request) -> web.Response:
    """Switch the pages' language (kept in a cookie) and go back to the page."""
    form = await request.post()
    chosen = form.get("lang")
    if chosen not in i18n.LANGUAGES:
        return error_page(request, 400, N_("That did not work"), N_("Choose Nederlands or English."))
    response = see_other(local_path(form.get("next"), "/"))
    response.set_cookie(i18n.COOKIE, str(chosen), max_age=365 * 24 * 3600, path="/", httponly=True, samesite="Lax")
    return response
