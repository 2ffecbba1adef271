"""The OpenAPI 3.1 description of /api/v1, built from the API's pydantic models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core import __version__
from hub.api import schemas as s

REF = "#/components/schemas/{model}"

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 2**62}}
ORDER_QUERY = [
    {"name": "connection_id", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2**62}},
    {"name": "status", "in": "query", "schema": {"enum": ["open", "partially_shipped", "shipped", "cancelled"]}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**62}},
]

#: (method, path, summary, parameters, request body, success status, response model)
OPERATIONS: list[tuple[str, str, str, list[dict[str, Any]], type[BaseModel] | None, int, type[BaseModel]]] = [
    ("get", "/connectors", "Installed connectors (All integrations)", [], None, 200, s.ConnectorList),
    ("get", "/connections", "The account's connections", [], None, 200, s.ConnectionList),
    ("post", "/connections", "Start connecting a shop", [], s.ConnectIn, 201, s.ConnectOut),
    ("get", "/connections/{id}", "One connection", [ID], None, 200, s.ConnectionOut),
    ("patch", "/connections/{id}", "Change a connection's settings", [ID], s.SettingsIn, 200, s.ConnectionOut),
    ("delete", "/connections/{id}", "Disconnect a connection", [ID], None, 200, s.ConnectionOut),
    ("post", "/connections/{id}/reconnect", "Authorise a connection again", [ID], None, 200, s.ReconnectOut),
    ("post", "/connections/{id}/disable", "Pause a connection: no imports, no pushes", [ID], None, 200, s.ConnectionOut),
    ("post", "/connections/{id}/enable", "Resume a disabled connection", [ID], None, 200, s.ConnectionOut),
    ("post", "/imports", "Start an import", [], s.ImportIn, 202, s.ImportOut),
    ("get", "/imports/{id}", "Follow an import", [ID], None, 200, s.ImportOut),
    ("get", "/orders", "The account's orders", ORDER_QUERY, None, 200, s.OrderList),
    ("get", "/orders/{id}", "One order with its labels", [ID], None, 200, s.OrderOut),
    ("post", "/labels", "Report a created label; its tracking push is queued", [], s.LabelIn, 201, s.LabelOut),
    ("get", "/labels/{id}", "One label with its parcels' push states", [ID], None, 200, s.LabelOut),
    ("post", "/labels/{id}/retry", "Push a label's failed parcels again", [ID], None, 202, s.LabelOut),
]

ERRORS = {
    "400": "Invalid input; nothing was changed",
    "401": "Missing, unknown or revoked API token",
    "404": "Not found, or another account's",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "502": "The shop failed",
    "503": "The shop or the database is unavailable; retry later",
}


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def build_openapi() -> dict[str, Any]:
    """The whole description."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    error_ref = _schema(s.ErrorOut, components, "serialization")
    for method, path, summary, params, body, status, response in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": params,
            "responses": {
                str(status): {
                    "description": summary,
                    "content": {"application/json": {"schema": _schema(response, components, "serialization")}},
                },
                **{
                    code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                    for code, text in ERRORS.items()
                },
            },
        }
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(body, components, "validation")}},
            }
        if path == "/labels" and method == "post":
            operation["responses"]["200"] = {
                "description": "The label was reported before: the stored label",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="LabelOut")}}},
            }
        paths.setdefault("/api/v1" + path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "hub API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
    }


routes = web.RouteTableDef()


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of the API."""
    return web.json_response(build_openapi())
