"""Sandbox-cases mode: the models' own static cases get their expected status and example body."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.amazon.simulator import SimulatorConfig, create_app
from tests.connectors.amazon.simulator.conftest import OPERATIONS, SpApi
from tests.connectors.amazon.spapi_models import models_available, sandbox_cases

pytestmark = pytest.mark.spapi_models  # fails without the models (tests/model_folders.py)

SANDBOXED = ["searchOrders", "getOrder", "confirmShipment", "getMarketplaceParticipations"]
CASES = [
    pytest.param(op, case, id=f"{op}-{case.status}-{n}")
    for op in SANDBOXED if models_available()
    for n, case in enumerate(sandbox_cases(OPERATIONS[op][0], op))
]


@pytest.fixture
async def sandbox(session, start_simulator) -> SpApi:
    """The SP-API of a simulator in sandbox-cases mode."""
    sim = await start_simulator(sandbox_cases=True)
    return SpApi(session, sim, sim.state.first_seller.seller_id)


def request_of(case):
    """The call of a sandbox case: order id, query parameters and body."""
    params = {k: ",".join(v) if isinstance(v, list) else v for k, v in case.parameters.items()
              if k not in ("orderId", "body")}
    return {"order_id": case.parameters.get("orderId"), "params": params or None,
            "json": case.parameters.get("body")}


def test_every_sandboxed_operation_has_cases():
    assert {p.values[0] for p in CASES} == set(SANDBOXED)
    assert len([p for p in CASES if p.values[0] != "getMarketplaceParticipations"]) == 10


@pytest.mark.parametrize(("operation", "case"), CASES)
async def test_static_case_gets_its_status_and_body(sandbox, operation, case):
    answer = await sandbox.call(operation, **request_of(case))
    assert answer.status == case.status
    assert answer.body == (None if case.status == 204 else case.response)


async def test_unmatched_request_is_could_not_match_input_arguments(sandbox):
    answer = await sandbox.search(createdAfter="2024-12-25T00:00:00Z", marketplaceIds="A1PA6795UKMFR9")
    assert answer.status == 400
    assert answer.body["errors"][0]["message"] == "Could not match input arguments"


async def test_extra_parameter_does_not_match(sandbox):
    answer = await sandbox.get_order("114-9876543-1234567", "RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES")
    assert answer.status == 400


async def test_included_data_order_does_not_matter(sandbox):
    answer = await sandbox.get_order("114-9876543-1234567", "FULFILLMENT,RECIPIENT,PROCEEDS")
    assert answer.status == 200


async def test_seeded_orders_are_not_served_in_sandbox_mode(sandbox):
    order = next(iter(sandbox.sim.state.orders.values()))
    assert (await sandbox.get_order(order.order_id)).status == 400


async def test_sandbox_still_needs_an_access_token(sandbox):
    answer = await sandbox.call("getMarketplaceParticipations", token="")
    assert answer.status == 403


async def test_sandbox_usage_plan_is_5_per_second_burst_15(sandbox):
    statuses = [(await sandbox.call("getMarketplaceParticipations")).status for _ in range(16)]
    assert statuses == [200] * 15 + [429]
    sandbox.sim.state.clock.advance(0.2)
    answer = await sandbox.call("getMarketplaceParticipations")
    assert (answer.status, answer.headers["x-amzn-RateLimit-Limit"]) == (200, "5")


def test_sandbox_mode_without_models_fails_at_startup(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="HUB_SPAPI_MODELS"):
        create_app(SimulatorConfig(sandbox_cases=True, models_dir=tmp_path / "missing"))


def test_sandbox_models_folder_comes_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HUB_SPAPI_MODELS", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        create_app(SimulatorConfig(sandbox_cases=True))
