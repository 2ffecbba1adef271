"""Settings precedence: arguments > environment > hub.toml > defaults; secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from core.contract.errors import ConfigError
from core.infra.settings import connector_settings, load_settings, masked


@pytest.fixture
def toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HUB_CONFIG", "HUB_DATABASE__POOL_MAX", "HUB_SERVER__PORT", "HUB_CONNECTORS__SHOP__CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "hub.toml"
    path.write_text(
        """
data_dir = "/srv/hub"
[database]
pool_max = 3
[server]
port = 9000
[connectors.shop]
client_id = "file-id"
client_secret = "file-secret"
""",
        encoding="utf-8",
    )
    return path


def test_defaults_apply_without_file_or_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database.pool_max == 10
    assert settings.server.port == 8080


def test_file_overrides_defaults(toml_file: Path) -> None:
    settings = load_settings(toml_file)
    assert settings.database.pool_max == 3
    assert settings.data_dir == Path("/srv/hub")
    assert settings.database.pool_min == 1  # untouched default beside a file value


def test_environment_overrides_file(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE__POOL_MAX", "7")
    monkeypatch.setenv("HUB_CONNECTORS__SHOP__CLIENT_SECRET", "env-secret")
    settings = load_settings(toml_file)
    assert settings.database.pool_max == 7
    assert settings.server.port == 9000
    assert settings.connectors["shop"]["client_secret"] == "env-secret"
    assert settings.connectors["shop"]["client_id"] == "file-id"


def test_arguments_override_environment(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SERVER__PORT", "9100")
    settings = load_settings(toml_file, server={"port": 9200})
    assert settings.server.port == 9200


def test_config_path_comes_from_hub_config(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_CONFIG", str(toml_file))
    assert load_settings().server.port == 9000


def test_missing_config_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config or HUB_CONFIG"):
        load_settings(tmp_path / "absent.toml")


def test_invalid_value_names_the_setting(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SERVER__PORT", "not-a-port")
    with pytest.raises(ConfigError, match="server.port"):
        load_settings(toml_file)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nurll = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="database.urll"):
        load_settings(path)


class ShopSettings(BaseModel):
    client_id: str
    client_secret: SecretStr
    page_size: int = 100


def test_connector_table_is_validated_by_its_own_model(toml_file: Path) -> None:
    settings = load_settings(toml_file)
    shop = connector_settings(settings, "shop", ShopSettings)
    assert isinstance(shop, ShopSettings)
    assert shop.client_secret.get_secret_value() == "file-secret"
    with pytest.raises(ConfigError, match=r"connectors\.other\.client_id"):
        connector_settings(settings, "other", ShopSettings)


def test_show_masks_secrets(toml_file: Path) -> None:
    settings = load_settings(toml_file, database={"url": "postgresql://u:pw@db/hub"})
    shown = masked(settings)
    assert shown["database"]["url"] == "**********"
    assert shown["connectors"]["shop"]["client_secret"] == "**********"
    assert shown["connectors"]["shop"]["client_id"] == "file-id"
    assert "pw" not in repr(shown)
