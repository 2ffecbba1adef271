"""The key shop connector's per-process state: one access token per client id, reused.

bol.com blocks addresses that ask for tokens too often, so a connector must reuse each token
until shortly before it expires; the key shop connector keeps them here. ``open_connector`` makes
one ``TokenCache`` per process (per runtime); ``close_connector`` clears it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class _Entry:
    token: str
    expires_at: datetime
    secret_digest: bytes


class TokenCache:
    """One access token per client id, reused until ``margin`` before it expires.

    A token counts only for the secret it was bought with (a digest of it is kept), so a wrong
    secret for a known client id still goes to the shop. One token request per client id runs at
    a time; callers waiting for it get the token it brings.
    """

    def __init__(self, margin: timedelta) -> None:
        self.margin = margin
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(
        self,
        client_id: str,
        secret: str,
        now: Callable[[], datetime],
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        *,
        fresh: bool = False,
    ) -> str:
        """The cached token for the client, or a new one from ``fetch`` (token, seconds valid); ``fresh`` always fetches."""
        digest = hashlib.sha256(secret.encode()).digest()
        async with self._locks.setdefault(client_id, asyncio.Lock()):
            entry = self._entries.get(client_id)
            usable = (
                entry is not None
                and hmac.compare_digest(entry.secret_digest, digest)
                and now() < entry.expires_at - self.margin
            )
            if usable and not fresh:
                return entry.token  # type: ignore[union-attr]
            started = now()
            token, seconds = await fetch()
            self._entries[client_id] = _Entry(token, started + timedelta(seconds=seconds), digest)
            return token

    def drop(self, client_id: str, token: str | None = None) -> None:
        """Forget the client's token (only if it is ``token``, when given)."""
        entry = self._entries.get(client_id)
        if entry is not None and (token is None or entry.token == token):
            del self._entries[client_id]

    def clear(self) -> None:
        """Forget every token."""
        self._entries.clear()
        self._locks.clear()

    def __len__(self) -> int:
        return len(self._entries)
