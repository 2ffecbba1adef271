"""API tokens: created once and shown once, stored only as a digest."""

from __future__ import annotations

import hashlib
import secrets

from core.contract.errors import InvalidInput
from core.storage.database import Db

PREFIX = "hub_"


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(db: Db, account_id: int, name: str = "api") -> str:
    """Create a token for an account and return it; only its digest is stored."""
    if not name or len(name) > 100:
        raise InvalidInput("A token name must be 1 to 100 characters.")
    token = PREFIX + secrets.token_urlsafe(32)
    await db.execute(
        "insert into api_tokens (account_id, name, digest) values ($1, $2, $3)", account_id, name, digest(token)
    )
    return token


async def account_for(db: Db, token: str) -> int | None:
    """The account a token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = await db.fetchrow(
        "select id, account_id, last_used_at > now() - interval '1 minute' as fresh from api_tokens "
        "where digest = $1 and revoked_at is null",
        digest(token),
    )
    if row is None:
        return None
    if not row["fresh"]:  # a write per minute, not per request
        await db.execute("update api_tokens set last_used_at = now() where id = $1", row["id"])
    return row["account_id"]


async def account_of_digest(db: Db, token_digest: str) -> int | None:
    """The account of a live (not revoked) token given by its digest; the web session keeps only that."""
    return await db.fetchval(
        "select account_id from api_tokens where digest = $1 and revoked_at is null", token_digest
    )
