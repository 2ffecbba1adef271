"""The ``[connectors.exampleshop]`` table of hub.toml (or ``HUB_CONNECTORS__EXAMPLESHOP__...``).

Operator settings, the same for every merchant. A merchant's own API key is not here: it is a
connection's credential, pasted at Connect and stored encrypted by the hub.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExampleShopSettings(BaseModel):
    """Settings of the Example Shop connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(default="https://api.example-shop.invalid", description="the shop's API, without /v1")
    page_size: int = Field(default=50, ge=1, le=100, description="orders per page of GET /v1/orders")
    lookback_days: int = Field(default=30, ge=1, le=365, description="how far a first import looks back")
    request_timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")
