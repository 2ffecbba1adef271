"""What the simulator holds, independent of how the API renders it.

Retailers and their API credentials, orders with their items, shipments with their transports,
process statuses, subscriptions and webhook deliveries. Prices are floats with two decimals (bol.com
sends JSON numbers); times are epoch seconds of the simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FBR = "FBR"
FBB = "FBB"
RETAILER = "RETAILER"
BOL = "BOL"

OPEN = "OPEN"
HANDLED = "HANDLED"

PENDING = "PENDING"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
TIMEOUT = "TIMEOUT"
SETTLED = (SUCCESS, FAILURE, TIMEOUT)

# Transporter codes bol.com knows (contract §3.1, picqer's v10 enum; not an enum in the spec).
TRANSPORTER_CODES = frozenset({
    "BRIEFPOST", "UPS", "TNT", "TNT-EXTRA", "TNT_BRIEF", "TNT-EXPRESS", "DYL", "DPD-NL", "DPD-BE",
    "BPOST_BE", "BPOST_BRIEF", "DHLFORYOU", "GLS", "FEDEX_NL", "FEDEX_BE", "OTHER", "DHL", "DHL_DE",
    "DHL-GLOBAL-MAIL", "TSN", "FIEGE", "TRANSMISSION", "PARCEL-NL", "LOGOIX", "PACKS", "COURIER",
    "TRUNKRS", "CYCLOON", "PES", "BUDBEE",
})
TRANSPORT_EVENT_CODES = (
    "PRE_ANNOUNCED", "AT_TRANSPORTER", "IN_TRANSIT", "DELIVERED_AT_NEIGHBOURS", "DELIVERED_AT_CUSTOMER",
    "PICKED_UP_AT_PICK_UP_POINT", "AT_PICK_UP_POINT", "RETURNED_TO_SENDER", "INBOUND_COLLECT",
)
CANCELLATION_REASONS = (
    "OUT_OF_STOCK", "REQUESTED_BY_CUSTOMER", "BAD_CONDITION", "HIGHER_SHIPCOST", "INCORRECT_PRICE",
    "NOT_AVAIL_IN_TIME", "NO_BOL_GUARANTEE", "ORDERED_TWICE", "RETAIN_ITEM", "TECH_ISSUE",
    "UNFINDABLE_ITEM", "OTHER",
)
RESOURCES = ("PROCESS_STATUS", "SHIPMENT", "PRICE_STAR_BOUNDARY", "COMPETING_OFFER", "OFFER_FOR_SALE",
             "OFFER_NOT_FOR_SALE", "ORDER")
SUBSCRIPTION_TYPES = ("WEBHOOK", "GCP_PUBSUB", "AWS_SQS")
EVENT_TYPES = (
    "CREATE_SHIPMENT", "CANCEL_ORDER", "CHANGE_TRANSPORT", "HANDLE_RETURN_ITEM", "CREATE_RETURN_ITEM",
    "CREATE_INBOUND", "DELETE_OFFER", "CREATE_OFFER", "UPDATE_OFFER", "UPDATE_OFFER_STOCK",
    "UPDATE_OFFER_PRICE", "CREATE_OFFER_EXPORT", "UNPUBLISHED_OFFER_REPORT", "CREATE_PRODUCT_CONTENT",
    "CREATE_SUBSCRIPTION", "UPDATE_SUBSCRIPTION", "DELETE_SUBSCRIPTION", "SEND_SUBSCRIPTION_TST_MSG",
    "CREATE_SHIPPING_LABEL", "CREATE_REPLENISHMENT", "UPDATE_REPLENISHMENT", "REQUEST_PRODUCT_DESTINATIONS",
    "CREATE_SOV_SEARCH_TERM_REPORT", "CREATE_SOV_CATEGORY_REPORT", "UPLOAD_INVOICE",
    "CREATE_CAMPAIGN_PERFORMANCE_REPORT",
)


@dataclass(slots=True)
class Retailer:
    """A bol.com seller account."""

    retailer_id: str  # digits
    display_name: str
    company_name: str
    vat_number: str
    kvk_number: str
    registration_date: str  # YYYY-MM-DD
    active: bool = True


@dataclass(slots=True)
class Client:
    """One set of API credentials (Client ID + secret) of a retailer, with its token counts."""

    client_id: str
    client_secret: str
    retailer_id: str
    token_requests: int = 0  # every POST /token naming this client id
    tokens_issued: int = 0
    refused: int = 0  # wrong secret
    deleted: bool = False


@dataclass(slots=True)
class AccessToken:
    """A bearer token handed out by ``POST /token``."""

    token: str
    client_id: str
    retailer_id: str
    issued: float
    expires: float


@dataclass(slots=True)
class OrderItem:
    """One order item: what was ordered, how it is fulfilled and what happened to it."""

    order_item_id: str
    ean: str
    title: str
    quantity: int
    unit_price: float
    commission: float
    offer_id: str
    offer_reference: str | None
    changed: float  # latestChangedDateTime
    method: str = FBR
    distribution_party: str | None = RETAILER  # None: bol.com leaves it out
    quantity_shipped: int = 0
    quantity_cancelled: int = 0
    cancellation_request: bool = False
    discounts: list[tuple[str, float]] = field(default_factory=list)
    latest_delivery_date: str | None = None
    exact_delivery_date: str | None = None
    expiry_date: str | None = None
    time_frame_type: str = "REGULAR"
    additional_services: tuple[str, ...] = ()
    shipping_label_id: str | None = None  # VVB items: the label bol.com sold for it

    @property
    def open_quantity(self) -> int:
        """Units still to ship: quantity minus shipped minus cancelled."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled

    @property
    def fulfilment_status(self) -> str:
        """OPEN while units are left to ship, else HANDLED."""
        return OPEN if self.open_quantity > 0 else HANDLED

    @property
    def vvb(self) -> bool:
        """Verzenden via bol: the retailer ships with a label bought from bol.com."""
        return self.method == FBR and self.distribution_party == BOL


@dataclass(slots=True)
class Order:
    """A customer order of one retailer."""

    order_id: str
    retailer_id: str
    placed: float
    shipment_details: dict[str, str]
    billing_details: dict[str, str] | None
    items: list[OrderItem]
    pickup_point: bool = False

    def item(self, order_item_id: str) -> OrderItem | None:
        """The item with this id, if the order has it."""
        return next((item for item in self.items if item.order_item_id == order_item_id), None)

    @property
    def changed(self) -> float:
        """The latest change of any of its items."""
        return max((item.changed for item in self.items), default=self.placed)


@dataclass(slots=True)
class Transport:
    """How a shipment travels: transporter and track and trace, or a bol.com label."""

    transport_id: str
    transporter_code: str | None
    track_and_trace: str | None
    shipping_label_id: str | None = None
    events: list[tuple[str, float]] = field(default_factory=list)  # (eventCode, time)


@dataclass(slots=True)
class Shipment:
    """A shipment: units of order items of one order that left together."""

    shipment_id: str
    retailer_id: str
    order_id: str
    created: float
    reference: str | None
    items: list[tuple[str, int]]  # (orderItemId, units)
    transport: Transport
    process_status_id: str | None = None


@dataclass(slots=True)
class ProcessStatus:
    """An asynchronous request bol.com accepted with 202, and how it ended."""

    process_status_id: str
    retailer_id: str
    entity_id: str
    event_type: str
    description: str
    created: float
    due: float | None  # when it settles by itself; None: only through the admin API
    entity_ids: tuple[str, ...] = ()  # every id it can be found by (all order items of a shipment)
    status: str = PENDING
    error_message: str | None = None
    completed: float | None = None
    forced: str | None = None  # FAILURE or TIMEOUT planned by a fault
    action: Callable[[], str | None] | None = None  # does the work; returns an error message to fail
    permanent: bool = False  # the demo environment's fixed statuses never expire

    @property
    def pending(self) -> bool:
        """True until it settles."""
        return self.status == PENDING


@dataclass(slots=True)
class Subscription:
    """A push-notification subscription of a retailer."""

    subscription_id: str
    retailer_id: str
    resources: list[str]
    url: str
    subscription_type: str
    enabled: bool = True
    identity: str | None = None
    disabled_reason: str | None = None

    def wants(self, resource: str) -> bool:
        """True when an event of ``resource`` goes to this subscription now."""
        return self.enabled and self.subscription_type == "WEBHOOK" and resource in self.resources


@dataclass(slots=True)
class Attempt:
    """One try to deliver a message: when (real time), the HTTP status or the error."""

    at: float
    status: int | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The attempt as the admin API shows it."""
        return {"at": self.at, "status": self.status, "error": self.error}


@dataclass(slots=True)
class Delivery:
    """A signed message on its way to a subscription's URL."""

    delivery_id: int
    subscription_id: str
    retailer_id: str
    url: str
    resource: str
    event_type: str
    resource_id: str
    body: bytes
    key_id: str
    signature: str  # the Signature header
    created: float  # simulated time
    state: str = "pending"  # pending, delivered, failed (retries used up), dropped (subscription gone)
    attempts: list[Attempt] = field(default_factory=list)
    duplicate_of: int | None = None
