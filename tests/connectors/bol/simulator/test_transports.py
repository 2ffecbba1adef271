"""``PUT /retailer/transports/{transport-id}``: a new track and trace for an existing transport."""

from __future__ import annotations

import pytest

from tests.connectors.bol.simulator.conftest import BolApi, gls


async def made_shipment(api: BolApi) -> dict:
    accepted = await api.ship(gls("6042823871", quantity=3, track="00340434161094042557"))
    await api.settle()
    assert (await api.status(accepted.body["processStatusId"])).body["status"] == "SUCCESS"
    listed = (await api.call("get-shipments", params={"order-id": "1043946570"})).body["shipments"]
    return listed[0]


async def test_track_and_trace_changes_when_the_status_settles(api: BolApi):
    shipment = await made_shipment(api)
    transport_id = shipment["transport"]["transportId"]
    answer = await api.call("add-transport-information-by-transport-id", path={"transport-id": transport_id},
                            json={"transporterCode": "GLS", "trackAndTrace": "00340434161094099999"})
    assert answer.status == 202
    assert (answer.body["eventType"], answer.body["entityId"], answer.body["status"]) == (
        "CHANGE_TRANSPORT", transport_id, "PENDING")
    detail = (await api.call("get-shipment", path={"shipment-id": shipment["shipmentId"]})).body
    assert detail["transport"]["trackAndTrace"] == "00340434161094042557"
    await api.settle()
    assert (await api.status(answer.body["processStatusId"])).body["status"] == "SUCCESS"
    detail = (await api.call("get-shipment", path={"shipment-id": shipment["shipmentId"]})).body
    assert detail["transport"]["trackAndTrace"] == "00340434161094099999"
    assert api.sim.state.shipment_counts() == {"6042823871": 1}  # still one shipment


async def test_unknown_transport_fails(api: BolApi):
    answer = await api.call("add-transport-information-by-transport-id", path={"transport-id": "1"},
                            json={"trackAndTrace": "X"})
    await api.settle()
    status = (await api.status(answer.body["processStatusId"])).body
    assert (status["status"], status["errorMessage"]) == ("FAILURE", "Transport 1 does not exist.")


@pytest.mark.parametrize(("body", "names"), [
    ({}, {"trackAndTrace"}),
    ({"trackAndTrace": ""}, {"trackAndTrace"}),
    ({"trackAndTrace": "1", "transporterCode": "POSTDUIF"}, {"transporterCode"}),
])
async def test_malformed_changes_are_400(api: BolApi, body, names):
    answer = await api.call("add-transport-information-by-transport-id", path={"transport-id": "1"}, json=body)
    assert (answer.status, answer.violations) == (400, names)
