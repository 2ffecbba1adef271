"""Login with Amazon: ``POST /auth/o2/token`` with the ``authorization_code`` and ``refresh_token`` grants.

Form body as Amazon takes it; answers and errors as the contract (§1.5) shows them:
``invalid_grant`` for a used, expired, mismatched or unknown code or refresh token (with "User may
have revoked ..." once the seller revoked the app), ``invalid_client`` (401) for a wrong client id
or secret, ``invalid_request`` and ``unsupported_grant_type`` for malformed requests. Every answer
says ``Cache-Control: no-store``. The endpoint is not throttled, but faults (operation ``lwa``)
apply to it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from aiohttp import web

from .answers import dumps
from .errors import LwaError
from .gateway import drop, pause
from .state import ACCESS_TOKEN_TTL, STATE, SimulatorState

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FAULT_ERRORS = {
    "500": LwaError(500, "server_error", "The server encountered an unexpected error."),
    "503": LwaError(503, "temporarily_unavailable", "The service is temporarily unavailable."),
    "429": LwaError(429, "slow_down", "Too many requests."),
}


async def token(request: web.Request) -> web.StreamResponse:
    """Exchange an authorisation code or a refresh token for an access token."""
    state = request.app[STATE]
    fault = state.faults.draw("lwa")
    if fault is not None:
        if fault.kind == "drop":
            return drop(request)
        if fault.kind == "timeout":
            await pause(state, state.config.hang_seconds)
            return drop(request)
        if fault.kind == "slow":
            await pause(state, fault.delay)
        elif fault.kind != "lost":
            return _error(_FAULT_ERRORS[fault.kind])
    try:
        answer = _tokens(await _grant(state, request))
    except LwaError as error:
        return _error(error)
    # A lost answer: the tokens are issued (a code is used up), the caller never hears of them.
    return drop(request) if fault is not None and fault.kind == "lost" else answer


async def _grant(state: SimulatorState, request: web.Request) -> dict[str, object]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise LwaError(
            400, "invalid_request",
            "The request has an invalid content type : send application/x-www-form-urlencoded",
        )
    form = await request.post()
    grant_type = _field(form, "grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise LwaError(
            400, "unsupported_grant_type", f"The authorization grant type is not supported : {grant_type}"
        )
    client_id = _field(form, "client_id")
    client_secret = _field(form, "client_secret")
    if client_id != state.config.client_id or not hmac.compare_digest(
        client_secret.encode(), state.config.client_secret.encode()
    ):
        raise LwaError(401, "invalid_client", "Client authentication failed")
    if grant_type == "authorization_code":
        code = _field(form, "code")
        redirect_uri = _field(form, "redirect_uri")
        access = state.redeem_code(code, redirect_uri)
    else:
        access = state.refresh(_field(form, "refresh_token"))
    return {
        "access_token": access.token,
        "refresh_token": access.grant.refresh_token,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL,
    }


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise LwaError(400, "invalid_request", f"The request is missing a required parameter : {name}")
    return value


def _tokens(body: dict[str, object]) -> web.Response:
    return web.json_response(body, headers=_NO_STORE, dumps=dumps)


def _error(error: LwaError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=_NO_STORE, dumps=dumps)
