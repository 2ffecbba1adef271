"""Seller Central's side of authorisation: the consent page and the Login-URI re-authorisation.

Website workflow: ``GET /apps/authorize/consent?application_id&state[&version=beta][&redirect_uri]``
shows "Authorise <app>" with the role Direct-to-Consumer Delivery, the "I direct Amazon ..." box
and Confirm / Cancel; a seller selector stands in for Amazon's sign-in. The form posts back to the
same path. Confirm with the box ticked redirects (302) to the redirect URI with ``state``,
``selling_partner_id`` and ``spapi_oauth_code``; without the box the page comes again with an
error. Cancel redirects with ``state`` and ``error=access_denied``: what Amazon sends on Cancel is
not documented (contract §1.3), this is the OAuth 2.0 convention.

Errors are pages naming Amazon's code: MD1000 (draft app without ``version=beta``), MD5101
(redirect URI not registered), MD5110 (redirect URI with a fragment).

Re-authorisation (Appstore workflow, contract §1.4): ``GET /_sim/reauthorize?seller=<id>`` plays
the seller clicking Re-Authorize in "Manage your apps": it sends the browser to the app's Login URI
with ``amazon_callback_uri``, ``amazon_state`` and ``selling_partner_id``. The app then sends the
browser to ``amazon_callback_uri`` (``GET /apps/authorize/confirm?redirect_uri&amazon_state&state``),
which redirects to the redirect URI as Confirm does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from aiohttp import web
from yarl import URL

from .errors import AuthPageError
from .state import STATE, SimulatorState

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def render(template: str, status: int = 200, **values: Any) -> web.Response:
    """A Seller Central page from a template."""
    html = _TEMPLATES.get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", headers=_PAGE_HEADERS)


def error_page(error: AuthPageError) -> web.Response:
    """The page Seller Central shows for an authorisation error."""
    return render("error.html", status=400, message=error.message, code=error.code)


async def consent_page(request: web.Request) -> web.Response:
    """GET: the consent page, or an error page naming Amazon's code."""
    state = request.app[STATE]
    query = request.query
    try:
        state.check_app(query.get("application_id"), query.get("version"))
        redirect_uri = state.check_redirect_uri(query.get("redirect_uri"))
    except AuthPageError as error:
        return error_page(error)
    return _consent(state, query, redirect_uri, state.first_seller.seller_id)


async def consent_submit(request: web.Request) -> web.Response:
    """POST: Confirm (only with the box ticked) or Cancel, answered by a redirect."""
    state = request.app[STATE]
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        state.check_app(fields.get("application_id"), fields.get("version"))
        redirect_uri = state.check_redirect_uri(fields.get("redirect_uri"))
    except AuthPageError as error:
        return error_page(error)
    seller_id = fields.get("selling_partner_id", "")
    if fields.get("action") == "cancel":
        _redirect(redirect_uri, state=fields.get("state"), error="access_denied")
    if seller_id not in state.sellers:
        return _consent(state, fields, redirect_uri, state.first_seller.seller_id,
                        error="Choose the account to authorise.", status=400)
    if fields.get("consent") != "yes":
        return _consent(
            state, fields, redirect_uri, seller_id, status=400,
            error="Tick the box to confirm that you direct Amazon to provide access to your account.",
        )
    code = state.issue_code(seller_id, redirect_uri)
    _redirect(redirect_uri, state=fields.get("state"), selling_partner_id=seller_id, spapi_oauth_code=code)


async def reauthorize(request: web.Request) -> web.Response:
    """The seller clicks Re-Authorize in "Manage your apps": off to the app's Login URI."""
    state = request.app[STATE]
    seller_id = request.query.get("seller") or state.first_seller.seller_id
    if seller_id not in state.sellers:
        return error_page(AuthPageError(f"Unknown seller {seller_id!r}."))
    if not state.config.login_uri:
        return error_page(AuthPageError("The application has no Login URI registered."))
    params = {
        "amazon_callback_uri": str(request.url.origin().with_path("/apps/authorize/confirm")),
        "amazon_state": state.start_reauthorization(seller_id),
        "selling_partner_id": seller_id,
    }
    if state.config.draft:
        params["version"] = "beta"
    _redirect(state.config.login_uri, **params)


async def confirm(request: web.Request) -> web.Response:
    """The ``amazon_callback_uri``: the app hands the browser back; redirect with a new code."""
    state = request.app[STATE]
    query = request.query
    try:
        state.check_app(state.config.application_id, query.get("version"))
        redirect_uri = state.check_redirect_uri(query.get("redirect_uri"))
        seller_id = state.take_amazon_state(query.get("amazon_state"))
    except AuthPageError as error:
        return error_page(error)
    code = state.issue_code(seller_id, redirect_uri)
    _redirect(redirect_uri, state=query.get("state"), selling_partner_id=seller_id, spapi_oauth_code=code)


def _consent(
    state: SimulatorState,
    values: Mapping[str, str],
    redirect_uri: str,
    selected: str,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    return render(
        "consent.html",
        status=status,
        app_name=state.config.application_name,
        sellers=list(state.sellers.values()),
        selected=selected,
        application_id=values.get("application_id", ""),
        state=values.get("state", ""),
        version=values.get("version", ""),
        redirect_uri=redirect_uri,
        consent=values.get("consent") == "yes",
        error=error,
    )


def _redirect(target: str, **params: str | None) -> NoReturn:
    url = URL(target).update_query({k: v for k, v in params.items() if v is not None})
    raise web.HTTPFound(url, headers=_PAGE_HEADERS)
