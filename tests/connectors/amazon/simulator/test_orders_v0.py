"""Orders v0 reads: getOrders' rules, filters and NextToken paging; getOrderItems; getOrderAddress.

Every answer goes through ``SpApi.call``, which validates it strictly against ordersV0.json
(GetOrdersResponse, GetOrderItemsResponse, GetOrderAddressResponse), errors included.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from connectors.amazon.simulator.clock import iso
from connectors.amazon.simulator.records import (
    AMAZON,
    CANCELLED,
    MERCHANT,
    PARTIALLY_SHIPPED,
    PENDING,
    SHIPPED,
    UNSHIPPED,
)
from tests.connectors.amazon.simulator.conftest import START, Answer, SpApi
from tests.connectors.amazon.spapi_models import ModelValidationError, validate_request, validate_response

NL, DE = "A1805IZSGTT6HS", "A1PA6795UKMFR9"
BOTH = f"{NL},{DE}"
AFTER = "2026-02-01T00:00:00Z"  # before every seeded order (they span the ten days before START)
BEFORE_LIMIT = iso(START.timestamp() - 120)
QUOTA = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}
V0_NAMES = {UNSHIPPED: "Unshipped", PARTIALLY_SHIPPED: "PartiallyShipped", SHIPPED: "Shipped",
            CANCELLED: "Canceled", PENDING: "Pending"}
PERSONAL = {"Name", "AddressLine1", "AddressLine2", "AddressLine3", "PostalCode", "Phone", "AddressType"}


@pytest.fixture
async def big(session, start_simulator) -> SpApi:
    """A seller with 250 orders in NL and DE and no usage plans, for paging."""
    sim = await start_simulator(sellers=1, orders_per_seller=250, rate_limits=False)
    return SpApi(session, sim, sim.state.first_seller.seller_id)


async def get_orders(api: SpApi, **params: str) -> Answer:
    """getOrders with these parameters, which must be valid by the model."""
    validate_request("ordersV0.json", "getOrders", params)
    return await api.call("getOrders", params=params)


async def page_through(api: SpApi, **params: str) -> list[list[dict]]:
    """Every page of a getOrders query, following NextToken with MarketplaceIds only, as clients do."""
    answer = await get_orders(api, **params)
    pages = []
    while True:
        assert answer.status == 200, answer.body
        pages.append(answer.body["payload"]["Orders"])
        token = answer.body["payload"].get("NextToken")
        if token is None:
            return pages
        answer = await get_orders(api, MarketplaceIds=params["MarketplaceIds"], NextToken=token)


def ids_of(pages: list[list[dict]]) -> list[str]:
    """The order ids of all pages, in order."""
    return [o["AmazonOrderId"] for page in pages for o in page]


def own_orders(api: SpApi, **match):
    """The orders of the api's seller whose attributes match."""
    return [
        o for o in api.sim.state.orders.values()
        if o.seller_id == api.seller_id and all(getattr(o, k) == v for k, v in match.items())
    ]


async def invalid(api: SpApi, **params: str) -> str:
    """getOrders, expect 400 InvalidInput with the rate-limit header; return the message."""
    answer = await api.call("getOrders", params=params)
    assert answer.status == 400, answer.body
    assert answer.body["errors"][0]["code"] == "InvalidInput"
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    return answer.body["errors"][0]["message"]


# -- getOrders ------------------------------------------------------------------------------------


async def test_get_orders_returns_every_order_of_the_window_in_the_v0_shape(api):
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    assert answer.status == 200
    payload = answer.body["payload"]
    assert payload["LastUpdatedBefore"] == BEFORE_LIMIT
    assert "CreatedBefore" not in payload and "NextToken" not in payload
    served = {o["AmazonOrderId"]: o for o in payload["Orders"]}
    seeded = {o.order_id: o for o in own_orders(api)}
    assert served.keys() == seeded.keys()
    for order_id, body in served.items():
        order = seeded[order_id]
        assert body["OrderStatus"] == V0_NAMES[order.status]
        assert body["FulfillmentChannel"] == {MERCHANT: "MFN", AMAZON: "AFN"}[order.fulfilled_by]
        assert body["MarketplaceId"] == {"NL": NL, "DE": DE}[order.marketplace]
        assert (body["PurchaseDate"], body["LastUpdateDate"]) == (iso(order.created), iso(order.updated))
        assert body["IsPrime"] == ("PRIME" in order.programs)


async def test_get_orders_serves_no_personal_data(api):
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    assert api.sim.state.config.delivery_role
    for order in answer.body["payload"]["Orders"]:
        assert not {"ShippingAddress", "BuyerInfo", "BuyerEmail"} & order.keys()


async def test_orders_are_sorted_by_last_update_within_the_window(big):
    orders = [o for page in await page_through(big, MarketplaceIds=BOTH, LastUpdatedAfter="2026-02-25T00:00:00Z")
              for o in page]
    keys = [(o["LastUpdateDate"], o["AmazonOrderId"]) for o in orders]
    assert keys == sorted(keys)
    assert orders and all("2026-02-25T00:00:00Z" <= o["LastUpdateDate"] <= BEFORE_LIMIT for o in orders)


async def test_created_after_states_created_before_and_sorts_by_purchase_date(big):
    answer = await get_orders(big, MarketplaceIds=BOTH, CreatedAfter=AFTER, MaxResultsPerPage="100")
    payload = answer.body["payload"]
    assert payload["CreatedBefore"] == BEFORE_LIMIT
    assert "LastUpdatedBefore" not in payload
    dates = [o["PurchaseDate"] for o in payload["Orders"]]
    assert dates == sorted(dates)


async def test_orders_updated_in_the_last_two_minutes_wait_for_the_next_window(api):
    new = api.sim.state.add_order(api.seller_id)
    first = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    assert new.order_id not in ids_of([first.body["payload"]["Orders"]])
    api.sim.state.clock.advance(120)
    second = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=first.body["payload"]["LastUpdatedBefore"])
    assert new.order_id in ids_of([second.body["payload"]["Orders"]])


async def test_before_exactly_two_minutes_ago_is_allowed(api):
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, LastUpdatedBefore=BEFORE_LIMIT)
    assert answer.status == 200
    assert answer.body["payload"]["LastUpdatedBefore"] == BEFORE_LIMIT


async def test_window_bounds_are_inclusive(api):
    order = own_orders(api)[0]
    at = iso(order.updated)
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=at, LastUpdatedBefore=at)
    assert order.order_id in ids_of([answer.body["payload"]["Orders"]])


async def test_get_orders_and_search_orders_agree(big):
    v0 = ids_of(await page_through(big, MarketplaceIds=NL, LastUpdatedAfter=AFTER, FulfillmentChannels="MFN",
                                   OrderStatuses="Unshipped,PartiallyShipped"))
    answer = await big.search(lastUpdatedAfter=AFTER, fulfilledBy="MERCHANT", marketplaceIds=NL,
                              fulfillmentStatuses="UNSHIPPED,PARTIALLY_SHIPPED")
    assert "pagination" not in answer.body
    assert v0 == [o["orderId"] for o in answer.body["orders"]]


# -- order fields ---------------------------------------------------------------------------------


async def test_order_total_and_unit_counts_match_the_items(api):
    order = own_orders(api, fulfilled_by=MERCHANT, status=PARTIALLY_SHIPPED)[0]
    orders = (await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)).body["payload"]["Orders"]
    body = next(o for o in orders if o["AmazonOrderId"] == order.order_id)
    items = (await api.call("getOrderItems", order_id=order.order_id)).body["payload"]["OrderItems"]
    total = sum(Decimal(i["ItemPrice"]["Amount"]) + Decimal(i["ShippingPrice"]["Amount"]) for i in items)
    assert Decimal(body["OrderTotal"]["Amount"]) == total
    assert body["OrderTotal"]["CurrencyCode"] == "EUR"
    assert body["NumberOfItemsShipped"] == sum(i["QuantityShipped"] for i in items) > 0
    assert body["NumberOfItemsUnshipped"] == sum(i["QuantityOrdered"] - i["QuantityShipped"] for i in items) > 0


async def test_seller_order_id_and_ship_dates_of_merchant_orders(api):
    state = api.sim.state
    orders = (await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)).body["payload"]["Orders"]
    by_id = {o.order_id: o for o in own_orders(api)}
    assert any("SellerOrderId" in o for o in orders)
    for body in orders:
        order = by_id[body["AmazonOrderId"]]
        detail = state.detail(order)
        assert body.get("SellerOrderId") == detail.seller_order_id
        if order.fulfilled_by == MERCHANT:
            assert (body["EarliestShipDate"], body["LatestShipDate"]) == (iso(detail.ship_by[0]), iso(detail.ship_by[1]))
        else:
            assert "LatestShipDate" not in body


async def test_pending_orders_have_no_total_and_count_no_units(api):
    state = api.sim.state
    pending = state.add_order(api.seller_id, status=PENDING)
    state.clock.advance(120)
    api.renew()
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=iso(pending.updated), OrderStatuses="Pending")
    [body] = answer.body["payload"]["Orders"]
    assert body["OrderStatus"] == "Pending"
    assert "OrderTotal" not in body
    assert (body["NumberOfItemsShipped"], body["NumberOfItemsUnshipped"]) == (0, 0)


# -- filters ----------------------------------------------------------------------------------------


async def test_order_statuses_and_fulfillment_channels_filter(big):
    pages = await page_through(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER,
                               OrderStatuses="Unshipped,PartiallyShipped", FulfillmentChannels="MFN")
    orders = [o for page in pages for o in page]
    assert {o["OrderStatus"] for o in orders} == {"Unshipped", "PartiallyShipped"}
    assert {o["FulfillmentChannel"] for o in orders} == {"MFN"}
    expected = {o.order_id for o in own_orders(big, fulfilled_by=MERCHANT)
                if o.status in (UNSHIPPED, PARTIALLY_SHIPPED)}
    assert set(ids_of(pages)) == expected


async def test_afn_filter_returns_amazon_fulfilled_orders_only(big):
    orders = [o for page in await page_through(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER,
                                               FulfillmentChannels="AFN") for o in page]
    assert len(orders) == len(own_orders(big, fulfilled_by=AMAZON)) > 0
    assert {o["FulfillmentChannel"] for o in orders} == {"AFN"}


async def test_canceled_is_the_v0_name_of_cancelled(big):
    orders = [o for page in await page_through(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER,
                                               OrderStatuses="Canceled") for o in page]
    assert len(orders) == len(own_orders(big, status=CANCELLED)) > 0
    assert {o["OrderStatus"] for o in orders} == {"Canceled"}


async def test_invoice_unconfirmed_matches_no_order(big):
    answer = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, OrderStatuses="InvoiceUnconfirmed")
    assert answer.body["payload"]["Orders"] == []


async def test_marketplace_ids_filter(big):
    orders = [o for page in await page_through(big, MarketplaceIds=NL, LastUpdatedAfter=AFTER) for o in page]
    assert len(orders) == len(own_orders(big, marketplace="NL")) > 0
    assert {o["MarketplaceId"] for o in orders} == {NL}


# -- paging -----------------------------------------------------------------------------------------


async def test_default_page_size_is_100(big):
    answer = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    assert len(answer.body["payload"]["Orders"]) == 100
    assert "NextToken" in answer.body["payload"]


async def test_pages_cover_every_matching_order_exactly_once(big):
    pages = await page_through(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="30")
    ids = ids_of(pages)
    assert len(ids) == len(set(ids)) == 250
    assert set(ids) == {o.order_id for o in own_orders(big)}
    assert [len(p) for p in pages] == [30] * 8 + [10]


async def test_filtered_pages_cover_every_match_once(big):
    pages = await page_through(big, MarketplaceIds=BOTH, CreatedAfter=AFTER, OrderStatuses="Shipped",
                               MaxResultsPerPage="7")
    ids = ids_of(pages)
    assert len(ids) == len(set(ids))
    assert set(ids) == {o.order_id for o in own_orders(big, status=SHIPPED)}
    assert all(len(p) == 7 for p in pages[:-1])


async def test_next_token_ignores_the_other_filters(big):
    first = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, OrderStatuses="Unshipped",
                             MaxResultsPerPage="10")
    second = await get_orders(big, MarketplaceIds=NL, NextToken=first.body["payload"]["NextToken"],
                              CreatedAfter="2026-03-01T00:00:00Z", OrderStatuses="Shipped", FulfillmentChannels="AFN")
    assert second.status == 200
    orders = second.body["payload"]["Orders"]
    assert len(orders) == 10
    assert {o["OrderStatus"] for o in orders} == {"Unshipped"}
    assert {o["MarketplaceId"] for o in orders} == {NL, DE}
    assert second.body["payload"]["LastUpdatedBefore"] == first.body["payload"]["LastUpdatedBefore"]
    assert not set(ids_of([orders])) & set(ids_of([first.body["payload"]["Orders"]]))


async def test_next_token_keeps_the_page_size_unless_given(big):
    first = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="10")
    token = first.body["payload"]["NextToken"]
    assert len((await get_orders(big, MarketplaceIds=BOTH, NextToken=token)).body["payload"]["Orders"]) == 10
    bigger = await get_orders(big, MarketplaceIds=BOTH, NextToken=token, MaxResultsPerPage="25")
    assert len(bigger.body["payload"]["Orders"]) == 25


async def test_next_token_still_needs_marketplace_ids(big):
    first = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    assert "MarketplaceIds" in await invalid(big, NextToken=first.body["payload"]["NextToken"])


async def test_next_token_expires_after_24_hours(big):
    first = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="10")
    token = first.body["payload"]["NextToken"]
    big.sim.state.clock.advance(24 * 3600 - 1)
    big.renew()
    assert (await get_orders(big, MarketplaceIds=BOTH, NextToken=token)).status == 200
    big.sim.state.clock.advance(2)
    assert "expired" in await invalid(big, MarketplaceIds=BOTH, NextToken=token)


async def test_forged_next_token_is_400(big):
    first = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="10")
    raw = bytearray(base64.b64decode(first.body["payload"]["NextToken"]))
    raw[-3] ^= 1
    await invalid(big, MarketplaceIds=BOTH, NextToken=base64.b64encode(bytes(raw)).decode())


async def test_next_token_of_another_seller_is_400(session, start_simulator):
    sim = await start_simulator(orders_per_seller=30, rate_limits=False)
    first, second = (SpApi(session, sim, seller) for seller in sim.state.sellers)
    answer = await get_orders(first, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="5")
    await invalid(second, MarketplaceIds=BOTH, NextToken=answer.body["payload"]["NextToken"])


async def test_tokens_of_search_orders_and_get_orders_do_not_mix(big):
    search = await big.search(lastUpdatedAfter=AFTER, maxResultsPerPage="10")
    await invalid(big, MarketplaceIds=BOTH, NextToken=search.body["pagination"]["nextToken"])
    v0 = await get_orders(big, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER, MaxResultsPerPage="10")
    answer = await big.search(lastUpdatedAfter=AFTER, paginationToken=v0.body["payload"]["NextToken"])
    assert answer.status == 400
    assert "paginationToken" in answer.body["errors"][0]["message"]


# -- bad parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "says"), [
    ({"LastUpdatedAfter": AFTER}, "MarketplaceIds"),
    ({"MarketplaceIds": BOTH}, "Exactly one"),
    ({"MarketplaceIds": BOTH, "CreatedAfter": AFTER, "LastUpdatedAfter": AFTER}, "Exactly one"),
    ({"MarketplaceIds": BOTH, "CreatedAfter": AFTER, "LastUpdatedBefore": "2026-02-02T00:00:00Z"},
     "LastUpdatedBefore"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "CreatedBefore": "2026-02-02T00:00:00Z"}, "CreatedBefore"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": "2026-02-02T00:00:00Z", "LastUpdatedBefore": AFTER},
     "equal to or after"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "LastUpdatedBefore": iso(START.timestamp() - 119)},
     "two minutes"),
    ({"MarketplaceIds": BOTH, "CreatedAfter": AFTER, "CreatedBefore": iso(START.timestamp())}, "two minutes"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": "2026-02-01"}, "ISO 8601"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "OrderStatuses": "UNSHIPPED"}, "OrderStatuses"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "OrderStatuses": "Unshipped,"}, "OrderStatuses"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "FulfillmentChannels": "MERCHANT"}, "FulfillmentChannels"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "MaxResultsPerPage": "0"}, "MaxResultsPerPage"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "MaxResultsPerPage": "101"}, "MaxResultsPerPage"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "MaxResultsPerPage": "ten"}, "MaxResultsPerPage"),
    ({"MarketplaceIds": "NOTAMARKETPLACE", "LastUpdatedAfter": AFTER}, "MarketplaceId"),
    ({"MarketplaceIds": ",".join([NL] * 51), "LastUpdatedAfter": AFTER}, "at most 50"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "SellerOrderId": "SO-1"}, "SellerOrderId"),
    ({"MarketplaceIds": BOTH, "LastUpdatedAfter": AFTER, "NextToken": "bm90IGEgdG9rZW4="}, "NextToken"),
])
async def test_bad_parameters_are_400_invalid_input(api, params, says):
    assert says in await invalid(api, **params)


async def test_repeated_array_parameter_is_400(api):
    answer = await api.call("getOrders", params=[("MarketplaceIds", NL), ("MarketplaceIds", DE),
                                                 ("LastUpdatedAfter", AFTER)])
    assert answer.status == 400
    assert answer.body["errors"][0]["code"] == "InvalidInput"


# -- getOrderItems ------------------------------------------------------------------------------


async def test_get_order_items_lists_the_orders_items(api):
    order = own_orders(api, fulfilled_by=MERCHANT, status=UNSHIPPED)[0]
    detail = api.sim.state.detail(order)
    answer = await api.call("getOrderItems", order_id=order.order_id)
    assert answer.status == 200
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.5"
    payload = answer.body["payload"]
    assert payload["AmazonOrderId"] == order.order_id
    assert "NextToken" not in payload
    expected = [
        {"OrderItemId": i.order_item_id, "ASIN": i.asin, "SellerSKU": i.sku, "Title": i.title,
         "QuantityOrdered": i.quantity, "QuantityShipped": 0,
         "ItemPrice": {"CurrencyCode": detail.currency, "Amount": f"{Decimal(i.unit_price) * i.quantity:.2f}"}}
        for i in detail.items
    ]
    assert [{k: line[k] for k in expected[0]} for line in payload["OrderItems"]] == expected


async def test_shipped_items_count_as_shipped(api):
    for order in own_orders(api, status=SHIPPED)[:5]:
        items = (await api.call("getOrderItems", order_id=order.order_id)).body["payload"]["OrderItems"]
        assert all(i["QuantityShipped"] == i["QuantityOrdered"] for i in items)


async def test_confirmed_shipment_shows_in_quantity_shipped(api):
    state = api.sim.state
    order = state.add_order(api.seller_id, items=[{"quantity": 3}, {"quantity": 1}])
    first = state.detail(order).items[0]
    answer = await api.confirm(order.order_id, {
        "marketplaceId": NL,
        "packageDetail": {"packageReferenceId": "1", "carrierCode": "DHL", "trackingNumber": "T1",
                          "shipDate": iso(state.clock.seconds()),
                          "orderItems": [{"orderItemId": first.order_item_id, "quantity": 2}]},
    })
    assert answer.status == 204
    items = (await api.call("getOrderItems", order_id=order.order_id)).body["payload"]["OrderItems"]
    assert [i["QuantityShipped"] for i in items] == [2, 0]


async def test_pending_order_items_carry_no_prices(api):
    order = api.sim.state.add_order(api.seller_id, status=PENDING)
    items = (await api.call("getOrderItems", order_id=order.order_id)).body["payload"]["OrderItems"]
    assert items
    assert not any({"ItemPrice", "ShippingPrice", "IsGift"} & i.keys() for i in items)


async def test_get_order_items_of_an_unknown_order_is_404(api):
    answer = await api.call("getOrderItems", order_id="999-9999999-9999999")
    assert (answer.status, answer.body["errors"][0]["code"]) == (404, "NotFound")
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.5"


async def test_get_order_items_of_another_sellers_order_is_404(session, sim, api):
    other = next(s for s in sim.state.sellers if s != api.seller_id)
    order = next(o for o in sim.state.orders.values() if o.seller_id == other)
    assert (await api.call("getOrderItems", order_id=order.order_id)).status == 404
    assert (await SpApi(session, sim, other).call("getOrderItems", order_id=order.order_id)).status == 200


async def test_get_order_items_with_a_next_token_is_400(api):
    order = own_orders(api)[0]
    answer = await api.call("getOrderItems", order_id=order.order_id, params={"NextToken": "abc"})
    assert (answer.status, answer.body["errors"][0]["code"]) == (400, "InvalidInput")


# -- getOrderAddress --------------------------------------------------------------------------------


async def address_of(api: SpApi, order_id: str) -> dict:
    """The ShippingAddress getOrderAddress serves for an order."""
    answer = await api.call("getOrderAddress", order_id=order_id)
    assert answer.status == 200, answer.body
    assert answer.body["payload"]["AmazonOrderId"] == order_id
    return answer.body["payload"]["ShippingAddress"]


async def test_address_of_an_unshipped_merchant_order_is_complete(api):
    order = api.sim.state.add_order(api.seller_id, address={
        "name": "Jan de Vries", "addressLine1": "Kerkstraat 1", "city": "Utrecht", "postalCode": "3511 AB",
        "countryCode": "NL", "phone": "+31612345678", "companyName": "Vries BV", "addressType": "COMMERCIAL",
    })
    address = await address_of(api, order.order_id)
    assert {k: address[k] for k in ("Name", "AddressLine1", "City", "PostalCode", "CountryCode", "Phone",
                                    "CompanyName", "AddressType")} == {
        "Name": "Jan de Vries", "AddressLine1": "Kerkstraat 1", "City": "Utrecht", "PostalCode": "3511 AB",
        "CountryCode": "NL", "Phone": "+31612345678", "CompanyName": "Vries BV", "AddressType": "Commercial",
    }


async def test_address_without_the_delivery_role_has_no_personal_fields(session, start_simulator):
    sim = await start_simulator(delivery_role=False)
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    for order in own_orders(api, fulfilled_by=MERCHANT, status=UNSHIPPED)[:5]:
        address = await address_of(api, order.order_id)
        assert not PERSONAL & address.keys()
        assert {"City", "CountryCode"} <= address.keys()


@pytest.mark.parametrize("status", [PENDING, CANCELLED])
async def test_orders_not_ready_to_ship_have_no_personal_fields(api, status):
    order = api.sim.state.add_order(api.seller_id, status=status)
    address = await address_of(api, order.order_id)
    assert not PERSONAL & address.keys()
    assert address["City"] == api.sim.state.detail(order).address["city"]


async def test_amazon_fulfilled_orders_have_no_phone(api):
    order = api.sim.state.add_order(api.seller_id, fulfilled_by=AMAZON, status=SHIPPED)
    address = await address_of(api, order.order_id)
    assert "Name" in address and "Phone" not in address


async def test_phone_goes_after_the_delivery_window_of_a_shipped_order(api):
    state = api.sim.state
    order = state.add_order(api.seller_id, status=SHIPPED)
    assert "Phone" in await address_of(api, order.order_id)
    state.clock.advance(state.detail(order).deliver_by[1] - state.clock.time() + 1)
    api.renew()
    address = await address_of(api, order.order_id)
    assert "Name" in address and "Phone" not in address


async def test_pickup_points_have_no_v0_address_type(api):
    order = api.sim.state.add_order(api.seller_id, address={"addressType": "PICKUP_POINT", "companyName": "Locker"})
    address = await address_of(api, order.order_id)
    assert "AddressType" not in address
    assert address["CompanyName"] == "Locker"


async def test_get_order_address_of_unknown_or_foreign_orders_is_404(sim, api):
    other = next(o for o in sim.state.orders.values() if o.seller_id != api.seller_id)
    for order_id in ("999-9999999-9999999", other.order_id):
        answer = await api.call("getOrderAddress", order_id=order_id)
        assert (answer.status, answer.body["errors"][0]["code"]) == (404, "NotFound")


# -- usage plans and faults ---------------------------------------------------------------------------


async def test_get_orders_allows_a_burst_of_20_then_429(api):
    params = {"MarketplaceIds": NL, "LastUpdatedAfter": AFTER, "MaxResultsPerPage": "1"}
    statuses = [(await api.call("getOrders", params=params)).status for _ in range(20)]
    assert statuses == [200] * 20
    answer = await api.call("getOrders", params=params)
    assert (answer.status, answer.body) == (429, QUOTA)
    assert "x-amzn-RateLimit-Limit" not in answer.headers
    api.sim.state.clock.advance(59)
    assert (await api.call("getOrders", params=params)).status == 429
    api.sim.state.clock.advance(1)
    assert (await api.call("getOrders", params=params)).status == 200


async def test_get_order_items_and_address_allow_30_each(api):
    order = own_orders(api)[0].order_id
    for operation in ("getOrderItems", "getOrderAddress"):
        statuses = [(await api.call(operation, order_id=order)).status for _ in range(31)]
        assert statuses == [200] * 30 + [429], operation
    api.sim.state.clock.advance(2)
    assert (await api.call("getOrderItems", order_id=order)).status == 200


async def test_rate_limits_off_never_answers_429(big):
    order = own_orders(big)[0].order_id
    assert {(await big.call("getOrderItems", order_id=order)).status for _ in range(40)} == {200}


async def test_faults_can_target_get_orders(session, start_simulator):
    sim = await start_simulator(faults="getOrders:503:next=1")
    api = SpApi(session, sim, sim.state.first_seller.seller_id)
    failed = await api.call("getOrders", params={"MarketplaceIds": NL, "LastUpdatedAfter": AFTER})
    assert (failed.status, failed.body["errors"][0]["code"]) == (503, "InternalFailure")
    assert (await api.call("getOrders", params={"MarketplaceIds": NL, "LastUpdatedAfter": AFTER})).status == 200


# -- the oracle bites ---------------------------------------------------------------------------------


async def test_a_2026_field_in_a_v0_order_fails_the_model(api):
    answer = await get_orders(api, MarketplaceIds=BOTH, LastUpdatedAfter=AFTER)
    body = answer.body
    body["payload"]["Orders"][0]["orderId"] = body["payload"]["Orders"][0]["AmazonOrderId"]
    with pytest.raises(ModelValidationError):
        validate_response("ordersV0.json", "getOrders", 200, body, strict=True)
