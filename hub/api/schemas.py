"""Request and response bodies of the JSON API, as pydantic models (also the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.labels import NewParcel
from core.models import Address, ConnectionSettings, OrderItem, TimeWindow, UtcDatetime


#: Text without control characters (PostgreSQL cannot store NUL; the others have no place in a name).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

#: A marketplace: a country code or a shop's marketplace id.
MarketplaceId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """What went wrong and what to do about it."""

    code: str
    message: str


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class ConnectorOut(BaseModel):
    """An installed connector, as "All integrations" shows it."""

    id: str
    name: str | None
    version: str | None
    description: str | None
    hooks: list[str]
    error: str | None


class ConnectorList(BaseModel):
    """The installed connectors."""

    connectors: list[ConnectorOut]


class ConnectIn(Body):
    """Start connecting a shop."""

    connector: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    marketplace: str | None = Field(default=None, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$")


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
    """A pending connection and where to send the merchant."""

    connection: ConnectionOut
    authorize_url: str


class ReconnectOut(BaseModel):
    """Where to send the merchant to authorise again."""

    authorize_url: str


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
    """A parcel with its tracking-push state and the shop's message when it failed."""

    reference: str
    tracking_number: str
    items: list[dict[str, str | int]]
    push_state: Literal["pending", "confirmed", "failed", "skipped"]
    push_message: str | None
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
    """A label the platform created for an order: idempotent by ``label_id``."""

    order_id: int = Field(ge=1, le=2**62)
    label_id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    carrier: str = Field(default="GLS", min_length=1, max_length=64, pattern=PRINTABLE)
    shipping_method: str | None = Field(default=None, max_length=100, pattern=PRINTABLE)
    ship_date: UtcDatetime | None = None
    parcels: list[NewParcel] = Field(min_length=1, max_length=50)
