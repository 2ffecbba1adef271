"""Fakes for the bol.com connector's tests: a clock (tests/clock.py's), settings on a test host, bol.com's answers.

Nothing here reaches bol.com: the settings point every endpoint at ``ENDPOINT``, which only
aioresponses answers (the end-to-end tests use the simulator on 127.0.0.1 instead). The orders
follow the Retailer API v10 description; test_models.py checks that they do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aioresponses import aioresponses

from connectors.bol.settings import BolSettings
from tests.clock import FakeClock as FakeClock  # the bol.com tests take it from here

ENDPOINT = "https://bol.test"
TOKEN_URL = f"{ENDPOINT}/token"
ORDERS_URL = re.compile(r"^https://bol\.test/retailer/orders(\?.*)?$")
RETAILER_URL = f"{ENDPOINT}/retailer/retailers/current"
SHIPMENTS_URL = f"{ENDPOINT}/retailer/shipments"
SHIPMENTS_OF_URL = re.compile(r"^https://bol\.test/retailer/shipments\?order-id=.*$")
BULK_STATUS_URL = f"{ENDPOINT}/shared/process-status"
STATUS_OF_URL = re.compile(r"^https://bol\.test/shared/process-status\?entity-id=.*$")
SUBSCRIPTIONS_URL = f"{ENDPOINT}/retailer/subscriptions"
KEYS_URL = f"{ENDPOINT}/retailer/subscriptions/signature-keys"

CLIENT_ID = "4c2b1a0e-1111-4d3c-9a8b-client-id-0001"
CLIENT_SECRET = "bol-client-SECRET-0001-aaaaaaaaaaaaaaaaaaaa"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.access-token-SECRET-0001"
RETAILER_ID = "1055479"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EVENTS_URL = "https://hub.example/events/0123456789abcdef"


def order_url(order_id: str) -> str:
    """The detail URL of an order on the test host."""
    return f"{ENDPOINT}/retailer/orders/{order_id}"


def bol_settings(**changes: Any) -> BolSettings:
    """Settings with every endpoint on the test host and small retries."""
    values: dict[str, Any] = {"endpoint": ENDPOINT, "max_retries": 3, "backoff_base": 0.5}
    return BolSettings(**{**values, **changes})


def token_answer(access_token: str = ACCESS_TOKEN, expires_in: int = 299) -> dict[str, Any]:
    """The token endpoint's answer to client credentials."""
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "scope": "RETAILER"}


def retailer_answer(retailer_id: str = RETAILER_ID) -> dict[str, Any]:
    """``RetailerInformationResponse``."""
    return {
        "retailerId": retailer_id,
        "displayName": "Fietsentuin",
        "companyName": "Fietsentuin B.V.",
        "vatNumber": "NL123456789B01",
        "kvkNumber": "90005414",
        "registrationDate": "2015-06-17",
        "topRetailer": False,
    }


def reduced_item(
    item_id: str,
    *,
    method: str = "FBR",
    status: str = "OPEN",
    quantity: int = 1,
    shipped: int = 0,
    cancelled: int = 0,
    cancellation_request: bool = False,
    changed: str = "2026-03-01T10:15:00+01:00",
) -> dict[str, Any]:
    """A ``ReducedOrderItem`` as the order list gives it."""
    return {
        "orderItemId": item_id,
        "ean": "8712626055143",
        "fulfilmentMethod": method,
        "fulfilmentStatus": status,
        "quantity": quantity,
        "quantityShipped": shipped,
        "quantityCancelled": cancelled,
        "cancellationRequest": cancellation_request,
        "latestChangedDateTime": changed,
    }


def reduced_order(order_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    """A ``ReducedOrder`` (one FBR item unless given)."""
    return {
        "orderId": order_id,
        "orderPlacedDateTime": "2026-03-01T10:15:00+01:00",
        "orderItems": list(items) or [reduced_item(f"{order_id}1")],
    }


def order_item(
    item_id: str,
    *,
    method: str = "FBR",
    party: str | None = "RETAILER",
    quantity: int = 1,
    shipped: int = 0,
    cancelled: int = 0,
    cancellation_request: bool = False,
    changed: str = "2026-03-01T10:15:00+01:00",
    latest_delivery: str | None = "2026-03-03",
    exact_delivery: str | None = None,
    time_frame: str = "REGULAR",
    price: float = 12.99,
) -> dict[str, Any]:
    """An ``OrderOrderItem`` as the order detail gives it."""
    fulfilment: dict[str, Any] = {"method": method, "timeFrameType": time_frame}
    if party is not None:
        fulfilment["distributionParty"] = party
    if exact_delivery:
        fulfilment["exactDeliveryDate"] = exact_delivery
    elif latest_delivery:
        fulfilment["latestDeliveryDate"] = latest_delivery
    return {
        "orderItemId": item_id,
        "cancellationRequest": cancellation_request,
        "fulfilment": fulfilment,
        "offer": {"offerId": "6ff736b5-cdd0-4150-8c67-78269ee986f5", "reference": f"SKU-{item_id}"},
        "product": {"ean": "8712626055143", "title": f"Product {item_id}"},
        "quantity": quantity,
        "quantityShipped": shipped,
        "quantityCancelled": cancelled,
        "unitPrice": price,
        "totalPrice": round(price * quantity, 2),
        "discounts": [],
        "commission": 1.5,
        "latestChangedDateTime": changed,
    }


def order_detail(
    order_id: str, *items: dict[str, Any], pickup_point: bool = False, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An ``Order`` (one FBR item shipped by the retailer unless given)."""
    shipment = {
        "salutation": "FEMALE",
        "firstName": "Billie",
        "surname": "Jansen",
        "streetName": "Dorpstraat",
        "houseNumber": "1",
        "houseNumberExtension": "B",
        "zipCode": "1111ZZ",
        "city": "Utrecht",
        "countryCode": "NL",
        "email": "2cbq4ahpe5bkzsc2ph3y8uaq4kd4tq@verkopen.bol.com",
        "language": "nl",
    }
    if pickup_point:
        shipment.update({"pickupPointName": "Albert Heijn: UTRECHT", "streetName": "Neude", "houseNumber": "11"})
        shipment.pop("houseNumberExtension")
    shipment.update(details or {})
    return {
        "orderId": order_id,
        "pickupPoint": pickup_point,
        "orderPlacedDateTime": "2026-03-01T10:15:00+01:00",
        "shipmentDetails": shipment,
        "billingDetails": {
            "salutation": "FEMALE",
            "firstName": "Billie",
            "surname": "Jansen",
            "streetName": "Dorpstraat",
            "houseNumber": "1",
            "zipCode": "1111ZZ",
            "city": "Utrecht",
            "countryCode": "NL",
            "email": "2cbq4ahpe5bkzsc2ph3y8uaq4kd4tq@verkopen.bol.com",
        },
        "orderItems": list(items) or [order_item(f"{order_id}1")],
    }


def process_status(
    process_id: str, status: str = "PENDING", *, entity: str = "6107331383", event: str = "CREATE_SHIPMENT",
    error: str | None = None,
) -> dict[str, Any]:
    """A ``ProcessStatus``."""
    answer: dict[str, Any] = {
        "processStatusId": process_id,
        "entityId": entity,
        "eventType": event,
        "description": f"Example process status description for processing {entity}.",
        "status": status,
        "createTimestamp": "2026-03-02T13:00:00+01:00",
        "links": [{"rel": "self", "href": f"{ENDPOINT}/shared/process-status/{process_id}", "method": "GET"}],
    }
    if error:
        answer["errorMessage"] = error
    return answer


def requests_to(mock: aioresponses, method: str, url: str | re.Pattern[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The (URL, kwargs) of every recorded request to ``url`` (a string without query, or a pattern), in order."""
    found = []
    for (verb, recorded), calls in mock.requests.items():
        text = str(recorded)
        matches = url.match(text) if isinstance(url, re.Pattern) else text.split("?")[0] == url
        if verb == method and matches:
            found.extend((recorded, call.kwargs) for call in calls)
    return found
