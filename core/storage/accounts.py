"""Accounts: the carrier's customers, who own connections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.contract.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class Account:
    """A carrier account."""

    id: int
    name: str
    created_at: datetime


async def create_account(db: asyncpg.Connection | asyncpg.Pool, name: str) -> Account:
    """Create an account; names are unique."""
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise InvalidInput("An account name must be 1 to 200 printable characters.")
    try:
        row = await db.fetchrow("insert into accounts (name) values ($1) returning *", name)
    except asyncpg.UniqueViolationError as err:
        raise Conflict(f"An account named {name!r} exists already: pick another name.") from err
    return Account(**dict(row))


async def get_account(db: asyncpg.Connection | asyncpg.Pool, key: int | str) -> Account:
    """An account by id or by name."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        row = await db.fetchrow("select * from accounts where id = $1", int(key))
    else:
        row = await db.fetchrow("select * from accounts where name = $1", key)
    if row is None:
        raise NotFound(f"No account {key!r}: create it with `hub accounts create NAME`.")
    return Account(**dict(row))


async def list_accounts(db: asyncpg.Connection | asyncpg.Pool) -> list[Account]:
    """All accounts, oldest first."""
    return [Account(**dict(row)) for row in await db.fetch("select * from accounts order by id")]
