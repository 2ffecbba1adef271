"""searchOrders: the time rules, filters, page size, pagination tokens and includedData."""

from __future__ import annotations

import base64

import pytest

from connectors.amazon.simulator.clock import iso
from tests.connectors.amazon.simulator.conftest import START, Answer, SpApi

AFTER = "2026-02-01T00:00:00Z"  # before every seeded order (they span the ten days before START)
BEFORE_LIMIT = iso(START.timestamp() - 120)


@pytest.fixture
async def big(session, start_simulator) -> SpApi:
    """A seller with 250 orders and no usage plans, for paging."""
    sim = await start_simulator(sellers=1, orders_per_seller=250, rate_limits=False)
    return SpApi(session, sim, sim.state.first_seller.seller_id)


async def page_through(api: SpApi, first: Answer | None = None, **params: str) -> list[list[dict]]:
    """Every page of a search (after ``first``, when given): the orders of each page."""
    pages = []
    if first is None:
        answer = await api.search(**params)
    else:
        answer = await api.search(**params, paginationToken=first.body["pagination"]["nextToken"])
    while True:
        assert answer.status == 200, answer.body
        pages.append(answer.body["orders"])
        token = answer.body.get("pagination", {}).get("nextToken")
        if token is None:
            return pages
        answer = await api.search(**params, paginationToken=token)


async def invalid(api: SpApi, **params: str) -> str:
    """Search, expect 400 InvalidInput, return its message."""
    answer = await api.search(**params)
    assert answer.status == 400, answer.body
    assert answer.body["errors"][0]["code"] == "InvalidInput"
    return answer.body["errors"][0]["message"]


# -- time rules ---------------------------------------------------------------------------------


async def test_neither_created_nor_updated_after_is_400(api):
    assert "Exactly one" in await invalid(api, fulfilledBy="MERCHANT")


async def test_both_created_and_updated_after_is_400(api):
    assert "Exactly one" in await invalid(api, createdAfter=AFTER, lastUpdatedAfter=AFTER)


async def test_created_after_with_last_updated_before_is_400(api):
    await invalid(api, createdAfter=AFTER, lastUpdatedBefore="2026-02-02T00:00:00Z")


async def test_last_updated_after_with_created_before_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, createdBefore="2026-02-02T00:00:00Z")


async def test_before_earlier_than_after_is_400(api):
    await invalid(api, lastUpdatedAfter="2026-02-02T00:00:00Z", lastUpdatedBefore="2026-02-01T00:00:00Z")


async def test_before_within_two_minutes_of_now_is_400(api):
    message = await invalid(api, lastUpdatedAfter=AFTER, lastUpdatedBefore=iso(START.timestamp() - 119))
    assert "two minutes" in message


async def test_before_exactly_two_minutes_ago_is_allowed(api):
    answer = await api.search(lastUpdatedAfter=AFTER, lastUpdatedBefore=BEFORE_LIMIT)
    assert answer.status == 200
    assert answer.body["lastUpdatedBefore"] == BEFORE_LIMIT


async def test_created_before_follows_the_two_minute_rule_too(api):
    await invalid(api, createdAfter=AFTER, createdBefore=iso(START.timestamp()))


@pytest.mark.parametrize("value", ["2026-02-01", "02/01/2026", "2026-02-01T00:00:00", "TEST_CASE_400"])
async def test_dates_must_be_iso_8601_with_a_time_zone(api, value):
    await invalid(api, lastUpdatedAfter=value)


async def test_offsets_and_fractions_are_accepted(api):
    answer = await api.search(lastUpdatedAfter="2026-02-01T01:00:00.250+01:00")
    assert answer.status == 200


async def test_response_states_last_updated_before_two_minutes_ago(api):
    answer = await api.search(lastUpdatedAfter=AFTER)
    assert answer.body["lastUpdatedBefore"] == BEFORE_LIMIT
    assert "createdBefore" not in answer.body


async def test_response_states_created_before_for_created_searches(api):
    answer = await api.search(createdAfter=AFTER)
    assert answer.body["createdBefore"] == BEFORE_LIMIT
    assert "lastUpdatedBefore" not in answer.body


async def test_orders_updated_in_the_last_two_minutes_wait_for_the_next_window(api):
    new = api.sim.state.add_order(api.seller_id)
    first = await api.search(lastUpdatedAfter=AFTER)
    assert new.order_id not in {o["orderId"] for o in first.body["orders"]}
    api.sim.state.clock.advance(120)
    second = await api.search(lastUpdatedAfter=first.body["lastUpdatedBefore"])
    assert new.order_id in {o["orderId"] for o in second.body["orders"]}


async def test_a_future_after_yields_no_orders(api):
    answer = await api.search(lastUpdatedAfter="2026-04-01T00:00:00Z")
    assert (answer.status, answer.body["orders"]) == (200, [])


# -- order and windows --------------------------------------------------------------------------


async def test_orders_come_sorted_by_last_update_then_id_within_the_window(big):
    pages = await page_through(big, lastUpdatedAfter="2026-02-25T00:00:00Z")
    orders = [o for page in pages for o in page]
    keys = [(o["lastUpdatedTime"], o["orderId"]) for o in orders]
    assert keys == sorted(keys)
    assert all("2026-02-25T00:00:00Z" <= o["lastUpdatedTime"] <= BEFORE_LIMIT for o in orders)


async def test_created_searches_sort_by_creation(big):
    pages = await page_through(big, createdAfter=AFTER)
    orders = [o for page in pages for o in page]
    assert [o["createdTime"] for o in orders] == sorted(o["createdTime"] for o in orders)
    assert len(orders) == 250


async def test_window_bounds_are_inclusive(big):
    state = big.sim.state
    order = next(iter(state.orders.values()))
    at = iso(order.updated)
    answer = await big.search(lastUpdatedAfter=at, lastUpdatedBefore=at)
    assert order.order_id in {o["orderId"] for o in answer.body["orders"]}


# -- filters --------------------------------------------------------------------------------------


async def test_fulfillment_statuses_filter(big):
    pages = await page_through(big, lastUpdatedAfter=AFTER, fulfillmentStatuses="UNSHIPPED,PARTIALLY_SHIPPED",
                               includedData="FULFILLMENT")
    statuses = {o["fulfillment"]["fulfillmentStatus"] for page in pages for o in page}
    assert statuses == {"UNSHIPPED", "PARTIALLY_SHIPPED"}
    expected = sum(o.status in ("UNSHIPPED", "PARTIALLY_SHIPPED") for o in big.sim.state.orders.values())
    assert sum(len(p) for p in pages) == expected


async def test_fulfilled_by_filter(big):
    pages = await page_through(big, lastUpdatedAfter=AFTER, fulfilledBy="AMAZON", includedData="FULFILLMENT")
    orders = [o for page in pages for o in page]
    assert orders
    assert {o["fulfillment"]["fulfilledBy"] for o in orders} == {"AMAZON"}


async def test_marketplace_ids_filter(big):
    pages = await page_through(big, lastUpdatedAfter=AFTER, marketplaceIds="A1805IZSGTT6HS")
    orders = [o for page in pages for o in page]
    assert orders
    assert {o["salesChannel"]["marketplaceId"] for o in orders} == {"A1805IZSGTT6HS"}


async def test_unknown_status_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, fulfillmentStatuses="Unshipped")


async def test_unknown_fulfilled_by_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, fulfilledBy="MFN")


async def test_more_than_50_marketplace_ids_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, marketplaceIds=",".join(["A1PA6795UKMFR9"] * 51))


async def test_unknown_marketplace_id_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, marketplaceIds="NOTAMARKETPLACE")


async def test_repeated_array_parameter_is_400(api):
    answer = await api.call("searchOrders", params=[("lastUpdatedAfter", AFTER), ("fulfilledBy", "MERCHANT"),
                                                    ("fulfilledBy", "AMAZON")])
    assert answer.status == 400


async def test_empty_list_item_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, fulfillmentStatuses="UNSHIPPED,")


# -- page size and pagination -------------------------------------------------------------------


@pytest.mark.parametrize("size", ["0", "101", "ten", "-1", "1.5"])
async def test_max_results_per_page_outside_1_to_100_is_400(api, size):
    await invalid(api, lastUpdatedAfter=AFTER, maxResultsPerPage=size)


async def test_default_page_size_is_100(big):
    answer = await big.search(lastUpdatedAfter=AFTER)
    assert len(answer.body["orders"]) == 100
    assert "nextToken" in answer.body["pagination"]


async def test_pages_cover_every_matching_order_once(big):
    pages = await page_through(big, lastUpdatedAfter=AFTER, maxResultsPerPage="30")
    ids = [o["orderId"] for page in pages for o in page]
    assert len(ids) == len(set(ids)) == 250
    assert [len(p) for p in pages] == [30] * 8 + [10]


async def test_last_page_has_no_next_token(big):
    answer = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="100", fulfilledBy="AMAZON")
    assert len(answer.body["orders"]) < 100
    assert "pagination" not in answer.body


async def test_exactly_full_last_page_has_no_next_token(big):
    total = len(big.sim.state.orders)
    answer = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="50")
    pages = [answer.body["orders"]]
    while "pagination" in answer.body:
        answer = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="50",
                                  paginationToken=answer.body["pagination"]["nextToken"])
        pages.append(answer.body["orders"])
    assert total == 250
    assert [len(p) for p in pages] == [50] * 5


async def test_token_allows_another_page_size_and_included_data(big):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    token = first.body["pagination"]["nextToken"]
    second = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="20", includedData="RECIPIENT",
                              paginationToken=token)
    assert second.status == 200
    assert len(second.body["orders"]) == 20
    assert "recipient" in second.body["orders"][0]
    assert second.body["orders"][0]["orderId"] not in {o["orderId"] for o in first.body["orders"]}


@pytest.mark.parametrize("changed", [
    {"lastUpdatedAfter": "2026-02-02T00:00:00Z"},
    {"fulfilledBy": "MERCHANT"},
    {"fulfillmentStatuses": "UNSHIPPED"},
    {"marketplaceIds": "A1PA6795UKMFR9"},
    {"lastUpdatedBefore": BEFORE_LIMIT},
])
async def test_token_with_other_parameters_is_400(big, changed):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    params = {"lastUpdatedAfter": AFTER} | changed
    message = await invalid(big, **params, paginationToken=first.body["pagination"]["nextToken"])
    assert "paginationToken" in message


async def test_token_expires_after_24_hours(big):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    token = first.body["pagination"]["nextToken"]
    big.sim.state.clock.advance(24 * 3600 - 1)
    big.renew()
    assert (await big.search(lastUpdatedAfter=AFTER, paginationToken=token)).status == 200
    big.sim.state.clock.advance(2)
    assert "expired" in await invalid(big, lastUpdatedAfter=AFTER, paginationToken=token)


async def test_token_keeps_the_first_pages_window(big):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    big.sim.state.clock.advance(3600)
    big.renew()
    second = await big.search(lastUpdatedAfter=AFTER, paginationToken=first.body["pagination"]["nextToken"])
    assert second.body["lastUpdatedBefore"] == first.body["lastUpdatedBefore"]


async def test_token_of_another_seller_is_400(session, start_simulator):
    sim = await start_simulator(orders_per_seller=30, rate_limits=False)
    first, second = (SpApi(session, sim, seller) for seller in sim.state.sellers)
    answer = await first.search(lastUpdatedAfter=AFTER, maxResultsPerPage="5")
    await invalid(second, lastUpdatedAfter=AFTER, paginationToken=answer.body["pagination"]["nextToken"])


async def test_forged_token_is_400(big):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    raw = bytearray(base64.b64decode(first.body["pagination"]["nextToken"]))
    raw[-3] ^= 1
    await invalid(big, lastUpdatedAfter=AFTER, paginationToken=base64.b64encode(bytes(raw)).decode())


async def test_token_mangled_by_missing_url_encoding_is_400(big):
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    token = first.body["pagination"]["nextToken"]
    await invalid(big, lastUpdatedAfter=AFTER, paginationToken=token.replace("+", " ").replace("=", "") + "?")


async def test_order_changed_while_paging_moves_to_the_next_window(big):
    state = big.sim.state
    first = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="50")
    seen = {o["orderId"] for o in first.body["orders"]}
    later = [o for o in state.orders.values() if o.order_id not in seen]
    moved = max(later, key=lambda o: o.updated)
    state.update_order(moved.order_id, address={"addressLine2": "Hinterhaus"})
    rest = await page_through(big, lastUpdatedAfter=AFTER, maxResultsPerPage="100", first=first)
    ids = [o["orderId"] for page in rest for o in page] + list(seen)
    assert moved.order_id not in ids
    assert len(ids) == len(set(ids)) == 249
    state.clock.advance(120)
    following = await big.search(lastUpdatedAfter=first.body["lastUpdatedBefore"])
    assert moved.order_id in {o["orderId"] for o in following.body["orders"]}


async def test_incremental_cursor_loses_no_change(big):
    state = big.sim.state
    cursor = AFTER
    seen: dict[str, str] = {}
    for _ in range(5):
        for page in await page_through(big, lastUpdatedAfter=cursor):
            for order in page:
                seen[order["orderId"]] = order["lastUpdatedTime"]
        cursor = (await big.search(lastUpdatedAfter=cursor)).body["lastUpdatedBefore"]
        changed = next(iter(state.orders.values()))
        state.update_order(changed.order_id, programs=["PRIME"])
        state.clock.advance(30)
    state.clock.advance(120)
    for page in await page_through(big, lastUpdatedAfter=cursor):
        for order in page:
            seen[order["orderId"]] = order["lastUpdatedTime"]
    assert {oid: iso(o.updated) for oid, o in state.orders.items()} == seen


# -- includedData -------------------------------------------------------------------------------


async def test_without_included_data_only_the_core_blocks_appear(api):
    answer = await api.search(lastUpdatedAfter=AFTER)
    order = answer.body["orders"][0]
    assert {"orderId", "createdTime", "lastUpdatedTime", "salesChannel", "orderItems"} <= order.keys()
    assert not {"buyer", "recipient", "fulfillment", "packages", "proceeds"} & order.keys()


async def test_included_data_adds_exactly_the_blocks_asked_for(api):
    answer = await api.search(lastUpdatedAfter=AFTER, fulfilledBy="MERCHANT",
                              includedData="RECIPIENT,FULFILLMENT,PACKAGES")
    order = answer.body["orders"][0]
    assert {"recipient", "fulfillment", "packages"} <= order.keys()
    assert not {"buyer", "proceeds"} & order.keys()
    assert "fulfillment" in order["orderItems"][0]


async def test_unknown_included_data_is_400(api):
    await invalid(api, lastUpdatedAfter=AFTER, includedData="ADDRESS")


async def test_personal_data_comes_with_the_delivery_role(api):
    answer = await api.search(lastUpdatedAfter=AFTER, fulfilledBy="MERCHANT", fulfillmentStatuses="UNSHIPPED",
                              includedData="RECIPIENT,BUYER")
    order = answer.body["orders"][0]
    address = order["recipient"]["deliveryAddress"]
    assert {"name", "addressLine1", "postalCode", "phone", "city", "countryCode"} <= address.keys()
    assert {"buyerName", "buyerEmail"} <= order["buyer"].keys()


async def test_without_the_delivery_role_no_personal_data(session, start_simulator):
    sim = await start_simulator(delivery_role=False)
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    answer = await api.search(lastUpdatedAfter=AFTER, includedData="RECIPIENT,BUYER")
    for order in answer.body["orders"]:
        address = order["recipient"]["deliveryAddress"]
        assert not {"name", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone"} & address.keys()
        assert {"city", "countryCode"} <= address.keys()
        assert not {"buyerName", "buyerEmail"} & order["buyer"].keys()


async def test_pending_and_cancelled_orders_carry_no_personal_data(api):
    answer = await api.search(lastUpdatedAfter=AFTER, fulfillmentStatuses="PENDING,CANCELLED",
                              includedData="RECIPIENT,BUYER")
    assert answer.body["orders"]
    for order in answer.body["orders"]:
        assert "name" not in order["recipient"]["deliveryAddress"]
        assert "buyerEmail" not in order["buyer"]


async def test_amazon_fulfilled_orders_have_no_phone_or_buyer_email(big):
    pages = await page_through(big, lastUpdatedAfter=AFTER, fulfilledBy="AMAZON", fulfillmentStatuses="SHIPPED",
                               includedData="RECIPIENT,BUYER")
    orders = [o for page in pages for o in page]
    assert orders
    assert all("phone" not in o["recipient"]["deliveryAddress"] for o in orders)
    assert all("buyerEmail" not in o["buyer"] for o in orders)
