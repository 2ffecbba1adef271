"""Amazon's SP-API models (Swagger 2.0) as a test oracle: validate requests and responses.

The models are not part of the repository. They are read from the folder named by the
environment variable ``HUB_SPAPI_MODELS`` or, by default, from ``../shared/spapi-models`` beside
the repository root. When the folder is missing, every function here fails the calling test with a
message that says where it looked and names the variable: the tests never skip. The tests that
use this module carry the marker ``spapi_models`` (set by the plugin ``tests.model_folders``), so
``pytest -m "not spapi_models"`` leaves them out on purpose.

Usage from any test::

    from tests.connectors.amazon.spapi_models import validate_request, validate_response

    validate_response("orders_2026-01-01.json", "searchOrders", 200, body)
    validate_request("ordersV0.json", "confirmShipment", query={}, path_params={"orderId": oid},
                     body=payload)

Both raise ``ModelValidationError`` (an ``AssertionError``, so pytest shows it as a failure) listing
every problem found. What they check:

- responses: the status is declared by the operation; the body validates against that status's
  schema (JSON Schema draft 4 with ``$ref``s resolved against the model's ``definitions``; the
  ``date-time`` format is checked as RFC 3339); a status without a schema (204) must have no body.
  ``strict=True`` also rejects properties the model does not define (catches misspelt fields).
- requests: every declared parameter by location: required ones present; unknown query
  parameters rejected; Swagger 2.0 types (``integer``, ``number``, ``boolean``, ``string``) and
  formats (``date-time``); ``enum``; ``minLength``/``maxLength``/``pattern``;
  ``minimum``/``maximum``; arrays as one comma-separated value (``csv``, the Swagger 2.0 default
  and the only format these models use) with ``minItems``/``maxItems`` and the item rules; the
  body against the body parameter's schema.

Query values are given as they go on the wire: a ``str`` is one occurrence of the parameter (an
array parameter is split on commas); a list means the parameter was repeated, which is an error
for a ``csv`` array. A ``multidict.MultiDict`` (``request.query``, ``URL.query``) works as is.

``sandbox_cases(model_file, operation_id)`` returns the model's ``x-amzn-api-sandbox`` static
cases, for tests that replay them.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from tests.model_folders import (
    SPAPI_MODELS,
    ModelValidationError,
    format_checker,
    is_date,
    is_date_time,
    schema_problems,
)

MODELS_ENV = SPAPI_MODELS.env
DEFAULT_MODELS_DIR = SPAPI_MODELS.default

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

FORMAT_CHECKER = format_checker("date-time", "date")


@dataclass(frozen=True)
class Operation:
    """One operation of a model: where it lives and what it declares."""

    model_file: str
    operation_id: str
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    responses: dict[str, dict[str, Any]]

    def parameter(self, name: str) -> dict[str, Any]:
        """The declared parameter called ``name`` (KeyError if there is none)."""
        for param in self.parameters:
            if param["name"] == name:
                return param
        raise KeyError(name)


@dataclass(frozen=True)
class SandboxCase:
    """One ``x-amzn-api-sandbox`` static case: the request's parameters and the answer."""

    status: int
    parameters: dict[str, Any]
    response: Any


def models_dir() -> Path:
    """The folder the models are read from (it may not exist)."""
    return SPAPI_MODELS.path()


def models_available() -> bool:
    """True when the models folder exists (for what runs at collection, such as parametrisation)."""
    return SPAPI_MODELS.available()


def require_models() -> Path:
    """The models folder, or fail the calling test with a message that names ``HUB_SPAPI_MODELS``."""
    return SPAPI_MODELS.require()


def load_model(model_file: str) -> dict[str, Any]:
    """The parsed model ``model_file`` (e.g. ``"sellers.json"``); cached, do not mutate it."""
    return SPAPI_MODELS.load(model_file)


def operation(model_file: str, operation_id: str) -> Operation:
    """The operation ``operation_id`` of ``model_file``, with path-level parameters merged in."""
    model = load_model(model_file)
    for path, item in model["paths"].items():
        shared = [_deref(model, p) for p in item.get("parameters", [])]
        for method in _HTTP_METHODS:
            op = item.get(method)
            if op is None or op.get("operationId") != operation_id:
                continue
            own = [_deref(model, p) for p in op.get("parameters", [])]
            names = {(p["name"], p["in"]) for p in own}
            merged = own + [p for p in shared if (p["name"], p["in"]) not in names]
            return Operation(
                model_file, operation_id, method.upper(), path, tuple(merged),
                dict(op.get("responses", {})),
            )
    raise KeyError(f"{model_file} has no operation {operation_id!r}")


def sandbox_cases(model_file: str, operation_id: str) -> list[SandboxCase]:
    """The model's static sandbox cases for an operation, in model order."""
    op = operation(model_file, operation_id)
    cases = []
    for status, response in op.responses.items():
        for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
            params = {
                name: spec.get("value")
                for name, spec in case.get("request", {}).get("parameters", {}).items()
            }
            cases.append(SandboxCase(int(status), params, case.get("response")))
    return cases


def validate_response(
    model_file: str, operation_id: str, status: int, body: Any, *, strict: bool = False
) -> None:
    """Check that ``body`` (decoded JSON, or None/"" for no body) is what the model allows for ``status``."""
    op = operation(model_file, operation_id)
    where = f"{operation_id} response {status}"
    response = op.responses.get(str(status))
    if response is None:
        raise ModelValidationError(
            where, [f"status {status} is not declared (declared: {', '.join(op.responses)})"]
        )
    schema = response.get("schema")
    if schema is None:
        if body not in (None, "", b""):
            raise ModelValidationError(where, [f"expected no body, got {body!r:.200}"])
        return
    problems = _schema_problems(model_file, schema, body, strict)
    if problems:
        raise ModelValidationError(where, problems)


def validate_request(
    model_file: str,
    operation_id: str,
    query: Mapping[str, Any] | None = None,
    path_params: Mapping[str, Any] | None = None,
    body: Any = None,
    *,
    strict: bool = False,
) -> None:
    """Check query and path parameters and the JSON body of a request against the operation."""
    op = operation(model_file, operation_id)
    query_values = _multi(query or {})
    path_values = {name: [str(value)] for name, value in (path_params or {}).items()}
    problems: list[str] = []
    declared = {"query": set(), "path": set()}
    for param in op.parameters:
        location, name = param["in"], param["name"]
        if location == "body":
            if body is None:
                if param.get("required"):
                    problems.append("body: required but missing")
            else:
                problems.extend(
                    f"body{p}" if p.startswith(("[", ".")) else f"body: {p}"
                    for p in _schema_problems(model_file, param["schema"], body, strict)
                )
            continue
        if location not in declared:
            continue  # headers and form data are not modelled for SP-API operations
        declared[location].add(name)
        values = (query_values if location == "query" else path_values).get(name)
        if values is None:
            if param.get("required"):
                problems.append(f"{location} parameter {name}: required but missing")
            continue
        problems.extend(f"{location} parameter {name}: {p}" for p in _parameter_problems(param, values))
    for name in query_values.keys() - declared["query"]:
        problems.append(f"query parameter {name}: not declared by {operation_id}")
    for name in path_values.keys() - declared["path"]:
        problems.append(f"path parameter {name}: not declared by {operation_id}")
    if body is not None and not any(p["in"] == "body" for p in op.parameters):
        problems.append(f"body: {operation_id} takes no body")
    if problems:
        raise ModelValidationError(f"{operation_id} request", problems)


def _multi(query: Mapping[str, Any]) -> dict[str, list[str]]:
    getall = getattr(query, "getall", None)
    result: dict[str, list[str]] = {}
    for name in dict.fromkeys(query.keys()):
        raw = getall(name) if getall else query[name]
        items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        result[name] = [v if isinstance(v, str) else _scalar_text(v) for v in items]
    return result


def _scalar_text(value: Any) -> str:
    # Mirrors what an HTTP client puts on the wire for a non-string query value.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parameter_problems(param: dict[str, Any], values: list[str]) -> list[str]:
    if param.get("type") == "array":
        if param.get("collectionFormat", "csv") == "multi":
            items = values
        elif len(values) > 1:
            return [
                (
                    f"sent {len(values)} times; a {param.get('collectionFormat', 'csv')} array "
                    "goes as one comma-separated value"
                )
            ]
        else:
            separator = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}[
                param.get("collectionFormat", "csv")
            ]
            items = values[0].split(separator) if values[0] != "" else []
        problems = []
        if "minItems" in param and len(items) < param["minItems"]:
            problems.append(f"{len(items)} items, fewer than minItems {param['minItems']}")
        if "maxItems" in param and len(items) > param["maxItems"]:
            problems.append(f"{len(items)} items, more than maxItems {param['maxItems']}")
        if not items and "minItems" not in param:
            problems.append("empty value")
        item_rule = param.get("items", {})
        for index, item in enumerate(items):
            problems.extend(f"item {index} {p}" for p in _scalar_problems(item_rule, item))
        return problems
    if len(values) > 1:
        return [f"sent {len(values)} times, expected once"]
    return _scalar_problems(param, values[0])


def _scalar_problems(rule: Mapping[str, Any], raw: str) -> list[str]:
    kind = rule.get("type", "string")
    value: Any = raw
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            return [f"{raw!r} is not an integer"]
        value = int(raw)
    elif kind == "number":
        try:
            value = float(raw)
        except ValueError:
            return [f"{raw!r} is not a number"]
    elif kind == "boolean":
        if raw not in ("true", "false"):
            return [f"{raw!r} is not a boolean (true/false)"]
        value = raw == "true"
    problems = []
    if "enum" in rule and value not in rule["enum"]:
        problems.append(f"{raw!r} is not one of {rule['enum']}")
    if kind == "string":
        fmt = rule.get("format")
        if fmt == "date-time" and not is_date_time(raw):
            problems.append(f"{raw!r} is not an RFC 3339 date-time")
        if fmt == "date" and not is_date(raw):
            problems.append(f"{raw!r} is not a date (YYYY-MM-DD)")
        if "minLength" in rule and len(raw) < rule["minLength"]:
            problems.append(f"shorter than minLength {rule['minLength']}")
        if "maxLength" in rule and len(raw) > rule["maxLength"]:
            problems.append(f"longer than maxLength {rule['maxLength']}")
        if "pattern" in rule and not re.search(rule["pattern"], raw):
            problems.append(f"{raw!r} does not match {rule['pattern']}")
    if kind in ("integer", "number"):
        if "minimum" in rule and value < rule["minimum"]:
            problems.append(f"{value} is below minimum {rule['minimum']}")
        if "maximum" in rule and value > rule["maximum"]:
            problems.append(f"{value} is above maximum {rule['maximum']}")
    return problems


def _deref(model: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/parameters/...``) to what it points at."""
    while "$ref" in node and node["$ref"].startswith("#/") and "definitions" not in node["$ref"]:
        target: Any = model
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _schema_problems(model_file: str, schema: dict[str, Any], instance: Any, strict: bool) -> list[str]:
    return schema_problems(_validator(model_file, json.dumps(schema, sort_keys=True), strict), instance)


@functools.cache
def _validator(model_file: str, schema_json: str, strict: bool) -> jsonschema.Draft4Validator:
    definitions = load_model(model_file).get("definitions", {})
    if strict:
        definitions = _closed(copy.deepcopy(definitions))
    schema = json.loads(schema_json)
    if strict:
        schema = _closed(schema)
    # The operation's schema sits under allOf so that "#/definitions/..." resolves in this root.
    root = {"definitions": definitions, "allOf": [schema]}
    return jsonschema.Draft4Validator(root, format_checker=FORMAT_CHECKER)


def _closed(node: Any) -> Any:
    """Mark every object schema with properties as ``additionalProperties: false`` (strict mode)."""
    if isinstance(node, dict):
        for value in node.values():
            _closed(value)
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        for value in node:
            _closed(value)
    return node
