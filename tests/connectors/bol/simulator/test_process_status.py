"""The Shared API's process statuses: by id, by entity, in bulk; retention; the demo's fixed statuses."""

from __future__ import annotations

import re

import pytest

from tests.connectors.bol.simulator.conftest import BolApi, gls

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def accepted(api: BolApi, item_id: str = "6042823871", quantity: int = 1) -> dict:
    answer = await api.ship(gls(item_id, quantity=quantity))
    assert answer.status == 202
    return answer.body


async def test_ids_are_opaque_uuid_like_strings_that_link_to_themselves(api: BolApi):
    status = await accepted(api)
    assert UUID7.match(status["processStatusId"])
    assert status["links"] == [{"rel": "self",
                                "href": f"{api.sim.url}/shared/process-status/{status['processStatusId']}"}]


async def test_a_status_is_gone_48_hours_after_it_settled(api: BolApi):
    status = await accepted(api)
    await api.settle()
    api.sim.state.clock.advance(48 * 3600 - 1)
    api.renew()
    assert (await api.status(status["processStatusId"])).status == 200
    api.sim.state.clock.advance(1)
    answer = await api.status(status["processStatusId"])
    assert answer.status == 404
    found = await api.call("get-process-status-entity-id",
                           params={"entity-id": "6042823871", "event-type": "CREATE_SHIPMENT"})
    assert found.body == {"processStatuses": []}


async def test_a_pending_status_never_expires(api: BolApi):
    status = await accepted(api)
    api.sim.state.config.settle_delay = None
    manual = await accepted(api)
    api.sim.state.clock.advance(72 * 3600)
    api.renew()
    assert (await api.status(manual["processStatusId"])).body["status"] == "PENDING"
    assert (await api.status(status["processStatusId"])).status == 404  # settled at +5 s, then expired


async def test_by_entity_finds_every_item_of_a_shipment_newest_first(api: BolApi):
    first = await accepted(api)
    request = {"orderItems": [{"orderItemId": "6107331382"}, {"orderItemId": "6107331383", "quantity": 1}],
               "transport": {"transporterCode": "GLS", "trackAndTrace": "1"}}
    both = (await api.ship(request)).body
    again = await accepted(api)
    for item_id in ("6107331382", "6107331383"):
        found = await api.call("get-process-status-entity-id",
                               params={"entity-id": item_id, "event-type": "CREATE_SHIPMENT"})
        assert [s["processStatusId"] for s in found.body["processStatuses"]] == [both["processStatusId"]]
    found = await api.call("get-process-status-entity-id",
                           params={"entity-id": "6042823871", "event-type": "CREATE_SHIPMENT"})
    assert [s["processStatusId"] for s in found.body["processStatuses"]] == [again["processStatusId"],
                                                                             first["processStatusId"]]
    other = await api.call("get-process-status-entity-id",
                           params={"entity-id": "6042823871", "event-type": "CANCEL_ORDER"})
    assert other.body == {"processStatuses": []}


@pytest.mark.parametrize(("params", "names"), [
    ({}, {"entity-id", "event-type"}),
    ({"entity-id": "1"}, {"event-type"}),
    ({"entity-id": "1", "event-type": "SHIP_IT"}, {"event-type"}),
    ({"entity-id": "1", "event-type": "CREATE_SHIPMENT", "page": 0}, {"page"}),
])
async def test_by_entity_needs_both_parameters(api: BolApi, params, names):
    answer = await api.call("get-process-status-entity-id", params=params)
    assert (answer.status, answer.violations) == (400, names)


async def test_bulk_answers_the_known_ones_once_in_the_order_asked(api: BolApi):
    one, two = await accepted(api), await accepted(api)
    ids = [two["processStatusId"], "unknown", one["processStatusId"], two["processStatusId"]]
    answer = await api.call("get-process-status-bulk",
                            json={"processStatusQueries": [{"processStatusId": i} for i in ids]})
    assert [s["processStatusId"] for s in answer.body["processStatuses"]] == [two["processStatusId"],
                                                                               one["processStatusId"]]


async def test_bulk_takes_1_to_1000_ids(start_simulator, session):
    sim = await start_simulator(rate_limits=False)
    api = BolApi(session, sim)
    assert (await api.call("get-process-status-bulk", json={"processStatusQueries": []})).status == 400
    thousand = [{"processStatusId": str(n)} for n in range(1000)]
    answer = await api.call("get-process-status-bulk", json={"processStatusQueries": thousand})
    assert [s["processStatusId"] for s in answer.body["processStatuses"]] == ["1", "2", "3", "4"]
    too_many = await api.call("get-process-status-bulk", json={"processStatusQueries": [*thousand, thousand[0]]})
    assert (too_many.status, too_many.violations) == (400, {"processStatusQueries"})
    blank = await api.call("get-process-status-bulk", json={"processStatusQueries": [{"processStatusId": ""}]})
    assert blank.status == 400


async def test_the_demo_environments_statuses_are_there_and_stay(api: BolApi):
    api.sim.state.clock.advance(30 * 86400)
    api.renew()
    found = {}
    for process_status_id in ("1", "2", "3", "4"):
        body = (await api.status(process_status_id)).body
        found[process_status_id] = (body["entityId"], body["eventType"], body["status"])
    assert found == {
        "1": ("555551", "CREATE_SHIPMENT", "PENDING"), "2": ("555552", "CANCEL_ORDER", "SUCCESS"),
        "3": ("555553", "CREATE_INBOUND", "TIMEOUT"), "4": ("555554", "CHANGE_TRANSPORT", "FAILURE"),
    }


async def test_another_retailers_status_is_404(start_simulator, session):
    sim = await start_simulator(retailers=2)
    status = await accepted(BolApi(session, sim))
    other = BolApi(session, sim, "1055480")
    assert (await other.status(status["processStatusId"])).status == 404
    assert (await other.status("1")).status == 404


async def test_a_status_settles_by_itself_on_a_running_clock(start_simulator, session):
    sim = await start_simulator(freeze_clock=False, settle_delay=0.05)
    api = BolApi(session, sim)
    status = await accepted(api)
    settled = await sim.state.wait_for(
        lambda: sim.state.processes[status["processStatusId"]].status != "PENDING", timeout=5)
    assert settled
    assert (await api.status(status["processStatusId"])).body["status"] == "SUCCESS"


async def test_cancellation_is_accepted_and_cancels_the_open_units(api: BolApi):
    answer = await api.call("cancel-order-item", json={"orderItems": [{"orderItemId": "2070906705",
                                                                       "reasonCode": "OUT_OF_STOCK"}]})
    assert (answer.status, answer.body["eventType"], answer.body["entityId"]) == (202, "CANCEL_ORDER", "2070906705")
    await api.settle()
    item = (await api.order("A4K8290LP0")).body["orderItems"][0]
    assert (item["quantityCancelled"], item["quantityShipped"]) == (1, 0)
    bad = await api.call("cancel-order-item", json={"orderItems": [{"orderItemId": "2070906705",
                                                                    "reasonCode": "BORED"}]})
    assert (bad.status, bad.violations) == (400, {"orderItems[0].reasonCode"})


async def test_a_broken_action_fails_its_status_and_settling_goes_on(api: BolApi, caplog):
    def broken() -> str | None:
        raise RuntimeError("bug")

    state = api.sim.state
    bad = state.accept(api.retailer_id, "CREATE_SHIPMENT", ("1",), "Broken.", broken)
    good = await accepted(api)
    await api.settle()
    assert (state.processes[bad.process_status_id].status, state.processes[bad.process_status_id].error_message) == (
        "FAILURE", "Internal error of the simulator while processing the request.")
    assert (await api.status(good["processStatusId"])).body["status"] == "SUCCESS"
    assert "settling process status" in caplog.text
