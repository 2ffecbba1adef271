"""The CLI: quick start, one-line errors naming the fix, and the foundation commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner, Result

from core.infra import plugins
from hub.cli import main
from tests.conftest import FAKE
from tests.contract.fake import shop as fake_shops
from tests.contract.keyshop import shop as keyshops
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.api.conftest import KEYSHOP


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


# connecting in each connector's style, and accepted parcels


@pytest.fixture
def shops(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyShop]:
    """The fake (consent) and key shop (credentials) connectors installed as if by entry points, their shops open."""
    installed = plugins.installed_entry_points
    monkeypatch.setattr(plugins, "installed_entry_points", lambda: [*installed(), FAKE, KEYSHOP])
    fake_shops.open_shop("default")
    keyshop = keyshops.open_shop("default")
    yield keyshop
    keyshops.close_shop("default")
    fake_shops.close_shop("default")


def merchant(env: dict[str, str]) -> None:
    assert run(env, "accounts", "create", "Key merchant").exit_code == 0


def typed(env: dict[str, str], *args: str, input: str | None = None) -> Result:  # noqa: A002 - click's name
    return CliRunner().invoke(main, list(args), env=env, input=input)


def only_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    return line


async def stored_connections(database_url: str) -> list:
    db = await asyncpg.connect(database_url)
    try:
        return await db.fetch("select id, connector, state, external_account_id from connections order by id")
    finally:
        await db.close()


def test_connect_with_credentials_asks_for_the_secret_hidden(cli_env: dict[str, str], shops: KeyShop, database_url: str) -> None:
    merchant(cli_env)
    result = typed(cli_env, "connections", "connect", "keyshop", "--account", "Key merchant", input=f"{GOOD_CLIENT_ID}\n{GOOD_CLIENT_SECRET}\n")
    assert result.exit_code == 0, result.output
    assert "Connection 1 is connected: keyshop account keyshop-default" in result.output
    assert "Client secret" in result.output and "https://keyshop.invalid/settings/api" in result.output
    assert GOOD_CLIENT_SECRET not in result.output  # a hidden prompt echoes nothing
    assert GOOD_CLIENT_ID in result.output  # a plain prompt echoes what was typed
    (row,) = asyncio.run(stored_connections(database_url))
    assert (row["connector"], row["state"]) == ("keyshop", "connected")


def test_a_secret_on_the_command_line_is_refused(cli_env: dict[str, str], shops: KeyShop, database_url: str) -> None:
    merchant(cli_env)
    result = typed(
        cli_env, "connections", "connect", "keyshop", "--account", "Key merchant",
        "--field", f"client_id={GOOD_CLIENT_ID}", "--field", f"client_secret={GOOD_CLIENT_SECRET}",
    )
    line = only_error(result)
    assert "client_secret is a secret" in line and "shell history" in line
    assert "hidden prompt" in line and "--fields-file" in line and "HUB_CONNECT_CLIENT_SECRET" in line
    assert GOOD_CLIENT_SECRET not in result.output
    assert shops.token_requests() == 0 and asyncio.run(stored_connections(database_url)) == []


@pytest.mark.parametrize("suffix", [".json", ".toml", ".txt"])
def test_fields_from_a_file(cli_env: dict[str, str], shops: KeyShop, tmp_path: Path, suffix: str) -> None:
    merchant(cli_env)
    path = tmp_path / f"keyshop{suffix}"
    if suffix == ".toml":
        path.write_text(f'client_id = "{GOOD_CLIENT_ID}"\nclient_secret = "{GOOD_CLIENT_SECRET}"\n', encoding="utf-8")
    else:
        path.write_text(json.dumps({"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}), encoding="utf-8")
    result = typed(cli_env, "connections", "connect", "keyshop", "--account", "Key merchant", "--fields-file", str(path))
    assert result.exit_code == 0 and "is connected" in result.output, result.output
    assert GOOD_CLIENT_SECRET not in result.output


def test_fields_from_the_environment_and_a_non_secret_from_the_command_line(cli_env: dict[str, str], shops: KeyShop) -> None:
    merchant(cli_env)
    env = {**cli_env, "HUB_CONNECT_CLIENT_SECRET": GOOD_CLIENT_SECRET}
    result = typed(env, "connections", "connect", "keyshop", "--account", "Key merchant", "--field", f"client_id={GOOD_CLIENT_ID}")
    assert result.exit_code == 0 and "is connected" in result.output, result.output
    assert "Client" not in result.output  # nothing was asked


def test_a_wrong_secret_names_the_shops_reason_and_stores_nothing(cli_env: dict[str, str], shops: KeyShop, database_url: str) -> None:
    merchant(cli_env)
    wrong = "keyshop-secret-typo-0000"
    env = {**cli_env, "HUB_CONNECT_CLIENT_ID": GOOD_CLIENT_ID, "HUB_CONNECT_CLIENT_SECRET": wrong}
    result = typed(env, "connections", "connect", "keyshop", "--account", "Key merchant")
    line = only_error(result)
    assert "The shop refused these credentials: Key shop refused this client ID and secret" in line
    assert "hub connections connect" in line and wrong not in result.output
    assert asyncio.run(stored_connections(database_url)) == []


def test_no_secret_to_read_is_a_one_line_error(cli_env: dict[str, str], shops: KeyShop) -> None:
    merchant(cli_env)
    result = typed(cli_env, "connections", "connect", "keyshop", "--account", "Key merchant", "--field", f"client_id={GOOD_CLIENT_ID}", input="")
    line = only_error(result)
    assert "No value for client_secret" in line and "HUB_CONNECT_CLIENT_SECRET" in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--field", "client_id"], "NAME=VALUE"),
        (["--field", "api_key=1"], "no connect field 'api_key'"),
        (["--fields-file", "/nonexistent/keyshop.json"], "Cannot read the fields file"),
    ],
    ids=["field-without-value", "unknown-field", "missing-file"],
)
def test_bad_field_arguments_are_one_line_errors(cli_env: dict[str, str], shops: KeyShop, database_url: str, args: list[str], says: str) -> None:
    merchant(cli_env)
    env = {**cli_env, "HUB_CONNECT_CLIENT_ID": GOOD_CLIENT_ID, "HUB_CONNECT_CLIENT_SECRET": GOOD_CLIENT_SECRET}
    result = typed(env, "connections", "connect", "keyshop", "--account", "Key merchant", *args)
    assert says in only_error(result)
    assert asyncio.run(stored_connections(database_url)) == []


def test_a_garbled_fields_file_is_not_quoted(cli_env: dict[str, str], shops: KeyShop, tmp_path: Path) -> None:
    merchant(cli_env)
    path = tmp_path / "fields.json"
    path.write_text(f'{{"client_secret": "{GOOD_CLIENT_SECRET}", oops', encoding="utf-8")
    result = typed(cli_env, "connections", "connect", "keyshop", "--account", "Key merchant", "--fields-file", str(path))
    assert "is not a JSON object or a TOML table" in only_error(result)
    assert GOOD_CLIENT_SECRET not in result.output


def test_the_same_shop_account_twice_and_reconnect_with_new_credentials(cli_env: dict[str, str], shops: KeyShop, database_url: str) -> None:
    merchant(cli_env)
    env = {**cli_env, "HUB_CONNECT_CLIENT_ID": GOOD_CLIENT_ID, "HUB_CONNECT_CLIENT_SECRET": GOOD_CLIENT_SECRET}
    assert typed(env, "connections", "connect", "keyshop", "--account", "Key merchant").exit_code == 0
    assert "connected already" in only_error(typed(env, "connections", "connect", "keyshop", "--account", "Key merchant"))
    shops.revoke_client(GOOD_CLIENT_ID)
    assert "refused" in only_error(typed(env, "connections", "reconnect", "1"))
    client_id, secret = shops.add_client()
    result = typed(cli_env, "connections", "reconnect", "1", "--field", f"client_id={client_id}", input=f"{secret}\n")
    assert result.exit_code == 0 and "Connection 1 is connected" in result.output, result.output
    assert secret not in result.output
    assert len(asyncio.run(stored_connections(database_url))) == 1


def test_consent_connect_and_reconnect_print_the_consent_url(cli_env: dict[str, str], shops: KeyShop) -> None:
    merchant(cli_env)
    started = typed(cli_env, "connections", "connect", "fake", "--account", "Key merchant", "--marketplace", "de")
    assert started.exit_code == 0 and "fake-shop.invalid/consent" in started.output and "marketplace=DE" in started.output
    again = typed(cli_env, "connections", "reconnect", "1")
    assert again.exit_code == 0 and "fake-shop.invalid/consent" in again.output, again.output
    both = typed(cli_env, "connections", "connect", "fake", "--account", "Key merchant", "--marketplace", "NL", "--field", "marketplace=DE")
    assert "once" in only_error(both)


def test_labels_and_orders_show_a_parcel_the_shop_accepted(cli_env: dict[str, str], shops: KeyShop) -> None:
    merchant(cli_env)
    env = {**cli_env, "HUB_CONNECT_CLIENT_ID": GOOD_CLIENT_ID, "HUB_CONNECT_CLIENT_SECRET": GOOD_CLIENT_SECRET}
    assert typed(env, "connections", "connect", "keyshop", "--account", "Key merchant").exit_code == 0
    assert typed(cli_env, "connections", "set", "1", "--update-tracking").exit_code == 0
    shops.add_order()
    assert "1 new" in typed(cli_env, "import", "--connection", "1").output
    pushed = typed(cli_env, "labels", "create", "--order", "1", "--tracking", "GLSKEY1")
    (process_id,) = shops.pending_processes()
    assert pushed.exit_code == 0, pushed.output
    assert f"parcel 1 GLSKEY1: accepted (accepted by the shop, waiting for its confirmation), shop reference {process_id}" in pushed.output
    assert "hub labels show 1" in pushed.output
    shown = typed(cli_env, "orders", "show", "1")
    assert shown.exit_code == 0 and "GLSKEY1: accepted" in shown.output and process_id in shown.output
    as_json = json.loads(typed(cli_env, "orders", "show", "1", "--json").output)
    assert as_json["labels"][0]["parcels"][0] == {
        "reference": "1", "tracking_number": "GLSKEY1", "push_state": "accepted", "shop_reference": process_id, "push_message": None,
    }
    assert "GLSKEY1: accepted" in typed(cli_env, "labels", "show", "1").output
