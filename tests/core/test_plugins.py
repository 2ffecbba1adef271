"""Plugin loading: entry points, a broken connector listed with its error, allow and deny lists."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from core.infra.hooks import HookRunner
from core.infra.plugins import ENTRY_POINT_GROUP, installed_entry_points, load_connectors
from core.infra.runtime import register_connectors
from core.infra.settings import HubSettings

FAKE = EntryPoint(name="fake", value="tests.contract.fake", group=ENTRY_POINT_GROUP)
BROKEN = EntryPoint(name="broken", value="tests.core.plugin_samples.broken", group=ENTRY_POINT_GROUP)
MISNAMED = EntryPoint(name="other", value="tests.contract.fake", group=ENTRY_POINT_GROUP)
NO_MANIFEST = EntryPoint(name="bare", value="tests.core.plugin_samples", group=ENTRY_POINT_GROUP)


def test_broken_connector_is_listed_with_its_error_while_the_rest_loads() -> None:
    loaded = register_connectors(HookRunner(), load_connectors(HubSettings(), [BROKEN, FAKE, MISNAMED, NO_MANIFEST]))
    assert loaded["fake"].ok and loaded["fake"].hooks == [
        "authorize", "check_connection", "disconnect", "import_orders", "on_label_created",
    ]
    assert "needs a package that is not installed" in (loaded["broken"].error or "")
    assert "declares id fake" in (loaded["other"].error or "")
    assert "no manifest.toml" in (loaded["bare"].error or "")


def test_connector_with_invalid_settings_is_listed_with_the_setting() -> None:
    settings = HubSettings(connectors={"fake": {"page_size": 0}})
    (fake,) = load_connectors(settings, [FAKE])
    assert not fake.ok and "connectors.fake.page_size" in (fake.error or "")


def test_allow_and_deny_lists_decide_what_loads() -> None:
    assert [c.id for c in load_connectors(HubSettings(plugins={"allow": ["fake"]}), [BROKEN, FAKE])] == ["fake"]
    assert [c.id for c in load_connectors(HubSettings(plugins={"deny": ["broken"]}), [BROKEN, FAKE])] == ["fake"]


def test_amazon_is_installed_as_an_entry_point() -> None:
    assert "amazon" in [point.name for point in installed_entry_points()]


def test_cli_lists_connectors_as_json(monkeypatch) -> None:  # noqa: ANN001
    from hub.cli import main

    monkeypatch.setattr("core.infra.plugins.installed_entry_points", lambda: [BROKEN, FAKE])
    result = CliRunner().invoke(main, ["connectors", "list", "--json"])
    assert result.exit_code == 1, result.output  # the list is printed, and the failure said
    assert '"id": "broken"' in result.output and "not installed" in result.output
    assert '"name": "Fake shop"' in result.output


def test_a_connector_installed_twice_is_listed_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    old = EntryPoint(name="fake", value="tests.contract.fake", group=ENTRY_POINT_GROUP)
    copy = EntryPoint(name="fake", value="old_copy.fake", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr("core.infra.plugins.entry_points", lambda group: [old, copy])
    assert installed_entry_points() == [old]
    assert "installed twice" in caplog.text
