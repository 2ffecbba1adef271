"""OAuth ``state`` values: signed, single use, expiring, bound to an account and a connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from core.contract.errors import InvalidInput
from core.infra.crypto import Vault
from core.storage import oauth as store

_PURPOSE = "hub oauth state v1"


@dataclass(frozen=True)
class StateGrant:
    """Whom a consumed state belonged to."""

    account_id: int
    connection_id: int


def _signature(vault: Vault, nonce: str) -> str:
    digest = hmac.new(vault.derive(_PURPOSE), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def issue_state(
    db: asyncpg.Connection | asyncpg.Pool, vault: Vault, account_id: int, connection_id: int, ttl_seconds: int
) -> str:
    """Create a state for one connect attempt; it expires after ``ttl_seconds``."""
    nonce = secrets.token_urlsafe(24)
    await store.insert_state(db, nonce, account_id, connection_id, ttl_seconds)
    return f"{nonce}.{_signature(vault, nonce)}"


async def consume_state(db: asyncpg.Connection | asyncpg.Pool, vault: Vault, state: str | None) -> StateGrant:
    """Check a state's signature and use it up; a forged, expired or used state is refused."""
    # Non-ASCII never comes from issue_state (and hmac.compare_digest refuses it with a TypeError).
    if not state or len(state) > 200 or not state.isascii() or state.count(".") != 1:
        raise InvalidInput("The authorisation link is invalid: start connecting again.")
    nonce, signature = state.split(".")
    if not hmac.compare_digest(signature, _signature(vault, nonce)):
        raise InvalidInput("The authorisation link is invalid: start connecting again.")
    used = await store.use_state(db, nonce)
    if used is None:
        raise InvalidInput("The authorisation link has expired or was used already: start connecting again.")
    return StateGrant(*used)
