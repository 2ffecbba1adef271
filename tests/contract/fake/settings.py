"""The fake connector's settings: which FakeShop, how far back a first import looks, how big a page is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class FakeSettings(BaseModel):
    """``[connectors.fake]``: the shop's name in the registry, the look-back window, the page size.

    ``client_secret`` is the app secret the connector sends when it exchanges a consent code; the
    contract kit checks that it never reaches the logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop: str = "default"
    lookback_days: int = Field(default=14, ge=1)
    page_size: int = Field(default=2, ge=1)
    client_secret: SecretStr = SecretStr("fake-client-secret")
