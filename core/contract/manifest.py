"""The connector manifest: ``manifest.toml`` beside a connector's module, validated here.

Besides identity and hooks, a manifest declares how a merchant connects (``[connect]``: a consent
redirect or credentials, with the fields the Connect form, the CLI and the API ask for) and what
the connector adds to the hub's edges: its click commands (``commands``) and the shop simulator
``hub demo`` runs (``demo``), each as ``module:attribute``.
"""

from __future__ import annotations

import importlib
import tomllib
from importlib import resources
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.contract.errors import PluginError
from core.contract.hookspecs import HOOK_NAMES, HUB_API_VERSION, REQUIRED_HOOKS


class Text(BaseModel):
    """A text a merchant reads, in English and Dutch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    nl: str = Field(min_length=1)

    def in_language(self, language: str) -> str:
        """The text in ``language`` (``nl``), English otherwise."""
        return self.nl if language == "nl" else self.en


class ConnectField(BaseModel):
    """One field of a connector's Connect form: a credential the merchant pastes, or an option they pick.

    ``secret`` fields are password inputs on the pages, hidden prompts in the CLI, never echoed
    back, never logged and never put in a URL. ``choices`` makes a pick list. ``link`` is where
    the merchant finds the value (the shop's settings page).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: Text
    help: Text | None = None
    secret: bool = False
    required: bool = True
    choices: list[str] = Field(default_factory=list)
    link: str | None = Field(default=None, pattern=r"^https://")
    max_length: int = Field(default=500, ge=1, le=10_000)


class ConnectSpec(BaseModel):
    """How a merchant connects: ``consent`` (a redirect to the shop) or ``credentials`` (pasted fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: Literal["consent", "credentials"] = "consent"
    fields: list[ConnectField] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _fields_fit_the_style(self) -> ConnectSpec:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"connect fields must have unique names, got {names}")
        if self.style == "consent" and any(f.secret for f in self.fields):
            raise ValueError("a consent connect asks for no secret: the shop's consent page does")
        if self.style == "credentials" and not any(f.secret for f in self.fields):
            raise ValueError("a credentials connect needs at least one secret field")
        return self

    @property
    def secret_fields(self) -> list[str]:
        """The names of the secret fields."""
        return [f.name for f in self.fields if f.secret]

    def field(self, name: str) -> ConnectField | None:
        """The field called ``name``, if declared."""
        return next((f for f in self.fields if f.name == name), None)


class Manifest(BaseModel):
    """What a connector declares about itself: identity, hooks, settings model, logo, connect form, edges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    hub_api: int = Field(ge=1, le=HUB_API_VERSION)
    description: str = ""
    hooks: list[str]
    settings: str | None = Field(default=None, description="module:Class of the settings model")
    logo: str | None = None
    connect: ConnectSpec = Field(default_factory=ConnectSpec)
    commands: str | None = Field(
        default=None, pattern=r"^[\w.]+:\w+$", description="module:attribute of a click command added as `hub <id>`"
    )
    demo: str | None = Field(
        default=None, pattern=r"^[\w.]+:\w+$", description="module:attribute of the DemoShop class `hub demo` runs"
    )
    login_account_param: str | None = Field(
        default=None, description="query parameter of the shop's Login-URI call that names the shop account"
    )
    marketplaces: list[str] = Field(
        default_factory=list,
        description="hub API v1: marketplaces offered at Connect; v2 declares a `marketplace` field under [connect]",
    )

    @field_validator("hooks")
    @classmethod
    def _known_hooks(cls, hooks: list[str]) -> list[str]:
        unknown = sorted(set(hooks) - set(HOOK_NAMES))
        if unknown:
            raise ValueError(f"unknown hooks {unknown}; the hub API v{HUB_API_VERSION} has {list(HOOK_NAMES)}")
        missing = sorted(set(REQUIRED_HOOKS) - set(hooks))
        if missing:
            raise ValueError(f"required hooks missing: {missing}")
        return hooks

    @model_validator(mode="before")
    @classmethod
    def _v1_marketplaces(cls, data: Any) -> Any:
        """A v1 manifest's ``marketplaces`` list becomes a ``marketplace`` pick list on the Connect form."""
        if isinstance(data, dict) and data.get("marketplaces") and "connect" not in data:
            field = {"name": "marketplace", "label": {"en": "Marketplace", "nl": "Marktplaats"},
                     "help": {"en": "The marketplace whose orders you ship with us.",
                              "nl": "De marktplaats waarvan u de bestellingen met ons verzendt."},
                     "choices": list(data["marketplaces"])}
            data = {**data, "connect": {"style": "consent", "fields": [field]}}
        return data

    @model_validator(mode="after")
    def _v2_hooks_for_v2_features(self) -> Manifest:
        if self.connect.style == "credentials" and self.hub_api < 2:
            raise ValueError("connect style credentials needs hub_api = 2")
        return self

    def settings_model(self) -> type[BaseModel] | None:
        """Import the settings model the manifest names."""
        if self.settings is None:
            return None
        model = load_attribute(self.settings, self.id, "settings")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"Connector {self.id}: settings {self.settings} is not a pydantic model.")
        return model


def load_attribute(spec: str, connector_id: str, what: str) -> Any:
    """Import ``module:attribute`` named by a manifest; a clear PluginError when it is not there."""
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise PluginError(f"Connector {connector_id}: its manifest's {what} {spec!r} cannot be imported: {err}") from err


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
