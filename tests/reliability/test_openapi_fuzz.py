"""schemathesis against /api/v1/openapi.json: no 5xx, and every answer within the description.

The hub runs on a test server with the fake connector (its own fake shop, "fuzz"), an account
with a valid token, a connected connection, imported orders and a label, so that the small ids
hypothesis favours reach real rows as well as missing ones. For each operation schemathesis
generates valid requests (positive) and requests that break the description (negative); each
answer must not be a server error, its status must be declared, its body must match the declared
schema and its content type the declared one. schemathesis is synchronous (requests): it runs in
a worker thread while the event loop serves the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core.infra.crypto import new_key
from core.infra.plugins import load_connector
from core.infra.settings import HubSettings
from core.usecases.imports import run_import
from hub.app import create_app
from hub.keys import RUNTIME
from tests.conftest import FAKE, TEMPLATE, _create_database, _drop, _with_database
from tests.contract.fake.shop import close_shop, open_shop
from tests.hub.api.conftest import new_api

#: Examples per operation and mode: bounded to keep the run short on two shared cores.
POSITIVE_EXAMPLES, NEGATIVE_EXAMPLES = 10, 6
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
SHOP = "fuzz"


@dataclass
class Run:
    """What one mode's run did, per operation."""

    cases: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def hub(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    """The hub's base URL and a valid token; the account has a connection, orders and a label."""
    name = await _create_database(pg_admin_url, TEMPLATE)
    settings = HubSettings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz")) / "data",
        database={"url": _with_database(pg_admin_url, name), "pool_min": 1, "pool_max": 5},
        security={"encryption_keys": [new_key()]},
        jobs={"enabled": False},
        connectors={"fake": {"shop": SHOP}},
    )
    shop = open_shop(SHOP)
    async with TestClient(TestServer(create_app(settings, connectors=[load_connector(FAKE, settings)]), host="127.0.0.1")) as client:
        api = await new_api(client, "Fuzz merchant")
        status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake"})
        assert status == 201, body
        response = await client.get("/connect/callback?" + urlencode(shop.consent(body["authorize_url"])))
        assert response.status == 200
        for _ in range(3):
            shop.add_order()
        await run_import(client.server.app[RUNTIME], body["connection"]["id"])
        status, label = await api.call("POST", "/api/v1/labels", json={"order_id": 1, "label_id": "FUZZ-1", "parcels": [{"tracking_number": "T1"}]})
        assert status == 201, label
        yield str(client.make_url("")).rstrip("/"), api.token
    close_shop(SHOP)
    await _drop(pg_admin_url, name)


def fuzz(base_url: str, token: str, mode: GenerationMode, examples: int) -> Run:
    """Run schemathesis over every operation in one generation mode; failures raise."""
    schema = schemathesis.openapi.from_url(base_url + "/api/v1/openapi.json")
    run = Run()
    session = requests.Session()  # one connection for all cases
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            response = case.call(base_url=base_url, headers=headers, session=session)
            case.validate_response(response, checks=CHECKS, headers=headers)
            # Called at once below, within this iteration: the loop's operation is the one meant.
            run.cases[operation.label] = run.cases.get(operation.label, 0) + 1  # noqa: B023
            run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1

        check()
    session.close()
    return run


async def test_valid_requests_get_no_5xx_and_answers_within_the_description(hub: tuple[str, str]) -> None:
    run = await asyncio.to_thread(fuzz, *hub, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
    assert len(run.cases) == 17, sorted(run.cases)  # the 16 operations under /api/v1 and the event route
    assert all(status < 500 for status in run.statuses)
    assert any(200 <= status < 300 for status in run.statuses), run.statuses  # some requests did reach real rows


async def test_invalid_requests_get_no_5xx_and_answers_within_the_description(hub: tuple[str, str]) -> None:
    run = await asyncio.to_thread(fuzz, *hub, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    assert run.cases, "no operation could be given invalid input"
    assert all(status < 500 for status in run.statuses)
