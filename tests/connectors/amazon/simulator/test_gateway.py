"""The SP-API front door: access tokens, the user-agent rule, request ids and Sellers participations."""

from __future__ import annotations

import uuid

from tests.connectors.amazon.simulator.conftest import SpApi

UNAUTHORIZED = {"errors": [{
    "code": "Unauthorized",
    "message": "Access to requested resource is denied.",
    "details": "The access token you provided is revoked, malformed or invalid.",
}]}


async def test_participations_list_the_sellers_marketplaces(api: SpApi):
    answer = await api.call("getMarketplaceParticipations")
    assert answer.status == 200
    ids = [p["marketplace"]["id"] for p in answer.body["payload"]]
    assert ids == ["A1805IZSGTT6HS", "A1PA6795UKMFR9"]
    assert {p["storeName"] for p in answer.body["payload"]} == {api.sim.state.first_seller.store_name}
    assert all(p["participation"]["isParticipating"] for p in answer.body["payload"])


async def test_uk_marketplace_reports_country_code_gb(session, start_simulator):
    sim = await start_simulator(marketplaces=["UK"])
    answer = await SpApi(session, sim, sim.state.first_seller.seller_id).call("getMarketplaceParticipations")
    assert answer.body["payload"][0]["marketplace"]["countryCode"] == "GB"


async def test_missing_access_token_is_403_unauthorized(api: SpApi):
    answer = await api.call("searchOrders", token="", params={"lastUpdatedAfter": "2026-03-01T00:00:00Z"})
    assert (answer.status, answer.body) == (403, UNAUTHORIZED)


async def test_malformed_access_token_is_403_unauthorized(api: SpApi):
    answer = await api.call("getMarketplaceParticipations", token="Atza|forged")
    assert (answer.status, answer.body) == (403, UNAUTHORIZED)


async def test_expired_access_token_is_403_unauthorized(api: SpApi):
    api.sim.state.clock.advance(3600)
    answer = await api.call("getMarketplaceParticipations")
    assert (answer.status, answer.body) == (403, UNAUTHORIZED)


async def test_revoked_seller_gets_403_at_once(api: SpApi):
    api.sim.state.revoke(api.seller_id)
    answer = await api.call("getMarketplaceParticipations")
    assert (answer.status, answer.body) == (403, UNAUTHORIZED)


async def test_403_has_a_request_id_but_no_rate_limit_header(api: SpApi):
    answer = await api.call("getMarketplaceParticipations", token="")
    assert uuid.UUID(answer.headers["x-amzn-RequestId"])
    assert "x-amzn-RateLimit-Limit" not in answer.headers


async def test_success_carries_rate_limit_and_request_id(api: SpApi):
    answer = await api.call("getMarketplaceParticipations")
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.016"
    assert uuid.UUID(answer.headers["x-amzn-RequestId"])


async def test_request_ids_differ_per_call(api: SpApi):
    first = await api.call("getMarketplaceParticipations")
    second = await api.call("getMarketplaceParticipations")
    assert first.headers["x-amzn-RequestId"] != second.headers["x-amzn-RequestId"]


async def test_missing_user_agent_is_400(api: SpApi):
    answer = await api.call("getMarketplaceParticipations", skip_auto_headers=["User-Agent"],
                            headers={"User-Agent": None})
    assert answer.status == 400
    assert answer.body["errors"][0]["code"] == "InvalidInput"


async def test_user_agent_over_500_characters_is_400(api: SpApi):
    too_long = await api.call("getMarketplaceParticipations", headers={"User-Agent": "x" * 501})
    longest = await api.call("getMarketplaceParticipations", headers={"User-Agent": "x" * 500})
    assert (too_long.status, longest.status) == (400, 200)


async def test_token_of_one_seller_sees_only_its_orders(session, sim):
    first, second = (SpApi(session, sim, seller) for seller in sim.state.sellers)
    foreign = next(o for o in sim.state.orders.values() if o.seller_id == second.seller_id)
    assert (await first.get_order(foreign.order_id)).status == 404
    assert (await second.get_order(foreign.order_id)).status == 200
