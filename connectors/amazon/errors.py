"""Amazon's error answers turned into the hub's errors.

SP-API errors come as ``{"errors": [{"code", "message", "details"}]}`` (an ``ErrorList``); LWA
errors as ``{"error", "error_description"}``. The messages here are what a merchant or operator
reads; Amazon's own text goes into ``detail`` (it holds no tokens or personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.amazon.const import LWA_RETRYABLE
from core.hubapi import (
    ConfigError,
    ConnectorAuthFailed,
    ConnectorError,
    ConnectorRejected,
    HubError,
    parse_json,
    shop_error,
)

RECONNECT = "Reconnect Amazon under Settings > Integrations."
SHOP = "Amazon"
LOGIN = "Amazon's login service"


@dataclass(frozen=True)
class AmazonError:
    """The first error of an SP-API ``ErrorList``."""

    code: str
    message: str
    details: str = ""

    def text(self) -> str:
        """``code: message (details)`` for logs and merchants."""
        details = f" ({self.details})" if self.details else ""
        return f"{self.code}: {self.message}{details}" if self.code else f"{self.message}{details}"


def parse_error_list(body: bytes) -> AmazonError:
    """The first error of an ``ErrorList`` body; a readable stand-in when the body is not one."""
    data = parse_json(body)
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if first is None:
        return AmazonError(code="", message="Amazon sent no error description")
    return AmazonError(
        code=str(first.get("code") or ""),
        message=str(first.get("message") or ""),
        details=str(first.get("details") or ""),
    )


class AmazonRejected(ConnectorRejected):
    """Amazon rejected a request (a 4xx other than 401, 403 and 429); ``error`` is what it said."""

    def __init__(self, message: str, *, error: AmazonError, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error


def api_error(
    status: int, operation: str, error: AmazonError, request_id: str | None, retry_after: float | None = None
) -> ConnectorError:
    """The hub error for an SP-API answer with an error status: core's table, core's catalogued messages."""
    detail = f"{operation} HTTP {status} {error.text()} (x-amzn-RequestId {request_id or '-'})"
    reason = (error.message or "Unauthorized") if status in (401, 403) else error.text()
    return shop_error(
        status, SHOP, reason, detail=detail, retry_after=retry_after, rejected=AmazonRejected, error=error
    )


def lwa_error(status: int, body: bytes, *, grant: str) -> HubError:
    """The hub error for an LWA token endpoint answer with an error status.

    ``grant`` is ``authorization_code`` while connecting or ``refresh_token`` later: an
    ``invalid_grant`` means an expired code in the first case and a revoked grant in the second.
    Other answers follow core's table, but for the codes LWA says may pass.
    """
    data = parse_json(body)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    description = str(data.get("error_description") or "") if isinstance(data, dict) else ""
    detail = f"LWA {grant} HTTP {status} {code or '-'}: {description or '-'}"
    if code == "invalid_grant" and grant == "authorization_code":
        return ConnectorAuthFailed.coded("code_expired", {"shop": SHOP}, detail=detail)
    if code in ("invalid_grant", "access_denied"):
        return ConnectorAuthFailed.coded("access_revoked", {"shop": SHOP, "place": "Seller Central"}, detail=detail)
    if code in ("invalid_client", "unauthorized_client"):
        return ConfigError(
            "Amazon refused the hub's LWA app credentials: check connectors.amazon.client_id and "
            "client_secret (the secret must be rotated every 180 days in the Solution Provider Portal).",
            detail=detail,
        )
    if code in LWA_RETRYABLE:
        status = 503  # LWA says it may pass, whatever the status
    if status in (401, 403):
        return ConnectorAuthFailed(f"Amazon refused the authorisation. {RECONNECT}", detail=detail)
    return shop_error(status, LOGIN, f"({code or status}) {description or 'no description'}", detail=detail)
