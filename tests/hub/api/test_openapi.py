"""The OpenAPI description (hub/api/openapi.py, kept by hand) and the API's routes agree.

Both sides are read live: the routes from the router of the app ``create_app`` builds, the
description from what that app serves at /api/v1/openapi.json. Every route under /api/v1 has its
operation, and every operation (under /api/v1 or not, such as the shops' events route) its route;
a difference fails here with the method and path.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from core.infra.crypto import new_key
from core.infra.settings import HubSettings
from hub.app import create_app

PREFIX = "/api/v1"
#: The description itself is served under the prefix but is not one of its operations.
DESCRIPTION = PREFIX + "/openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def routed(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route of the app; HEAD only where there is no GET."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path:
            found.add((route.method.lower(), path))
    return {(method, path) for method, path in found if method != "head" or ("get", path) not in found}


async def served_description(app: web.Application) -> dict:
    """The description as the app's own route answers it."""
    request = make_mocked_request("GET", DESCRIPTION, app=app)
    match = await app.router.resolve(request)
    response = await match.handler(request)
    assert isinstance(response, web.Response) and response.status == 200
    return json.loads(response.text)


async def test_every_api_route_has_an_openapi_operation_and_every_operation_a_route(tmp_path: Path) -> None:
    app = create_app(
        HubSettings(data_dir=tmp_path, security={"encryption_keys": [new_key()]}), connectors=[]
    )
    routes = routed(app)
    api_routes = {(method, path) for method, path in routes if path.startswith(PREFIX + "/") and path != DESCRIPTION}
    described = {
        (method, path)
        for path, item in (await served_description(app))["paths"].items()
        for method in item
        if method in METHODS
    }
    assert api_routes, "no routes under /api/v1: the app or this test has changed"
    assert api_routes - described == set(), "routes without an operation in hub/api/openapi.py"
    assert described - routes == set(), "operations in hub/api/openapi.py without a route in the app"
