"""The key shop connector's settings: which KeyShop, page size, token margin, how soon to ask again."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KeyshopSettings(BaseModel):
    """``[connectors.keyshop]``.

    ``shop``: the KeyShop's name in its registry. ``page_size``: orders per page of the open list
    (the shop allows 50). ``token_margin_seconds``: an access token is replaced this long before
    it expires. ``check_after_seconds``: the ``retry_after`` of an ``accepted`` outcome, how soon
    core asks the shop again. ``event_max_age_seconds``: an event signed longer ago than this (or
    as far ahead) is refused as a replay.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop: str = "default"
    page_size: int = Field(default=2, ge=1, le=50)
    token_margin_seconds: float = Field(default=30.0, ge=0, lt=299)
    check_after_seconds: float = Field(default=1.0, gt=0)
    event_max_age_seconds: float = Field(default=300.0, gt=0)
