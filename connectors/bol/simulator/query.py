"""Query parameters read the way bol.com checks them: a bad value is a 400 naming the parameter."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .problems import bad_request, enum_reason


def page_number(query: Mapping[str, str]) -> int:
    """The ``page`` parameter (default 1, at least 1)."""
    if "page" not in query:
        return 1
    page = integer(query, "page")
    if page < 1:
        raise bad_request(("page", "must be greater than or equal to 1"))
    return page


def integer(query: Mapping[str, str], name: str) -> int:
    """An integer query parameter, or 400."""
    raw = query[name]
    if not re.fullmatch(r"[+-]?\d{1,9}", raw):
        raise bad_request((name, f"Request contains invalid value(s): '{raw}', must be an integer."))
    return int(raw)


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """An enumerated query parameter, or 400."""
    value = query.get(name, default)
    if value not in allowed:
        raise bad_request((name, enum_reason(value, allowed)))
    return value


def boolean(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter (``true``/``false``), or 400."""
    value = query.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise bad_request((name, f"Request contains invalid value(s): '{value}', must be true or false."))
    return value.lower() == "true"
