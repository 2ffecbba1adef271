"""The requests the connector sent, collected and checked against bol.com's descriptions.

``from_mock`` reads what aioresponses recorded; ``Recorder`` collects what a real session sends
(the simulator tests) through aiohttp's tracing. ``check_request`` finds the operation of
``retailer-v10.json`` or ``shared-v10.json`` with the request's method and path, and checks the
path parameters, every query parameter (declared, of its type, within its enum and bounds, the
required ones present), the media type both ways and the body against the operation's schema
(strictly: no member the description does not define). The token endpoint is not described
there; its request is checked against bol.com's documentation (Basic auth, form body).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import jsonschema
from aioresponses import aioresponses
from yarl import URL

from tests.bol_models import (
    MEDIA_TYPE,
    RETAILER_API,
    SHARED_API,
    ModelValidationError,
    load_model,
    validate_request_body,
)

_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class SentRequest:
    """One request as it left the client."""

    method: str
    url: URL
    headers: dict[str, str]
    body: bytes | None


def from_mock(mock: aioresponses) -> list[SentRequest]:
    """Every request aioresponses answered, in the order of first occurrence of each URL."""
    sent = []
    for (method, url), calls in mock.requests.items():
        for call in calls:
            headers = {key.lower(): value for key, value in (call.kwargs.get("headers") or {}).items()}
            data = call.kwargs.get("data")
            body = data.encode() if isinstance(data, str) else data
            sent.append(SentRequest(method, url, headers, body))
    return sent


class Recorder:
    """Collects the requests a real ``aiohttp.ClientSession`` sends: pass ``trace_config`` to it."""

    def __init__(self) -> None:
        self.requests: list[SentRequest] = []
        #: The status of every answer that came, in order.
        self.statuses: list[int] = []
        self.trace_config = aiohttp.TraceConfig()
        self.trace_config.on_request_start.append(self._start)
        self.trace_config.on_request_chunk_sent.append(self._chunk)
        self.trace_config.on_request_end.append(self._end)
        self.trace_config.on_request_exception.append(self._exception)

    async def _start(self, session: Any, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
        context.sent = (params.method, params.url, {k.lower(): v for k, v in params.headers.items()})
        context.body = b""

    async def _chunk(self, session: Any, context: SimpleNamespace, params: aiohttp.TraceRequestChunkSentParams) -> None:
        context.body += params.chunk

    async def _end(self, session: Any, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
        self._sent(context)
        self.statuses.append(params.response.status)

    async def _exception(self, session: Any, context: SimpleNamespace, params: Any) -> None:
        self._sent(context)  # a request whose answer never came was still sent

    def _sent(self, context: SimpleNamespace) -> None:
        method, url, headers = context.sent
        self.requests.append(SentRequest(method, url, headers, context.body or None))


def check_all(requests: list[SentRequest]) -> None:
    """Check every request; one ``ModelValidationError`` lists the problems of all of them."""
    problems = []
    for request in requests:
        try:
            check_request(request)
        except AssertionError as err:
            problems.append(f"{request.method} {request.url}: {err}")
    if problems:
        raise ModelValidationError("requests that do not match bol.com's description", problems)


def check_request(request: SentRequest) -> None:
    """Check one request against bol.com's description (see the module docstring)."""
    if request.url.path == "/token":
        _check_token_request(request)
        return
    model_file, path_template, op = _operation(request.method, request.url.path)
    where = f"{op['operationId']} request"
    problems: list[str] = []
    parameters = _parameters(model_file, path_template, request.method)
    values = _path_values(path_template, request.url.path)
    for name, value in values.items():
        problems += _check_value(parameters.get(("path", name)), f"path {name}", value)
    declared = {name for (where_, name) in parameters if where_ == "query"}
    for name, value in request.url.query.items():
        if name not in declared:
            problems.append(f"query parameter {name!r} is not declared (declared: {sorted(declared)})")
            continue
        problems += _check_value(parameters[("query", name)], f"query {name}", value)
    for (where_, name), parameter in parameters.items():
        if where_ == "query" and parameter.get("required") and name not in request.url.query:
            problems.append(f"required query parameter {name!r} missing")
    if request.headers.get("accept") != MEDIA_TYPE:
        problems.append(f"Accept is {request.headers.get('accept')!r}, not {MEDIA_TYPE}")
    if not request.headers.get("authorization", "").startswith("Bearer "):
        problems.append("no Bearer token")
    body = op.get("requestBody")
    if body is None:
        if request.body:
            problems.append(f"{op['operationId']} takes no body, got {request.body[:100]!r}")
    else:
        if request.headers.get("content-type") != MEDIA_TYPE:
            problems.append(f"Content-Type is {request.headers.get('content-type')!r}, not {MEDIA_TYPE}")
        if not request.body:
            problems.append("the body is missing")
        else:
            try:
                validate_request_body(model_file, op["operationId"], json.loads(request.body), strict=True)
            except ModelValidationError as err:
                problems += err.problems
    if problems:
        raise ModelValidationError(where, problems)


def _check_token_request(request: SentRequest) -> None:
    problems = []
    if request.method != "POST":
        problems.append(f"the token endpoint takes POST, not {request.method}")
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Basic ") or b":" not in base64.b64decode(authorization[6:]):
        problems.append("no Basic authorization with client id and secret")
    if (request.body or b"") != b"grant_type=client_credentials":
        problems.append(f"form body is {request.body!r}, not grant_type=client_credentials")
    if "secret" in str(request.url.query).lower() or "client" in str(request.url.query).lower():
        problems.append("credentials in the URL")
    if problems:
        raise ModelValidationError("token request", problems)


def _operation(method: str, path: str) -> tuple[str, str, dict[str, Any]]:
    """The description, path template and operation for a method and a concrete path; literal paths first."""
    candidates = []
    for model_file in (RETAILER_API, SHARED_API):
        for template, item in load_model(model_file)["paths"].items():
            op = item.get(method.lower())
            if op is not None and _pattern(template).fullmatch(path):
                candidates.append((template.count("{"), model_file, template, op))
    if not candidates:
        raise ModelValidationError(f"{method} {path}", ["no operation of bol.com's description has this method and path"])
    _, model_file, template, op = min(candidates, key=lambda c: c[0])
    return model_file, template, op


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def _path_values(template: str, path: str) -> dict[str, str]:
    names = re.findall(r"\{([^}]+)\}", template)
    regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
    match = re.fullmatch(regex, path)
    assert match is not None
    return dict(zip(names, (URL.build(path="/" + value).path[1:] for value in match.groups()), strict=True))


def _parameters(model_file: str, template: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
    item = load_model(model_file)["paths"][template]
    found = {}
    for parameter in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]:
        found[(parameter["in"], parameter["name"])] = parameter
    return found


def _check_value(parameter: dict[str, Any] | None, where: str, text: str) -> list[str]:
    if parameter is None:
        return [f"{where} is not declared"]
    schema = dict(parameter.get("schema", {}))
    kind = schema.get("type")
    value: Any = text
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", text):
            return [f"{where} = {text!r} is not an integer"]
        value = int(text)
    elif kind == "boolean":
        if text not in ("true", "false"):
            return [f"{where} = {text!r} is not true or false"]
        value = text == "true"
    schema.pop("format", None)
    schema.pop("default", None)
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(value))
    return [f"{where} = {text!r}: {error.message}" for error in errors]
