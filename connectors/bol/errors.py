"""bol.com's error answers turned into the hub's errors.

The Retailer API answers errors with a ``Problem`` (``title``, ``status``, ``detail``,
``violations[]{name, reason}``); real 401 and 429 bodies lack some members, so it is read
leniently. The token endpoint answers OAuth errors (``error``, ``error_description``). Messages are
what a merchant reads and can act on; bol.com's own words go into ``detail`` too (they hold no
tokens or personal data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.hubapi import (
    ConnectorAuthFailed,
    ConnectorError,
    ConnectorNotReady,
    ConnectorRejected,
    RateLimited,
    error_for_status,
    parse_json,
)

WHERE = "the bol.com Seller Dashboard (Instellingen > Diensten > API instellingen)"
SHOP = "bol.com"
LOGIN = "bol.com's login service"
RECONNECT = f"Create new client credentials in {WHERE} and reconnect bol.com under Settings > Integrations."


@dataclass(frozen=True)
class Problem:
    """A bol.com ``Problem``, read leniently."""

    status: int
    title: str = ""
    detail: str = ""
    violations: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def read(cls, status: int, body: bytes) -> Problem:
        """The Problem in ``body``; a stand-in naming the status when the body is not one."""
        data = parse_json(body)
        if not isinstance(data, dict):
            return cls(status)
        violations = tuple(
            (str(v.get("name") or ""), str(v.get("reason") or ""))
            for v in data.get("violations") or []
            if isinstance(v, dict)
        )
        return cls(status, str(data.get("title") or ""), str(data.get("detail") or ""), violations)

    def text(self) -> str:
        """bol.com's words: the detail (or title) and each violation."""
        words = self.detail or self.title or f"HTTP {self.status}"
        if self.violations:
            words += " (" + "; ".join(f"{name}: {reason}" if name else reason for name, reason in self.violations) + ")"
        return words


class BolRejected(ConnectorRejected):
    """bol.com rejected a request (a 4xx other than 401, 403 and 429); ``problem`` is what it said."""

    def __init__(self, message: str, problem: Problem, *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.problem = problem


def api_error(status: int, operation: str, problem: Problem, retry_after: float | None = None) -> ConnectorError:
    """The hub error for a Retailer API answer with an error status."""
    detail = f"{operation} HTTP {status}: {problem.text()}"
    if status == 429:
        return RateLimited("bol.com asked the hub to slow down; it will continue shortly.", detail=detail, retry_after=retry_after)
    if status == 401:
        return ConnectorAuthFailed(f"bol.com no longer accepts this connection's client credentials. {RECONNECT}", detail=detail)
    if status == 403:
        return ConnectorAuthFailed(
            f"bol.com refused access ({problem.text()}). Check in {WHERE} that the account is active and that "
            "the credentials may read orders and create shipments, then reconnect bol.com.",
            detail=detail,
        )
    if status in (406, 415):
        return BolRejected(
            "bol.com did not accept the format of the hub's request; this is a fault in the hub: report it.",
            problem,
            detail=detail,
        )
    if 400 <= status < 500 and status != 408:
        return BolRejected(f"bol.com rejected the request: {problem.text()}", problem, detail=detail)
    error = error_for_status(
        status, "bol.com is not answering properly right now; the hub will try again.", detail=detail, retry_after=retry_after
    )
    return error


def token_error(status: int, body: bytes) -> ConnectorError:
    """The hub error for a token endpoint answer with an error status."""
    data = parse_json(body)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    description = str(data.get("error_description") or "") if isinstance(data, dict) else ""
    detail = f"token HTTP {status} {code or '-'}: {description or '-'}"
    if code in ("invalid_client", "unauthorized_client", "invalid_grant") or status == 401:
        return ConnectorAuthFailed(
            f"bol.com does not accept this Client ID and secret ({description or 'bad client credentials'}): copy "
            f"both again from {WHERE}, or create new ones there.",
            detail=detail,
        )
    if status == 429:
        return RateLimited("bol.com's login service asked the hub to slow down; it will try again shortly.", detail=detail)
    if status == 403:
        return ConnectorAuthFailed(
            f"bol.com's login service refused the hub ({description or 'forbidden'}). Check the credentials in {WHERE}.",
            detail=detail,
        )
    if status >= 500 or status == 408:
        return ConnectorNotReady("bol.com's login service is not answering; the hub will try again.", detail=detail)
    return ConnectorRejected(
        f"bol.com's login service rejected the request ({code or status}): {description or 'no description'}.",
        detail=detail,
    )
