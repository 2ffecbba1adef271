"""Configuration errors as a new user meets them: each names the setting, where its value came from and
what is allowed, never repeats the value, and exits non-zero; `config show` shows each connector's
settings with their defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import main


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No HUB_ variable or hub.toml of the developer's leaks in."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("HUB_")]:
        monkeypatch.delenv(name)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {})


def test_a_list_in_the_environment_that_is_not_json_names_the_variable() -> None:
    result = run("config", "show", env={"HUB_SECURITY__ENCRYPTION_KEYS": "not-a-json-list"})
    assert result.exit_code == 1
    assert "HUB_SECURITY__ENCRYPTION_KEYS" in result.output
    assert "JSON" in result.output
    assert "TOML" not in result.output
    assert "not-a-json-list" not in result.output


def test_a_database_url_that_is_not_postgresql_says_what_is_allowed() -> None:
    result = run("db", "status", env={"HUB_DATABASE__URL": "mysql://shop:hunter2@localhost/db"})
    assert result.exit_code == 1
    assert "database.url" in result.output
    assert "HUB_DATABASE__URL" in result.output
    assert "postgresql://" in result.output
    assert "hunter2" not in result.output
    assert "Unexpected" not in result.output


def test_a_bad_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("[jobs]\nconcurrency = 0\n")
    result = run("--config", str(config), "config", "show")
    assert result.exit_code == 1
    assert f"jobs.concurrency (from {config})" in result.output
    assert "greater than or equal to 1" in result.output


def test_config_show_gives_a_connectors_defaults_beside_what_the_file_sets(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[connectors.amazon]\nclient_id = "amzn1.application-oa2-client.x"\n')
    result = run("--config", str(config), "config", "show")
    assert result.exit_code == 0, result.output
    section = result.output.split("[connectors.amazon]")[1]
    assert 'client_id = "amzn1.application-oa2-client.x"' in section
    assert "page_size = 100" in section  # a default the file does not set


def test_an_invalid_connector_table_fails_config_show_and_connectors_list(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[connectors.amazon]\npage_size = "many"\n')
    shown = run("--config", str(config), "config", "show")
    assert shown.exit_code == 1
    assert "connectors.amazon.page_size" in shown.output
    listed = run("--config", str(config), "connectors", "list")
    assert listed.exit_code == 1
    assert "amazon       FAILED" in listed.output
