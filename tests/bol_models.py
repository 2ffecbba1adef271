"""bol.com's Retailer API v10 descriptions (OpenAPI 3.0) as a test oracle for the bol.com connector.

The descriptions are not part of the repository. They are read from the folder named by the
environment variable ``HUB_BOL_MODELS`` or, by default, from ``../shared/bol-models`` beside the
repository root. When the folder is missing, every function here fails the calling test with a
message that says where it looked and names the variable: the tests never skip. The tests that use
this module carry the marker ``bol_models`` (set by the plugin ``tests.model_folders``), so
``pytest -m "not bol_models"`` leaves them out on purpose.

Usage from any test::

    from tests.bol_models import SHARED_API, RETAILER_API, validate_request_body, validate_response

    validate_request_body(RETAILER_API, "create-shipment", payload)
    validate_response(RETAILER_API, "create-shipment", 202, body)
    validate_response(SHARED_API, "get-process-status", 200, body)

Both raise ``ModelValidationError`` (an ``AssertionError``) listing every problem. Schemas are
checked as JSON Schema draft 4 with OpenAPI 3.0's ``nullable`` honoured and ``$ref``s resolved
against the description's ``components``; ``strict=True`` also rejects properties the description
does not define.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from tests.model_folders import BOL_MODELS, ModelValidationError, format_checker, schema_problems

MODELS_ENV = BOL_MODELS.env
DEFAULT_MODELS_DIR = BOL_MODELS.default
RETAILER_API = "retailer-v10.json"
#: Process status (``GET /shared/process-status/{process-status-id}``) lives in its own description.
SHARED_API = "shared-v10.json"
MEDIA_TYPE = "application/vnd.retailer.v10+json"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")
FORMAT_CHECKER = format_checker("date-time")


@dataclass(frozen=True)
class Operation:
    """One operation of a description: where it lives and what it declares."""

    model_file: str
    operation_id: str
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    request_body: dict[str, Any] | None
    responses: dict[str, dict[str, Any]]


def models_dir() -> Path:
    """The folder the descriptions are read from (it may not exist)."""
    return BOL_MODELS.path()


def models_available() -> bool:
    """True when the folder exists (for what runs at collection, such as parametrisation)."""
    return BOL_MODELS.available()


def require_models() -> Path:
    """The folder, or fail the calling test with a message that names ``HUB_BOL_MODELS``."""
    return BOL_MODELS.require()


def load_model(model_file: str) -> dict[str, Any]:
    """The parsed description ``model_file`` (``RETAILER_API``, ``SHARED_API``); cached, do not mutate it."""
    return BOL_MODELS.load(model_file)


def operation(model_file: str, operation_id: str) -> Operation:
    """The operation ``operation_id`` (``"create-shipment"``) of ``model_file``."""
    model = load_model(model_file)
    for path, item in model["paths"].items():
        for method in _HTTP_METHODS:
            op = item.get(method)
            if op is None or op.get("operationId") != operation_id:
                continue
            return Operation(
                model_file, operation_id, method.upper(), path,
                tuple(item.get("parameters", [])) + tuple(op.get("parameters", [])),
                op.get("requestBody"), dict(op.get("responses", {})),
            )
    raise KeyError(f"{model_file} has no operation {operation_id!r}")


def validate_response(
    model_file: str, operation_id: str, status: int, body: Any,
    *, media_type: str = MEDIA_TYPE, strict: bool = False,
) -> None:
    """Check that ``body`` (decoded JSON, or None for no body) is what the description allows for ``status``."""
    op = operation(model_file, operation_id)
    where = f"{operation_id} response {status}"
    response = op.responses.get(str(status))
    if response is None:
        raise ModelValidationError(
            where, [f"status {status} is not declared (declared: {', '.join(op.responses)})"]
        )
    content = response.get("content")
    if not content:
        if body not in (None, "", b""):
            raise ModelValidationError(where, [f"expected no body, got {body!r:.200}"])
        return
    if media_type not in content:
        raise ModelValidationError(where, [f"no {media_type} answer (declared: {', '.join(content)})"])
    problems = _schema_problems(model_file, content[media_type]["schema"], body, strict)
    if problems:
        raise ModelValidationError(where, problems)


def validate_request_body(
    model_file: str, operation_id: str, body: Any, *, media_type: str = MEDIA_TYPE, strict: bool = False
) -> None:
    """Check the JSON body of a request against the operation's ``requestBody``."""
    op = operation(model_file, operation_id)
    where = f"{operation_id} request"
    if op.request_body is None:
        raise ModelValidationError(where, [f"{operation_id} takes no body"])
    content = op.request_body.get("content", {})
    if media_type not in content:
        raise ModelValidationError(where, [f"no {media_type} body (declared: {', '.join(content)})"])
    problems = _schema_problems(model_file, content[media_type]["schema"], body, strict)
    if problems:
        raise ModelValidationError(where, problems)


def _schema_problems(model_file: str, schema: dict[str, Any], instance: Any, strict: bool) -> list[str]:
    return schema_problems(_validator(model_file, json.dumps(schema, sort_keys=True), strict), instance)


@functools.cache
def _validator(model_file: str, schema_json: str, strict: bool) -> jsonschema.Draft4Validator:
    components = load_model(model_file).get("components", {}).get("schemas", {})
    schemas = {name: _json_schema(definition, strict) for name, definition in components.items()}
    schema = _json_schema(json.loads(schema_json), strict)
    # The schema sits under allOf so that "#/components/schemas/..." resolves in this root.
    root = {"components": {"schemas": schemas}, "allOf": [schema]}
    return jsonschema.Draft4Validator(root, format_checker=FORMAT_CHECKER)


def _json_schema(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 schema to JSON Schema: ``nullable: true`` also allows null; strict closes objects."""
    if isinstance(node, list):
        return [_json_schema(value, strict) for value in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            converted[key] = {name: _json_schema(schema, strict) for name, schema in value.items()}
        elif key in ("example", "enum", "default", "required"):
            converted[key] = value
        else:
            converted[key] = _json_schema(value, strict)
    node = converted
    if strict and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node
