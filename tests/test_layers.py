"""The layer contracts in pyproject.toml stay complete as core grows.

``lint-imports`` (run by .ci/run) checks the contracts themselves; this checks that the list of
core modules a connector may not import names every module of core but the facade, so a new core
module cannot slip past the contract unlisted, and a removed one is taken out of the list.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import core

ROOT = Path(__file__).resolve().parents[1]
FACADE = "core.hubapi"


def contract(contract_id: str) -> dict[str, Any]:
    """The import-linter contract with ``id = contract_id`` in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if c.get("id") == contract_id]
    assert len(found) == 1, f"pyproject.toml has {len(found)} import-linter contracts with id {contract_id!r}"
    return found[0]


def test_connectors_may_import_no_module_of_core_but_the_facade() -> None:
    forbidden = set(contract("connectors-use-the-facade")["forbidden_modules"])
    in_core = {f"core.{module.name}" for module in pkgutil.iter_modules(core.__path__)}
    assert FACADE in in_core
    listed = {name for name in forbidden if name.startswith("core.")}
    assert listed == in_core - {FACADE}, (
        "[tool.importlinter] connectors-use-the-facade: add to forbidden_modules "
        f"{sorted(in_core - {FACADE} - listed)}, remove {sorted(listed - (in_core - {FACADE}))}"
    )


def test_connectors_may_import_nothing_of_hub() -> None:
    assert "hub" in contract("connectors-use-the-facade")["forbidden_modules"]


def test_core_and_hub_may_import_no_connector() -> None:
    forbidding = contract("no-connector-named")
    assert set(forbidding["source_modules"]) == {"core", "hub"}
    assert forbidding["forbidden_modules"] == ["connectors"]
