"""The tracking push: one ``confirmShipment`` per parcel, so that Amazon marks the order shipped.

``packageReferenceId`` is the parcel's stable reference (core numbers the parcels of an order and
keeps the numbers), so a repeated push edits the package at Amazon instead of adding one. The
carrier code is configurable (GLS); when Amazon rejects it, the push is repeated once with
``Other`` and the carrier name, as Amazon documents for carriers not on its list.
"""

from __future__ import annotations

from typing import Any

from connectors.amazon.client import SpApi
from connectors.amazon.const import CARRIER_OTHER
from connectors.amazon.errors import AmazonRejected
from connectors.amazon.mapping import amazon_time
from connectors.amazon.settings import AmazonSettings
from core.hubapi import Label, Order, Parcel, ParcelOutcome, TransientError


def confirmation(
    settings: AmazonSettings, order: Order, label: Label, parcel: Parcel, carrier_code: str
) -> dict[str, Any]:
    """The ``ConfirmShipmentRequest`` body for one parcel (``order.marketplace`` is the one to confirm in)."""
    package: dict[str, Any] = {
        "packageReferenceId": parcel.reference,
        "carrierCode": carrier_code,
        "trackingNumber": parcel.tracking_number,
        "shipDate": amazon_time(label.ship_date),
        "orderItems": [{"orderItemId": item.item_external_id, "quantity": item.quantity} for item in parcel.items],
    }
    if carrier_code == CARRIER_OTHER:
        package["carrierName"] = settings.carrier_name
    shipping_method = label.shipping_method or settings.shipping_method
    if shipping_method:
        package["shippingMethod"] = shipping_method
    return {"marketplaceId": order.marketplace, "packageDetail": package}


async def push_label(
    settings: AmazonSettings, api: SpApi, order: Order, label: Label, fallback_marketplace: str | None = None
) -> list[ParcelOutcome]:
    """Confirm every parcel of a label; one outcome per parcel.

    The marketplace is the order's; an order stored without one (imported before the importer
    learned to fill it in) takes ``fallback_marketplace``, the connection's only one. Once Amazon
    fails transiently (after the client's own retries), the parcels left are not sent but marked
    ``retry`` as well: hammering a throttled or failing API only makes it worse.
    ``ConnectorAuthFailed`` is raised, for core to ask for a reconnect.
    """
    if not order.marketplace and fallback_marketplace:
        order = order.model_copy(update={"marketplace": fallback_marketplace})
    outcomes: list[ParcelOutcome] = []
    transient: TransientError | None = None
    for parcel in label.parcels:
        if transient is not None:
            outcomes.append(_retry(parcel, transient))
            continue
        try:
            outcomes.append(await _push_parcel(settings, api, order, label, parcel))
        except TransientError as err:
            transient = err
            outcomes.append(_retry(parcel, err))
    return outcomes


async def _push_parcel(
    settings: AmazonSettings, api: SpApi, order: Order, label: Label, parcel: Parcel
) -> ParcelOutcome:
    problem = _unsendable(order, parcel)
    if problem:
        return ParcelOutcome(reference=parcel.reference, state="failed", message=problem)
    try:
        payload = confirmation(settings, order, label, parcel, settings.carrier_code)
        await api.confirm_shipment(order.external_id, payload)
    except AmazonRejected as err:
        if not (_about_carrier(err) and settings.carrier_code != CARRIER_OTHER):
            return _failed(parcel, err)
        api.log.info(
            "order %s parcel %s: carrier code %s refused; repeating with %s",
            order.external_id, parcel.reference, settings.carrier_code, CARRIER_OTHER,
        )
        try:
            await api.confirm_shipment(order.external_id, confirmation(settings, order, label, parcel, CARRIER_OTHER))
        except AmazonRejected as again:
            return _failed(parcel, again)
    return ParcelOutcome(reference=parcel.reference, state="confirmed")


def _unsendable(order: Order, parcel: Parcel) -> str | None:
    if not order.marketplace:
        return (
            "Amazon named no marketplace for this order and the connection imports from several: "
            "send the tracking code in Seller Central."
        )
    if not (parcel.reference.isascii() and parcel.reference.isdigit() and int(parcel.reference) > 0):
        return f"Parcel reference {parcel.reference!r} is not a positive number, which Amazon requires."
    return None


def _about_carrier(err: AmazonRejected) -> bool:
    return "carrier" in f"{err.error.message} {err.error.details}".lower()


def _failed(parcel: Parcel, err: AmazonRejected) -> ParcelOutcome:
    return ParcelOutcome(
        reference=parcel.reference, state="failed", message=f"Amazon rejected the tracking code: {err.error.text()}"
    )


def _retry(parcel: Parcel, err: TransientError) -> ParcelOutcome:
    return ParcelOutcome(reference=parcel.reference, state="retry", message=str(err), retry_after=err.retry_after)
