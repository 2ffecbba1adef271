"""Connections: rows with state, settings and encrypted credentials."""

from __future__ import annotations

from typing import Any

import asyncpg

from core.contract.errors import NotFound
from core.contract.models import Connection, ConnectionSettings, ConnectionState
from core.infra.crypto import Vault
from core.storage.database import Db


def to_connection(row: asyncpg.Record) -> Connection:
    """Build the model from a ``connections`` row."""
    return Connection(
        id=row["id"],
        account_id=row["account_id"],
        connector=row["connector"],
        state=ConnectionState(row["state"]),
        reason=row["reason"],
        external_account_id=row["external_account_id"],
        settings=ConnectionSettings.model_validate(row["settings"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def create_connection(db: Db, account_id: int, connector: str, settings: ConnectionSettings) -> Connection:
    """A new connection in ``pending_authorization``."""
    row = await db.fetchrow(
        """
        insert into connections (account_id, connector, state, reason, settings)
        values ($1, $2, 'pending_authorization', 'waiting for the merchant to authorise', $3)
        returning *
        """,
        account_id,
        connector,
        settings.model_dump(mode="json"),
    )
    await db.execute(
        "insert into connection_events (connection_id, to_state, reason) values ($1, $2, $3)",
        row["id"],
        row["state"],
        row["reason"],
    )
    return to_connection(row)


async def insert_connected(
    db: Db,
    vault: Vault,
    account_id: int,
    connector: str,
    external_account_id: str,
    credentials: dict[str, str],
    display_name: str | None,
    settings: ConnectionSettings,
    event_token: str,
) -> Connection:
    """A new connection, connected at once (its credentials were checked with the shop before)."""
    row = await db.fetchrow(
        """
        insert into connections (account_id, connector, state, reason, external_account_id, credentials,
                                 display_name, settings, event_token)
        values ($1, $2, 'connected', 'credentials checked with the shop', $3, $4, $5, $6, $7)
        returning *
        """,
        account_id,
        connector,
        external_account_id,
        vault.encrypt(credentials),
        display_name,
        settings.model_dump(mode="json"),
        event_token,
    )
    await db.execute(
        "insert into connection_events (connection_id, to_state, reason) values ($1, $2, $3)",
        row["id"],
        row["state"],
        row["reason"],
    )
    return to_connection(row)


async def delete_abandoned(db: Db) -> int:
    """Delete connections never connected whose every consent link has expired; return how many."""
    result = await db.execute(
        """
        delete from connections c
        where c.state = 'pending_authorization' and c.external_account_id is null
          and not exists (select 1 from oauth_states s where s.connection_id = c.id and s.expires_at > now())
          and c.updated_at < now() - interval '10 minutes'
        """
    )
    return int(result.split()[-1])


async def get_connection(db: Db, connection_id: int, account_id: int | None = None) -> Connection:
    """A connection by id; with ``account_id``, only that account's (else NotFound)."""
    row = await db.fetchrow(
        "select * from connections where id = $1 and ($2::bigint is null or account_id = $2)",
        connection_id,
        account_id,
    )
    if row is None:
        raise NotFound(f"No connection {connection_id}: list them with `hub connections list`.")
    return to_connection(row)


async def list_connections(db: Db, account_id: int | None = None) -> list[Connection]:
    """Connections, of one account or all, newest last."""
    rows = await db.fetch(
        "select * from connections where $1::bigint is null or account_id = $1 order by id", account_id
    )
    return [to_connection(row) for row in rows]


async def live_connections_of(db: Db, connector: str, external_account_id: str) -> list[Connection]:
    """The connections, of any account, to one shop account that are not disconnected."""
    rows = await db.fetch(
        """
        select * from connections
        where connector = $1 and external_account_id = $2 and state <> 'disconnected'
        order by id
        """,
        connector,
        external_account_id,
    )
    return [to_connection(row) for row in rows]


async def store_authorization(
    db: Db,
    vault: Vault,
    connection_id: int,
    external_account_id: str,
    credentials: dict[str, str],
    display_name: str | None,
    settings: ConnectionSettings,
) -> None:
    """Store the shop account id and encrypted credentials of a connection."""
    await db.execute(
        """
        update connections set external_account_id = $2, credentials = $3, display_name = $4,
               settings = $5, updated_at = now()
        where id = $1
        """,
        connection_id,
        external_account_id,
        vault.encrypt(credentials),
        display_name,
        settings.model_dump(mode="json"),
    )


async def load_credentials(db: Db, vault: Vault, connection_id: int) -> dict[str, Any]:
    """The decrypted credentials of a connection (empty when none are stored)."""
    token = await db.fetchval("select credentials from connections where id = $1", connection_id)
    return vault.decrypt(token) if token is not None else {}


async def load_access(db: Db, vault: Vault, connection_id: int) -> tuple[dict[str, Any], str | None]:
    """A connection's decrypted credentials (empty when none) and its event token, in one read."""
    row = await db.fetchrow("select credentials, event_token from connections where id = $1", connection_id)
    if row is None:
        return {}, None
    credentials = vault.decrypt(row["credentials"]) if row["credentials"] is not None else {}
    return credentials, row["event_token"]


async def by_event_token(db: Db, event_token: str) -> Connection | None:
    """The connection whose event route carries ``event_token``, if any."""
    row = await db.fetchrow("select * from connections where event_token = $1", event_token)
    return to_connection(row) if row is not None else None


async def clear_credentials(db: Db, connection_id: int) -> None:
    """Forget a connection's credentials."""
    await db.execute("update connections set credentials = null, updated_at = now() where id = $1", connection_id)


async def update_settings(db: Db, connection_id: int, settings: ConnectionSettings) -> None:
    """Replace a connection's settings."""
    await db.execute(
        "update connections set settings = $2, updated_at = now() where id = $1",
        connection_id,
        settings.model_dump(mode="json"),
    )


async def display_name(db: Db, connection_id: int) -> str | None:
    """The shop's name for the connected account, if it gave one."""
    return await db.fetchval("select display_name from connections where id = $1", connection_id)


async def lock_state(db: asyncpg.Connection, connection_id: int) -> ConnectionState | None:
    """A connection's state under its row lock (held to the transaction's end); ``None`` if it does not exist."""
    state = await db.fetchval("select state from connections where id = $1 for update", connection_id)
    return ConnectionState(state) if state is not None else None


async def share_state(db: asyncpg.Connection, connection_id: int) -> ConnectionState:
    """A connection's state under its row's share lock: no state change commits before the transaction ends."""
    return ConnectionState(await db.fetchval("select state from connections where id = $1 for share", connection_id))


async def lock_row(db: asyncpg.Connection, connection_id: int) -> None:
    """Lock a connection's row to the transaction's end (two processes never decide for it at once)."""
    await db.execute("select id from connections where id = $1 for update", connection_id)


async def set_state(
    db: asyncpg.Connection, connection_id: int, current: ConnectionState, target: ConnectionState, reason: str | None
) -> None:
    """Write a state change and its event row (the caller checked the move under the row lock)."""
    await db.execute(
        "update connections set state = $2, reason = $3, updated_at = now() where id = $1",
        connection_id,
        target.value,
        reason,
    )
    await db.execute(
        "insert into connection_events (connection_id, from_state, to_state, reason) values ($1, $2, $3, $4)",
        connection_id,
        current.value,
        target.value,
        reason,
    )


async def set_reason(db: Db, connection_id: int, reason: str) -> None:
    """Note why the last attempt on a connection failed, without changing its state."""
    await db.execute("update connections set reason = $2 where id = $1", connection_id, reason)


async def state_before(db: Db, connection_id: int, state: ConnectionState) -> ConnectionState | None:
    """The state a connection was in before it last entered ``state``."""
    before = await db.fetchval(
        "select from_state from connection_events where connection_id = $1 and to_state = $2 order by id desc limit 1",
        connection_id,
        state.value,
    )
    return ConnectionState(before) if before is not None else None
