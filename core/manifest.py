"""The connector manifest: ``manifest.toml`` beside a connector's module, validated here."""

from __future__ import annotations

import importlib
import tomllib
from importlib import resources
from types import ModuleType

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import PluginError

HOOK_NAMES = ("authorize", "check_connection", "import_orders", "on_label_created", "disconnect")
REQUIRED_HOOKS = ("authorize", "import_orders", "on_label_created")


class Manifest(BaseModel):
    """What a connector declares about itself: identity, hooks, settings model, logo."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    hub_api: int = Field(ge=1, le=1)
    description: str = ""
    hooks: list[str]
    settings: str | None = Field(default=None, description="module:Class of the settings model")
    logo: str | None = None
    login_account_param: str | None = Field(
        default=None, description="query parameter of the shop's Login-URI call that names the shop account"
    )
    marketplaces: list[str] = Field(
        default_factory=list,
        description="marketplaces the merchant picks from at Connect (passed to authorize as options['marketplace'])",
    )

    @field_validator("hooks")
    @classmethod
    def _known_hooks(cls, hooks: list[str]) -> list[str]:
        unknown = sorted(set(hooks) - set(HOOK_NAMES))
        if unknown:
            raise ValueError(f"unknown hooks {unknown}; the hub API v1 has {list(HOOK_NAMES)}")
        missing = sorted(set(REQUIRED_HOOKS) - set(hooks))
        if missing:
            raise ValueError(f"required hooks missing: {missing}")
        return hooks

    def settings_model(self) -> type[BaseModel] | None:
        """Import the settings model the manifest names."""
        if self.settings is None:
            return None
        module_name, _, attr = self.settings.partition(":")
        model = getattr(importlib.import_module(module_name), attr)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"Connector {self.id}: settings {self.settings} is not a pydantic model.")
        return model


def read_manifest(module: ModuleType) -> Manifest:
    """Read and validate ``manifest.toml`` from a connector's package."""
    try:
        text = resources.files(module).joinpath("manifest.toml").read_text(encoding="utf-8")
    except (FileNotFoundError, TypeError) as err:
        raise PluginError(
            f"Connector module {module.__name__} has no manifest.toml: add one beside its __init__.py."
        ) from err
    try:
        return Manifest.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as err:
        raise PluginError(f"Connector module {module.__name__} has an invalid manifest.toml: {err}") from err
