"""Fixtures for the bol.com simulator's tests: a served simulator, a caller that checks every exchange
against bol.com's descriptions, and a webhook receiver.

``BolApi.call`` checks both directions of every call against ``retailer-v10.json`` /
``shared-v10.json`` (``tests.bol_models``, strict: no properties the descriptions do not define):

- the request's path and query parameters and its JSON body; when the simulator accepts a request
  (2xx) that the description rejects, the test fails, so the simulator is never more lenient than
  bol.com's description;
- the answer: a status the operation declares validates against its schema; ``{}`` for an empty
  order or shipment list (bol.com's known answer, contract §2.1); 401 and 429 against the short
  shape the real service sends (``title``, ``status``, ``detail``); every other status (403, 404,
  405, 406, 415, 5xx) against ``Problem``; date-times as ``2017-02-09T12:39:48+01:00`` and dates as
  ``YYYY-MM-DD``; the answer's media type is the one asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema
import pytest
from aiohttp import web

from connectors.bol.simulator import RunningSimulator, SimulatorConfig, run_simulator
from tests.bol_models import (
    MEDIA_TYPE,
    RETAILER_API,
    SHARED_API,
    ModelValidationError,
    operation,
    validate_request_body,
    validate_response,
)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTLE = 5.0  # the tests' settle delay: statuses stay PENDING until the clock moves this far
SHARED_OPERATIONS = frozenset({"get-process-status", "get-process-status-entity-id", "get-process-status-bulk"})
EMPTY_LISTS = frozenset({"get-orders", "get-shipments"})  # answered {} when empty, as bol.com does
BARE_PROBLEM_STATUSES = frozenset({401, 429})

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME_KEYS = ("DateTime", "Timestamp", "timeStamp")

StartSimulator = Callable[..., Awaitable[RunningSimulator]]
HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here proves the simulator against bol.com's descriptions: all carry ``bol_models``."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.bol_models)


def model_file(operation_id: str) -> str:
    """The description an operation lives in."""
    return SHARED_API if operation_id in SHARED_OPERATIONS else RETAILER_API


@dataclass
class Answer:
    """An API answer: status, headers, the raw text and the decoded JSON body (None when empty)."""

    status: int
    headers: Any
    text: str
    body: Any

    @property
    def violations(self) -> set[str]:
        """The names of a 400's violations."""
        return {v["name"] for v in (self.body or {}).get("violations", [])}


def request_problems(
    operation_id: str, query: dict[str, Any] | None, path_params: dict[str, str], body: Any, media_type: str
) -> list[str]:
    """What bol.com's description finds wrong with a request (empty: a valid request)."""
    op = operation(model_file(operation_id), operation_id)
    problems: list[str] = []
    values = {"query": {k: str(v) for k, v in (query or {}).items()}, "path": dict(path_params)}
    declared: dict[str, set[str]] = {"query": set(), "path": set()}
    for param in op.parameters:
        where, name = param["in"], param["name"]
        if where not in declared:
            continue
        declared[where].add(name)
        if name not in values[where]:
            if param.get("required"):
                problems.append(f"{where} parameter {name}: required but missing")
            continue
        found = _parameter_problems(param["schema"], values[where][name])
        problems.extend(f"{where} parameter {name}: {p}" for p in found)
    for where in ("query", "path"):
        problems.extend(f"{where} parameter {name}: not declared" for name in values[where].keys() - declared[where])
    if op.request_body is not None:
        if body is None:
            if op.request_body.get("required"):
                problems.append("body: required but missing")
        else:
            try:
                validate_request_body(model_file(operation_id), operation_id, body, media_type=media_type, strict=True)
            except ModelValidationError as err:
                problems.extend(err.problems)
    elif body is not None:
        problems.append("body: the operation takes none")
    return problems


def _parameter_problems(schema: dict[str, Any], raw: str) -> list[str]:
    kind = schema.get("type", "string")
    value: Any = raw
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            return [f"{raw!r} is not an integer"]
        value = int(raw)
    elif kind == "boolean":
        if raw not in ("true", "false"):
            return [f"{raw!r} is not a boolean"]
        value = raw == "true"
    schema = {key: item for key, item in schema.items() if key not in ("format", "default", "example")}
    return [error.message for error in jsonschema.Draft4Validator(schema).iter_errors(value)]


def answer_problems(operation_id: str, status: int, body: Any) -> list[str]:
    """What is wrong with an answer, by the rules in this module's docstring."""
    file = model_file(operation_id)
    declared = operation(file, operation_id).responses
    try:
        if status in BARE_PROBLEM_STATUSES:
            return bare_problem_problems(body, status)
        if str(status) in declared:
            if not (status == 200 and body == {} and operation_id in EMPTY_LISTS):
                validate_response(file, operation_id, status, body, strict=True)
        else:
            # get-order declares Problem for 404: the same schema checks any other error's body.
            validate_response(RETAILER_API, "get-order", 404, body, strict=True)
            if body.get("status") != status:
                return [f"Problem.status {body.get('status')} differs from the HTTP status {status}"]
    except ModelValidationError as err:
        return err.problems
    return format_problems(body)


def bare_problem_problems(body: Any, status: int) -> list[str]:
    """The short error shape of bol.com's 401 and 429: title, status and detail only."""
    if not isinstance(body, dict) or set(body) != {"title", "status", "detail"}:
        return [f"expected exactly title, status and detail, got {body!r:.200}"]
    if not isinstance(body["title"], str) or not isinstance(body["detail"], str) or body["status"] != status:
        return [f"wrong types or status in {body!r:.200}"]
    return []


def format_problems(node: Any, where: str = "") -> list[str]:
    """Date-times and dates written the way bol.com writes them."""
    problems = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            if isinstance(value, str) and key.endswith(_DATE_TIME_KEYS):
                if not _DATE_TIME.match(value):
                    problems.append(f"{path}: {value!r} is not an ISO 8601 date-time with offset")
            elif isinstance(value, str) and key.endswith("Date"):
                if not _DATE.match(value):
                    problems.append(f"{path}: {value!r} is not a YYYY-MM-DD date")
            else:
                problems.extend(format_problems(value, path))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems.extend(format_problems(value, f"{where}[{index}]"))
    return problems


class BolApi:
    """Calls one simulator's API as one retailer and checks each exchange against bol.com's descriptions."""

    def __init__(self, session: aiohttp.ClientSession, sim: RunningSimulator, retailer_id: str | None = None) -> None:
        self.session = session
        self.sim = sim
        self.retailer_id = retailer_id or sim.state.first_retailer.retailer_id
        self.token = sim.state.token_for(self.retailer_id)

    def renew(self) -> None:
        """Take a fresh token (after moving the clock past the old one's life)."""
        self.token = self.sim.state.token_for(self.retailer_id)

    async def call(
        self,
        operation_id: str,
        *,
        path: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str | None] | None = None,
        media_type: str = MEDIA_TYPE,
        **request_options: Any,
    ) -> Answer:
        """Call ``operation_id`` and return its checked answer."""
        op = operation(model_file(operation_id), operation_id)
        path_params = dict(path or {})
        url = self.sim.url + re.sub(r"\{([^}]+)\}", lambda m: quote(path_params[m.group(1)], safe=""), op.path)
        sent: dict[str, str | None] = {"Authorization": f"Bearer {self.token}", "Accept": media_type}
        data = None
        if json is not None:
            sent["Content-Type"] = media_type
            data = jsonlib.dumps(json)
        sent.update(headers or {})
        wire = {name: value for name, value in sent.items() if value is not None}
        query = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in (params or {}).items()}
        problems = request_problems(operation_id, query, path_params, json, media_type)
        async with self.session.request(op.method, url, params=query, data=data, headers=wire,
                                        **request_options) as response:
            text = await response.text()
            body = jsonlib.loads(text) if text else None
            answer = Answer(response.status, response.headers, text, body)
        where = f"{operation_id} {op.method} {url} -> {answer.status}"
        if 200 <= answer.status < 300 and problems:
            raise AssertionError(f"{where}: accepted a request bol.com's description rejects: {problems}")
        if answer.status not in BARE_PROBLEM_STATUSES:
            content_type = answer.headers.get("Content-Type", "")
            expected = media_type if answer.status != 406 else MEDIA_TYPE
            assert content_type.split(";")[0] == expected, f"{where}: content type {content_type!r}"
        found = answer_problems(operation_id, answer.status, body)
        assert not found, f"{where}: the answer does not match bol.com's description:\n  " + "\n  ".join(found)
        return answer

    async def orders(self, **params: Any) -> Answer:
        """``GET /retailer/orders``."""
        return await self.call("get-orders", params=params)

    async def order(self, order_id: str) -> Answer:
        """``GET /retailer/orders/{order-id}``."""
        return await self.call("get-order", path={"order-id": order_id})

    async def ship(self, request: Any, **request_options: Any) -> Answer:
        """``POST /retailer/shipments``."""
        return await self.call("create-shipment", json=request, **request_options)

    async def status(self, process_status_id: str) -> Answer:
        """``GET /shared/process-status/{id}``."""
        return await self.call("get-process-status", path={"process-status-id": process_status_id})

    async def settle(self, seconds: float = SETTLE) -> None:
        """Move the clock so that statuses accepted up to now settle."""
        self.sim.state.clock.advance(seconds)
        self.sim.state.settle_due()


def gls(order_item_id: str, quantity: int | None = 1, track: str = "00340434161094042557",
        reference: str | None = "parcel-1") -> dict[str, Any]:
    """A ShipmentRequest for one item with GLS."""
    line: dict[str, Any] = {"orderItemId": order_item_id}
    if quantity is not None:
        line["quantity"] = quantity
    request: dict[str, Any] = {"orderItems": [line], "transport": {"transporterCode": "GLS", "trackAndTrace": track}}
    if reference is not None:
        request["shipmentReference"] = reference
    return request


@dataclass
class Received:
    """A message the receiver got: its exact body bytes and headers."""

    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        """The decoded body."""
        return jsonlib.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what arrives and answers ``status``."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give in turn; then ``status``
    status: int = 200
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        """Record a message and answer."""
        self.received.append(Received(await request.read(), dict(request.headers)))
        self._arrived.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else self.status)

    async def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until ``count`` messages arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators (frozen clock at START, statuses settle after SETTLE s, quick webhook retries)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningSimulator:
            values = {"start_time": START, "freeze_clock": True, "settle_delay": SETTLE,
                      "retry_interval": 0.01, "delivery_timeout": 2.0} | overrides
            return await stack.enter_async_context(run_simulator(SimulatorConfig(**values)))

        yield start


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> RunningSimulator:
    """A simulator with the default world: one retailer, 40 generated orders and the demo's."""
    return await start_simulator()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(session: aiohttp.ClientSession, sim: RunningSimulator) -> BolApi:
    """The API of ``sim`` as its first retailer."""
    return BolApi(session, sim)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on a free port."""
    app = web.Application()
    hook = Receiver("")
    app.router.add_post("/bol/events", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/bol/events"
    try:
        yield hook
    finally:
        await runner.cleanup()


async def admin(session: aiohttp.ClientSession, sim: RunningSimulator, method: str, path: str,
                json: Any = None) -> tuple[int, Any]:
    """Call the admin API: status and JSON body."""
    async with session.request(method, sim.url + path, json=json) as response:
        return response.status, await response.json()
