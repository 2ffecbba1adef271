"""The ``[connectors.amazon]`` settings table: app credentials, endpoints, import and push choices.

Every URL the connector calls comes from here. Production defaults are Amazon's; ``endpoint``
points SP-API, LWA and Seller Central at one base URL (the simulator in tests and ``hub demo``).
App credentials may stay empty until the operator registers the app: the hub still loads, and
connecting raises a ``ConfigError`` that names the missing setting.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.amazon.const import (
    CONSENT_PATH,
    INCLUDED_DATA,
    LWA_TOKEN_PATH,
    LWA_TOKEN_URL,
    MARKETPLACES,
    SP_API_ENDPOINTS,
    Marketplace,
    Region,
)
from core.hubapi import ConfigError, ConnectorContext


def _hub_version() -> str:
    try:
        return version("parcel-hub")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


class AmazonSettings(BaseModel):
    """Settings of the Amazon connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: str = Field(default="", description="SP-API app id, amzn1.sellerapps.app.<uuid>")
    client_id: str = Field(default="", description="LWA client id, amzn1.application-oa2-client.<hex>")
    client_secret: SecretStr = Field(default=SecretStr(""), description="LWA client secret (rotate every 180 days)")
    draft_app: bool = Field(default=False, description="the app is still a draft: add version=beta to consent URLs")

    lwa_url: str = Field(default=LWA_TOKEN_URL, description="LWA token endpoint")
    sp_api: dict[Region, str] = Field(
        default_factory=lambda: dict(SP_API_ENDPOINTS), description="SP-API base URL per region"
    )
    seller_central: dict[str, str] = Field(
        default_factory=lambda: {c: m.seller_central for c, m in MARKETPLACES.items()},
        description="Seller Central base URL per marketplace country",
    )
    endpoint: str | None = Field(
        default=None, description="one base URL for SP-API, LWA and Seller Central (simulator, demo)"
    )

    carrier_code: str = Field(default="GLS", min_length=1, description="confirmShipment carrierCode")
    carrier_name: str = Field(default="GLS", min_length=1, description="carrierName sent with carrierCode Other")
    shipping_method: str | None = Field(default=None, description="confirmShipment shippingMethod, free text")

    lookback_days: int = Field(default=14, ge=1, le=730, description="how far a first import looks back")
    page_size: int = Field(default=100, ge=1, le=100, description="searchOrders maxResultsPerPage")
    included_data: list[str] = Field(
        default_factory=lambda: list(INCLUDED_DATA),
        description="searchOrders includedData; add BUYER for the buyer e-mail when the app has the role",
    )

    pacing: bool = Field(default=True, description="pace calls by Amazon's usage plans (token buckets)")
    shared_pacing: bool = Field(
        default=True,
        description="keep the usage-plan buckets and access tokens in the hub's database, shared by every "
        "process on it; false: each process paces and refreshes on its own (one process only, or to compare)",
    )
    max_pacing_wait: float = Field(
        default=200.0,
        gt=0,
        description="longest a call waits for its usage plan before giving up with RateLimited; "
        "above 180 so imports outlast the searchOrders burst, below core's page timeout",
    )
    max_retries: int = Field(default=4, ge=0, le=10, description="retries after a 429, 5xx, timeout or drop")
    backoff_base: float = Field(default=1.0, gt=0, description="first backoff ceiling, seconds (full jitter)")
    backoff_max: float = Field(default=60.0, gt=0, description="largest backoff ceiling, seconds")
    request_timeout: float = Field(default=30.0, gt=0, description="total time per HTTP request, seconds")

    app_name: str = Field(default="hub", min_length=1, description="user agent application name")
    app_version: str = Field(default_factory=_hub_version, min_length=1, description="user agent version")

    @field_validator("sp_api", mode="before")
    @classmethod
    def _merge_sp_api(cls, value: object) -> object:
        # A table that overrides one region keeps the production default of the others.
        if isinstance(value, dict):
            return {**{r.value: url for r, url in SP_API_ENDPOINTS.items()}, **value}
        return value

    @field_validator("seller_central", mode="before")
    @classmethod
    def _merge_seller_central(cls, value: object) -> object:
        if isinstance(value, dict):
            defaults = {c: m.seller_central for c, m in MARKETPLACES.items()}
            return {**defaults, **{str(k).upper(): v for k, v in value.items()}}
        return value

    @field_validator("lwa_url", "endpoint")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    def sp_api_url(self, region: Region) -> str:
        """The SP-API base URL for a region."""
        return self.endpoint or self.sp_api[region].rstrip("/")

    def token_url(self) -> str:
        """The LWA token endpoint."""
        return f"{self.endpoint}{LWA_TOKEN_PATH}" if self.endpoint else self.lwa_url

    def seller_central_url(self, marketplace: Marketplace) -> str:
        """The Seller Central base URL where a marketplace's sellers give consent."""
        if self.endpoint:
            return self.endpoint
        return self.seller_central.get(marketplace.country, marketplace.seller_central).rstrip("/")

    def consent_url(self, marketplace: Marketplace) -> str:
        """The consent page URL (without its query) for a marketplace."""
        return f"{self.seller_central_url(marketplace)}{CONSENT_PATH}"

    def seller_central_origins(self) -> set[str]:
        """Every Seller Central base URL, to check a Login-URI ``amazon_callback_uri`` against."""
        if self.endpoint:
            return {self.endpoint}
        return {url.rstrip("/") for url in self.seller_central.values()}

    def user_agent(self) -> str:
        """The user agent Amazon requires on every call."""
        return f"{self.app_name}/{self.app_version} (Language=Python/{platform.python_version()})"

    def require_app(self) -> None:
        """Raise ``ConfigError`` unless the app's id and LWA credentials are set."""
        missing = [
            name
            for name, value in (
                ("application_id", self.application_id),
                ("client_id", self.client_id),
                ("client_secret", self.client_secret.get_secret_value()),
            )
            if not value
        ]
        if missing:
            names = ", ".join(f"connectors.amazon.{name}" for name in missing)
            raise ConfigError(
                f"The Amazon app is not configured: set {names} in hub.toml or "
                "HUB_CONNECTORS__AMAZON__... from the app's page in Amazon's Solution Provider Portal."
            )


def settings_of(context: ConnectorContext) -> AmazonSettings:
    """The Amazon settings in a hook's context."""
    if isinstance(context.settings, AmazonSettings):
        return context.settings
    raise ConfigError(
        "The Amazon connector received no Amazon settings: its manifest must name "
        "connectors.amazon.settings:AmazonSettings.",
        detail=f"context.settings is {type(context.settings).__name__}",
    )
