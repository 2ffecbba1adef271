"""The CLI: quick start, one-line errors naming the fix, and the foundation commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import main


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    return {"HUB_DATABASE__URL": database_url, "HUB_DATA_DIR": str(tmp_path / "data")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_help_shows_a_quick_start() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Quick start" in result.output and "hub demo" in result.output


def test_db_migrate_is_idempotent_and_status_lists_migrations(cli_env: dict[str, str]) -> None:
    assert "up to date" in run(cli_env, "db", "migrate").output
    status = run(cli_env, "db", "status")
    assert status.exit_code == 0 and "0001_initial" in status.output and "pending" not in status.output


def test_accounts_create_and_duplicate_gives_a_one_line_error(cli_env: dict[str, str]) -> None:
    assert "Created account" in run(cli_env, "accounts", "create", "Bakkerij Ölschläger").output
    again = run(cli_env, "accounts", "create", "Bakkerij Ölschläger")
    assert again.exit_code == 1
    assert again.output.strip() == "Error: An account named 'Bakkerij Ölschläger' exists already: pick another name."
    assert "Bakkerij Ölschläger" in run(cli_env, "accounts", "list").output


def test_unknown_account_names_the_fix_without_traceback(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "connections", "connect", "amazon", "--account", "nobody")
    assert result.exit_code == 1
    assert "hub accounts create NAME" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "config", "show"])
    assert result.exit_code == 1
    assert "not found" in result.output and "Traceback" not in result.output


def test_config_show_masks_secrets(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": "amzn-very-secret"}
    result = run(env, "config", "show")
    assert result.exit_code == 0
    assert "amzn-very-secret" not in result.output and "client_secret" in result.output
    assert cli_env["HUB_DATABASE__URL"] not in result.output


def test_new_key_prints_a_fernet_key() -> None:
    result = CliRunner().invoke(main, ["config", "new-key"])
    assert result.exit_code == 0 and len(result.output.strip()) == 44


def test_bad_parcel_spec_is_refused(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "labels", "create", "--order", "1", "--parcel", "T1:item=x")
    assert result.exit_code == 1 and "ITEM=QTY" in result.output
