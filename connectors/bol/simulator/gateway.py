"""The front door every Retailer and Shared API operation passes, in bol.com's order.

``@operation("get-orders")`` wraps a handler ``(request, call) -> response``. In order: process
statuses that became due settle; an injected fault may answer first (or hold, or cut the
connection); a missing, unknown or expired bearer token gets 401 (``Expired JWT``); an inactive
retailer 403; an empty rate-limit bucket 429 with ``Retry-After``; an ``Accept`` header without
``application/vnd.retailer.v10+json`` gets 406 and a body in another media type 415; then the
handler answers. Answers past the rate limiter carry ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset``. Faults of the "lost" kinds act after the handler did its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .faults import AFTER_WORK, OUTCOMES, FaultRule
from .problems import ADVERTISER_MEDIA_TYPE, MEDIA_TYPE, BolProblem, bad_request, problem_answer
from .ratelimit import Verdict
from .records import Retailer
from .state import STATE, SimulatorState


@dataclass(frozen=True)
class Call:
    """Who calls and how: the retailer, the client id, the negotiated media type and any fault."""

    retailer: Retailer
    client_id: str
    media_type: str
    fault: FaultRule | None
    base_url: str

    @property
    def retailer_id(self) -> str:
        """The calling retailer's id."""
        return self.retailer.retailer_id

    @property
    def forced_outcome(self) -> str | None:
        """FAILURE or TIMEOUT when a fault planned how this call's process status ends."""
        return OUTCOMES.get(self.fault.kind) if self.fault is not None else None


Handler = Callable[[web.Request, Call], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]

_FAULT_PROBLEMS = {
    "500": (500, "Internal Server Error", "An unexpected error occurred. Please try again later."),
    "502": (502, "Bad Gateway", "The upstream service answered with an invalid response."),
    "503": (503, "Service Unavailable", "The service is temporarily unavailable. Please try again later."),
    "504": (504, "Gateway Timeout", "The upstream service did not answer in time."),
}


def operation(name: str, *, body: bool = False, shared: bool = False) -> Callable[[Handler], Route]:
    """Wrap a handler of the operation ``name`` (a bol.com operationId); ``body``: it reads a JSON body."""
    media_types = (MEDIA_TYPE, ADVERTISER_MEDIA_TYPE) if shared else (MEDIA_TYPE,)

    def decorate(handler: Handler) -> Route:
        @functools.wraps(handler)
        async def route(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE]
            state.settle_due()
            fault = state.faults.draw(name)
            if fault is not None and fault.kind not in AFTER_WORK and fault.kind not in OUTCOMES:
                early = await act_before(state, request, fault)
                if early is not None:
                    return early
            state.calls[name] += 1
            verdict: Verdict | None = None
            try:
                token = state.authenticate(request.headers.get("Authorization"))
                retailer = state.retailer(token.retailer_id)
                if not retailer.active:
                    raise BolProblem(
                        403, "Forbidden",
                        "Account is not active, access denied. Please contact partner service for more information.",
                    )
                if state.config.rate_limits:
                    verdict = state.limiter.take(retailer.retailer_id, name)
                    if not verdict.allowed:
                        raise BolProblem(
                            429, "Too Many Requests",
                            f"Too many requests, retry in {verdict.retry_after} seconds.", bare=True,
                        )
                media_type = negotiate(request, media_types)
                if body and request.content_type.lower() not in media_types:
                    raise BolProblem(415, "Unsupported Media Type",
                                     "The supplied content-type media type is not supported.")
                base = str(request.url.origin())
                response = await handler(request, Call(retailer, token.client_id, media_type, fault, base))
            except BolProblem as problem:
                response = problem_answer(problem, request)
            if verdict is not None:
                response.headers.update(verdict.headers())
            if fault is not None and fault.kind in AFTER_WORK:
                return await act_after(state, request, fault)
            return response

        return route

    return decorate


def negotiate(request: web.Request, media_types: tuple[str, ...]) -> str:
    """The media type to answer in, from the ``Accept`` header; 406 when none of ours is accepted."""
    for part in request.headers.get("Accept", "").split(","):
        candidate = part.split(";", 1)[0].strip().lower()
        if candidate in media_types:
            return candidate
    raise BolProblem(406, "Not Acceptable",
                     f"The requested media type is not supported. Send Accept: {media_types[0]}.")


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or 400."""
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(("body", f"The request body is not valid JSON: {err}"),
                          detail="Unreadable request body") from None


async def act_before(state: SimulatorState, request: web.Request, fault: FaultRule) -> web.StreamResponse | None:
    """Act out a fault before the work; None means carry on (after a ``slow`` delay)."""
    if fault.kind == "slow":
        await pause(state, fault.delay)
        return None
    if fault.kind == "timeout":
        await pause(state, state.config.hang_seconds)
        return drop(request)
    if fault.kind == "drop":
        return drop(request)
    if fault.kind == "429":
        problem = BolProblem(429, "Too Many Requests", "Too many requests, retry in 1 seconds.", bare=True,
                             headers={"Retry-After": "1"})
    elif fault.kind == "401":
        problem = state.expired_jwt(state.clock.time())
    else:
        problem = BolProblem(*_FAULT_PROBLEMS[fault.kind])
    return problem_answer(problem, request)


async def act_after(state: SimulatorState, request: web.Request, fault: FaultRule) -> web.StreamResponse:
    """Lose the answer of work already done: cut, hold then cut, or a 504."""
    if fault.kind == "lost-504":
        return problem_answer(BolProblem(*_FAULT_PROBLEMS["504"]), request)
    if fault.kind == "lost-timeout":
        await pause(state, state.config.hang_seconds)
    return drop(request)


async def pause(state: SimulatorState, seconds: float) -> None:
    """Wait ``seconds`` of real time, or less if the simulator is shutting down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.closing.wait(), seconds)


def drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering (the returned response is never sent)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)
