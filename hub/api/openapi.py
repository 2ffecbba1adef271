"""The OpenAPI 3.1 description of /api/v1 and the shops' event route, built from the API's pydantic models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core import __version__
from core.infra.runtime import EVENTS_PATH
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
    ("post", "/connections", "Connect a shop in its connector's connect style", [], s.ConnectIn, 201, s.ConnectOut),
    ("get", "/connections/{id}", "One connection", [ID], None, 200, s.ConnectionOut),
    ("patch", "/connections/{id}", "Change a connection's settings", [ID], s.SettingsIn, 200, s.ConnectionOut),
    ("delete", "/connections/{id}", "Disconnect a connection", [ID], None, 200, s.ConnectionOut),
    ("post", "/connections/{id}/reconnect", "Authorise a connection again", [ID], s.ReconnectIn, 200, s.ReconnectOut),
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


#: Longer descriptions, by (method, path).
DESCRIPTIONS = {
    ("post", "/connections"): (
        "Follows the connector's connect style (`GET /api/v1/connectors`, `connect.style`). "
        "**consent**: the connection is created pending and `authorize_url` is the shop's consent page; "
        "send the merchant there (`fields` holds the options the connector declares, such as `marketplace`). "
        "**credentials**: `fields` holds the credentials the connector declares (secrets included); "
        "the hub checks them with the shop before it stores anything and answers with the connected "
        "connection and `authorize_url` null. 400 names the field at fault in `error.field`; 422 "
        "(`credentials_refused`) carries the shop's reason for refusing them; 409 when this shop account "
        "is connected already (reconnect that connection instead). Secrets are never echoed back, "
        "in an answer or an error."
    ),
    ("post", "/connections/{id}/reconnect"): (
        "**consent**: no body (or `fields` with options); answers the URL to authorise again. "
        "**credentials**: `fields` with new credentials for the same shop account, checked with the shop "
        "first; answers the connection, connected. 422 (`credentials_refused`) with the shop's reason, "
        "400 for another shop account or a field at fault (`error.field`)."
    ),
}

#: Extra answers, by (method, path).
EXTRA_ERRORS = {
    ("post", "/connections"): {"422": "The shop refused the credentials: its reason is the message; nothing was stored"},
    ("post", "/connections/{id}/reconnect"): {
        "422": "The shop refused the credentials: its reason is the message; nothing was changed"
    },
}

#: Operations whose body may be left out.
OPTIONAL_BODY = {("post", "/connections/{id}/reconnect")}

EVENT_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "the connection's event token, from the events URL the connector registered with the shop",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}$"},
}


def _events_operation(error_ref: dict[str, Any], event_ref: dict[str, Any]) -> dict[str, Any]:
    """``POST /events/{token}``: public, for shops; the connector verifies each message."""

    def error(text: str, retry: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = {"description": text, "content": {"application/json": {"schema": error_ref}}}
        if retry:
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
        return answer

    return {
        "summary": "Receive an event a shop posts for one connection",
        "description": (
            "Public: no API token (the shop cannot sign in), no session. The connection's connector verifies "
            "the message (signature, replay) from its raw body and headers; the hub then ignores an event id "
            "seen before, limits events per connection and minute, and acts through its jobs (an import, or "
            "asking the shop how accepted parcels settled). A refused message changes nothing."
        ),
        "operationId": "post_events_token",
        "security": [],
        "parameters": [EVENT_TOKEN],
        "requestBody": {"required": False, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {
            "204": {"description": "Verified and acted on (or noted, while the connection is paused)"},
            "200": {
                "description": "Received before: nothing done again",
                "content": {"application/json": {"schema": event_ref}},
            },
            "400": error("The connector could not read the message"),
            "401": error("Not verified: no or a wrong signature, or a replay"),
            "404": error("No connection takes events at this address"),
            "413": error("Body over events.max_body_bytes"),
            "429": error("Too many events for this connection: send it again after Retry-After", retry=True),
            "502": error("The connector failed to read the message"),
            "503": error("The hub or the shop is unavailable: send it again after Retry-After", retry=True),
        },
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
            **({"description": DESCRIPTIONS[method, path]} if (method, path) in DESCRIPTIONS else {}),
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": params,
            "responses": {
                str(status): {
                    "description": summary,
                    "content": {"application/json": {"schema": _schema(response, components, "serialization")}},
                },
                **{
                    code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                    for code, text in {**ERRORS, **EXTRA_ERRORS.get((method, path), {})}.items()
                },
            },
        }
        if body is not None:
            operation["requestBody"] = {
                "required": (method, path) not in OPTIONAL_BODY,
                "content": {"application/json": {"schema": _schema(body, components, "validation")}},
            }
        if path == "/labels" and method == "post":
            operation["responses"]["200"] = {
                "description": "The label was reported before: the stored label",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="LabelOut")}}},
            }
        paths.setdefault("/api/v1" + path, {})[method] = operation
    event_ref = _schema(s.EventOut, components, "serialization")
    paths[EVENTS_PATH + "{token}"] = {"post": _events_operation(error_ref, event_ref)}
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
