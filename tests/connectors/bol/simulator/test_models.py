"""The checks every other test relies on: the routes are bol.com's operations, and the oracle can fail."""

from __future__ import annotations

import re

import pytest

from connectors.bol.simulator import create_app
from connectors.bol.simulator.faults import ACCEPTING, OPERATIONS
from tests.bol_models import RETAILER_API, SHARED_API, load_model
from tests.connectors.bol.simulator.conftest import (
    BolApi,
    answer_problems,
    bare_problem_problems,
    format_problems,
    request_problems,
)


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every API route, in the descriptions' spelling of parameters."""
    routes = set()
    for route in create_app().router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or path.startswith("/_sim") or path == "/token":
            continue
        routes.add((route.method, re.sub(r"\{(\w+)\}", lambda m: "{" + m.group(1).replace("_", "-") + "}", path)))
    return routes


def described() -> dict[tuple[str, str], str]:
    """(method, path) -> operationId of both descriptions."""
    found = {}
    for file in (RETAILER_API, SHARED_API):
        for path, item in load_model(file)["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    found[(method.upper(), path)] = op["operationId"]
    return found


def test_every_route_is_an_operation_of_bols_descriptions():
    operations = described()
    unknown = served_routes() - operations.keys()
    assert not unknown, f"routes bol.com does not describe: {sorted(unknown)}"


def test_the_fault_operations_are_the_served_operations():
    operations = described()
    served = {operations[route] for route in served_routes()}
    assert served == set(OPERATIONS) - {"token"}
    assert served >= ACCEPTING


def test_request_oracle_names_every_problem():
    found = request_problems(
        "get-orders", {"page": "0", "status": "CLOSED", "vvb-only": "yes", "colour": "red"}, {}, None,
        "application/vnd.retailer.v10+json",
    )
    text = "\n".join(found)
    assert "page" in text and "status" in text and "vvb-only" in text and "colour: not declared" in text


def test_request_oracle_checks_bodies_and_required_parameters():
    body = {"orderItems": [], "shipmentReference": "x" * 91, "transport": {"trackAndTrace": "1"}}
    text = "\n".join(request_problems("create-shipment", None, {}, body, "application/vnd.retailer.v10+json"))
    assert ".orderItems" in text and ".shipmentReference" in text and ".transport" in text
    missing = request_problems("get-process-status-entity-id", {}, {}, None, "application/vnd.retailer.v10+json")
    assert len(missing) == 2


def test_good_requests_pass_the_oracle():
    media = "application/vnd.retailer.v10+json"
    assert request_problems("get-orders", {"page": "2", "status": "OPEN", "vvb-only": "false"}, {}, None, media) == []
    assert request_problems("get-order", None, {"order-id": "A4K8290LP0"}, None, media) == []


def test_answer_oracle_rejects_what_bol_would_not_send():
    assert answer_problems("get-order", 200, {"orderId": "1"})  # required fields missing
    assert answer_problems("get-orders", 200, {"orders": [], "next": 2})  # undeclared property
    assert answer_problems("get-orders", 400, {"title": "x"})  # not a Problem
    assert bare_problem_problems({"title": "Expired JWT", "status": 401}, 401)
    assert format_problems({"orderPlacedDateTime": "2026-03-02 12:00", "expiryDate": "02-03-2026"})
    assert answer_problems("get-shipments", 200, {}) == []  # bol.com's empty list


def test_missing_descriptions_fail_naming_the_variable(monkeypatch, tmp_path):
    from tests.model_folders import BOL_MODELS

    monkeypatch.setenv("HUB_BOL_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception, match="HUB_BOL_MODELS"):
        BOL_MODELS.require()


def test_api_helper_is_exported():
    assert BolApi.call.__doc__
