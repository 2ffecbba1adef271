"""Errors as JSON: every HubError maps to a status with a message; nothing leaks a traceback.

An ``InvalidInput`` that names the body member at fault carries it as ``error.field``; a catalogued
message (``core.contract.errors.MESSAGES``) its ``message_code`` and ``params``. Messages pass through the
log mask (``core.infra.logs.mask``), so a secret the hub knows never comes back in an answer, not even
inside a shop's reason. A request aiohttp cannot read (a header over its size limit) is logged in
one line without what the client sent (``RequestFaults``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from core.contract.errors import (
    ConfigError,
    Conflict,
    ConnectorAuthFailed,
    ConnectorError,
    CredentialsRefused,
    HubError,
    InvalidInput,
    NotFound,
    TransientError,
)
from core.infra.logs import mask
from core.infra.runtime import EVENTS_PATH

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
B = TypeVar("B", bound=BaseModel)


STATUS: list[tuple[type[HubError], int]] = [
    # 422: the request was well formed (not 400) and the API token is fine (not 401); the
    # merchant changes the credentials and tries again. Nothing was stored.
    (CredentialsRefused, 422),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (ConnectorAuthFailed, 409),
    (TransientError, 503),
    (ConnectorError, 502),
    (ConfigError, 500),
    (HubError, 500),
]


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    coded: HubError | None = None,
) -> web.Response:
    """A JSON error body ``{"error": {"code", "message"[, "field"][, "message_code", "params"]}}``.

    ``coded``: the error whose catalogued message code and parameters go with the message.
    """
    detail: dict[str, object] = {"code": code, "message": mask(message)}
    if field:
        detail["field"] = field
    if coded is not None and coded.message_code:
        detail["message_code"] = coded.message_code
        detail["params"] = {name: mask(value) for name, value in coded.params.items()}
    return web.json_response({"error": detail}, status=status, headers=headers)


def where(request: web.Request) -> str:
    """The request's path for a log line; a shop event's path without its token (the connection's events address)."""
    return EVENTS_PATH + "{token}" if request.path.startswith(EVENTS_PATH) else request.path


class RequestFaults(logging.Filter):
    """aiohttp's line about a request it could not read, in one line and with none of the client's bytes.

    aiohttp refuses such a request (a header over its 8190-byte limit, a bad request line) with a
    400 before any handler or middleware runs, and logs it on ``aiohttp.server`` with a traceback
    whose message quotes the start of the offending line: an ``Authorization`` header's token, in
    clear. The client has its 400; the log keeps that it happened, from where and why in a word.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold a parser refusal into one line without the exception's text."""
        err = record.exc_info[1] if record.exc_info else None
        if isinstance(err, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "refused a request it could not read from %s: %s (answered %s)"
            record.args = (remote, type(err).__name__, err.code)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


#: aiohttp's server logger, where its HTTP parser's refusals are logged (see ``RequestFaults``).
SERVER_LOGGER = "aiohttp.server"
_REQUEST_FAULTS = RequestFaults()
# On the logger itself, not a handler: whatever handlers a process sets up, none sees the original.
logging.getLogger(SERVER_LOGGER).addFilter(_REQUEST_FAULTS)


def status_of(err: HubError) -> int:
    """The HTTP status for a hub error."""
    return next(status for kind, status in STATUS if isinstance(err, kind))


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn errors into JSON answers with a message a client can act on."""
    try:
        return await handler(request)
    except HubError as err:
        status = status_of(err)
        if status >= 500:
            log.warning("%s %s failed: %s (%s)", request.method, where(request), err, err.detail)
        return error_response(status, err.code, err.message, getattr(err, "field", None), coded=err)
    except (
        OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
        asyncpg.CannotConnectNowError,
    ):
        log.warning("%s %s: the database is unavailable", request.method, where(request))
        return error_response(503, "unavailable", "The database is unavailable; retry shortly.")
    except asyncpg.TransactionRollbackError as err:  # a deadlock or serialization failure: nothing was written
        log.warning("%s %s: %s; the client may retry", request.method, where(request), type(err).__name__)
        return error_response(503, "retry", "The hub was busy with the same data; retry shortly.", headers={"Retry-After": "1"})
    except web.HTTPException as err:
        if err.status >= 400 and err.content_type != "application/json":
            return error_response(err.status, "http_error", err.reason or "error")
        raise
    except Exception:  # noqa: BLE001 - answer 500 with no internals, log the rest
        log.exception("%s %s crashed", request.method, where(request))
        return error_response(500, "internal", "Something went wrong in the hub; it was logged.")


async def read_body(request: web.Request, model: type[B]) -> B:
    """Parse and validate a JSON body; refuse anything else with a 400 naming the problem."""
    if request.content_type != "application/json":
        raise InvalidInput("Send the body as JSON with Content-Type: application/json.")
    raw = await request.read()
    if not raw.lstrip()[:1] == b"{":
        raise InvalidInput("The body must be a JSON object.")
    try:
        # Strict: "1" is not a number and 1 is not a string; JSON dates stay ISO 8601 strings.
        # pydantic also refuses invalid JSON, bad UTF-8 and absurd nesting here.
        return model.model_validate_json(raw, strict=True)
    except ValidationError as err:
        raise InvalidInput(first_problem(err)) from err


def first_problem(err: ValidationError) -> str:
    """The first thing a validation error found, as a 400's message names it."""
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"Invalid {where}: {problem['msg']}."


def int_param(request: web.Request, name: str, default: int | None = None, low: int = 0, high: int = 2**62) -> int:
    """An integer from the path or query; a 400 when it is not one or out of range."""
    raw = request.match_info.get(name, request.query.get(name))
    if raw is None:
        if default is None:
            raise InvalidInput(f"Missing parameter {name}.")
        return default
    if not (raw.isascii() and raw.isdigit()) or not (low <= int(raw) <= high):
        raise InvalidInput(f"Parameter {name} must be a whole number from {low} to {high}.")
    return int(raw)
