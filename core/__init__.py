"""The async core of the hub, in five parts and a door.

- ``core.hubapi``: the door, the one module a connector imports (hub API v2).
- ``core.contract``: what a connector is written against (hook specs, manifest, models, errors, context).
- ``core.usecases``: what the hub does (connect, import, push labels, take events, retention, jobs).
- ``core.infra``: what the use cases run on (settings, logs, queue, plugins, hook runner, runtime).
- ``core.storage``: every SQL statement, and the migrations.
- ``core.testing``: the contract kit a connector's tests run.

``pyproject.toml`` states these layers as import-linter contracts, checked by ``.ci/run``.
"""

__version__ = "0.1.0"
