"""The SP-API front door every operation passes: request id, faults, user-agent, token, usage plan.

``@operation("searchOrders")`` wraps a handler ``(request, seller_id) -> response``. In order:
an injected fault may answer first; a missing or over-long ``user-agent`` gets 400; a missing,
expired or revoked ``x-amz-access-token`` gets 403 ``Unauthorized``; an empty token bucket gets 429
``QuotaExceeded``; then the handler (or, in sandbox-cases mode, the models' static cases) answers,
and a ``lost`` fault drops the connection instead of sending that answer. Every answer carries
``x-amzn-RequestId``; 200, 204, 400 and 404 also carry ``x-amzn-RateLimit-Limit``, as the models
declare.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from .answers import json_response
from .errors import SpApiError
from .faults import FaultRule
from .state import STATE, SimulatorState

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_USER_AGENT = 500
_RATE_LIMIT_HEADER_STATUSES = frozenset({200, 204, 400, 404})
_ERROR_TYPES = {403: "AccessDeniedException", 429: "QuotaExceededException",
                500: "InternalServerErrorException", 503: "ServiceUnavailableException"}

UNAUTHORIZED = SpApiError(
    403, "Unauthorized", "Access to requested resource is denied.",
    "The access token you provided is revoked, malformed or invalid.",
)
QUOTA_EXCEEDED = SpApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
INTERNAL_FAILURE = SpApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")
UNAVAILABLE = SpApiError(
    503, "InternalFailure", "Service temporarily unavailable. Please try again later."
)


def error_response(error: SpApiError) -> web.Response:
    """The ``{"errors": [...]}`` answer of an SpApiError."""
    response = json_response(error.body(), error.status)
    if error.status in _ERROR_TYPES:
        response.headers["x-amzn-ErrorType"] = _ERROR_TYPES[error.status]
    return response


def operation(name: str) -> Callable[[Handler], Route]:
    """Wrap an SP-API handler with faults, user-agent and token checks, the usage plan and headers."""

    def decorate(handler: Handler) -> Route:
        @functools.wraps(handler)
        async def route(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE]
            request_id = str(uuid.uuid4())
            fault = state.faults.draw(name)
            response = await inject(state, request, fault) if fault and fault.kind != "lost" else None
            if response is None:
                response = await _answer(state, request, name, handler)
                if fault and fault.kind == "lost":
                    return drop(request)
                if response.status in _RATE_LIMIT_HEADER_STATUSES:
                    response.headers["x-amzn-RateLimit-Limit"] = state.usage_plan(name).header
            response.headers["x-amzn-RequestId"] = request_id
            return response

        return route

    return decorate


async def _answer(state: SimulatorState, request: web.Request, name: str, handler: Handler) -> web.StreamResponse:
    try:
        user_agent = request.headers.get("User-Agent", "")
        if not user_agent.strip() or len(user_agent) > MAX_USER_AGENT:
            raise SpApiError(
                400, "InvalidInput", "Missing or invalid user-agent header.",
                f"Every request needs a user-agent header of at most {MAX_USER_AGENT} characters.",
            )
        seller_id = state.authenticate(request.headers.get("x-amz-access-token"))
        if seller_id is None:
            raise UNAUTHORIZED
        if not state.within_quota(seller_id, name):
            raise QUOTA_EXCEEDED
        if state.sandbox is not None:
            return await state.sandbox.answer(name, request)
        return await handler(request, seller_id)
    except SpApiError as error:
        return error_response(error)


async def inject(state: SimulatorState, request: web.Request, fault: FaultRule) -> web.StreamResponse | None:
    """Act out a fault before the work; None means carry on and answer normally (after a ``slow`` delay).

    A ``lost`` fault acts after the work: the route answers and then drops the connection.
    """
    if fault.kind == "slow":
        await pause(state, fault.delay)
        return None
    if fault.kind == "timeout":
        await pause(state, state.config.hang_seconds)
        return drop(request)
    if fault.kind == "drop":
        return drop(request)
    error = {"500": INTERNAL_FAILURE, "503": UNAVAILABLE, "429": QUOTA_EXCEEDED}[fault.kind]
    return error_response(error)


async def pause(state: SimulatorState, seconds: float) -> None:
    """Wait ``seconds`` of real time, or less if the simulator is shutting down."""
    try:
        await asyncio.wait_for(state.closing.wait(), seconds)
    except TimeoutError:
        pass


def drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering (the returned response is never sent)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)
