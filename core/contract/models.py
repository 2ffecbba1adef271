"""The hub's own data model: what every connector maps its shop into, and what core stores.

Connectors return these models from their hooks; core validates and persists them. Nothing here
names a shop: shop-specific facts a merchant still needs (an ASIN, a sales channel) go into the
``attributes`` maps.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return value.astimezone(UTC)


#: A timestamp that is always time-zone aware and stored in UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


class Model(BaseModel):
    """Base for hub models: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Model):
    """An amount in a currency (ISO 4217)."""

    amount: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Address(Model):
    """A postal address with the person or company at it; personal data, stored encrypted."""

    name: str | None = None
    company: str | None = None
    lines: list[str] = Field(default_factory=list, max_length=4)
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    country_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    phone: str | None = None
    email: str | None = None
    kind: Literal["residential", "commercial", "pickup_point"] | None = None


class TimeWindow(Model):
    """An interval such as "ship between" or "deliver between"."""

    earliest: UtcDatetime | None = None
    latest: UtcDatetime | None = None


class OrderItem(Model):
    """One line of an order."""

    external_id: str = Field(min_length=1)
    sku: str | None = None
    product_id: str | None = None
    title: str | None = None
    quantity_ordered: int = Field(ge=0)
    quantity_unshipped: int = Field(ge=0)
    unit_price: Money | None = None


class OrderStatus(str, enum.Enum):
    """Where an order stands in the shop, as the carrier's merchant sees it."""

    OPEN = "open"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class Order(Model):
    """An order the merchant must ship, as imported from a shop."""

    external_id: str = Field(min_length=1, max_length=200)
    reference: str | None = None
    status: OrderStatus
    created_at: UtcDatetime
    updated_at: UtcDatetime
    marketplace: str | None = None
    recipient: Address | None = None
    items: list[OrderItem] = Field(min_length=1)
    ship_by: TimeWindow | None = None
    deliver_by: TimeWindow | None = None
    service_level: str | None = None
    is_prime: bool = False
    attributes: dict[str, str] = Field(default_factory=dict)
    #: Parcel references the shop already holds for this order: packages made in the shop or by
    #: another tool, and the hub's own parcels once the shop shows them (hub API v2). Core never
    #: gives a new parcel one of these, and counts a hub parcel whose reference is here as part of
    #: the shop's ``quantity_unshipped``. ``None``: the connector cannot say.
    shop_references: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=1000
    )

    @model_validator(mode="after")
    def _unique_items(self) -> Order:
        ids = [item.external_id for item in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("order items must have unique external ids")
        return self


class SkippedOrder(Model):
    """An order the connector saw but the carrier must not ship, with the reason why."""

    external_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Cursor(Model):
    """How far an import has come.

    ``since`` is the watermark: everything updated before it has been imported; it never moves
    backwards. ``page_token`` lets an interrupted run continue where it stopped; it is opaque to
    core.
    """

    since: UtcDatetime | None = None
    page_token: str | None = None


class ImportPage(Model):
    """One page of an import: orders to store, orders skipped, and the cursor after this page."""

    orders: list[Order] = Field(default_factory=list)
    skipped: list[SkippedOrder] = Field(default_factory=list)
    cursor: Cursor


class ParcelItem(Model):
    """How many of an order item travel in one parcel."""

    item_external_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class Parcel(Model):
    """One parcel of a label: its tracking number, its items, and its stable reference in the shop."""

    reference: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=64)
    items: list[ParcelItem] = Field(min_length=1)


class Label(Model):
    """A shipping label created on the carrier's platform for an order, with one or more parcels."""

    external_id: str = Field(min_length=1, max_length=200)
    carrier: str = "GLS"
    shipping_method: str | None = None
    ship_date: UtcDatetime
    parcels: list[Parcel] = Field(min_length=1)


class PushState(str, enum.Enum):
    """Where the tracking push of a parcel stands.

    ``pending``: still to send. ``accepted``: the shop took it and settles it later (hub API v2);
    core asks the connector again (``check_parcels``) until it is ``confirmed`` or ``failed``.
    """

    PENDING = "pending"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SKIPPED = "skipped"


class ParcelOutcome(Model):
    """What the shop said to one parcel's tracking push, or to a later question about it.

    ``accepted`` (hub API v2): the shop took the parcel and settles it later; ``shop_reference``
    is what the connector needs to ask about it (a process status id), and ``retry_after`` how
    soon asking makes sense. ``retry``: nothing certain happened; the push is tried again.
    """

    reference: str
    state: Literal["confirmed", "failed", "retry", "accepted"]
    message: str | None = None
    retry_after: float | None = None
    shop_reference: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _accepted_has_reference(self) -> ParcelOutcome:
        if self.state == "accepted" and not self.shop_reference:
            raise ValueError("an accepted parcel needs the shop_reference to ask about it later")
        return self


class AcceptedParcel(Model):
    """A parcel the shop accepted and has not settled yet: what ``check_parcels`` receives."""

    reference: str
    shop_reference: str
    tracking_number: str
    order_external_id: str
    accepted_at: UtcDatetime
    checks: int = Field(default=0, ge=0, description="how often core asked about it before")


class ConnectionState(str, enum.Enum):
    """The states every connection moves through (see core.usecases.lifecycle)."""

    PENDING = "pending_authorization"
    CONNECTED = "connected"
    AUTH_REQUIRED = "auth_required"
    ERROR = "error"
    DISABLED = "disabled"
    DISCONNECTED = "disconnected"

    @property
    def working(self) -> bool:
        """Whether the hub imports and pushes for a connection in this state (in error it keeps trying)."""
        return self in (ConnectionState.CONNECTED, ConnectionState.ERROR)


class ConnectionSettings(Model):
    """What the merchant chose for a connection."""

    update_tracking: bool = False
    marketplaces: list[str] = Field(default_factory=list)
    import_interval_minutes: int = Field(default=5, ge=1, le=1440)


class Connection(Model):
    """One connected shop account of one of the carrier's accounts."""

    id: int
    account_id: int
    connector: str
    state: ConnectionState
    reason: str | None = None
    external_account_id: str | None = None
    settings: ConnectionSettings = Field(default_factory=ConnectionSettings)
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class AuthStart(Model):
    """First leg of authorisation: where to send the merchant, and the signed state to carry."""

    kind: Literal["start"] = "start"
    state: str
    redirect_uri: str
    options: dict[str, str] = Field(default_factory=dict)


class AuthCallback(Model):
    """Second leg: the parameters the shop sent back to the redirect URI."""

    kind: Literal["callback"] = "callback"
    redirect_uri: str
    params: dict[str, str]


class AuthCredentials(Model):
    """Credentials the merchant pasted (hub API v2, connect style ``credentials``).

    ``fields`` holds every field the manifest declares, secret or not, by name. The connector
    checks them with the shop before anything is stored and returns an ``Authorization``.
    """

    kind: Literal["credentials"] = "credentials"
    fields: dict[str, SecretStr]


class AuthRedirect(Model):
    """Send the merchant's browser to ``url``."""

    url: str


class Authorization(Model):
    """The result of a completed authorisation: credentials core stores encrypted.

    ``external_account_id`` keys the connection: a second connect of the same shop account by the
    same carrier account is refused, and a reconnect must name the same one.
    """

    external_account_id: str = Field(min_length=1)
    credentials: dict[str, SecretStr]
    marketplaces: list[str] = Field(default_factory=list)
    display_name: str | None = None


class ShopEvent(Model):
    """A message a shop posted to a connection's event route (hub API v2), exactly as received.

    Header names are lower case. ``body`` is the raw bytes, so that a signature over them can be
    checked.
    """

    headers: dict[str, str]
    body: bytes
    received_at: UtcDatetime


class EventMeaning(Model):
    """What a verified shop event means, as the connector reads it (hub API v2).

    ``event_id``: the shop's id of the message (core ignores a second one with the same id).
    ``import_orders``: import now (the orders changed). ``settled``: shop references of accepted
    parcels to ask about now. An event that means nothing to the hub leaves both empty.
    """

    event_id: str = Field(min_length=1, max_length=200)
    import_orders: bool = False
    settled: list[str] = Field(default_factory=list, max_length=1000)
