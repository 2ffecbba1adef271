"""Documentation stays complete: every hook argument, manifest key and setting is documented."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pluggy
import pytest
from pydantic import BaseModel

from core.contract import hookspecs
from core.contract.manifest import ConnectField, ConnectSpec, Manifest
from core.infra.settings import HubSettings

ROOT = Path(__file__).resolve().parents[1]
SPECS = [getattr(hookspecs, name) for name in hookspecs.HOOK_NAMES]


def test_hook_names_are_the_specs_pluggy_finds() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    assert set(hookspecs.HOOK_NAMES) == {name for name in vars(manager.hook) if not name.startswith("_")}
    assert set(hookspecs.REQUIRED_HOOKS) <= set(hookspecs.HOOK_NAMES)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.__name__)
def test_hook_spec_docstring_documents_every_argument(spec) -> None:  # noqa: ANN001
    doc = inspect.getdoc(spec) or ""
    for name in inspect.signature(spec).parameters:
        assert f":param {name}:" in doc, f"{spec.__name__}: argument {name} is not documented"
    for part in ("Dispatched to", ":returns:"):
        assert part in doc, f"{spec.__name__}: docstring lacks {part!r}"
    assert re.search(r"Added in hub API v\d+", doc), f"{spec.__name__}: docstring does not say the version it was added in"


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.__name__)
def test_hook_spec_has_a_section_in_docs_hooks(spec) -> None:  # noqa: ANN001
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {spec.__name__}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"docs/hooks.md has no section ## {spec.__name__}"
    for name in inspect.signature(spec).parameters:
        assert f"`{name}`" in section.group(1), f"docs/hooks.md ## {spec.__name__} does not explain `{name}`"


def _hooks_md_section(title: str) -> str:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"docs/hooks.md has no section ## {title}"
    return section.group(1)


def test_every_manifest_key_is_in_docs_hooks() -> None:
    table = _hooks_md_section("The manifest")
    for name in Manifest.model_fields:
        assert f"| `{name}` |" in table, f"docs/hooks.md ## The manifest does not explain `{name}`"
    connect = _hooks_md_section("Connect styles and the [connect] table")
    for name in ConnectSpec.model_fields:
        assert f"| `{name}` |" in connect, f"docs/hooks.md does not explain [connect] `{name}`"
    for name in ConnectField.model_fields:
        assert f"`fields[].{name}`" in connect, f"docs/hooks.md does not explain [[connect.fields]] `{name}`"


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_fields(annotation, f"{prefix}{name}."))
        elif name != "connectors":
            found.append(prefix + name)
    return found


def test_every_setting_is_in_hub_toml() -> None:
    text = (ROOT / "hub.toml").read_text(encoding="utf-8")
    tables: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[] ")
        tables[current] = tables.get(current, "") + line + "\n"
    for path in _fields(HubSettings):
        table, _, name = path.rpartition(".")
        assert re.search(rf"^#? ?{name} =", tables.get(table, ""), re.M), f"hub.toml does not document {path}"
    tomllib.loads(text)  # and it parses


def test_every_amazon_setting_is_in_hub_toml() -> None:
    from connectors.amazon.settings import AmazonSettings

    text = (ROOT / "hub.toml").read_text(encoding="utf-8").split("[connectors.amazon]")[1]
    for name in AmazonSettings.model_fields:
        assert re.search(rf"^#? ?{name} =", text, re.M), f"hub.toml does not document connectors.amazon.{name}"


def test_every_bol_setting_is_in_hub_toml_and_docs_bol() -> None:
    from connectors.bol.settings import BolSettings

    toml = (ROOT / "hub.toml").read_text(encoding="utf-8").split("[connectors.bol]")[1]
    doc = (ROOT / "docs" / "bol.md").read_text(encoding="utf-8")
    for name in BolSettings.model_fields:
        assert re.search(rf"^#? ?{name} =", toml, re.M), f"hub.toml does not document connectors.bol.{name}"
        assert f"| `{name}` |" in doc, f"docs/bol.md does not explain connectors.bol.{name}"
