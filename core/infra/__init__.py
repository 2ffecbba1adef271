"""The machinery the use cases run on: settings, logs and metrics, secrets' encryption, the job
queue, the plugin loader and hook runner, the shared coordination service, and the runtime that
brings them up for a process. It knows no use case; ``core.storage`` sits beside it."""
