"""Request and response bodies of the JSON API, as pydantic models (also the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.contract.models import Address, ConnectionSettings, OrderItem, TimeWindow, UtcDatetime
from core.usecases.labels import (
    Carrier,
    LabelId,
    NewLabel,
    Parcels,
    ShippingMethod,
    one_parcel_per_tracking_number,
)

#: A marketplace: a country code or a shop's marketplace id.
MarketplaceId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """What went wrong and what to do about it; ``field``: the body member at fault, when there is one.

    ``message_code`` and ``params``: when the message is one of the hub's catalogued messages
    (``core.contract.errors.MESSAGES``), its code and parameters, so that a client can say it in its
    user's language (the parameters, the shop's own words among them, as they are).
    """

    code: str
    message: str
    field: str | None = None
    message_code: str | None = None
    params: dict[str, str] | None = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class TextOut(BaseModel):
    """A text a merchant reads, in English and Dutch."""

    en: str
    nl: str


class ConnectFieldOut(BaseModel):
    """One field of a connector's Connect form. Only its description: a value is never shown."""

    name: str
    label: TextOut
    help: TextOut | None
    secret: bool = Field(description="a password: never echoed back, never logged, never in a URL")
    required: bool
    choices: list[str] = Field(description="the values to pick from (empty: free text)")
    link: str | None = Field(description="where the merchant finds the value")
    max_length: int


class ConnectSpecOut(BaseModel):
    """How a merchant connects: ``consent`` (a redirect to the shop) or ``credentials`` (the fields, pasted)."""

    style: Literal["consent", "credentials"]
    fields: list[ConnectFieldOut]


class ConnectorOut(BaseModel):
    """An installed connector, as "All integrations" shows it, with its Connect form."""

    id: str
    name: str | None
    version: str | None
    description: str | None
    hooks: list[str]
    error: str | None
    connect: ConnectSpecOut | None = Field(description="absent when the connector could not be loaded")


class ConnectorList(BaseModel):
    """The installed connectors."""

    connectors: list[ConnectorOut]


#: A Connect form field's name, as a connector's manifest declares it.
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
#: A Connect form field's value; the connector's manifest sets the real limit.
FieldValue = Annotated[str, Field(max_length=10_000)]
#: The fields of a Connect form by name (``GET /connectors`` lists each connector's).
ConnectFields = Annotated[
    dict[FieldName, FieldValue],
    Field(
        default_factory=dict,
        max_length=20,
        description="the connector's connect fields by name (GET /api/v1/connectors): for style "
        "credentials its credentials, secrets included; for style consent its options",
    ),
]


class ConnectIn(Body):
    """Connect a shop: credentials (``fields``) checked with the shop, or the start of a consent redirect."""

    connector: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    fields: ConnectFields
    marketplace: str | None = Field(
        default=None, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
        description="shorthand for fields.marketplace",
    )


class ReconnectIn(Body):
    """Reconnect: new credentials for the same shop account (style credentials), or options for the consent page."""

    fields: ConnectFields


class ConnectionOut(BaseModel):
    """A connection with its state, reason and the action the merchant can take."""

    id: int
    connector: str
    state: str
    reason: str | None
    action: str | None
    external_account_id: str | None
    settings: ConnectionSettings
    created_at: datetime | None
    updated_at: datetime | None


class ConnectionList(BaseModel):
    """The caller's connections."""

    connections: list[ConnectionOut]


class ConnectOut(BaseModel):
    """The connection, and for style consent the URL to send the merchant to (it is pending until they return)."""

    connection: ConnectionOut
    authorize_url: str | None = Field(description="style consent: the shop's consent page; style credentials: null")


class ReconnectOut(BaseModel):
    """Style consent: where to send the merchant to authorise again. Style credentials: the connection, connected."""

    authorize_url: str | None
    connection: ConnectionOut | None = None


class SettingsIn(Body):
    """Changes to a connection's settings; omitted fields stay as they are."""

    update_tracking: bool | None = None
    marketplaces: list[MarketplaceId] | None = Field(default=None, max_length=50)
    import_interval_minutes: int | None = Field(default=None, ge=1, le=1440)


class ImportIn(Body):
    """Start an import of one connection."""

    connection_id: int = Field(ge=1, le=2**62)


class ImportOut(BaseModel):
    """An import run: its state and live counts."""

    id: int
    connection_id: int
    trigger: str
    state: Literal["queued", "running", "succeeded", "failed", "interrupted"]
    pages: int
    new: int
    updated: int
    unchanged: int
    skipped: dict[str, int]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class ParcelOut(BaseModel):
    """A parcel with its tracking-push state and the shop's message when it failed.

    ``accepted``: the shop took the tracking code and confirms it later; ``shop_reference`` is
    the shop's own reference for it. The hub asks the shop until it is confirmed or failed.
    """

    reference: str
    tracking_number: str
    items: list[dict[str, str | int]]
    push_state: Literal["pending", "accepted", "confirmed", "failed", "skipped"]
    push_message: str | None
    shop_reference: str | None
    push_attempts: int
    pushed_at: datetime | None


class LabelOut(BaseModel):
    """A label of an order with its parcels."""

    id: int
    order_id: int
    label_id: str
    carrier: str
    ship_date: datetime
    created_at: datetime
    parcels: list[ParcelOut]


class OrderOut(BaseModel):
    """An imported order with its labels (its shipments)."""

    id: int
    connection_id: int
    external_id: str
    reference: str | None
    status: str
    #: Where the order stands for the merchant: to_ship, attention (a parcel refused or not sent),
    #: shipped (as the shop says, or every item in parcels the shop confirmed), cancelled.
    work_state: Literal["to_ship", "attention", "shipped", "cancelled"]
    marketplace: str | None
    created_at: datetime
    updated_at: datetime
    recipient: Address | None
    items: list[OrderItem]
    ship_by: TimeWindow | None
    deliver_by: TimeWindow | None
    service_level: str | None
    is_prime: bool
    labels: list[LabelOut] = Field(default_factory=list)


class OrderList(BaseModel):
    """A page of orders; pass ``next_after`` as ``after`` for the next page."""

    orders: list[OrderOut]
    next_after: int | None


class LabelIn(Body):
    """A label the platform created for an order: idempotent by ``label_id``.

    What a label may say is ``core.usecases.labels.NewLabel``'s, defined there once; ``new_label``
    gives that model without validating again.
    """

    order_id: int = Field(ge=1, le=2**62)
    label_id: LabelId
    carrier: Carrier = "GLS"
    shipping_method: ShippingMethod = None
    ship_date: UtcDatetime | None = None
    parcels: Parcels

    @model_validator(mode="after")
    def _one_parcel_per_tracking_number(self) -> LabelIn:
        one_parcel_per_tracking_number(self.parcels)
        return self

    def new_label(self) -> NewLabel:
        """The label as core takes it, with the fields this body set (a label posted again is compared on those only)."""
        given = self.model_fields_set & {"carrier", "shipping_method", "ship_date"}
        return NewLabel.model_construct(
            _fields_set={"external_id", "parcels", *given},
            external_id=self.label_id, carrier=self.carrier, shipping_method=self.shipping_method,
            ship_date=self.ship_date, parcels=self.parcels,
        )


class EventOut(BaseModel):
    """The answer to a shop event the hub had received before (200): nothing was done again."""

    duplicate: bool
