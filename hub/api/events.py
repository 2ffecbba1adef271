"""The route where shops post events: ``POST /events/{token}``, one address per connection (hub API v2).

Public and outside /api/v1: a shop cannot sign in, so the token in the path says which connection
the message is for and the connection's connector verifies it (signature, replay) in
``core.usecases.events.receive_event``. Not a browser form either, so no session and no CSRF token.

The body is read first, with ``events.max_body_bytes`` as the limit, before the token is looked
up. Answers: 204 acted on (or noted, for a paused connection), 200 a message received before,
401 not verified, 404 no connection takes events at this address, 413 body too large, 429 too many
events for the connection (``Retry-After``), 503 the shop could not be asked to help verify it
(``Retry-After``). None of the refusals changes anything.
"""

from __future__ import annotations

import logging

from aiohttp import web

from core.contract.errors import ConnectorError, EventRejected, NotFound, RateLimited, TransientError
from core.infra.logs import register_secret
from core.infra.runtime import EVENTS_PATH
from core.usecases import events
from hub.api.errors import error_response
from hub.keys import RUNTIME

log = logging.getLogger(__name__)

#: The event route; the token is what ``Runtime.events_url`` put there (letters, digits, - and _).
ROUTE = EVENTS_PATH + r"{token:[A-Za-z0-9_-]{1,200}}"


class BodyTooLarge(Exception):
    """The event's body is over ``events.max_body_bytes``."""


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, refused (``BodyTooLarge``) past ``limit`` bytes without reading further."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)


async def receive(request: web.Request) -> web.Response:
    """A shop's event for one connection: verified by its connector, deduped, acted on through jobs."""
    rt = request.app[RUNTIME]
    limit = rt.settings.events.max_body_bytes
    try:
        body = await read_limited(request, limit)
    except BodyTooLarge:
        return error_response(413, "too_large", f"An event body may be at most {limit} bytes.")
    token = request.match_info["token"]
    try:
        receipt = await events.receive_event(rt, token, dict(request.headers), body)
    except NotFound as err:
        return error_response(404, err.code, err.message)
    except EventRejected as err:
        _mask(token)
        log.info("a shop event was refused: %s", err)
        return error_response(401, err.code, err.message)
    except RateLimited as err:
        _mask(token)
        return error_response(429, err.code, err.message, headers=_retry_after(err))
    except TransientError as err:
        _mask(token)
        log.warning("a shop event could not be verified now: %s (%s)", err, err.detail)
        return error_response(503, err.code, err.message, headers=_retry_after(err))
    except ConnectorError as err:
        # The connector failed in another way: the shop may send it again; nothing was stored.
        _mask(token)
        log.warning("a shop event could not be read: %s (%s)", err, err.detail)
        return error_response(502, err.code, err.message)
    _mask(token)
    if receipt.duplicate:
        return web.json_response({"duplicate": True}, status=200)
    return web.Response(status=204)


def _mask(token: str) -> None:
    """Mask a known connection's token (its events address) in every log line from now on, the access log's too.

    Only tokens a connection has (the lookup passed), so that made-up ones cannot grow the list.
    """
    register_secret(token)


def _retry_after(err: TransientError) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(err.retry_after or 60)))}
