"""bol.com's token endpoint, ``POST /token`` (``https://login.bol.com/token`` in production).

Client credentials only: ``Authorization: Basic base64(client id:secret)`` and
``grant_type=client_credentials`` in a form body or the query string. The answer is
``{"access_token": ..., "token_type": "Bearer", "expires_in": 299, "scope": "RETAILER"}``; the token
is a JWT (HS256, signed with the simulator's own key) whose claims look like bol.com's (``aid``
``CLNTC:<client id> SLR:<retailer id>``). Wrong or deleted credentials get
``401 {"error": "invalid_client", "error_description": "Bad client credentials"}``. Every request is
counted per client id (``/_sim/tokens``) so tests can prove that a client reuses its token; the
endpoint is not rate limited. Faults apply under the operation name ``token``.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from .gateway import drop, pause
from .problems import dumps
from .records import AccessToken
from .state import STATE, SimulatorState, TokenRefused

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FAULT_REFUSALS = {
    "500": TokenRefused(500, "server_error", "The server encountered an unexpected condition."),
    "502": TokenRefused(502, "server_error", "Bad gateway."),
    "503": TokenRefused(503, "temporarily_unavailable", "The service is temporarily unavailable."),
    "504": TokenRefused(504, "temporarily_unavailable", "Gateway timeout."),
    "429": TokenRefused(429, "too_many_requests", "Too many requests."),
}


async def token(request: web.Request) -> web.StreamResponse:
    """Issue an access token for client credentials."""
    state = request.app[STATE]
    fault = state.faults.draw("token")
    if fault is not None:
        if fault.kind == "drop":
            return drop(request)
        if fault.kind == "timeout":
            await pause(state, state.config.hang_seconds)
            return drop(request)
        if fault.kind == "slow":
            await pause(state, fault.delay)
        else:
            return _refusal(_FAULT_REFUSALS[fault.kind])
    try:
        client_id, client_secret = _basic(request.headers.get("Authorization"))
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            grant_type = form.get("grant_type") or request.query.get("grant_type")
        else:
            grant_type = request.query.get("grant_type")
        if client_id is None:
            raise TokenRefused(401, "invalid_client", "Bad client credentials")
        access = _grant(state, client_id, client_secret, grant_type)
    except TokenRefused as refused:
        return _refusal(refused)
    body = {"access_token": access.token, "token_type": "Bearer", "expires_in": state.config.token_ttl,
            "scope": "RETAILER"}
    return web.Response(text=dumps(body), content_type="application/json", headers=_NO_STORE)


def _grant(state: SimulatorState, client_id: str, client_secret: str | None, grant_type: object) -> AccessToken:
    # A request with a bad grant type still counts against its client id.
    if grant_type != "client_credentials":
        client = state.clients.get(client_id)
        if client is not None:
            client.token_requests += 1
        else:
            state.unknown_token_requests[client_id] += 1
        if not grant_type:
            raise TokenRefused(400, "invalid_request", "Missing grant_type parameter")
        raise TokenRefused(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    return state.issue_token(client_id, client_secret)


def _basic(header: str | None) -> tuple[str | None, str | None]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, separator, secret = decoded.partition(":")
    return (client_id, secret) if separator else (None, None)


def _refusal(refused: TokenRefused) -> web.Response:
    body = {"error": refused.error, "error_description": refused.description}
    return web.Response(text=dumps(body), status=refused.status, content_type="application/json", headers=_NO_STORE)
