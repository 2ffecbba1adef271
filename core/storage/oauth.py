"""OAuth ``state`` rows: one per consent attempt, single use, expiring."""

from __future__ import annotations

from core.storage.database import Db


async def insert_state(db: Db, nonce: str, account_id: int, connection_id: int, ttl_seconds: int) -> None:
    """Store a new state's nonce for an account's connection; it expires after ``ttl_seconds``."""
    await db.execute(
        """
        insert into oauth_states (nonce, account_id, connection_id, expires_at)
        values ($1, $2, $3, now() + make_interval(secs => $4))
        """,
        nonce,
        account_id,
        connection_id,
        float(ttl_seconds),
    )


async def use_state(db: Db, nonce: str) -> tuple[int, int] | None:
    """Use up a live state: its account and connection ids, or ``None`` when expired, used or unknown."""
    row = await db.fetchrow(
        """
        update oauth_states set used_at = now()
        where nonce = $1 and used_at is null and expires_at > now()
        returning account_id, connection_id
        """,
        nonce,
    )
    return (row["account_id"], row["connection_id"]) if row is not None else None


async def delete_expired(db: Db) -> None:
    """Delete states that expired more than a day ago."""
    await db.execute("delete from oauth_states where expires_at < now() - interval '1 day'")
