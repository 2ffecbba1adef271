"""`hub` adds each installed connector's commands and runs the demo shops, though hub/ and core/ name no connector."""

from __future__ import annotations

import logging
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.infra.plugins import ENTRY_POINT_GROUP, installed_entry_points
from core.infra.settings import HubSettings
from hub.cli import main
from hub.cli.demo import demo_connectors

ROOT = Path(__file__).resolve().parents[2]
#: The Amazon package named anywhere (``tests.connectors.amazon``, the kit's example, is not it).
NAMES_AMAZON = re.compile(r"(?<![\w.])connectors\.amazon\b")
#: An import of the connectors package, in any form.
IMPORTS_CONNECTORS = re.compile(r"^\s*(?:from\s+connectors[.\s]|import\s+connectors\b)", re.M)

BROKEN_MANIFEST = """\
id = "{id}"
name = "Broken shop"
version = "0.1.0"
hub_api = 2
hooks = ["authorize", "import_orders", "on_label_created"]
commands = "{package}.cli:missing"
"""


def test_hub_and_core_name_no_connector() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("hub", "core")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and path.suffix in {".py", ".toml", ".html", ".js", ".md", ".txt", ".sql"}
        and (NAMES_AMAZON.search(text := path.read_text(encoding="utf-8")) or IMPORTS_CONNECTORS.search(text))
    ]
    assert offenders == []


def test_the_patterns_catch_what_they_are_for() -> None:
    assert NAMES_AMAZON.search('spec = "connectors.amazon.cli:amazon"')
    assert not NAMES_AMAZON.search("from tests.connectors.amazon.scenarios import AmazonScenarios")
    assert IMPORTS_CONNECTORS.search("    from connectors.amazon import auth")
    assert IMPORTS_CONNECTORS.search("import connectors.amazon")
    assert not IMPORTS_CONNECTORS.search("from hub.cli.connectors import connectors")


def test_help_lists_the_connector_commands_and_demo() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:")[1]
    assert re.search(r"^\s+amazon\s+Amazon connector tools", commands, re.M)
    assert re.search(r"^\s+demo\s+", commands, re.M)


def test_a_connector_command_runs_under_the_connector_id() -> None:
    result = CliRunner().invoke(main, ["amazon", "simulator", "--help"])
    assert result.exit_code == 0, result.output
    assert "amazon simulator [OPTIONS]" in result.output and "--sandbox-cases" in result.output


def broken_connector(root: Path, monkeypatch: pytest.MonkeyPatch, connector_id: str) -> EntryPoint:
    """An installed connector whose manifest names commands that are not there."""
    package = f"broken_{connector_id}"
    (root / package).mkdir()
    (root / package / "__init__.py").write_text('"""A connector whose commands are missing."""\n')
    (root / package / "manifest.toml").write_text(BROKEN_MANIFEST.format(id=connector_id, package=package))
    monkeypatch.syspath_prepend(str(root))
    return EntryPoint(name=connector_id, value=package, group=ENTRY_POINT_GROUP)


def test_a_connector_whose_commands_fail_is_left_out_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_connector(tmp_path, monkeypatch, "brokenshop")
    not_importable = EntryPoint(name="gone", value="no_such_connector_package", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr("core.infra.plugins.installed_entry_points", lambda: [*installed_entry_points(), broken, not_importable])

    with caplog.at_level(logging.WARNING, logger="hub.cli"):
        result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0, result.output
    assert re.search(r"^\s+amazon\s+", result.output, re.M)
    assert "brokenshop" not in result.output.split("Commands:")[1] and "gone" not in result.output.split("Commands:")[1]
    warned = {record.getMessage().split(":")[0] for record in caplog.records}
    assert warned >= {"connector brokenshop", "connector gone"}
    unknown = CliRunner().invoke(main, ["brokenshop"])
    assert unknown.exit_code == 2 and "No such command 'brokenshop'" in unknown.output


def test_a_connector_cannot_take_the_name_of_a_hub_command(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (amazon,) = [point for point in installed_entry_points() if point.name == "amazon"]
    posing = EntryPoint(name="demo", value=amazon.value, group=ENTRY_POINT_GROUP)
    monkeypatch.setattr("core.infra.plugins.installed_entry_points", lambda: [posing])

    with caplog.at_level(logging.WARNING, logger="hub.cli"):
        listed = CliRunner().invoke(main, ["--help"])
        result = CliRunner().invoke(main, ["demo", "--help"])

    assert listed.exit_code == 0 and result.exit_code == 0
    assert "Run the whole journey" in result.output and "Amazon connector tools" not in listed.output
    assert any("is a command of the hub itself" in record.getMessage() for record in caplog.records)


def test_demo_without_a_connector_that_brings_a_demo_shop_says_so() -> None:
    with pytest.raises(click.ClickException, match="No loaded connector brings a demo shop"):
        demo_connectors(HubSettings(plugins={"allow": ["no-such-connector"]}), orders=5)
