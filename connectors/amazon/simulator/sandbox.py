"""Sandbox-cases mode: answer the models' own ``x-amzn-api-sandbox`` static cases, like Amazon's sandbox.

The cases are read at startup from the models folder (``SimulatorConfig.models_dir``, else the
environment variable ``HUB_SPAPI_MODELS``, else ``../shared/spapi-models`` beside the repository);
nothing is copied. A request matches a case when it has exactly the case's parameters with the
same values (arrays compared as sets, the JSON body compared as a whole); it gets the case's status
and example body. Anything else gets 400 ``InvalidInput`` "Could not match input arguments", as
Amazon's static sandbox answers. Access tokens are still required; the sandbox's usage plan
(5 requests/s, burst 15) applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .answers import json_response
from .errors import invalid_input

MODELS_ENV = "HUB_SPAPI_MODELS"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "spapi-models"

# operation id -> model file (the operation ids are unique within each file).
SANDBOX_OPERATIONS = {
    "searchOrders": "orders_2026-01-01.json",
    "getOrder": "orders_2026-01-01.json",
    "confirmShipment": "ordersV0.json",
    "getMarketplaceParticipations": "sellers.json",
}


@dataclass(frozen=True)
class Case:
    """One static case: the parameters to match and the answer."""

    status: int
    parameters: dict[str, Any]
    response: Any


def models_dir(configured: Path | None = None) -> Path:
    """Where the models are read from."""
    if configured is not None:
        return configured
    env = os.environ.get(MODELS_ENV)
    return Path(env).expanduser() if env else DEFAULT_MODELS_DIR


class SandboxCases:
    """The static cases per operation and the array parameters needed to compare queries."""

    def __init__(self, cases: dict[str, list[Case]], arrays: dict[str, frozenset[str]]) -> None:
        self.cases = cases
        self._arrays = arrays

    @classmethod
    def load(cls, folder: Path) -> SandboxCases:
        """Read the cases of every sandboxed operation from the models in ``folder``."""
        if not folder.is_dir():
            raise FileNotFoundError(
                f"sandbox-cases mode needs Amazon's SP-API models, not found at {folder}; "
                f"set {MODELS_ENV} or SimulatorConfig.models_dir"
            )
        cases: dict[str, list[Case]] = {}
        arrays: dict[str, frozenset[str]] = {}
        models: dict[str, dict[str, Any]] = {}
        for operation_id, model_file in SANDBOX_OPERATIONS.items():
            if model_file not in models:
                models[model_file] = json.loads((folder / model_file).read_text(encoding="utf-8"))
            op = _operation(models[model_file], operation_id)
            arrays[operation_id] = frozenset(
                p["name"] for p in op.get("parameters", []) if p.get("type") == "array"
            )
            cases[operation_id] = [
                Case(int(status), {n: s.get("value") for n, s in case["request"].get("parameters", {}).items()},
                     case.get("response"))
                for status, response in op["responses"].items()
                for case in response.get("x-amzn-api-sandbox", {}).get("static", [])
            ]
        return cls(cases, arrays)

    async def answer(self, operation_id: str, request: web.Request) -> web.Response:
        """The answer of the first case the request matches, else 400 "Could not match input arguments"."""
        arrays = self._arrays.get(operation_id, frozenset())
        given: dict[str, Any] = dict(request.match_info)
        for name in request.query.keys():
            values = request.query.getall(name)
            if len(values) > 1:
                given[name] = values
            elif name in arrays:
                given[name] = values[0].split(",")
            else:
                given[name] = values[0]
        if request.can_read_body:
            try:
                given["body"] = await request.json()
            except ValueError:
                raise invalid_input("Could not match input arguments") from None
        for case in self.cases.get(operation_id, []):
            if _matches(case.parameters, given, arrays):
                if case.status == 204:
                    return web.Response(status=204)
                return json_response(case.response, case.status)
        raise invalid_input("Could not match input arguments")


def _matches(expected: dict[str, Any], given: dict[str, Any], arrays: frozenset[str]) -> bool:
    if expected.keys() != given.keys():
        return False
    for name, value in expected.items():
        if name in arrays and isinstance(value, list) and isinstance(given[name], list):
            if sorted(value) != sorted(given[name]):
                return False
        elif value != given[name]:
            return False
    return True


def _operation(model: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in model["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise KeyError(f"the model has no operation {operation_id}")
