"""Errors as JSON: every HubError maps to a status with a message; nothing leaks a traceback.

An ``InvalidInput`` that names the body member at fault carries it as ``error.field``. Messages
pass through the log mask (``core.logs.mask``), so a secret the hub knows never comes back in an
answer, not even inside a shop's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from core.errors import (
    Conflict,
    ConfigError,
    ConnectorAuthFailed,
    CredentialsRefused,
    ConnectorError,
    HubError,
    InvalidInput,
    NotFound,
    TransientError,
)
from core.logs import mask
from core.runtime import EVENTS_PATH

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
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON error body ``{"error": {"code", "message"[, "field"]}}``."""
    detail = {"code": code, "message": mask(message)}
    if field:
        detail["field"] = field
    return web.json_response({"error": detail}, status=status, headers=headers)


def where(request: web.Request) -> str:
    """The request's path for a log line; a shop event's path without its token (the connection's events address)."""
    return EVENTS_PATH + "{token}" if request.path.startswith(EVENTS_PATH) else request.path


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
        return error_response(status, err.code, err.message, getattr(err, "field", None))
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError):
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
        raise InvalidInput(_first_problem(err)) from err


def _first_problem(err: ValidationError) -> str:
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
