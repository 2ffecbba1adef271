"""Settings: ``hub.toml``, overridden by ``HUB_...`` environment variables, overridden by arguments.

The file comes from ``--config`` or ``HUB_CONFIG`` (default ``./hub.toml`` when it exists). Nested
settings use ``__`` in environment names: ``HUB_DATABASE__URL``,
``HUB_CONNECTORS__AMAZON__CLIENT_SECRET``. Secrets are ``SecretStr``. Each connector validates its
own ``[connectors.<id>]`` table with the settings model its manifest names.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from core.contract.errors import ConfigError

_config_file: ContextVar[Path | None] = ContextVar("hub_config_file", default=None)


class DatabaseSettings(BaseModel):
    """Where PostgreSQL is; with no URL the hub runs an embedded one in the data folder."""

    model_config = {"extra": "forbid"}

    url: SecretStr | None = None
    pool_min: int = Field(default=1, ge=0)

    @field_validator("url")
    @classmethod
    def _postgresql(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "it must be a PostgreSQL URL, postgresql://user:password@host:5432/database "
                "(or leave it out for the embedded PostgreSQL)"
            )
        return url
    #: A push takes a connection for each of its two statements, never while the shop answers; a
    #: label's intake one for its transaction (four round trips): at 250 labels/s that is about 3-5
    #: busy (estimated from the statement times), so 10 leaves room for requests and for
    #: pool_max - 2 imports (hub.toml).
    pool_max: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)


class SecuritySettings(BaseModel):
    """Keys for encryption at rest and for signing OAuth states."""

    model_config = {"extra": "forbid"}

    encryption_keys: list[SecretStr] = Field(default_factory=list)
    state_ttl_seconds: int = Field(default=600, ge=60, le=3600)


class ServerSettings(BaseModel):
    """Where ``hub serve`` listens and how merchants' browsers reach it."""

    model_config = {"extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"


class PluginSettings(BaseModel):
    """Which installed connectors load: ``allow`` (empty means all) minus ``deny``."""

    model_config = {"extra": "forbid"}

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


class HookSettings(BaseModel):
    """Time limits for connector hooks, in seconds."""

    model_config = {"extra": "forbid"}

    call_timeout: float = Field(default=60.0, gt=0)
    page_timeout: float = Field(default=300.0, gt=0)


class JobSettings(BaseModel):
    """Background work: scheduled imports, tracking pushes with retries, data retention."""

    model_config = {"extra": "forbid"}

    enabled: bool = True
    #: Pushes are bounded by this, not by the pool (a push holds no connection while the shop
    #: answers): at a steady 50 labels/s 1-2 run at once against the simulator, 5-15 against
    #: Amazon's 100-300 ms; 50 leaves room for bursts and for pushes waiting for a seller's usage
    #: plan (bench/push_latency.py, bench/push_daemon.py; hub.toml says more).
    concurrency: int = Field(default=50, ge=1, le=500)
    tick_seconds: float = Field(default=15.0, gt=0)
    push_max_attempts: int = Field(default=8, ge=1, le=50)
    import_max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    settle_base_seconds: float = Field(default=5.0, gt=0)
    settle_max_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    heartbeat_seconds: float = Field(default=30.0, ge=2)
    shutdown_seconds: float = Field(default=20.0, gt=0, le=3600)
    retention_days: int = Field(default=30, ge=1, le=3650)


class EventSettings(BaseModel):
    """Events shops post to a connection's event route (hub API v2)."""

    model_config = {"extra": "forbid"}

    per_minute: int = Field(default=600, ge=1, le=100_000)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)


class LogSettings(BaseModel):
    """Log level and format."""

    model_config = {"extra": "forbid"}

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HubSettings(BaseSettings):
    """All settings of the hub; see hub.toml for each with its default."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    data_dir: Path = Path("data")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: arguments, then environment, then the TOML file, then defaults."""
        path = _config_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def connector_table(self, connector_id: str) -> dict[str, Any]:
        """The raw ``[connectors.<id>]`` table (empty when absent)."""
        return dict(self.connectors.get(connector_id, {}))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file to read: ``--config``, else ``HUB_CONFIG``, else ``./hub.toml`` if present."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get("HUB_CONFIG"):
        path = Path(os.environ["HUB_CONFIG"])
    else:
        path = Path("hub.toml")
        return path if path.is_file() else None
    if not path.is_file():
        raise ConfigError(f"Config file {path} not found: pass an existing file with --config or HUB_CONFIG.")
    return path


def load_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> HubSettings:
    """Read settings from file and environment; ``overrides`` win over both.

    A ``ConfigError`` names the setting, where its value came from (the variable or the file) and
    what is allowed; it never repeats the value (it may be a secret).
    """
    path = config_path(config)
    token = _config_file.set(path)
    try:
        return HubSettings(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"Invalid setting {where} ({_source(first['loc'], path)}): {first['msg'].removeprefix('Value error, ')}.",
        ) from err
    except SettingsError as err:  # a value the environment source cannot parse (a list that is not JSON)
        names = sorted(name for name in os.environ if name.upper().startswith("HUB_"))
        field = str(err).split('"')[1] if '"' in str(err) else ""
        culprits = [name for name in names if name.upper().startswith(f"HUB_{field.upper()}")] or names
        raise ConfigError(
            f"Cannot read the environment variable {', '.join(culprits) or 'HUB_...'}: lists and tables are "
            'written as JSON there, for example HUB_SECURITY__ENCRYPTION_KEYS=\'["<key>"]\'.'
        ) from err
    except ValueError as err:  # malformed TOML
        raise ConfigError(f"Cannot read the config file {path}: {err}. Fix the TOML syntax.") from err
    finally:
        _config_file.reset(token)


def _source(loc: tuple[int | str, ...], path: Path | None) -> str:
    """Where a setting's value came from: its environment variable, else the file, else the defaults."""
    parts = [str(part) for part in loc if isinstance(part, str)]
    for depth in range(len(parts), 0, -1):
        name = "HUB_" + "__".join(parts[:depth]).upper()
        if any(key.upper() == name for key in os.environ):
            return f"from the environment variable {name}"
    return f"from {path}" if path is not None else "from the defaults"


def connector_settings(settings: HubSettings, connector_id: str, model: type[BaseModel]) -> BaseModel:
    """Validate a connector's table with its own model; the error names the table and the field."""
    try:
        return model.model_validate(settings.connector_table(connector_id))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"Invalid setting connectors.{connector_id}.{where}: {first['msg']}. "
            f"Fix [connectors.{connector_id}] in hub.toml or the HUB_CONNECTORS__{connector_id.upper()}__ environment.",
            detail=str(err),
        ) from err


def secret_values(settings: HubSettings) -> list[str]:
    """Every secret value in the settings, for log masking."""
    found: list[str] = []

    def walk(value: Any, name: str = "") -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, str) and value and any(word in name.lower() for word in _SECRET_WORDS):
            found.append(value)

    walk(settings.model_dump(mode="python"))
    return [value for value in found if value]


def masked(settings: HubSettings, connector_settings: dict[str, BaseModel] | None = None) -> dict[str, Any]:
    """The settings as plain data with every secret masked, for `hub config show`.

    ``connector_settings``: each connector's validated table (defaults included) to show instead
    of the raw one.
    """
    data = settings.model_dump(mode="python")
    for connector_id, model in (connector_settings or {}).items():
        data["connectors"][connector_id] = model.model_dump(mode="python")
    masked_settings: dict[str, Any] = _mask(data)
    return masked_settings


_SECRET_WORDS = ("secret", "password", "token")


def _mask(value: Any, name: str = "") -> Any:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {key: _mask(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item, name) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and value and any(word in name.lower() for word in _SECRET_WORDS):
        # Connector tables are raw dicts until validated: mask what looks secret by name.
        return "**********"
    return value
