"""How bad-input cases are written: requests that refer to the shared world's ids by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A value taken from the world when the case runs: ``Ref("order_id")``."""

    name: str


def resolve(value: Any, world: object) -> Any:
    """``value`` with every ``Ref`` replaced from ``world``."""
    if isinstance(value, Ref):
        return getattr(world, value.name)
    if isinstance(value, dict):
        return {resolve(k, world): resolve(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, world) for v in value]
    return value


def path(template: str, world: object) -> str:
    """A path with ``{name}`` replaced from ``world``: ``/api/v1/orders/{order_id}``."""
    names = {name: getattr(world, name) for name in dir(world) if not name.startswith("_") and f"{{{name}}}" in template}
    return template.format(**names)


NO_BODY = object()


@dataclass(frozen=True)
class Request:
    """One HTTP request of a case; ``token`` is "api", "other" or a literal Authorization header."""

    method: str
    path: str
    json: Any = NO_BODY
    data: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = "api"
    params: dict[str, str] | None = None
