"""bol.com's error answers turned into the hub's errors.

The Retailer API answers errors with a ``Problem`` (``title``, ``status``, ``detail``,
``violations[]{name, reason}``); real 401 and 429 bodies lack some members, so it is read
leniently. The token endpoint answers OAuth errors (``error``, ``error_description``). Messages are
what a merchant reads and can act on; bol.com's own words go into ``detail`` too (they hold no
tokens or personal data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.hubapi import (
    ConnectorAuthFailed,
    ConnectorError,
    ConnectorRejected,
    parse_json,
    shop_error,
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

    def __init__(self, message: str, *, problem: Problem, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problem = problem


def api_error(status: int, operation: str, problem: Problem, retry_after: float | None = None) -> ConnectorError:
    """The hub error for a Retailer API answer with an error status: core's table, catalogued messages.

    Where bol.com's answer says more than the table (a 401 is the credentials, a 403 the account
    or the credentials' rights, a 406/415 the hub's fault), the message says so.
    """
    detail = f"{operation} HTTP {status}: {problem.text()}"
    if status == 401:
        return ConnectorAuthFailed.coded("credentials_revoked", {"shop": SHOP, "place": WHERE}, detail=detail)
    if status == 403:
        params = {"shop": SHOP, "reason": problem.text(), "place": WHERE}
        return ConnectorAuthFailed.coded("access_forbidden", params, detail=detail)
    if status in (406, 415):
        return BolRejected.coded("format_refused", {"shop": SHOP}, detail=detail, problem=problem)
    return shop_error(
        status, SHOP, problem.text(), detail=detail, retry_after=retry_after, rejected=BolRejected, problem=problem
    )


def token_error(status: int, body: bytes) -> ConnectorError:
    """The hub error for a token endpoint answer with an error status: core's table, but for bad credentials."""
    data = parse_json(body)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    description = str(data.get("error_description") or "") if isinstance(data, dict) else ""
    detail = f"token HTTP {status} {code or '-'}: {description or '-'}"
    if code in ("invalid_client", "unauthorized_client", "invalid_grant") or status == 401:
        params = {"shop": SHOP, "reason": description or "bad client credentials", "place": WHERE}
        return ConnectorAuthFailed.coded("client_refused", params, detail=detail)
    if status == 403:
        params = {"shop": LOGIN, "reason": description or "forbidden", "place": WHERE}
        return ConnectorAuthFailed.coded("login_refused", params, detail=detail)
    return shop_error(status, LOGIN, f"({code or status}) {description or 'no description'}", detail=detail)
