"""Every request the client can send, and every fake answer these tests use, against bol.com's descriptions.

The descriptions are read from ``HUB_BOL_MODELS`` (default ``../shared/bol-models``); without
them these tests fail, naming the variable. The end-to-end tests check the requests sent to the
simulator the same way.
"""

from __future__ import annotations

import re

import pytest
from aioresponses import aioresponses
from yarl import URL

from connectors.bol.client import BolApi
from connectors.bol.const import CREATE_SHIPMENT, MEDIA_TYPE
from connectors.bol.shipping import shipment_request
from connectors.bol.subscription import request as subscription_request
from core.hubapi import Parcel, ParcelItem
from tests.bol_models import (
    RETAILER_API,
    SHARED_API,
    ModelValidationError,
    validate_response,
)
from tests.connectors.bol.fakes import (
    BULK_STATUS_URL,
    ENDPOINT,
    EVENTS_URL,
    KEYS_URL,
    ORDERS_URL,
    RETAILER_URL,
    SHIPMENTS_OF_URL,
    SHIPMENTS_URL,
    STATUS_OF_URL,
    SUBSCRIPTIONS_URL,
    TOKEN_URL,
    bol_settings,
    order_detail,
    order_item,
    process_status,
    reduced_item,
    reduced_order,
    retailer_answer,
    token_answer,
)
from tests.connectors.bol.sent import SentRequest, check_all, check_request, from_mock

ANY = re.compile(r"^https://bol\.test/.*$")


def test_the_fake_answers_are_what_bol_describes() -> None:
    validate_response(RETAILER_API, "get-retailer-information", 200, retailer_answer(), strict=True)
    orders = {"orders": [reduced_order("1", reduced_item("11")), reduced_order("A2K8290LP8", reduced_item("21", method="FBB"))]}
    validate_response(RETAILER_API, "get-orders", 200, orders, strict=True)
    detail = order_detail("1", order_item("11"), order_item("12", party=None, exact_delivery="2026-03-05"), pickup_point=True)
    validate_response(RETAILER_API, "get-order", 200, detail, strict=True)
    validate_response(RETAILER_API, "create-shipment", 202, process_status("1"), strict=False)
    validate_response(SHARED_API, "get-process-status-bulk", 200, {"processStatuses": [process_status("1", "FAILURE", error="x")]})


async def test_every_operation_the_client_calls_is_described(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(RETAILER_URL, payload=retailer_answer())
    mocked.get(ORDERS_URL, payload={}, repeat=True)
    mocked.get(f"{ENDPOINT}/retailer/orders/A2K8290LP8", payload=order_detail("A2K8290LP8"))
    mocked.get(SHIPMENTS_OF_URL, payload={"shipments": []})
    mocked.get(f"{ENDPOINT}/retailer/shipments/541757635", payload={})
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("1"))
    mocked.put(f"{ENDPOINT}/retailer/transports/312778947", status=202, payload=process_status("2"))
    mocked.post(BULK_STATUS_URL, payload={"processStatuses": []})
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []})
    mocked.get(f"{ENDPOINT}/shared/process-status/019d4d55-8027-7ac0-b4dd-903528125d36", payload=process_status("3"))
    mocked.get(SUBSCRIPTIONS_URL, payload={"subscriptions": []})
    mocked.post(SUBSCRIPTIONS_URL, status=202, payload=process_status("4"))
    mocked.put(f"{SUBSCRIPTIONS_URL}/1234", status=202, payload=process_status("5"))
    mocked.delete(f"{SUBSCRIPTIONS_URL}/1234", status=202, payload=process_status("6"))
    mocked.get(KEYS_URL, payload={"signatureKeys": []})

    parcel = Parcel(reference="1", tracking_number="GLS123456789", items=[ParcelItem(item_external_id="6107331383", quantity=2)])
    await api.retailer()
    await api.orders(1, fulfilment_method="ALL", status="OPEN")
    await api.orders(2, fulfilment_method="FBR", status="ALL", change_interval_minute="17")
    await api.order("A2K8290LP8")
    await api.shipments_of("A2K8290LP8")
    await api.shipment("541757635")
    await api.create_shipment(shipment_request(bol_settings(), "A2K8290LP8-1", parcel))
    await api.change_transport("312778947", {"transporterCode": "GLS", "trackAndTrace": "GLS123456790"})
    await api.process_statuses(["019d4d55-8027-7ac0-b4dd-903528125d36", "33371690441"])
    await api.process_statuses_of("6107331383", CREATE_SHIPMENT)
    await api.process_status("019d4d55-8027-7ac0-b4dd-903528125d36")
    await api.subscriptions()
    await api.create_subscription(subscription_request(EVENTS_URL))
    await api.update_subscription("1234", subscription_request(EVENTS_URL, ("PROCESS_STATUS",)))
    await api.delete_subscription("1234")
    await api.signature_keys()

    sent = from_mock(mocked)
    assert len(sent) == 17
    check_all(sent)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (SentRequest("GET", URL(f"{ENDPOINT}/retailer/orders?page=0"), {"accept": MEDIA_TYPE, "authorization": "Bearer x"}, None),
         "less than the minimum"),
        (SentRequest("GET", URL(f"{ENDPOINT}/retailer/orders?status=NEW"), {"accept": MEDIA_TYPE, "authorization": "Bearer x"}, None),
         "is not one of"),
        (SentRequest("GET", URL(f"{ENDPOINT}/retailer/orders?change-interval-minute=61"),
                     {"accept": MEDIA_TYPE, "authorization": "Bearer x"}, None), "greater than the maximum"),
        (SentRequest("GET", URL(f"{ENDPOINT}/retailer/orders?since=1"), {"accept": MEDIA_TYPE, "authorization": "Bearer x"}, None),
         "not declared"),
        (SentRequest("GET", URL(f"{ENDPOINT}/retailer/orders"), {"accept": "application/json", "authorization": "Bearer x"}, None),
         "Accept"),
        (SentRequest("POST", URL(SHIPMENTS_URL), {"accept": MEDIA_TYPE, "content-type": MEDIA_TYPE, "authorization": "Bearer x"},
                     b'{"orderItems": [], "carrier": "GLS"}'), "carrier"),
        (SentRequest("GET", URL(f"{ENDPOINT}/shared/process-status?entity-id=1"), {"accept": MEDIA_TYPE, "authorization": "Bearer x"},
                     None), "event-type"),
        (SentRequest("PATCH", URL(SHIPMENTS_URL), {"accept": MEDIA_TYPE, "authorization": "Bearer x"}, None), "no operation"),
    ],
)
def test_the_check_catches_requests_bol_would_refuse(request_: SentRequest, problem: str) -> None:
    with pytest.raises(ModelValidationError, match=problem):
        check_request(request_)
