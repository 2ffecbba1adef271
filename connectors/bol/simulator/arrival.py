"""Orders arriving now: what a test, a scenario or the demo may ask for, and how it becomes an order.

``OrderCreate`` is the body of ``POST /_sim/orders`` and the argument of ``SimulatorState.new_order``:
everything is optional and what is left out is drawn from the seed, like the seeded world. The
order is placed at the simulated clock's now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .records import BOL, FBB, Order, OrderItem, Shipment
from .seed import SHAPES, make_address, make_item, make_order

if TYPE_CHECKING:
    from .state import SimulatorState


class ItemCreate(BaseModel):
    """An item of a new order; what is left out is drawn."""

    model_config = ConfigDict(extra="forbid")

    orderItemId: str | None = None
    ean: str | None = None
    title: str | None = None
    quantity: int = Field(default=1, ge=1)
    unitPrice: float | None = Field(default=None, ge=0)
    method: Literal["FBR", "FBB"] = "FBR"
    distributionParty: Literal["RETAILER", "BOL"] | None = "RETAILER"  # FBB items are always BOL
    cancellationRequest: bool = False
    quantityCancelled: int = Field(default=0, ge=0)
    shippingLabelId: str | None = None  # VVB items (FBR + BOL) get one drawn when left out
    timeFrameType: Literal["REGULAR", "EVENING", "APPOINTMENT", "SAMEDAY", "SUNDAY"] | None = None


class OrderCreate(BaseModel):
    """A new order placed now; what is left out is drawn (``shape`` decides the drawn items and address)."""

    model_config = ConfigDict(extra="forbid")

    retailerId: str | None = None  # default: the first retailer
    orderId: str | None = None
    shape: str = "fbr"  # one of seed.SHAPES
    country: Literal["NL", "BE"] | None = None
    pickupPointName: str | None = None
    shipmentDetails: dict[str, str] | None = None  # fields laid over the drawn ones
    billingDetails: dict[str, str] | None = None
    items: list[ItemCreate] | None = Field(default=None, min_length=1)


def build_order(state: SimulatorState, new: OrderCreate) -> tuple[Order, list[Shipment]]:
    """The order (and the shipments of its shape) that ``new`` asks for, not yet filed; ValueError if impossible."""
    retailer_id = new.retailerId or state.first_retailer.retailer_id
    state.retailer(retailer_id)
    if new.shape not in SHAPES:
        raise ValueError(f"unknown shape {new.shape!r}; use one of {', '.join(sorted(set(SHAPES)))}")
    if new.orderId is not None and (new.orderId in state.orders or not new.orderId.strip()):
        raise ValueError(f"order {new.orderId!r} exists or is blank")
    rng = state.ids.rng
    now = float(int(state.clock.time()))
    order, shipments = make_order(rng, new.shape, retailer_id, now, state.ids, placed=now)
    if new.orderId is not None:
        order.order_id = new.orderId
        for shipment in shipments:
            shipment.order_id = new.orderId
    if new.country is not None:
        keep = {k: v for k, v in order.shipment_details.items() if k in ("pickupPointName", "deliveryPhoneNumber")}
        order.shipment_details = make_address(rng, new.country == "BE", business=new.shape == "business") | keep
    if new.pickupPointName is not None:
        order.pickup_point = True
        order.shipment_details["pickupPointName"] = new.pickupPointName
    if new.shipmentDetails:
        order.shipment_details.update(new.shipmentDetails)
    if new.billingDetails is not None:
        order.billing_details = dict(new.billingDetails)
    if new.items is not None:
        shipments = []
        order.items = [_item(state, spec, now) for spec in new.items]
    return order, shipments


def _item(state: SimulatorState, spec: ItemCreate, now: float) -> OrderItem:
    item = make_item(state.ids.rng, now, state.ids)
    if spec.orderItemId is not None:
        item.order_item_id = spec.orderItemId
    item.quantity = spec.quantity
    if spec.quantityCancelled > spec.quantity:
        raise ValueError("quantityCancelled exceeds quantity")
    item.quantity_cancelled = spec.quantityCancelled
    item.ean = spec.ean or item.ean
    item.title = spec.title or item.title
    if spec.unitPrice is not None:
        item.unit_price = spec.unitPrice
        item.commission = round(spec.unitPrice * spec.quantity * 0.12 + 0.99, 2)
    item.discounts = []
    item.method = spec.method
    item.distribution_party = BOL if spec.method == FBB else spec.distributionParty
    item.cancellation_request = spec.cancellationRequest
    if item.vvb:
        item.shipping_label_id = spec.shippingLabelId or state.ids.uuid()
    elif spec.shippingLabelId is not None:
        raise ValueError("shippingLabelId is only for VVB items (method FBR, distributionParty BOL)")
    if spec.timeFrameType is not None:
        item.time_frame_type = spec.timeFrameType
    return item
