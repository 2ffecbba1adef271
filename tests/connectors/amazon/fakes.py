"""Fakes for the Amazon connector's tests: a clock, settings on a test endpoint, Amazon's answers.

Nothing here reaches a real Amazon host: the settings point every endpoint at ``ENDPOINT``, which
only aioresponses answers (the end-to-end tests use the simulator on 127.0.0.1 instead). The
orders follow the Orders API 2026-01-01 model; test_client_contract.py checks that they do.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from aioresponses import aioresponses

from connectors.amazon.settings import AmazonSettings
from tests.clock import FakeClock as FakeClock  # the Amazon tests take it from here

ENDPOINT = "https://amazon.test"
TOKEN_URL = f"{ENDPOINT}/auth/o2/token"
SEARCH_URL = re.compile(r"^https://amazon\.test/orders/2026-01-01/orders(\?.*)?$")
PARTICIPATIONS_URL = f"{ENDPOINT}/sellers/v1/marketplaceParticipations"
REFRESH_TOKEN = "Atzr|refresh-token-SECRET-0001"
ACCESS_TOKEN = "Atza|access-token-SECRET-0001"
CLIENT_SECRET = "client-secret-SECRET-0001"
SELLER = "A3SELLER0EXAMPLE"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NL, DE = "A1805IZSGTT6HS", "A1PA6795UKMFR9"


def confirm_url(order_id: str) -> str:
    """The confirmShipment URL of an order on the test endpoint."""
    return f"{ENDPOINT}/orders/v0/orders/{order_id}/shipmentConfirmation"


def amazon_settings(**changes: Any) -> AmazonSettings:
    """Settings of a registered app, every endpoint on the test host, small backoffs."""
    values: dict[str, Any] = {
        "application_id": "amzn1.sellerapps.app.test",
        "client_id": "amzn1.application-oa2-client.test",
        "client_secret": CLIENT_SECRET,
        "endpoint": ENDPOINT,
        "max_retries": 3,
    }
    return AmazonSettings(**{**values, **changes})


def token_answer(access_token: str = ACCESS_TOKEN, expires_in: int = 3600) -> dict[str, Any]:
    """An LWA refresh answer."""
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": REFRESH_TOKEN,
    }


def requests_to(mock: aioresponses, method: str, url: str | re.Pattern[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The (URL, kwargs) of every recorded request to ``url`` (a string prefix or a pattern), in order."""
    found = []
    for (verb, recorded), calls in mock.requests.items():
        text = str(recorded)
        matches = url.match(text) if isinstance(url, re.Pattern) else text.split("?")[0] == url
        if verb == method and matches:
            found.extend((recorded, call.kwargs) for call in calls)
    return found


def amazon_order(
    order_id: str = "028-1234567-8901234",
    *,
    status: str = "UNSHIPPED",
    fulfilled_by: str = "MERCHANT",
    programs: list[str] | None = None,
    marketplace_id: str | None = NL,
    updated: str = "2026-03-01T10:30:00Z",
    address: dict[str, Any] | None = None,
    with_recipient: bool = True,
    items: list[dict[str, Any]] | None = None,
    buyer: dict[str, Any] | None = None,
    packages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A merchant-fulfilled order as searchOrders returns it with RECIPIENT, FULFILLMENT, PACKAGES.

    ``marketplace_id=None``: a ``salesChannel`` that names no marketplace.
    """
    order: dict[str, Any] = {
        "orderId": order_id,
        "orderAliases": [{"aliasId": f"SO-{order_id[-7:]}", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": "2026-03-01T09:15:00Z",
        "lastUpdatedTime": updated,
        "programs": programs if programs is not None else [],
        "salesChannel": (
            {"channelName": "AMAZON", "marketplaceId": marketplace_id, "marketplaceName": "Amazon.nl"}
            if marketplace_id
            else {"channelName": "AMAZON"}
        ),
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": fulfilled_by,
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {"earliestDateTime": "2026-03-01T09:15:00Z", "latestDateTime": "2026-03-03T22:59:59Z"},
            "deliverByWindow": {"earliestDateTime": "2026-03-04T23:00:00Z", "latestDateTime": "2026-03-06T22:59:59Z"},
        },
        "orderItems": items if items is not None else [order_item("40234567890123", "KOFFIE-1KG", "B00KOFFIE1", 2)],
        "packages": packages if packages is not None else [],
    }
    if with_recipient:
        order["recipient"] = {
            "deliveryAddress": address
            or {
                "name": "Renée Dijkstra-Ölçer",
                "addressLine1": "Keizersgracht 123",
                "city": "Amsterdam",
                "stateOrRegion": "Noord-Holland",
                "postalCode": "1015 CJ",
                "countryCode": "NL",
                "phone": "+31 20 123 4567",
                "addressType": "RESIDENTIAL",
            }
        }
    if buyer is not None:
        order["buyer"] = buyer
    return order


def order_item(
    item_id: str, sku: str, asin: str, quantity: int, *, unfulfilled: int | None = None, price: str = "12.95"
) -> dict[str, Any]:
    """An order item with product, price and fulfilment quantities."""
    return {
        "orderItemId": item_id,
        "quantityOrdered": quantity,
        "product": {
            "asin": asin,
            "title": f"Product {sku}",
            "sellerSku": sku,
            "condition": {"conditionType": "NEW"},
            "price": {"unitPrice": {"amount": price, "currencyCode": "EUR"}},
        },
        "fulfillment": {
            "quantityFulfilled": quantity - (quantity if unfulfilled is None else unfulfilled),
            "quantityUnfulfilled": quantity if unfulfilled is None else unfulfilled,
        },
    }


def package(
    reference: str, items: dict[str, int], *, status: str = "SHIPPED", carrier: str = "DHL", tracking: str = "00340434161094042557"
) -> dict[str, Any]:
    """A package of an order as getOrder and searchOrders show it (made in Seller Central or by any tool)."""
    return {
        "packageReferenceId": reference,
        "createdTime": "2026-03-01T11:00:00Z",
        "packageStatus": {"status": status},
        "carrier": carrier,
        "shipTime": "2026-03-01T11:00:00Z",
        "trackingNumber": tracking,
        "packageItems": [{"orderItemId": item_id, "quantity": quantity} for item_id, quantity in items.items()],
    }


def search_answer(
    orders: list[dict[str, Any]], next_token: str | None = None, last_updated_before: str = "2026-03-02T11:58:00Z"
) -> dict[str, Any]:
    """A searchOrders answer: the orders, a next token, the end of the window."""
    answer: dict[str, Any] = {"orders": orders, "lastUpdatedBefore": last_updated_before}
    if next_token:
        answer["pagination"] = {"nextToken": next_token}
    return answer


def participations_answer(*entries: tuple[str, str, bool]) -> dict[str, Any]:
    """A getMarketplaceParticipations answer from (marketplace id, country, participating)."""
    return {
        "payload": [
            {
                "marketplace": {
                    "id": marketplace_id,
                    "name": f"Amazon.{country.lower()}",
                    "countryCode": country,
                    "defaultCurrencyCode": "EUR",
                    "defaultLanguageCode": "nl_NL",
                    "domainName": f"www.amazon.{country.lower()}",
                },
                "participation": {"isParticipating": participating, "hasSuspendedListings": False},
                "storeName": "Koffiebranderij De Boon",
            }
            for marketplace_id, country, participating in entries
        ]
    }


class SimulatedClock:
    """The connector's clock on a simulator's clock: sleeping moves the simulated time on."""

    def __init__(self, sim_clock: Any) -> None:
        self.sim_clock = sim_clock

    def monotonic(self) -> float:
        """The simulated time in seconds."""
        return float(self.sim_clock.time())

    async def sleep(self, seconds: float) -> None:
        """Advance the simulated time instead of waiting."""
        self.sim_clock.advance(seconds)
        await asyncio.sleep(0)
