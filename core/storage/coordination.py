"""Shared token buckets and short-lived secrets in PostgreSQL, for core.infra.coordination.

Every statement is one round trip and reads the time from PostgreSQL (``now()``), so processes
on machines whose clocks differ still share one bucket correctly. ``now()`` is the statement's
start; a statement that waited for another's row lock may see a time before that one's
``updated_at``, which refills nothing (``greatest(0, ...)``) rather than going back in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from core.storage.database import Db

#: First key of the two-key transaction advisory lock held while one caller refreshes a secret.
SECRET_LOCK = 0x736563  # "sec"

# The bucket's tokens at the statement's time: what it held, refilled since at its old rate.
_REFILLED = "least(excluded.burst, b.tokens + greatest(0, extract(epoch from now() - b.updated_at)) * b.rate)"


@dataclass(frozen=True)
class Slot:
    """What taking a token gave: the seconds until it may be spent, and whether it was taken at all."""

    wait: float
    taken: bool


async def take_token(db: Db, key: str, rate: float, burst: float, max_wait: float) -> Slot:
    """Take one token from the bucket ``key`` unless the wait for it would exceed ``max_wait``.

    A new bucket starts full. Tokens below zero are reserved by callers still waiting; a caller's
    wait is the time until the bucket has refilled to its token.
    """
    row = await db.fetchrow(
        f"""
        insert into shared_buckets as b (key, tokens, rate, burst, updated_at, taken)
        values ($1, $3::float8 - 1, $2::float8, $3::float8, now(), true)
        on conflict (key) do update set
            tokens = {_REFILLED} - case when {_REFILLED} - 1 >= -$4::float8 * excluded.rate then 1 else 0 end,
            taken = {_REFILLED} - 1 >= -$4::float8 * excluded.rate,
            rate = excluded.rate,
            burst = excluded.burst,
            updated_at = greatest(b.updated_at, now())
        returning tokens, taken
        """,
        key,
        rate,
        burst,
        max_wait,
    )
    tokens, taken = row["tokens"], row["taken"]
    return Slot(wait=max(0.0, (-tokens if taken else 1 - tokens) / rate), taken=taken)


async def drain_bucket(db: Db, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
    """The shop says the bucket is empty: no token left from now, none for ``hold`` seconds; return the seconds until the next.

    ``hold`` (a 429's ``Retry-After``) holds every process: the bucket is left owing the tokens
    of that time, so whoever takes the next one waits for it.
    """
    tokens = await db.fetchval(
        f"""
        insert into shared_buckets as b (key, tokens, rate, burst, updated_at, taken)
        values ($1, least(0, 1 - $4::float8 * $2::float8), $2::float8, $3::float8, now(), false)
        on conflict (key) do update set
            tokens = least({_REFILLED}, 0, 1 - $4::float8 * excluded.rate), rate = excluded.rate,
            burst = excluded.burst, updated_at = greatest(b.updated_at, now())
        returning tokens
        """,
        key,
        rate,
        burst,
        hold,
    )
    return max(0.0, (1 - tokens) / rate)


@dataclass(frozen=True)
class StoredSecret:
    """A shared secret as stored: encrypted, its digest, and the seconds it stays valid."""

    value: bytes
    digest: str
    seconds_left: float


async def read_secret(db: Db, key: str) -> StoredSecret | None:
    """The secret under ``key`` while it is valid, else ``None``."""
    row = await db.fetchrow(
        """
        select value, digest, extract(epoch from expires_at - now())::float8 as seconds_left
        from shared_secrets where key = $1 and expires_at > now()
        """,
        key,
    )
    return StoredSecret(bytes(row["value"]), row["digest"], row["seconds_left"]) if row else None


async def lock_secret(db: asyncpg.Connection, key: str) -> None:
    """Wait for, then hold until the transaction ends, the right to refresh the secret ``key``."""
    await db.execute("select pg_advisory_xact_lock($1, hashtext($2))", SECRET_LOCK, key)


async def write_secret(db: Db, key: str, value: bytes, digest: str, seconds: float) -> None:
    """Store the secret under ``key``, valid ``seconds`` from now."""
    await db.execute(
        """
        insert into shared_secrets (key, value, digest, expires_at)
        values ($1, $2, $3, now() + make_interval(secs => $4))
        on conflict (key) do update set
            value = excluded.value, digest = excluded.digest, expires_at = excluded.expires_at
        """,
        key,
        value,
        digest,
        seconds,
    )


async def delete_secret(db: Db, key: str, digest: str | None = None) -> None:
    """Drop the secret under ``key`` (only if its digest is ``digest``, when given)."""
    await db.execute(
        "delete from shared_secrets where key = $1 and ($2::text is null or digest = $2)", key, digest
    )


async def delete_stale(db: Db) -> None:
    """Forget expired secrets, and buckets untouched for a day (full again: a new one is the same)."""
    await db.execute("delete from shared_secrets where expires_at < now()")
    await db.execute("delete from shared_buckets where updated_at < now() - interval '1 day'")
