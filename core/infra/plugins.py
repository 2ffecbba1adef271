"""Connectors from entry points (group ``hub.connectors``), with allow/deny lists.

A connector that fails to import, has a bad manifest or bad settings is listed with its error and
does not stop the hub; the rest still load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

from pydantic import BaseModel

from core.contract.errors import HubError
from core.contract.manifest import Manifest, read_manifest
from core.infra.settings import HubSettings, connector_settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hub.connectors"


class NoSettings(BaseModel):
    """The settings of a connector whose manifest names no settings model."""

    model_config = {"extra": "forbid"}


@dataclass
class LoadedConnector:
    """One installed connector: loaded with its manifest and settings, or listed with its error."""

    id: str
    module: ModuleType | None = None
    manifest: Manifest | None = None
    settings: BaseModel | None = None
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the connector loaded and can be used."""
        return self.error is None and self.module is not None


def installed_entry_points() -> list[EntryPoint]:
    """The entry points of the ``hub.connectors`` group, sorted by name, each name once.

    Two installed distributions may declare the same connector id (an old copy left beside a
    renamed one): the first found wins, and the others are named in a warning.
    """
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        kept = found.setdefault(point.name, point)
        if kept is not point and kept.value != point.value:
            log.warning(
                "connector %s is installed twice (%s and %s): using the first; uninstall the other",
                point.name, kept.value, point.value,
            )
    return sorted(found.values(), key=lambda ep: ep.name)


def enabled(connector_id: str, settings: HubSettings) -> bool:
    """Whether the allow and deny lists let this connector load."""
    allow, deny = settings.plugins.allow, settings.plugins.deny
    return (not allow or connector_id in allow) and connector_id not in deny


def load_connectors(
    settings: HubSettings, points: Iterable[EntryPoint] | None = None
) -> list[LoadedConnector]:
    """Load every enabled connector; failures are recorded on the connector, never raised."""
    loaded = []
    for point in installed_entry_points() if points is None else points:
        if not enabled(point.name, settings):
            continue
        loaded.append(load_connector(point, settings))
    return loaded


def load_connector(point: EntryPoint, settings: HubSettings) -> LoadedConnector:
    """Import one connector and validate its manifest and settings."""
    connector = LoadedConnector(id=point.name)
    try:
        module = point.load()
        manifest = read_manifest(module)
        if manifest.id != point.name:
            raise HubError(
                f"Connector entry point {point.name} declares id {manifest.id} in manifest.toml: make them equal."
            )
        model = manifest.settings_model()
        connector.settings = connector_settings(settings, manifest.id, model or NoSettings)
        connector.module, connector.manifest = module, manifest
    except Exception as err:  # noqa: BLE001 - any import failure must not stop the hub
        connector.error = f"{type(err).__name__}: {err}"
        log.warning("connector %s failed to load: %s", point.name, connector.error)
    return connector
