"""How a simulator is set up: the seeded world, the credentials and the behaviour switches."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .faults import FaultRule, parse_faults

#: The first retailer's id: the example retailer id of bol.com's own description, stable across runs.
DEFAULT_RETAILER_ID = "1055479"
#: API credentials of the first retailer (Seller Dashboard > Instellingen > Diensten > API instellingen).
DEFAULT_CLIENT_ID = "0b01c0de-5151-4a7e-8b01-000000000001"
DEFAULT_CLIENT_SECRET = "bol-simulator-secret"

TOKEN_TTL = 299  # seconds, as bol.com's expires_in
PROCESS_STATUS_TTL = 48 * 3600  # kept about 48 hours after completion (contract §4)


def retailer_id(number: int) -> str:
    """The id of the n-th retailer (1-based): 1055479, 1055480, ..."""
    return str(int(DEFAULT_RETAILER_ID) + number - 1)


def client_id(number: int) -> str:
    """The Client ID of the n-th retailer's credentials."""
    return f"{DEFAULT_CLIENT_ID[:-12]}{number:012d}"


def client_secret(number: int) -> str:
    """The secret of the n-th retailer's credentials (the first is ``DEFAULT_CLIENT_SECRET``)."""
    return DEFAULT_CLIENT_SECRET if number == 1 else f"{DEFAULT_CLIENT_SECRET}-{number}"


class SimulatorConfig(BaseModel):
    """Everything ``create_app`` needs; every field has a default that makes a useful simulator."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # The seeded world.
    seed: int = 1
    retailers: int = Field(default=1, ge=1, le=1000)
    orders_per_retailer: int = Field(default=40, ge=0, le=1_000_000)
    demo_orders: bool = True  # the first retailer also has the demo environment's orders and statuses
    start_time: datetime | None = None  # the clock's start; None: the real time now
    freeze_clock: bool = False  # only advance() moves the clock (fully repeatable tests)

    # Tokens.
    token_ttl: int = Field(default=TOKEN_TTL, ge=1)

    # Process statuses: seconds from 202 to SUCCESS/FAILURE/TIMEOUT; None: only the admin API settles.
    settle_delay: float | None = Field(default=1.0, ge=0.0)
    process_status_ttl: float = Field(default=PROCESS_STATUS_TTL, gt=0)

    # Webhooks: 1 + delivery_retries attempts, retry_interval real seconds apart; then the
    # subscription is disabled (bol.com: 10 retries within 10 minutes).
    delivery_retries: int = Field(default=10, ge=0)
    retry_interval: float = Field(default=60.0, ge=0.0)
    delivery_timeout: float = Field(default=10.0, gt=0)
    https_only: bool = False  # True: refuse http:// URLs as bol.com does (else loopback http is fine)

    # Behaviour.
    rate_limits: bool = True
    faults: list[FaultRule] = Field(default_factory=list)
    hang_seconds: float = Field(default=600.0, gt=0)  # how long "timeout" faults hold a call

    @field_validator("faults", mode="before")
    @classmethod
    def _parse_faults(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_faults(value)
        return value
