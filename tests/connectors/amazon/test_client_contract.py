"""Contract: every request the client sends, and every answer these tests fake, fits Amazon's models.

The models are read from ``HUB_SPAPI_MODELS`` (default ../shared/spapi-models); without them these
tests fail, saying where they looked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses

import connectors.amazon
from connectors.amazon.client import ClientState, connection_api
from connectors.amazon.mapping import map_order
from core.contract.models import Cursor, Label, Order, Parcel, ParcelItem
from tests.connectors.amazon import spapi_models
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import (
    NL,
    PARTICIPATIONS_URL,
    SEARCH_URL,
    TOKEN_URL,
    amazon_order,
    amazon_settings,
    confirm_url,
    order_item,
    participations_answer,
    requests_to,
    search_answer,
    token_answer,
)

ORDERS = "orders_2026-01-01.json"
ORDERS_V0 = "ordersV0.json"
SELLERS = "sellers.json"
ORDER_URL = re.compile(r"^https://amazon\.test/orders/2026-01-01/orders/[^/?]+(\?.*)?$")
SINCE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def models() -> None:
    spapi_models.require_models()


def fake_orders() -> list[dict[str, Any]]:
    return [
        amazon_order("028-1111111-0000001"),
        amazon_order("028-1111111-0000002", status="PARTIALLY_SHIPPED", programs=["PRIME"]),
        amazon_order("028-1111111-0000003", status="CANCELLED", with_recipient=False),
        amazon_order(
            "028-1111111-0000004",
            address={
                "name": "Zoë Müller",
                "companyName": "Größe GmbH",
                "addressLine1": "Schloßstraße 5",
                "addressLine2": "Hinterhaus",
                "addressLine3": "3. OG",
                "city": "München",
                "postalCode": "80331",
                "countryCode": "DE",
                "addressType": "COMMERCIAL",
            },
            buyer={"buyerEmail": "x@marketplace.amazon.de"},
            items=[order_item("1", "A", "B0A", 2), order_item("2", "B", "B0B", 1, unfulfilled=0)],
        ),
    ]


def test_the_fake_answers_fit_the_models() -> None:
    spapi_models.validate_response(
        ORDERS, "searchOrders", 200, search_answer(fake_orders(), next_token="t"), strict=True
    )
    spapi_models.validate_response(ORDERS, "getOrder", 200, {"order": fake_orders()[0]}, strict=True)
    spapi_models.validate_response(
        SELLERS, "getMarketplaceParticipations", 200, participations_answer((NL, "NL", True)), strict=True
    )
    spapi_models.validate_response(ORDERS_V0, "confirmShipment", 204, None)


@pytest.mark.parametrize(
    ("cursor", "marketplaces"),
    [
        (Cursor(), [NL]),
        (Cursor(since=SINCE), [NL, "A1PA6795UKMFR9"]),
        (Cursor(since=SINCE, page_token="open:2YgYW55IGNhcm5hbCBwbGVhc3VyZS4+/="), []),
    ],
)
async def test_search_orders_requests_fit_the_model(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, cursor: Cursor, marketplaces: list[str]
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer(fake_orders(), next_token="next+/="))
    mocked.get(SEARCH_URL, payload=search_answer([]))

    [_ async for _ in connectors.amazon.import_orders(make_context(marketplaces=marketplaces), cursor)]

    sent = requests_to(mocked, "GET", SEARCH_URL)
    assert len(sent) == 2
    for url, _ in sent:
        spapi_models.validate_request(ORDERS, "searchOrders", query=url.query, path_params={})
    assert sent[1][0].query["paginationToken"] == "next+/="


async def test_get_order_request_fits_the_model(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(ORDER_URL, payload={"order": fake_orders()[0]})
    context = make_context()
    api = connection_api(context, context.settings, state)  # type: ignore[arg-type]

    order = await api.get_order("028-1111111-0000001", ["RECIPIENT", "FULFILLMENT", "PACKAGES"])

    assert order["orderId"] == "028-1111111-0000001"
    [(url, _)] = requests_to(mocked, "GET", ORDER_URL)
    assert url.query["includedData"] == "RECIPIENT,FULFILLMENT,PACKAGES"
    order_id = url.path.rsplit("/", 1)[1]
    spapi_models.validate_request(ORDERS, "getOrder", query=url.query, path_params={"orderId": order_id})


@pytest.mark.parametrize(
    "settings", [{}, {"carrier_code": "Other", "carrier_name": "GLS Netherlands", "shipping_method": "BusinessParcel"}]
)
async def test_confirm_shipment_bodies_fit_the_model(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, settings: dict[str, str]
) -> None:
    order = map_order(fake_orders()[3])
    assert isinstance(order, Order)
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(confirm_url(order.external_id), status=204, repeat=True)
    label = Label(
        external_id="L-1",
        ship_date=datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        parcels=[
            Parcel(reference="1", tracking_number="GLS0001", items=[ParcelItem(item_external_id="1", quantity=2)]),
            Parcel(reference="2", tracking_number="GLS0002", items=[ParcelItem(item_external_id="2", quantity=1)]),
        ],
    )

    outcomes = await connectors.amazon.on_label_created(
        make_context(settings=amazon_settings(**settings)), order, label
    )

    assert [outcome.state for outcome in outcomes] == ["confirmed", "confirmed"]
    sent = requests_to(mocked, "POST", confirm_url(order.external_id))
    assert len(sent) == 2
    for url, call in sent:
        order_id = url.path.split("/")[-2]
        spapi_models.validate_request(
            ORDERS_V0,
            "confirmShipment",
            query=url.query,
            path_params={"orderId": order_id},
            body=call["json"],
            strict=True,
        )


async def test_marketplace_participations_request_fits_the_model(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(PARTICIPATIONS_URL, payload=participations_answer((NL, "NL", True)))

    await connectors.amazon.check_connection(make_context())

    [(url, call)] = requests_to(mocked, "GET", PARTICIPATIONS_URL)
    spapi_models.validate_request(
        SELLERS, "getMarketplaceParticipations", query=url.query, path_params={}, body=call.get("json")
    )


@pytest.mark.parametrize("marketplaces", [[NL, "A1PA6795UKMFR9"], []])
async def test_searches_for_the_marketplace_of_an_order_without_one_fit_the_model(
    mocked: aioresponses, make_context: MakeContext, state: ClientState, marketplaces: list[str]
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    without = amazon_order("028-1111111-0000009", marketplace_id=None, updated="2026-03-01T10:30:00.5Z")
    mocked.get(SEARCH_URL, payload=search_answer([without]))
    mocked.get(SEARCH_URL, payload=search_answer([], next_token="more"))  # NL
    mocked.get(SEARCH_URL, payload=search_answer([]))  # NL, its second page
    mocked.get(SEARCH_URL, payload=search_answer([without]))  # DE
    mocked.get(PARTICIPATIONS_URL, payload=participations_answer((NL, "NL", True), ("A1PA6795UKMFR9", "DE", True)))
    spapi_models.validate_response(ORDERS, "searchOrders", 200, search_answer([without]), strict=True)

    context = make_context(marketplaces=marketplaces)
    [page] = [p async for p in connectors.amazon.import_orders(context, Cursor(since=SINCE))]

    assert page.orders[0].marketplace == "A1PA6795UKMFR9"
    sent = requests_to(mocked, "GET", SEARCH_URL)
    assert len(sent) == 4, "the run, NL (two pages), DE"
    for url, _ in sent:
        spapi_models.validate_request(ORDERS, "searchOrders", query=url.query, path_params={})
    assert len(requests_to(mocked, "GET", PARTICIPATIONS_URL)) == (0 if marketplaces else 1)
    for url, call in requests_to(mocked, "GET", PARTICIPATIONS_URL):
        spapi_models.validate_request(
            SELLERS, "getMarketplaceParticipations", query=url.query, path_params={}, body=call.get("json")
        )
