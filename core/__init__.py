"""The async core of the hub: hook specs, plugins, models, storage, lifecycle and use cases."""

__version__ = "0.1.0"
