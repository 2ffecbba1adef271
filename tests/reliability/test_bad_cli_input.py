"""Bad arguments to the `hub` CLI: a non-zero exit, one error line naming the fix, no traceback, and the
database unchanged.

Errors the hub raises print exactly one line (exit 1); click's usage errors print the usage and
one ``Error:`` line (exit 2). Commands run in a worker thread (each opens its own runtime with
``asyncio.run``) against the shared world's database.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.infra import plugins
from hub.cli import main
from tests.conftest import FAKE
from tests.hub.api.conftest import KEYSHOP
from tests.reliability.cases import path
from tests.reliability.conftest import KEYSHOP_CREDENTIALS, FakeWorld
from tests.reliability.snapshot import changes, snapshot

USAGE, HUB_ERROR = 2, 1

CASES = [
    # (id, arguments (``{name}`` from the world), exit code, what the error says)
    ("unknown-command", ["nope"], USAGE, "No such command"),
    ("order-not-a-number", ["labels", "create", "--order", "abc", "--tracking", "T1"], USAGE, "not a valid integer"),
    ("label-without-parcels", ["labels", "create", "--order", "{order_id}"], HUB_ERROR, "--tracking"),
    ("label-unknown-order", ["labels", "create", "--order", "999999", "--tracking", "T1"], HUB_ERROR, "No order 999999"),
    ("label-order-beyond-bigint", ["labels", "create", "--order", "9" * 25, "--tracking", "T1"], USAGE, "range"),
    ("push-negative-label", ["labels", "push", "--", "-5"], USAGE, "range"),
    ("label-cancelled-order", ["labels", "create", "--order", "{cancelled_order_id}", "--tracking", "T1"], HUB_ERROR, "cancelled"),
    ("tracking-with-space", ["labels", "create", "--order", "{order_id}", "--tracking", "T 1"], HUB_ERROR, "Invalid label"),
    ("tracking-with-newline", ["labels", "create", "--order", "{order_id}", "--tracking", "T1\nT2"], HUB_ERROR, "Invalid label"),
    ("label-id-control-char", ["labels", "create", "--order", "{order_id}", "--tracking", "T1", "--label-id", "L\x01"], HUB_ERROR, "Invalid label"),
    ("parcel-bad-quantity", ["labels", "create", "--order", "{order_id}", "--parcel", "T1:item=x"], HUB_ERROR, "ITEM=QTY"),
    ("parcel-too-many", ["labels", "create", "--order", "{order_id}", "--parcel", "T1:F-OWN-1-1=5"], HUB_ERROR, "left to ship"),
    ("parcel-unknown-item", ["labels", "create", "--order", "{order_id}", "--parcel", "T1:nope=1"], HUB_ERROR, "no item"),
    ("push-unknown-label", ["labels", "push", "999999"], HUB_ERROR, "No label"),
    ("retry-unknown-label", ["labels", "retry", "999999"], HUB_ERROR, "No label"),
    ("connect-unknown-connector", ["connections", "connect", "nope", "--account", "Merchant One"], HUB_ERROR, "Unknown connector"),
    ("connect-unknown-account", ["connections", "connect", "fake", "--account", "nobody"], HUB_ERROR, "hub accounts create"),
    ("connect-without-account", ["connections", "connect", "fake"], USAGE, "--account"),
    ("complete-without-state", ["connections", "complete", "http://127.0.0.1/connect/callback?code=1"], HUB_ERROR, "no state"),
    ("complete-not-a-url", ["connections", "complete", "not a url"], HUB_ERROR, "no state"),
    ("complete-forged-state", ["connections", "complete", "http://127.0.0.1/connect/callback?state=bm9uY2U.c2ln&code=1"], HUB_ERROR, "invalid"),
    ("complete-replayed", ["connections", "complete", "{used_callback_url}"], HUB_ERROR, "used already"),
    ("show-unknown-connection", ["connections", "show", "999999"], HUB_ERROR, "No connection"),
    ("show-not-a-number", ["connections", "show", "one"], USAGE, "not a valid integer"),
    ("set-nothing", ["connections", "set", "{connection_id}"], HUB_ERROR, "Nothing to change"),
    ("set-interval-zero", ["connections", "set", "{connection_id}", "--import-interval", "0"], HUB_ERROR, "import_interval_minutes"),
    ("set-interval-huge", ["connections", "set", "{connection_id}", "--import-interval", "9" * 25], HUB_ERROR, "import_interval_minutes"),
    ("reconnect-disconnected", ["connections", "reconnect", "{disconnected_connection_id}"], HUB_ERROR, "disconnected"),
    ("disconnect-unknown", ["connections", "disconnect", "999999"], HUB_ERROR, "No connection"),
    ("enable-disconnected", ["connections", "enable", "{disconnected_connection_id}"], HUB_ERROR, "not disabled"),
    ("disable-unknown", ["connections", "disable", "999999"], HUB_ERROR, "No connection"),
    ("orders-limit-zero", ["orders", "list", "--limit", "0"], USAGE, "--limit"),
    ("orders-unknown-status", ["orders", "list", "--status", "lost"], USAGE, "--status"),
    ("import-without-connection", ["import"], USAGE, "--connection"),
    ("import-unknown-connection", ["import", "--connection", "999999"], HUB_ERROR, "No connection"),
    ("import-pending-connection", ["import", "--connection", "{pending_connection_id}"], HUB_ERROR, "pending"),
    ("account-empty-name", ["accounts", "create", ""], HUB_ERROR, "name"),
    ("account-name-too-long", ["accounts", "create", "x" * 201], HUB_ERROR, "name"),
    ("account-exists", ["accounts", "create", "Merchant One"], HUB_ERROR, "exists already"),
    ("token-unknown-account", ["accounts", "token", "nobody"], HUB_ERROR, "hub accounts create"),
    ("token-empty-name", ["accounts", "token", "Merchant One", "--name", ""], HUB_ERROR, "1 to 100 characters"),
    ("missing-config-file", ["--config", "/nonexistent/hub.toml", "accounts", "list"], HUB_ERROR, "not found"),
    # connecting with credentials (the key shop): secrets never from the command line, refusals store nothing
    ("connect-secret-on-command-line", ["connections", "connect", "keyshop", "--account", "Merchant One", "--field", "client_secret=keyshop-secret-5b1f0c2e9d"], HUB_ERROR, "shell history"),
    ("connect-credentials-wrong-secret", ["connections", "connect", "keyshop", "--account", "Merchant One", "--fields-file", "{wrong_fields}"], HUB_ERROR, "refused these credentials"),
    ("connect-credentials-connected-already", ["connections", "connect", "keyshop", "--account", "Merchant One", "--fields-file", "{good_fields}"], HUB_ERROR, "connected already"),
    ("connect-credentials-unknown-field", ["connections", "connect", "keyshop", "--account", "Merchant One", "--fields-file", "{good_fields}", "--field", "api_key=1"], HUB_ERROR, "no connect field"),
    ("connect-field-without-value", ["connections", "connect", "keyshop", "--account", "Merchant One", "--field", "client_id"], HUB_ERROR, "NAME=VALUE"),
    ("connect-fields-file-missing", ["connections", "connect", "keyshop", "--account", "Merchant One", "--fields-file", "/nonexistent/fields.json"], HUB_ERROR, "Cannot read"),
    ("connect-fields-file-a-list", ["connections", "connect", "keyshop", "--account", "Merchant One", "--fields-file", "{list_fields}"], HUB_ERROR, "not a JSON object"),
    ("connect-marketplace-twice", ["connections", "connect", "fake", "--account", "Merchant One", "--marketplace", "NL", "--field", "marketplace=DE"], HUB_ERROR, "once"),
    ("reconnect-credentials-wrong-secret", ["connections", "reconnect", "{keyshop_connection_id}", "--fields-file", "{wrong_fields}"], HUB_ERROR, "refused these credentials"),
    ("reconnect-secret-on-command-line", ["connections", "reconnect", "{keyshop_connection_id}", "--field", "client_secret=x"], HUB_ERROR, "shell history"),
    ("reconnect-consent-unknown-option", ["connections", "reconnect", "{connection_id}", "--field", "nope=1"], HUB_ERROR, "no connect field"),
    ("labels-show-unknown", ["labels", "show", "999999"], HUB_ERROR, "No label"),
    ("orders-show-unknown", ["orders", "show", "999999"], HUB_ERROR, "No order"),
]


@pytest.fixture(scope="module")
def env(fake_world: FakeWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return fake_world.cli_env(Path(tmp_path_factory.mktemp("cli")))


@pytest.fixture(scope="module")
def fields_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Fields files the cases name: ``{good_fields}`` (the owner's credentials), ``{wrong_fields}``, ``{list_fields}``."""
    folder = Path(tmp_path_factory.mktemp("fields"))
    contents = {
        "good_fields": KEYSHOP_CREDENTIALS,
        "wrong_fields": {**KEYSHOP_CREDENTIALS, "client_secret": "keyshop-secret-wrong-0000"},
        "list_fields": list(KEYSHOP_CREDENTIALS.values()),
    }
    files = {}
    for name, content in contents.items():
        files[name] = str(folder / f"{name}.json")
        Path(files[name]).write_text(json.dumps(content), encoding="utf-8")
    return files


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The world's connectors as the CLI loads them (by entry points): the fake and the key shop too."""
    before = plugins.installed_entry_points
    monkeypatch.setattr(plugins, "installed_entry_points", lambda: [*before(), FAKE, KEYSHOP])


@pytest.mark.parametrize(("args", "exit_code", "says"), [pytest.param(a, e, s, id=i) for i, a, e, s in CASES])
async def test_bad_cli_arguments_give_one_error_line_and_change_nothing(
    fake_world: FakeWorld, env: dict[str, str], fields_files: dict[str, str], installed: None,
    args: list[str], exit_code: int, says: str,
) -> None:
    used = "http://127.0.0.1/connect/callback?" + "&".join(f"{k}={v}" for k, v in fake_world.used_callback.items())
    argv = []
    for arg in args:
        for name, file in {"used_callback_url": used, **fields_files}.items():
            arg = arg.replace("{" + name + "}", file)
        argv.append(path(arg, fake_world))
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    result: Result = await asyncio.to_thread(CliRunner().invoke, main, argv, env=env)
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Unexpected" not in result.output, result.output
    assert KEYSHOP_CREDENTIALS["client_secret"] not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says.lower() in errors[0].lower(), result.output
    if exit_code == HUB_ERROR:
        assert result.output.strip() == errors[0]
    assert changes(before, await snapshot(pool)) == []
