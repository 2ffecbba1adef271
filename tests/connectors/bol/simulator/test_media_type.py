"""Media type both ways, Problem answers for unknown paths and methods."""

from __future__ import annotations

import pytest

from tests.bol_models import MEDIA_TYPE
from tests.connectors.bol.simulator.conftest import BolApi, gls

ADVERTISER = "application/vnd.advertiser.v10+json"


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/vnd.retailer.v9+json"])
async def test_requests_without_the_v10_media_type_are_406(api: BolApi, accept):
    answer = await api.call("get-orders", headers={"Accept": accept})
    assert answer.status == 406
    assert answer.body["title"] == "Not Acceptable"
    assert MEDIA_TYPE in answer.body["detail"]


async def test_accept_lists_with_the_v10_media_type_are_fine(api: BolApi):
    answer = await api.call("get-orders", headers={"Accept": f"application/json;q=0.5, {MEDIA_TYPE}"})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith(MEDIA_TYPE)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/vnd.retailer.v9+json"])
async def test_bodies_in_another_media_type_are_415(api: BolApi, content_type):
    answer = await api.call("create-shipment", json=gls("6042823871"), headers={"Content-Type": content_type})
    assert answer.status == 415
    assert answer.body["detail"] == "The supplied content-type media type is not supported."
    assert api.sim.state.processes.keys() == {"1", "2", "3", "4"}  # nothing was accepted


async def test_invalid_json_is_a_400_problem(api: BolApi, session):
    headers = {"Authorization": f"Bearer {api.token}", "Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
    async with session.post(api.sim.url + "/retailer/shipments", data=b"{not json", headers=headers) as response:
        assert response.status == 400
        body = await response.json(content_type=None)
    assert body["violations"][0]["name"] == "body"


async def test_the_shared_api_also_speaks_the_advertiser_media_type(api: BolApi):
    answer = await api.call("get-process-status", path={"process-status-id": "2"}, media_type=ADVERTISER)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith(ADVERTISER)


async def test_the_retailer_api_does_not(api: BolApi):
    answer = await api.call("get-orders", headers={"Accept": ADVERTISER})
    assert answer.status == 406


async def test_unknown_paths_and_methods_answer_problems(api: BolApi, session):
    headers = {"Authorization": f"Bearer {api.token}", "Accept": MEDIA_TYPE}
    async with session.get(api.sim.url + "/retailer/nothing-here", headers=headers) as response:
        body = await response.json(content_type=None)
        assert (response.status, body["status"], body["type"]) == (404, 404, "https://api.bol.com/problems")
    async with session.delete(api.sim.url + "/retailer/orders", headers=headers) as response:
        body = await response.json(content_type=None)
        assert (response.status, body["title"]) == (405, "Method Not Allowed")
