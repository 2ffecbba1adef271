"""The shops' API descriptions that tests check against, read from folders outside the repository.

Amazon's SP-API models (``HUB_SPAPI_MODELS``, default ``../shared/spapi-models``) and bol.com's
Retailer API descriptions (``HUB_BOL_MODELS``, default ``../shared/bol-models``), both beside the
repository unless the variable names another folder. A test that needs a folder that is missing
fails, naming the variable: it never skips. Leaving those tests out is a choice the user makes with
the folder's marker: ``pytest -m "not spapi_models"`` or ``-m "not bol_models"``.

This module is a pytest plugin (``tests/conftest.py`` loads it). It registers one marker per folder
and puts it on every test whose module, or the module of a fixture the test uses, imports the
folder's helper (``tests.connectors.amazon.spapi_models``, ``tests.bol_models``), so the marker
follows the imports and cannot go stale (it errs on the side of marking: ``-m "not ..."`` may leave
out a test of such a module that reads no description). The helpers fail the test that reads a
missing folder (``ModelFolder.require``); a test marked by hand fails in setup already, for tests
whose parameters or strategies come from the descriptions at collection.

It also holds what both helpers check with: ``ModelFolder.load`` (a description, parsed once),
``ModelValidationError``, the formats (``format_checker``) and ``schema_problems``. Each helper
keeps its own functions (its dialect: Swagger 2.0 or OpenAPI 3.0), so that the marker finds them.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ModelFolder:
    """A folder of API descriptions: the variable that names it, its default and its marker."""

    marker: str
    env: str
    default: Path
    title: str
    holds: str
    helper: str

    def path(self) -> Path:
        """The folder the descriptions are read from (it may not exist)."""
        configured = os.environ.get(self.env)
        return Path(configured).expanduser() if configured else self.default

    def available(self) -> bool:
        """True when the folder exists."""
        return self.path().is_dir()

    def missing_message(self) -> str:
        """What a user reads when the folder is missing: where we looked and the two ways on."""
        default = os.path.relpath(self.default, REPO_ROOT)
        return (
            f"{self.title} not found at {self.path()}: set {self.env} to the folder holding "
            f"{self.holds} (default {default}, relative to the repository), or leave the tests "
            f'that need them out on purpose with -m "not {self.marker}".'
        )

    def require(self) -> Path:
        """The folder, or fail the calling test with ``missing_message``."""
        folder = self.path()
        if not folder.is_dir():
            pytest.fail(self.missing_message(), pytrace=False)
        return folder

    def load(self, model_file: str) -> dict[str, Any]:
        """The parsed description ``model_file`` of the folder; cached, do not mutate it."""
        return _load(self.require(), model_file)


@functools.cache
def _load(folder: Path, model_file: str) -> dict[str, Any]:
    with (folder / model_file).open(encoding="utf-8") as handle:
        return json.load(handle)


class ModelValidationError(AssertionError):
    """A request or response does not match a shop's description; ``problems`` lists why."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"{where}:\n  - " + "\n  - ".join(self.problems))


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_date_time(value: object) -> bool:
    """True when ``value`` is an RFC 3339 date-time (non-strings are left to the type check)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def is_date(value: object) -> bool:
    """True when ``value`` is an ISO 8601 calendar date ``YYYY-MM-DD`` (non-strings are left to the type check)."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


FORMATS: dict[str, Callable[[object], bool]] = {"date-time": is_date_time, "date": is_date}


def format_checker(*formats: str) -> jsonschema.FormatChecker:
    """A JSON Schema format checker for these formats of FORMATS only (a description's other formats pass)."""
    checker = jsonschema.FormatChecker(formats=())
    for name in formats:
        checker.checks(name)(FORMATS[name])
    return checker


def schema_problems(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    """Every way ``instance`` fails the validator's schema, as ``.path[0].field: message``, in path order."""
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
        problems.append(f"{location or '(root)'}: {error.message}")
    return problems


SPAPI_MODELS = ModelFolder(
    marker="spapi_models",
    env="HUB_SPAPI_MODELS",
    default=REPO_ROOT.parent / "shared" / "spapi-models",
    title="Amazon's SP-API models",
    holds="orders_2026-01-01.json, ordersV0.json, sellers.json, ...",
    helper="tests.connectors.amazon.spapi_models",
)
BOL_MODELS = ModelFolder(
    marker="bol_models",
    env="HUB_BOL_MODELS",
    default=REPO_ROOT.parent / "shared" / "bol-models",
    title="bol.com's Retailer API descriptions",
    holds="retailer-v10.json and shared-v10.json",
    helper="tests.bol_models",
)
FOLDERS = (SPAPI_MODELS, BOL_MODELS)


def pytest_configure(config: pytest.Config) -> None:
    for folder in FOLDERS:
        config.addinivalue_line(
            "markers",
            f"{folder.marker}: needs {folder.title} ({folder.env}); fails without them "
            "(set automatically on the tests that use them)",
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"{f.env}: {f.path()}{'' if f.available() else ' (missing)'}" for f in FOLDERS]


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for folder in FOLDERS:
            if item.get_closest_marker(folder.marker) is None and uses(item, folder.helper):
                item.add_marker(getattr(pytest.mark, folder.marker)(inferred=True))


@pytest.hookimpl(tryfirst=True)  # before a skip mark (an empty parametrisation) is honoured
def pytest_runtest_setup(item: pytest.Item) -> None:
    for folder in FOLDERS:
        marker = item.get_closest_marker(folder.marker)
        if marker is not None and not marker.kwargs.get("inferred"):
            folder.require()


def uses(item: pytest.Item, helper: str) -> bool:
    """True when the test's module, or the module of a fixture it uses, imports from ``helper``."""
    modules = [getattr(item, "module", None)]
    # pytest has no public way to reach the functions of an item's fixtures.
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is not None:
        for definitions in fixture_info.name2fixturedefs.values():
            modules.extend(sys.modules.get(d.func.__module__) for d in definitions)
    return any(imports_from(module, helper) for module in modules if module is not None)


@functools.cache
def imports_from(module: ModuleType, helper: str) -> bool:
    """True when ``module`` holds the module ``helper`` or a function or class defined there."""
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            if value.__name__ == helper:
                return True
        elif (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == helper:
            return True
    return False
