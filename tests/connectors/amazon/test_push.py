"""on_label_created: one confirmShipment per parcel, outcomes, carrier fallback, auth failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aioresponses import aioresponses

import connectors.amazon
from connectors.amazon.client import ClientState
from connectors.amazon.mapping import map_order
from core.contract.errors import ConnectorAuthFailed
from core.contract.models import Label, Order, Parcel, ParcelItem, ParcelOutcome
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import (
    NL,
    TOKEN_URL,
    amazon_order,
    amazon_settings,
    confirm_url,
    order_item,
    requests_to,
    token_answer,
)

ORDER_ID = "028-1234567-8901234"
URL = confirm_url(ORDER_ID)
SHIP_DATE = datetime(2026, 3, 2, 15, 30, 12, 345000, tzinfo=timezone(timedelta(hours=1)))


def order() -> Order:
    result = map_order(
        amazon_order(
            ORDER_ID, items=[order_item("40000000000001", "A", "B0A", 2), order_item("40000000000002", "B", "B0B", 1)]
        )
    )
    assert isinstance(result, Order)
    return result


def label(*parcels: Parcel, shipping_method: str | None = None) -> Label:
    return Label(external_id="L-1", ship_date=SHIP_DATE, parcels=list(parcels), shipping_method=shipping_method)


def parcel(reference: str, tracking: str, *items: tuple[str, int]) -> Parcel:
    return Parcel(
        reference=reference,
        tracking_number=tracking,
        items=[ParcelItem(item_external_id=item, quantity=quantity) for item, quantity in items],
    )


ONE = parcel("1", "GLS0000000001", ("40000000000001", 2), ("40000000000002", 1))


def bodies(mock: aioresponses) -> list[dict]:
    return [call["json"] for _, call in requests_to(mock, "POST", URL)]


async def test_each_parcel_is_confirmed_with_its_own_reference(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(URL, status=204, repeat=True)
    two = label(
        parcel("1", "GLS0000000001", ("40000000000001", 2)), parcel("2", "GLS0000000002", ("40000000000002", 1))
    )

    outcomes = await connectors.amazon.on_label_created(make_context(), order(), two)

    assert outcomes == [
        ParcelOutcome(reference="1", state="confirmed"),
        ParcelOutcome(reference="2", state="confirmed"),
    ]
    first, second = bodies(mocked)
    assert first == {
        "marketplaceId": NL,
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "GLS",
            "trackingNumber": "GLS0000000001",
            "shipDate": "2026-03-02T14:30:12Z",
            "orderItems": [{"orderItemId": "40000000000001", "quantity": 2}],
        },
    }
    assert second["packageDetail"]["packageReferenceId"] == "2"
    assert second["packageDetail"]["orderItems"] == [{"orderItemId": "40000000000002", "quantity": 1}]


async def test_shipping_method_comes_from_the_label_or_the_settings(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(URL, status=204, repeat=True)
    context = make_context(settings=amazon_settings(shipping_method="BusinessParcel"))

    await connectors.amazon.on_label_created(context, order(), label(ONE))
    await connectors.amazon.on_label_created(context, order(), label(ONE, shipping_method="ExpressParcel"))

    assert [body["packageDetail"]["shippingMethod"] for body in bodies(mocked)] == ["BusinessParcel", "ExpressParcel"]


async def test_a_rejected_parcel_fails_with_amazons_message(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    rejected = {"errors": [{"code": "InvalidInput", "message": "OrderItemId is invalid", "details": ""}]}
    mocked.post(URL, status=400, payload=rejected)

    [outcome] = await connectors.amazon.on_label_created(make_context(), order(), label(ONE))

    assert outcome.state == "failed"
    assert outcome.message == "Amazon rejected the tracking code: InvalidInput: OrderItemId is invalid"
    assert len(bodies(mocked)) == 1


async def test_a_refused_carrier_code_is_repeated_once_as_other(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(URL, status=400, payload={"errors": [{"code": "InvalidInput", "message": "Invalid CarrierCode: GLS"}]})
    mocked.post(URL, status=204)

    [outcome] = await connectors.amazon.on_label_created(make_context(), order(), label(ONE))

    assert outcome.state == "confirmed"
    first, second = bodies(mocked)
    assert first["packageDetail"]["carrierCode"] == "GLS"
    assert "carrierName" not in first["packageDetail"]
    assert (second["packageDetail"]["carrierCode"], second["packageDetail"]["carrierName"]) == ("Other", "GLS")
    assert second["packageDetail"]["packageReferenceId"] == "1"


async def test_the_carrier_fallback_is_tried_only_once(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    refused = {"errors": [{"code": "InvalidInput", "message": "Invalid carrier", "details": "carrierName"}]}
    mocked.post(URL, status=400, payload=refused, repeat=True)

    [outcome] = await connectors.amazon.on_label_created(make_context(), order(), label(ONE))

    assert outcome.state == "failed" and "Invalid carrier" in (outcome.message or "")
    assert len(bodies(mocked)) == 2


async def test_throttling_or_outage_leaves_the_parcels_for_a_retry(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    quota = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}
    mocked.post(URL, status=429, payload=quota, repeat=True)
    two = label(ONE, parcel("2", "GLS0000000002", ("40000000000002", 1)))

    outcomes = await connectors.amazon.on_label_created(make_context(), order(), two)

    assert [(o.reference, o.state) for o in outcomes] == [("1", "retry"), ("2", "retry")]
    assert outcomes[0].retry_after == pytest.approx(0.5)
    assert len(bodies(mocked)) == 4, "the second parcel is not sent into a throttled API"


async def test_denied_twice_raises_auth_failed(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer(), repeat=True)
    mocked.post(URL, status=403, payload={"errors": [{"code": "Unauthorized", "message": "denied"}]}, repeat=True)

    with pytest.raises(ConnectorAuthFailed):
        await connectors.amazon.on_label_created(make_context(), order(), label(ONE))
    assert len(requests_to(mocked, "POST", TOKEN_URL)) == 2


async def test_a_revoked_grant_raises_auth_failed(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, status=400, payload={"error": "invalid_grant", "error_description": "User may have revoked"})

    with pytest.raises(ConnectorAuthFailed, match="Reconnect"):
        await connectors.amazon.on_label_created(make_context(), order(), label(ONE))


async def test_parcels_amazon_cannot_take_fail_without_a_call(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    no_marketplace = order().model_copy(update={"marketplace": None})
    [missing] = await connectors.amazon.on_label_created(make_context(), no_marketplace, label(ONE))
    [bad_reference] = await connectors.amazon.on_label_created(
        make_context(), order(), label(parcel("P-1", "GLS1", ("40000000000001", 1)))
    )
    assert missing.state == bad_reference.state == "failed"
    assert "marketplace" in (missing.message or "") and "positive number" in (bad_reference.message or "")
    assert requests_to(mocked, "POST", URL) == []


async def test_carrier_other_in_the_settings_always_sends_the_carrier_name(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(URL, status=204)
    context = make_context(settings=amazon_settings(carrier_code="Other", carrier_name="GLS Netherlands"))

    await connectors.amazon.on_label_created(context, order(), label(ONE))

    [body] = bodies(mocked)
    assert (body["packageDetail"]["carrierCode"], body["packageDetail"]["carrierName"]) == ("Other", "GLS Netherlands")


async def test_an_order_stored_without_a_marketplace_goes_out_under_the_connections_only_one(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(URL, status=204)
    no_marketplace = order().model_copy(update={"marketplace": None})

    [outcome] = await connectors.amazon.on_label_created(make_context(marketplaces=["DE"]), no_marketplace, label(ONE))

    assert outcome.state == "confirmed"
    assert [body["marketplaceId"] for body in bodies(mocked)] == ["A1PA6795UKMFR9"]
