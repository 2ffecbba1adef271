"""Connecting a shop, in either connect style, and the merchant's other moves on a connection.

Consent (the shop's consent page): ``start_connect`` gives the URL, ``complete_connect`` takes the
callback; ``start_reconnect`` for a connection that needs it. Credentials (pasted fields):
``connect_with_credentials`` checks them with the shop before anything is stored, and
``reconnect_with_credentials`` replaces them for the same shop account. Both styles end in
``_store_grant``: the connection keyed by the shop account, connected, its waiting pushes queued.
Also: check, disable, enable, disconnect, settings, and the clean-up of abandoned connects.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping

import asyncpg
from pydantic import SecretStr, ValidationError

from core.contract.context import ConnectorContext
from core.contract.errors import (
    Conflict,
    ConnectorAuthFailed,
    CredentialsRefused,
    InvalidInput,
    NotFound,
    RateLimited,
    TransientError,
)
from core.contract.manifest import ConnectSpec
from core.contract.models import (
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthStart,
    Connection,
    ConnectionSettings,
    ConnectionState,
)
from core.infra import queue
from core.infra.logs import MASK, register_secret
from core.infra.queue import IMPORT as IMPORT
from core.infra.queue import PUSH as PUSH
from core.infra.queue import SETTLE as SETTLE
from core.infra.runtime import Runtime
from core.storage import connections as store
from core.usecases import lifecycle
from core.usecases.oauth import consume_state, issue_state

log = logging.getLogger(__name__)

CALLBACK_PATH = "/connect/callback"


def redirect_uri(rt: Runtime) -> str:
    """Where shops send the merchant back after consent."""
    return rt.settings.server.public_url.rstrip("/") + CALLBACK_PATH


def connect_spec(rt: Runtime, connector_id: str) -> ConnectSpec:
    """How a merchant connects this connector (its manifest's ``[connect]``); NotFound if not installed."""
    manifest = rt.connector(connector_id).manifest
    return manifest.connect if manifest is not None else ConnectSpec()


def check_fields(spec: ConnectSpec, given: Mapping[str, object], connector_name: str) -> dict[str, str]:
    """The Connect form's values, checked against the declared fields; ``InvalidInput`` names the field.

    Unknown names, missing required values, values that are not text, too long, not among the
    choices or with control characters are refused. A secret's value never appears in a message.
    """
    unknown = sorted(set(given) - {f.name for f in spec.fields})
    if unknown:
        known = ", ".join(f.name for f in spec.fields) or "none"
        raise InvalidInput(
            f"{connector_name} has no connect field {unknown[0]!r}; its fields are: {known}.", field=unknown[0]
        )
    values: dict[str, str] = {}
    for field in spec.fields:
        value = given.get(field.name)
        if value is None or value == "":
            if field.required:
                raise InvalidInput(f"Enter the {field.label.en} for {connector_name}.", field=field.name)
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"The {field.label.en} must be text.", field=field.name)
        value = value.strip()
        if len(value) > field.max_length or not value.isprintable():
            raise InvalidInput(
                f"The {field.label.en} is not valid: at most {field.max_length} printable characters.", field=field.name
            )
        if field.choices:
            value = value.upper() if value.upper() in field.choices else value
            if value not in field.choices:
                raise InvalidInput(
                    f"Choose the {field.label.en} from: {', '.join(field.choices)}.", field=field.name
                )
        values[field.name] = value
        if field.secret:
            register_secret(value)  # masked in every log line from here on
    return values


#: The connect field whose ``choices`` are the marketplaces a connector knows (``settings.marketplaces``).
MARKETPLACE_FIELD = "marketplace"


def marketplace_choices(rt: Runtime, connector_id: str) -> list[str]:
    """The marketplaces a connector declares (its ``marketplace`` connect field's choices); empty: it declares none."""
    connector = rt.connectors.get(connector_id)
    if connector is None or not connector.ok or connector.manifest is None:
        return []
    field = connector.manifest.connect.field(MARKETPLACE_FIELD)
    return list(field.choices) if field is not None else []


def check_marketplaces(rt: Runtime, connector_id: str, marketplaces: list[str]) -> list[str]:
    """The marketplaces as the connector declares them (its spelling, each once); ``InvalidInput`` names the choices.

    A connector that declares no choices takes any code its shop knows; its own hooks check them.
    """
    choices = marketplace_choices(rt, connector_id)
    if not choices:
        return list(dict.fromkeys(marketplaces))
    spelled = {choice.upper(): choice for choice in choices}
    unknown = [code for code in marketplaces if code.strip().upper() not in spelled]
    if unknown:
        raise InvalidInput(
            f"{_manifest_name(rt, connector_id)} has no marketplace {', '.join(repr(code) for code in unknown)}: "
            f"choose from {', '.join(choices)}.",
            field="marketplaces",
        )
    return list(dict.fromkeys(spelled[code.strip().upper()] for code in marketplaces))


def _declared(rt: Runtime, connector_id: str, marketplaces: list[str]) -> list[str]:
    """A grant's marketplaces that the connector declares; the others are dropped with a warning."""
    choices = {choice.upper(): choice for choice in marketplace_choices(rt, connector_id)}
    if not choices:
        return list(dict.fromkeys(marketplaces))
    dropped = [code for code in marketplaces if code.upper() not in choices]
    if dropped:
        log.warning("connector %s granted marketplaces it does not declare, left out: %s", connector_id, dropped)
    return list(dict.fromkeys(choices[code.upper()] for code in marketplaces if code.upper() in choices))


def _options(rt: Runtime, connector_id: str, spec: ConnectSpec, options: Mapping[str, object]) -> dict[str, str]:
    """A consent connect's options: checked against the fields; a v1 manifest declared none, so passed on as text."""
    manifest = rt.connector(connector_id).manifest
    if manifest is not None and manifest.hub_api < 2 and not spec.fields:
        if any(not isinstance(v, str) or len(v) > 200 or not v.isprintable() for v in options.values()):
            raise InvalidInput("Connect options must be short printable text.")
        return {key: str(value) for key, value in options.items()}
    return check_fields(spec, options, _manifest_name(rt, connector_id))


def _manifest_name(rt: Runtime, connector_id: str) -> str:
    manifest = rt.connector(connector_id).manifest
    return manifest.name if manifest is not None else connector_id


def _require_style(rt: Runtime, connector_id: str, style: str) -> ConnectSpec:
    spec = connect_spec(rt, connector_id)
    if spec.style != style:
        how = "with the credentials from its settings" if spec.style == "credentials" else "through its consent page"
        raise InvalidInput(f"{_manifest_name(rt, connector_id)} connects {how}: use that form.")
    return spec


async def start_connect(
    rt: Runtime, account_id: int, connector_id: str, options: Mapping[str, object] | None = None
) -> tuple[Connection, str]:
    """Create a pending connection and return it with the shop's consent URL (connect style consent)."""
    spec = _require_style(rt, connector_id, "consent")
    values = _options(rt, connector_id, spec, options or {})
    # The marketplace chosen at Connect is the one to import from, until the merchant changes it.
    chosen = [values["marketplace"]] if values.get("marketplace") else []
    async with rt.db.pool.acquire() as db, db.transaction():
        connection = await store.create_connection(db, account_id, connector_id, ConnectionSettings(marketplaces=chosen))
        url = await _consent_url(rt, db, connection, values)
    return connection, url


async def start_reconnect(
    rt: Runtime,
    account_id: int | None,
    connection_id: int,
    options: dict[str, str] | None = None,
    shop_params: Mapping[str, str] | None = None,
) -> str:
    """The consent URL to authorise an existing connection again.

    ``options``: the Connect form's fields, checked against the manifest. ``shop_params``: what
    the shop sent to its Login URI (a re-authorisation the shop starts), passed to the connector
    with the options as they came, but for their size.
    """
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    if connection.state is ConnectionState.DISCONNECTED:
        raise Conflict(f"Connection {connection_id} is disconnected: connect the shop again as a new connection.")
    spec = _require_style(rt, connection.connector, "consent")
    known = {"marketplace": connection.settings.marketplaces[0]} if connection.settings.marketplaces else {}
    values = _options(rt, connection.connector, spec, {**known, **(options or {})})
    shop = dict(shop_params or {})
    if len(shop) > 20 or any(len(key) > 100 or len(value) > 2000 for key, value in shop.items()):
        raise InvalidInput("The shop's re-authorisation call is malformed: start from the shop again.")
    async with rt.db.pool.acquire() as db, db.transaction():
        return await _consent_url(rt, db, connection, {**shop, **values})


async def connect_with_credentials(
    rt: Runtime, account_id: int, connector_id: str, fields: Mapping[str, object]
) -> Connection:
    """Connect a shop with pasted credentials: checked with the shop first, stored only when it accepts them.

    Raises ``InvalidInput`` (naming the field) for a malformed form, ``ConnectorAuthFailed`` with
    the shop's reason when it refuses them, ``Conflict`` when this shop account is connected
    already; in each case nothing is stored.
    """
    spec = _require_style(rt, connector_id, "credentials")
    values = check_fields(spec, fields, _manifest_name(rt, connector_id))
    event_token = secrets.token_hex(32)
    draft = Connection(id=0, account_id=account_id, connector=connector_id, state=ConnectionState.PENDING)
    result = await _checked_by_shop(rt, f"account {account_id}", rt.context_with(draft, {}, event_token), values)
    settings = ConnectionSettings(marketplaces=_declared(rt, connector_id, list(result.marketplaces)))
    try:
        async with rt.db.pool.acquire() as db, db.transaction():
            connection = await store.insert_connected(
                db, rt.vault, account_id, connector_id, result.external_account_id,
                _plain(result), result.display_name, settings, event_token,
            )
    except asyncpg.UniqueViolationError as err:
        # The connector may have set something up at the shop for this new connection (an event
        # subscription to its URL): let it undo that, as for a disconnect.
        await rt.runner.disconnect(rt.context_with(draft, _plain(result), event_token))
        raise _already_connected(result) from err
    log.info("connection %s: connected with credentials", connection.id)
    return connection


async def reconnect_with_credentials(
    rt: Runtime, account_id: int | None, connection_id: int, fields: Mapping[str, object]
) -> Connection:
    """Give a connection new credentials for the same shop account; checked with the shop before they replace the old."""
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    if connection.state is ConnectionState.DISCONNECTED:
        raise Conflict(f"Connection {connection_id} is disconnected: connect the shop again as a new connection.")
    spec = _require_style(rt, connection.connector, "credentials")
    values = check_fields(spec, fields, _manifest_name(rt, connection.connector))
    result = await _checked_by_shop(rt, f"connection {connection.id}", await rt.context(connection), values)
    return await _store_grant(rt, connection, result, "new credentials checked with the shop")


#: Credentials connects one account may try per minute (each one asks the shop for a token, and
#: shops block addresses that ask too often).
CONNECT_ATTEMPTS_PER_MINUTE = 10


async def _checked_by_shop(rt: Runtime, who: str, context: ConnectorContext, values: dict[str, str]) -> Authorization:
    """The connector's grant for pasted credentials; its refusal as ``CredentialsRefused`` with the pasted values masked."""
    if not rt.connect_attempts.admit(who, CONNECT_ATTEMPTS_PER_MINUTE, rt.now().timestamp()):
        raise RateLimited("Too many connect attempts in a minute: wait a minute, then check the credentials.", retry_after=60)
    fields = AuthCredentials(fields={name: SecretStr(value) for name, value in values.items()})
    try:
        return await rt.runner.authorize_grant(context, fields)
    except ConnectorAuthFailed as err:
        reason = err.message
        for value in values.values():  # whatever the shop quoted back, the pasted values stay out
            reason = reason.replace(value, MASK)
        raise CredentialsRefused(reason) from err


def _plain(result: Authorization) -> dict[str, str]:
    return {key: value.get_secret_value() for key, value in result.credentials.items()}


def _already_connected(result: Authorization) -> Conflict:
    return Conflict(
        f"This shop account ({result.external_account_id}) is connected already: reconnect that connection instead."
    )


async def _consent_url(rt: Runtime, db: asyncpg.Connection, connection: Connection, options: dict[str, str]) -> str:
    state = await issue_state(
        db, rt.vault, connection.account_id, connection.id, rt.settings.security.state_ttl_seconds
    )
    context = await rt.context(connection, db=db)
    step = AuthStart(state=state, redirect_uri=redirect_uri(rt), options=options)
    redirect = await rt.runner.authorize_redirect(context, step)
    return redirect.url


async def complete_connect(rt: Runtime, params: dict[str, str], account_id: int | None = None) -> Connection:
    """Finish a connect from the shop's callback parameters; return the connected connection.

    ``account_id`` is the signed-in account when the callback reaches the hub in a browser
    session; a state issued to another account is refused.
    """
    grant = await consume_state(rt.db.pool, rt.vault, params.get("state"))
    if account_id is not None and grant.account_id != account_id:
        raise InvalidInput("This authorisation was started by another account: sign in with that account.")
    connection = await store.get_connection(rt.db.pool, grant.connection_id)
    if connection.state is ConnectionState.DISCONNECTED:
        raise Conflict(f"Connection {connection.id} was disconnected meanwhile: connect again.")
    context = await rt.context(connection)
    step = AuthCallback(redirect_uri=redirect_uri(rt), params=params)
    try:
        result = await rt.runner.authorize_grant(context, step)
    except ConnectorAuthFailed as err:
        await store.set_reason(rt.db.pool, connection.id, str(err))
        raise
    return await _store_grant(rt, connection, result, "authorised by the merchant")


async def _store_grant(rt: Runtime, connection: Connection, result: Authorization, reason: str) -> Connection:
    """Store a grant on an existing connection (same shop account only), connect it, queue its waiting pushes."""
    if connection.external_account_id and connection.external_account_id != result.external_account_id:
        raise InvalidInput(
            f"The shop account authorised ({result.external_account_id}) is not the one of connection "
            f"{connection.id}: sign in to the shop with the account connected before."
        )
    # A first grant imports from every marketplace the shop account sells in (the one picked at
    # Connect only chose the consent page); a reconnect keeps what the merchant narrowed it to.
    granted = _declared(rt, connection.connector, list(result.marketplaces))
    settings = connection.settings
    if granted and (not connection.external_account_id or not settings.marketplaces):
        settings = settings.model_copy(update={"marketplaces": granted})
    try:
        async with rt.db.pool.acquire() as db, db.transaction():
            await store.store_authorization(
                db, rt.vault, connection.id, result.external_account_id, _plain(result), result.display_name, settings
            )
            await lifecycle.transition(db, connection.id, ConnectionState.CONNECTED, reason)
            # Pushes that waited for this reconnect go out again.
            await queue.resume_connection(db, connection.id)
    except asyncpg.UniqueViolationError as err:
        raise _already_connected(result) from err
    return await store.get_connection(rt.db.pool, connection.id)


async def delete_abandoned_connects(rt: Runtime) -> int:
    """Delete connects never finished whose consent links have all expired; return how many."""
    count = await store.delete_abandoned(rt.db.pool)
    if count:
        log.info("deleted %s connects never finished", count)
    return count


#: The kinds of work whose outcome at the shop may move a connection (``shop_answered``): the
#: jobs' (``IMPORT``, ``PUSH``, ``SETTLE``) and a merchant's check.
CHECK = "check"


async def shop_answered(
    rt: Runtime, connection_id: int, work: str, fault: Exception | None = None, in_a_row: int = 1
) -> None:
    """What the shop's answer to some work does to the connection: the one policy, for every kind of work.

    - The shop refused the credentials (``ConnectorAuthFailed``), whatever the work: the connection
      needs a reconnect (``auth_required``); its imports and pushes wait.
    - An import failed ``jobs.import_max_attempts`` times in a row (``in_a_row``) with a transient
      fault: ``error``, with the reason; imports go on by schedule and pushes go on.
    - An import succeeded: back from ``error`` to ``connected``. A check that passed also clears
      ``auth_required``.
    - Anything else (a push's or a check's transient fault, a rejected parcel) leaves the state.

    Each move happens only from the states it names, under the row's lock: a merchant who
    disabled the connection meanwhile keeps it disabled.
    """
    if isinstance(fault, ConnectorAuthFailed):
        may = {state for state in ConnectionState if lifecycle.allowed(state, ConnectionState.AUTH_REQUIRED)}
        await _move_if(rt, connection_id, may, ConnectionState.AUTH_REQUIRED, str(fault))
    elif isinstance(fault, TransientError) and work == IMPORT and in_a_row >= rt.settings.jobs.import_max_attempts:
        reason = f"imports failed {in_a_row} times in a row: {fault}"
        await _move_if(rt, connection_id, {ConnectionState.CONNECTED}, ConnectionState.ERROR, reason)
    elif fault is None and work == IMPORT:
        await _move_if(rt, connection_id, {ConnectionState.ERROR}, ConnectionState.CONNECTED, "an import succeeded again")
    elif fault is None and work == CHECK:
        # Only from the states this check began in: a merchant who disabled it meanwhile keeps it so.
        await _move_if(
            rt, connection_id, {ConnectionState.ERROR, ConnectionState.AUTH_REQUIRED}, ConnectionState.CONNECTED,
            "check passed",
        )


async def _move_if(
    rt: Runtime, connection_id: int, states: set[ConnectionState], target: ConnectionState, reason: str
) -> None:
    """Move a connection to ``target`` only if it is in one of ``states`` under its row lock; else leave it."""
    async with rt.db.pool.acquire() as db, db.transaction():
        with contextlib.suppress(Conflict, NotFound):
            await lifecycle.transition(db, connection_id, target, reason, expected=frozenset(states))


async def check(rt: Runtime, account_id: int | None, connection_id: int) -> Connection:
    """Check a connection's credentials with its shop and record the outcome."""
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    try:
        await rt.runner.check_connection(await rt.context(connection))
    except ConnectorAuthFailed as err:
        await shop_answered(rt, connection_id, CHECK, err)
        raise
    await shop_answered(rt, connection_id, CHECK)
    return await store.get_connection(rt.db.pool, connection_id)


#: The states a merchant can disable a connection from.
DISABLEABLE = frozenset({ConnectionState.CONNECTED, ConnectionState.ERROR, ConnectionState.AUTH_REQUIRED})


async def disable(rt: Runtime, account_id: int | None, connection_id: int) -> Connection:
    """Pause a connection: no imports, no pushes, credentials kept; ``enable`` resumes it."""
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    if connection.state is ConnectionState.DISABLED:
        return connection
    if connection.state not in DISABLEABLE:
        raise Conflict(
            f"Connection {connection_id} is {connection.state.value}; only a connected one can be disabled"
            + (f": {lifecycle.ACTIONS[connection.state]}" if lifecycle.ACTIONS[connection.state] else ".")
        )
    async with rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(
            db, connection_id, ConnectionState.DISABLED, "disabled by the merchant", expected=DISABLEABLE
        )
    return await store.get_connection(rt.db.pool, connection_id)


async def enable(rt: Runtime, account_id: int | None, connection_id: int) -> Connection:
    """Resume a disabled connection: back to connected (or to auth_required, if it was), pushes queued.

    A connection disabled while the shop refused its credentials still needs a reconnect: it
    goes back to auth_required, and its pushes wait for that.
    """
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    if connection.state is not ConnectionState.DISABLED:
        if connection.state.working:
            return connection
        raise Conflict(
            f"Connection {connection_id} is {connection.state.value}, not disabled: "
            f"{lifecycle.ACTIONS[connection.state] or 'connect the shop again with a new connection.'}"
        )
    async with rt.db.pool.acquire() as db, db.transaction():
        before = await store.state_before(db, connection_id, ConnectionState.DISABLED)
        target = ConnectionState.AUTH_REQUIRED if before is ConnectionState.AUTH_REQUIRED else ConnectionState.CONNECTED
        await lifecycle.transition(
            db, connection_id, target, "enabled by the merchant", expected=frozenset({ConnectionState.DISABLED})
        )
        if target.working:
            await queue.resume_connection(db, connection_id)
    return await store.get_connection(rt.db.pool, connection_id)


async def disconnect(rt: Runtime, account_id: int | None, connection_id: int) -> Connection:
    """Disconnect: tell the connector, forget the credentials, keep the history."""
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    if connection.state is ConnectionState.DISCONNECTED:
        return connection
    await rt.runner.disconnect(await rt.context(connection))
    async with rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, connection_id, ConnectionState.DISCONNECTED, "disconnected by the merchant")
        await store.clear_credentials(db, connection_id)
    return await store.get_connection(rt.db.pool, connection_id)


async def change_settings(
    rt: Runtime, account_id: int | None, connection_id: int, changes: dict[str, object]
) -> Connection:
    """Change a connection's settings (update_tracking, marketplaces, import interval).

    Marketplaces must be among those the connector declares (``InvalidInput`` names them);
    bad input changes nothing.
    """
    connection = await store.get_connection(rt.db.pool, connection_id, account_id)
    marketplaces = changes.get("marketplaces")
    if isinstance(marketplaces, list) and all(isinstance(code, str) for code in marketplaces):
        changes = {**changes, "marketplaces": check_marketplaces(rt, connection.connector, marketplaces)}
    try:
        settings = ConnectionSettings.model_validate({**connection.settings.model_dump(), **changes})
    except ValidationError as err:
        problem = err.errors()[0]  # one line a merchant can act on, not pydantic's report
        where = ".".join(str(part) for part in problem["loc"]) or "settings"
        raise InvalidInput(f"Invalid connection setting {where}: {problem['msg']}.") from err
    await store.update_settings(rt.db.pool, connection_id, settings)
    return await store.get_connection(rt.db.pool, connection_id)
