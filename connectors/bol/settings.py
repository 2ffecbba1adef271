"""The ``[connectors.bol]`` settings table: endpoints, import and push choices, webhooks, retries.

Every URL the connector calls comes from here. Production defaults are bol.com's hosts;
``endpoint`` points the Retailer API and the token endpoint at one base URL (the simulator in
tests and ``hub demo``). The merchant's own Client ID and secret are not settings: each connection
stores the ones its merchant pasted.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.bol.const import (
    API_URL,
    LIST_PAGE_SIZE,
    TOKEN_PATH,
    TOKEN_URL,
    TRANSPORTER_GLS,
)
from core.hubapi import ConfigError, ConnectorContext

#: Hosts an ``http://`` events URL may point at when ``webhooks_allow_loopback`` is on.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class BolSettings(BaseModel):
    """Settings of the bol.com connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = Field(default=API_URL, description="Retailer API base URL")
    token_url: str = Field(default=TOKEN_URL, description="token endpoint (client credentials)")
    endpoint: str | None = Field(default=None, description="one base URL for the API and the token endpoint (simulator, demo)")

    intermediary_code_flow: bool = Field(
        default=False,
        description="connect through bol.com's code flow for enrolled intermediaries instead of pasted credentials "
        "(not implemented yet: must stay false)",
    )

    transporter_code: str = Field(default=TRANSPORTER_GLS, min_length=1, description="TransportInstruction transporterCode")
    page_size: int = Field(
        default=LIST_PAGE_SIZE, ge=1, le=LIST_PAGE_SIZE, description="orders per import page stored at once (bol.com lists 50)"
    )
    list_fulfilment_method: Literal["ALL", "FBR"] = Field(
        default="ALL",
        description="orders listed: ALL also lists FBB orders, to report them skipped; FBR lists fewer pages",
    )
    full_scan_minutes: int = Field(
        default=15,
        ge=0,
        le=1440,
        description="between full scans of the open orders, runs ask only for orders changed since the last run "
        "(change-interval-minute); 0 scans in full every run",
    )
    detail_concurrency: int = Field(default=4, ge=1, le=25, description="order details fetched at once")

    webhooks: bool = Field(default=True, description="subscribe to bol.com's events when the hub's events URL is https")
    webhooks_allow_loopback: bool = Field(
        default=False, description="also subscribe an http://127.0.0.1 events URL (the simulator; tests and the demo)"
    )
    event_max_age_seconds: float = Field(
        default=900.0, gt=0, description="older events are refused as replays (bol.com retries for 10 minutes)"
    )
    signature_key_refresh_seconds: float = Field(
        default=60.0, ge=0, description="least time between two fetches of bol.com's signature keys"
    )
    subscription_check_minutes: float = Field(
        default=15.0, ge=0, description="how often an import makes sure the event subscription is there and enabled"
    )

    pacing: bool = Field(default=True, description="pace calls by bol.com's rate limits per endpoint")
    max_pacing_wait: float = Field(
        default=60.0, gt=0, description="longest a call waits for its rate limit before giving up with RateLimited"
    )
    max_retries: int = Field(default=4, ge=0, le=10, description="retries after a 429, 5xx, timeout or drop")
    backoff_base: float = Field(default=1.0, gt=0, description="first backoff ceiling, seconds (full jitter)")
    backoff_max: float = Field(default=30.0, gt=0, description="largest backoff ceiling, seconds")
    request_timeout: float = Field(default=30.0, gt=0, description="total time per HTTP request, seconds")
    settle_retry_seconds: float = Field(
        default=10.0, gt=0, description="when a shipment of the parcel's items is still processing at bol.com, ask again after this"
    )

    @field_validator("api_url", "token_url", "endpoint")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("intermediary_code_flow")
    @classmethod
    def _code_flow_not_yet(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "bol.com's code flow for enrolled intermediaries is not implemented yet; set it to false and "
                "connect with the Client ID and secret the merchant creates in the Seller Dashboard"
            )
        return value

    def base_url(self) -> str:
        """The Retailer API's base URL."""
        return self.endpoint or self.api_url

    def token_endpoint(self) -> str:
        """The token endpoint."""
        return f"{self.endpoint}{TOKEN_PATH}" if self.endpoint else self.token_url

    def webhook_url(self, events_url: str | None) -> str | None:
        """The events URL bol.com may post to, or ``None`` (no https, or webhooks off): then polling only."""
        if not self.webhooks or not events_url:
            return None
        parts = urlsplit(events_url)
        if parts.scheme == "https":
            return events_url
        if parts.scheme == "http" and self.webhooks_allow_loopback and parts.hostname in LOOPBACK_HOSTS:
            return events_url
        return None


def settings_of(context: ConnectorContext) -> BolSettings:
    """The bol.com settings in a hook's context."""
    if isinstance(context.settings, BolSettings):
        return context.settings
    raise ConfigError(
        "The bol.com connector received no bol.com settings: its manifest must name connectors.bol.settings:BolSettings.",
        detail=f"context.settings is {type(context.settings).__name__}",
    )
