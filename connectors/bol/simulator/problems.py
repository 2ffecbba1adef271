"""bol.com's answers: the media type, JSON encoding and ``Problem`` errors.

Every API answer is ``application/vnd.retailer.v10+json``. Errors are ``Problem`` objects
(``type``, ``title``, ``status``, ``detail``, ``violations``, plus ``instance`` and ``host``);
the 401 and 429 answers keep the shorter shape seen from the real service (``title``, ``status``,
``detail`` only, contract §6 and §7), so a client must read them leniently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

MEDIA_TYPE = "application/vnd.retailer.v10+json"
#: The Shared API's process-status routes also speak the advertiser media type.
ADVERTISER_MEDIA_TYPE = "application/vnd.advertiser.v10+json"
PROBLEM_TYPE = "https://api.bol.com/problems"
HOST = "bol-simulator"
BAD_REQUEST_TITLE = "Error validating request. Consult the bol.com API documentation for more information."

dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class BolProblem(Exception):
    """An error answer: status, title, detail and violations; ``bare`` for the short 401/429 shape."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        violations: Iterable[tuple[str, str]] = (),
        *,
        bare: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.violations = list(violations)
        self.bare = bare
        self.headers = dict(headers or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON body."""
        if self.bare:
            return {"title": self.title, "status": self.status, "detail": self.detail}
        body: dict[str, Any] = {"type": PROBLEM_TYPE, "title": self.title, "status": self.status,
                                "detail": self.detail, "host": HOST}
        if instance is not None:
            body["instance"] = instance
        body["violations"] = [{"name": name, "reason": reason} for name, reason in self.violations]
        return body


def bad_request(*violations: tuple[str, str], detail: str = "Bad request") -> BolProblem:
    """A 400 naming the fields at fault."""
    return BolProblem(400, BAD_REQUEST_TITLE, detail, violations)


def not_found(detail: str) -> BolProblem:
    """A 404."""
    return BolProblem(404, "Not Found", detail)


def json_answer(body: Any, status: int = 200, *, media_type: str = MEDIA_TYPE,
                headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer in bol.com's media type."""
    return web.Response(body=dumps(body).encode(), status=status, headers=headers,
                        content_type=media_type, charset="utf-8")


def problem_answer(problem: BolProblem, request: web.Request, *, media_type: str = MEDIA_TYPE) -> web.Response:
    """The answer of a ``BolProblem``, its ``instance`` the request's URL."""
    instance = str(request.url.with_query(None))
    return json_answer(problem.body(instance), problem.status, media_type=media_type, headers=problem.headers)


def enum_reason(value: str, allowed: Iterable[str]) -> str:
    """bol.com's wording for a value outside an enumeration."""
    return f"Request contains invalid value(s): '{value}', allowed values: {', '.join(allowed)}."
