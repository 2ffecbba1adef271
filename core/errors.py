"""One error hierarchy for the hub.

Every error carries a message a user can act on (``str(err)``) and, apart from it, an internal
``detail`` for logs and developers. Connector errors map onto connection states; ``error_for_status``
is the one table that turns an HTTP status from a shop into one of them.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    #: Short machine-readable code, used by the JSON API.
    code = "hub_error"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigError(HubError):
    """The configuration is invalid; the message names the setting and the fix."""

    code = "config_error"


class StorageError(HubError):
    """The database cannot be reached or is not in the expected shape."""

    code = "storage_error"


class InvalidInput(HubError):
    """Input from a user or a caller is invalid; nothing was changed.

    ``field``: the form field or body member at fault, when there is one, so that a page can show
    the message beside it and keep the merchant on the form.
    """

    code = "invalid_input"

    def __init__(self, message: str, *, detail: str | None = None, field: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.field = field


class NotFound(HubError):
    """The thing asked for does not exist, or belongs to another account."""

    code = "not_found"


class Conflict(HubError):
    """The request conflicts with the current state (for example a connection not yet connected)."""

    code = "conflict"


class PluginError(HubError):
    """A connector could not be loaded or does not follow the hub API."""

    code = "plugin_error"


class ConnectorError(HubError):
    """A connector failed to talk to its shop; subclasses say what the hub does next."""

    code = "connector_error"


class ConnectorAuthFailed(ConnectorError):
    """The shop refused the connection's credentials: the connection needs a reconnect."""

    code = "auth_required"


class CredentialsRefused(ConnectorAuthFailed):
    """The shop refused the credentials pasted at a connect or reconnect; nothing was stored.

    The message is the shop's reason, with every value the merchant pasted masked.
    """

    code = "credentials_refused"


class ConnectorRejected(ConnectorError):
    """The shop rejected the request itself; retrying the same request will not help."""

    code = "rejected"


class EventRejected(ConnectorError):
    """A shop event failed verification (no or a wrong signature, a replay): answered 401, nothing changes."""

    code = "event_rejected"


class TransientError(ConnectorError):
    """A failure that may pass: retry later with backoff."""

    code = "transient"

    def __init__(
        self, message: str, *, detail: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class ConnectorNotReady(TransientError):
    """The shop is down, slow or answering 5xx: the connection is not ready, retry with backoff."""

    code = "not_ready"


class RateLimited(TransientError):
    """The shop throttled the call (HTTP 429); retry after ``retry_after`` seconds."""

    code = "rate_limited"


def error_for_status(
    status: int, message: str, *, detail: str | None = None, retry_after: float | None = None
) -> ConnectorError:
    """Map an HTTP status from a shop to the connector error the hub acts on."""
    if status == 429:
        return RateLimited(message, detail=detail, retry_after=retry_after)
    if status in (401, 403):
        return ConnectorAuthFailed(message, detail=detail)
    if status == 408 or status >= 500:
        return ConnectorNotReady(message, detail=detail, retry_after=retry_after)
    if 400 <= status < 500:
        return ConnectorRejected(message, detail=detail)
    return ConnectorError(message, detail=detail)
