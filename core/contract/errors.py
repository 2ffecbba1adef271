"""One error hierarchy for the hub.

Every error carries a message a user can act on (``str(err)``) and, apart from it, an internal
``detail`` for logs and developers. Connector errors map onto connection states; ``error_for_status``
is the one table that turns an HTTP status from a shop into one of them.

Messages a merchant reads can be said in their language: ``MESSAGES`` catalogues them by a
message code, as English templates with ``{name}`` parameters. ``SomeError.coded(code, params)``
makes an error with such a message (and keeps the code and parameters on it); ``message_text``
makes the text alone (for a parcel outcome's message). Wherever the hub stores such a text (an
import's error, a parcel's push message, a connection's reason) it stays plain English for logs,
the CLI and the API, and ``read_message`` reads the code and parameters back from it, so that the
pages translate it and keep the parameters, the shop's own words among them, as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Self

#: Messages a merchant reads, by message code: English templates whose ``{name}`` parameters are
#: filled in as given (a shop's name, the shop's own words in ``reason``). Codes are only ever
#: added; a template's wording may change only with its translations (hub/web/i18n.py). A text
#: must read back to its own code: a test renders every template and reads it back, with shop
#: words in ``reason`` that quote the other templates.
MESSAGES: dict[str, str] = {
    # Connecting
    "consent_declined": "The authorisation was declined or cancelled in {place}; click Connect to try again.",
    "link_expired": "The authorisation link has expired or was used already: start connecting again.",
    "link_invalid": "The authorisation link is invalid: start connecting again.",
    "code_expired": "{shop}'s authorisation code expired or was already used; click Connect to try again.",
    "credentials_refused": "{shop} refused these credentials: {reason}",
    "access_refused": "{shop} refused this connection's access ({reason}). Reconnect {shop} under Settings > Integrations.",
    "access_revoked": (
        "{shop} no longer accepts this connection's authorisation (revoked in {place} or expired). "
        "Reconnect {shop} under Settings > Integrations."
    ),
    # Talking to the shop: imports, checks
    "shop_not_answering": "{shop} is not answering properly right now; the hub will try again.",
    "shop_silent": "{shop} did not answer; the hub will try again.",
    "shop_throttled": "{shop} throttled the hub; it will try again shortly.",
    "rate_plan_used_up": "{shop}'s rate limit for this account is used up; the hub will continue later.",
    "request_rejected": "{shop} rejected the request: {reason}",
    "import_stopped": "Connection {connection} became {state} during the import; it stopped.",
    "import_interrupted": "the import was interrupted",
    # Tracking codes
    "tracking_rejected": "{shop} rejected the tracking code: {reason}",
    "tracking_off": "updating the tracking code in the shop is off",
    "tracking_retry": "will retry",
    "not_settled": "The shop did not confirm this parcel within {hours} hours; Retry looks it up at the shop again.",
    # A shop's credentials and requests (bol.com's words, made general)
    "credentials_revoked": (
        "{shop} no longer accepts this connection's client credentials. Create new client credentials in {place} "
        "and reconnect {shop} under Settings > Integrations."
    ),
    "access_forbidden": (
        "{shop} refused access ({reason}). Check in {place} that the account is active and that the credentials "
        "may read orders and create shipments, then reconnect {shop}."
    ),
    "client_refused": (
        "{shop} does not accept this Client ID and secret ({reason}): copy both again from {place}, or create new "
        "ones there."
    ),
    "login_refused": "{shop} refused the hub ({reason}). Check the credentials in {place}.",
    "format_refused": "{shop} did not accept the format of the hub's request; this is a fault in the hub: report it.",
    "field_missing": "Enter the {shop} {field} from {place}.",
    "other_account": (
        "These credentials belong to {shop} retailer {found}, not to retailer {known} of this connection: "
        "paste the credentials of that account."
    ),
    "account_changed": (
        "The stored credentials now belong to another {shop} retailer than {known}: reconnect with that account's "
        "credentials."
    ),
    "account_unnamed": "{shop} accepted the credentials but did not name the retailer account; try again in a minute.",
    # Why a parcel is not sent, or what became of it (bol.com's shipments)
    "item_unknown": "{shop}'s order {order} has no item {item}.",
    "item_not_yours": "Item {item} is shipped by {shop} or with a {shop} label, not with this carrier.",
    "cancel_requested": (
        "The customer asked {shop} to cancel item {item}: the shipment was not confirmed. "
        "Handle the request in {place}."
    ),
    "units_left": (
        "{shop} has {left} unit(s) of item {item} left to ship ({shipped} shipped, {cancelled} cancelled there), "
        "not {asked}: it was shipped or cancelled in {place}."
    ),
    "items_processing": (
        "{shop} is still processing a shipment of this parcel's items; the hub looks again once it is done."
    ),
    "items_settled_meanwhile": (
        "{shop} finished a shipment of this parcel's items while the hub was reading the order; the hub looks again."
    ),
    "order_unknown": "{shop} does not know order {order}; it cannot be confirmed there.",
    "shipment_rejected": "{shop} rejected the shipment: {reason}",
    "shipment_processing": "{shop} is processing the shipment.",
    "shipment_failed": "{shop} did not accept the shipment ({outcome}): {reason}",
    "other_shipment_settled": "{shop} finished an earlier shipment of these items, but not this parcel's: push it again.",
    "request_forgotten": (
        "{shop} no longer knows this shipment request and shows no shipment for the parcel: push it again."
    ),
    "no_transport": "{shop}'s shipment {shipment} of this parcel has no transport to give the new track and trace.",
    "tracking_change_rejected": "{shop} rejected the new track and trace: {reason}",
    "tracking_change_processing": "{shop} is processing the track and trace.",
    "tracking_change_failed": "{shop} did not accept the track and trace ({outcome}): {reason}",
    # Why an import skipped an order (the import page lists them by reason)
    "order_malformed": "malformed order from {shop}: {reason}",
    "skip_shop_fulfils": (
        "Fulfilment by {shop} (FBB): {shop} ships it from its own warehouse, there is nothing for you to ship"
    ),
    "skip_shop_label": "Verzenden via bol (VVB): shipped with a label bought from {shop}, whose tracking {shop} knows already",
    "skip_not_own": "no item for you to ship: {shop} ships the items itself (FBB) or with its own label (VVB)",
    "skip_done": "nothing left to ship: every item was shipped or cancelled at {shop} before the hub saw the order",
}

_PARAM = re.compile(r"\{(\w+)\}")


def message_text(message_code: str, params: Mapping[str, object] | None = None) -> str:
    """The English text of a catalogued message (``MESSAGES``) with its parameters filled in."""
    return MESSAGES[message_code].format_map({name: str(value) for name, value in (params or {}).items()})


#: The longest text ``read_message`` reads: a longer one is not taken for a catalogued message.
READ_LIMIT = 4096
#: The longest a parameter other than ``reason`` may be (the hub's short names: a shop, a place, an item).
NAME_LIMIT = 200


def _pattern(template: str) -> re.Pattern[str]:
    """The expression that reads ``template``'s parameters back, in time linear in the text's length.

    A name (any parameter but ``reason``) takes the least it can, at most ``NAME_LIMIT``
    characters, and keeps it (an atomic group with the literal after it): no later failure makes
    it try longer, which is what made a text of many repeated fragments take seconds. The last
    name of a template is the exception: it ends where the text ends, so it may hold its own
    closing literal (a place "the bol.com Seller Dashboard" before a final "."). ``reason`` (the
    shop's own words) takes all it can: it may quote this very template, whose own literal after
    it is the last one in the text.
    """
    pieces = _PARAM.split(template)
    literals, names = pieces[0::2], pieces[1::2]
    parts, seen = [re.escape(literals[0])], set()
    for at, name in enumerate(names):
        literal, last = re.escape(literals[at + 1]), at == len(names) - 1
        if name in seen:
            parts.append(f"(?P={name}){literal}")
        elif name == "reason":
            parts.append(f"(?P<reason>.+){literal}")
        elif last or not literal:
            parts.append(f"(?P<{name}>.{{1,{NAME_LIMIT}}}?){literal}")
        else:
            parts.append(f"(?>(?P<{name}>.{{1,{NAME_LIMIT}}}?){literal})")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


_PATTERNS = {message_code: _pattern(template) for message_code, template in MESSAGES.items()}


def read_message(text: str) -> tuple[str, dict[str, str]] | None:
    """The message code and parameters of a text made from ``MESSAGES``; ``None`` for any other text.

    ``reason`` may hold anything (the shop's own words, quoting other messages even); the other
    parameters are short names (at most ``NAME_LIMIT`` characters). Where a text fits several
    templates, the one that leaves the other parameters shortest made it. A text longer than
    ``READ_LIMIT`` is taken as no catalogued one: the pages show it as it is.
    """
    if len(text) > READ_LIMIT:
        return None
    best: tuple[int, str, dict[str, str]] | None = None
    for message_code, pattern in _PATTERNS.items():
        found = pattern.fullmatch(text)
        if found:
            params = found.groupdict()
            named = sum(len(value) for name, value in params.items() if name != "reason")
            if best is None or named < best[0]:
                best = (named, message_code, params)
    return (best[1], best[2]) if best else None


class HubError(Exception):
    """Base of every error the hub raises on purpose.

    ``message_code`` and ``params``: the catalogued message (``MESSAGES``) the message was made
    from, when it was (see ``coded``); the JSON API passes them on, the pages translate them.
    """

    #: Short machine-readable code, used by the JSON API.
    code = "hub_error"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        message_code: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.message_code = message_code
        self.params = {name: str(value) for name, value in (params or {}).items()}

    @classmethod
    def coded(cls, message_code: str, params: Mapping[str, object] | None = None, **kwargs: Any) -> Self:
        """This error with a catalogued message: the text from ``MESSAGES``, the code and parameters kept.

        ``kwargs`` go to the error's constructor (``detail``, ``retry_after``, ``field``).
        """
        return cls(message_text(message_code, params), message_code=message_code, params=params, **kwargs)


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

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        field: str | None = None,
        message_code: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, detail=detail, message_code=message_code, params=params)
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
    """A failure that may pass: retry later with backoff.

    ``given_up``: a retry loop (``core.hubapi.retrying``) repeated the call and gave up, so no
    loop around it repeats it again (a token fetch inside a call's attempt, for one).
    """

    code = "transient"
    given_up = False

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        retry_after: float | None = None,
        message_code: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, detail=detail, message_code=message_code, params=params)
        self.retry_after = retry_after


class ConnectorNotReady(TransientError):
    """The shop is down, slow or answering 5xx: the connection is not ready, retry with backoff."""

    code = "not_ready"


class RateLimited(TransientError):
    """The shop throttled the call (HTTP 429); retry after ``retry_after`` seconds."""

    code = "rate_limited"


def status_error(status: int) -> type[ConnectorError]:
    """The one table: the connector error the hub acts on for an HTTP status from a shop."""
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return ConnectorAuthFailed
    if status == 408 or status >= 500:
        return ConnectorNotReady
    if 400 <= status < 500:
        return ConnectorRejected
    return ConnectorError


def error_for_status(
    status: int,
    message: str,
    *,
    detail: str | None = None,
    retry_after: float | None = None,
    message_code: str | None = None,
    params: Mapping[str, object] | None = None,
) -> ConnectorError:
    """Map an HTTP status from a shop to the connector error the hub acts on (``message_code`` and ``params`` as ``HubError``'s)."""
    coded: dict[str, Any] = {"detail": detail, "message_code": message_code, "params": params}
    kind = status_error(status)
    if issubclass(kind, TransientError):
        return kind(message, retry_after=retry_after, **coded)
    return kind(message, **coded)


#: The catalogued message of each kind in the table, for ``shop_error``.
_STATUS_MESSAGES: dict[type[ConnectorError], str] = {
    RateLimited: "shop_throttled",
    ConnectorAuthFailed: "access_refused",
    ConnectorNotReady: "shop_not_answering",
    ConnectorRejected: "request_rejected",
    ConnectorError: "shop_not_answering",
}


def shop_error(
    status: int,
    shop: str,
    reason: str,
    *,
    detail: str | None = None,
    retry_after: float | None = None,
    rejected: type[ConnectorRejected] = ConnectorRejected,
    **extra: Any,
) -> ConnectorError:
    """``error_for_status`` with the catalogue's message for the status (``MESSAGES``): what most shop errors need.

    ``shop`` is the shop's name and ``reason`` its own words (the refused access's, the rejected
    request's). A rejection is made a ``rejected`` (a connector's subclass), which alone is given
    ``extra`` (what it keeps of the shop's answer).
    """
    kind = status_error(status)
    message_code = _STATUS_MESSAGES[kind]
    params = {"shop": shop, "reason": reason} if message_code in ("access_refused", "request_rejected") else {"shop": shop}
    if kind is ConnectorRejected:
        return rejected.coded(message_code, params, detail=detail, **extra)
    if issubclass(kind, TransientError):
        return kind.coded(message_code, params, detail=detail, retry_after=retry_after)
    return kind.coded(message_code, params, detail=detail)
