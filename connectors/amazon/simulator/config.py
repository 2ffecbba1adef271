"""How a simulator is set up: the seeded world, the registered app and the behaviour switches."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .faults import FaultRule, parse_faults
from .marketplace import marketplace

DEFAULT_APPLICATION_ID = "amzn1.sellerapps.app.hub-simulator"
DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.hubsimulator"
DEFAULT_CLIENT_SECRET = "simulator-secret"


class SimulatorConfig(BaseModel):
    """Everything ``create_app`` needs; every field has a default that makes a useful simulator."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # The seeded world.
    seed: int = 1
    sellers: int = Field(default=2, ge=1, le=200_000)
    orders_per_seller: int = Field(default=50, ge=0, le=10_000_000)
    marketplaces: list[str] = Field(default_factory=lambda: ["NL", "DE"], min_length=1)
    start_time: datetime | None = None  # the clock's start; None: the real time now
    freeze_clock: bool = False  # only advance() moves the clock (fully repeatable tests)

    # The registered SP-API application.
    application_id: str = DEFAULT_APPLICATION_ID
    application_name: str = "Hub"
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    redirect_uris: list[str] = Field(default_factory=list)  # empty: any loopback http(s) URI
    login_uri: str | None = None
    draft: bool = False  # a draft app needs version=beta on the consent URL (else MD1000)
    delivery_role: bool = True  # holds Direct-to-Consumer Delivery: personal data is served

    # Behaviour.
    rate_limits: bool = True
    faults: list[FaultRule] = Field(default_factory=list)
    sandbox_cases: bool = False  # answer the models' x-amzn-api-sandbox static cases only
    models_dir: Path | None = None  # where the models are read in sandbox-cases mode
    hang_seconds: float = Field(default=600.0, gt=0)  # how long a "timeout" fault holds a call

    @field_validator("marketplaces", mode="before")
    @classmethod
    def _split_marketplaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        return value

    @field_validator("marketplaces")
    @classmethod
    def _known_marketplaces(cls, value: list[str]) -> list[str]:
        codes = []
        for item in value:
            try:
                code = marketplace(item).code
            except KeyError as err:
                raise ValueError(err.args[0]) from None
            if code not in codes:
                codes.append(code)
        return codes

    @field_validator("faults", mode="before")
    @classmethod
    def _parse_faults(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_faults(value)
        return value
