"""Hypothesis strategies built from a Swagger 2.0 model's definitions, such as Amazon's ``Order``.

``from_definition(definitions, "Order")`` draws JSON values that the model allows: ``$ref`` s
resolved, types, ``enum``, ``required`` (always present) and optional properties (each present or
not), formats ``date-time`` (RFC 3339, any offset, with or without fractions) and ``date``.
Nothing else constrains the model, so strings, integers and numbers are arbitrary: empty,
blank, unicode, negative, huge. ``overrides`` replaces the values at given paths (a path is a
tuple of property names, ``"[]"`` for "each item of an array") and makes the properties on the way
present, to draw narrower but still valid orders.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

Path = tuple[str, ...]

OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]


def _date_time(moment: datetime, zulu: bool, fraction: bool) -> str:
    text = moment.isoformat(timespec="microseconds" if fraction else "seconds")
    return text.replace("+00:00", "Z") if zulu else text


DATE_TIMES = st.builds(
    _date_time,
    st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=st.sampled_from(OFFSETS)),
    st.booleans(),
    st.booleans(),
)
DATES = st.dates().map(lambda day: day.isoformat())
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))


def from_definition(
    definitions: dict[str, Any], name: str, overrides: dict[Path, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[Any]:
    """Values of the definition ``name``."""
    return _strategy({"$ref": f"#/definitions/{name}"}, definitions, overrides or {}, ())


def _strategy(schema: dict[str, Any], definitions: dict[str, Any], overrides: dict[Path, Any], path: Path) -> st.SearchStrategy[Any]:
    if path in overrides:
        return overrides[path]
    if "$ref" in schema:  # Swagger 2.0: a $ref's siblings (a description) do not count
        return _strategy(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, overrides, path)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        return _object(schema, definitions, overrides, path)
    if kind == "array":
        items = _strategy(schema.get("items", {}), definitions, overrides, (*path, "[]"))
        return st.lists(items, max_size=2)
    if kind == "string":
        return {"date-time": DATE_TIMES, "date": DATES}.get(schema.get("format", ""), st.text(max_size=20))
    if kind == "integer":
        return st.integers()
    if kind == "number":
        return NUMBERS
    if kind == "boolean":
        return st.booleans()
    raise ValueError(f"{'.'.join(path) or 'root'}: no strategy for {schema!r:.200}")


def _object(schema: dict[str, Any], definitions: dict[str, Any], overrides: dict[Path, Any], path: Path) -> st.SearchStrategy[Any]:
    required, optional = {}, {}
    for key, child in schema.get("properties", {}).items():
        strategy = _strategy(child, definitions, overrides, (*path, key))
        forced = any(other[: len(path) + 1] == (*path, key) for other in overrides)
        (required if key in schema.get("required", []) or forced else optional)[key] = strategy
    return st.fixed_dictionaries(required, optional=optional)
