"""Coordination across the hub's processes, offered to connectors: shared token buckets and secrets.

Connectors never touch the database, yet a shop's rate limit and an access token belong to the
shop account, not to one process: every ``hub serve`` and every CLI command on one PostgreSQL
must keep one account's usage plan together and refresh its token once. ``Coordination`` is that
service; a connector finds it as ``context.coordination`` (and ``setup.coordination`` in
``open_connector``), its keys its own (core puts the connector id in front of them).

- ``take(key, rate, burst, max_wait)``: one token from a bucket every process shares; the answer
  says how long to wait before spending it. One statement, one round trip per call, on
  PostgreSQL's clock (the processes' clocks may differ).
- ``throttled(key, rate, burst, hold)``: the shop said the bucket is empty (HTTP 429); every process
  waits for the refill, and at least ``hold`` seconds (its ``Retry-After``).
- ``secret(key, fetch)``: a short-lived secret (an access token) every process shares, encrypted
  with the hub's keys, kept until it expires; when there is none, one caller at a time runs
  ``fetch`` (a transaction advisory lock across processes) and the others read what it stored.
  Each process also keeps it in memory until it expires, so a valid one costs no round trip.
- ``forget(key, stale)``: drop a secret the shop refused (only if it is still ``stale``: another
  process may have renewed it meanwhile) or that is no longer wanted.

``DatabaseCoordination`` is the one core gives connectors; ``MemoryCoordination`` does the same
within one process (the contract kit, contexts built by hand in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import asyncpg

from core.contract.errors import ConfigError, TransientError
from core.infra.crypto import Vault
from core.storage import coordination as store
from core.storage.coordination import Slot
from core.storage.database import DATABASE_FAULTS

__all__ = ["Coordination", "DatabaseCoordination", "Fetch", "MemoryCoordination", "Slot"]

#: What ``secret`` calls when it has no valid secret: a new one and the seconds it stays valid.
Fetch = Callable[[], Awaitable[tuple[str, float]]]


def _check_plan(rate: float, burst: float) -> None:
    if not (rate > 0 and math.isfinite(rate)) or not (burst >= 1 and math.isfinite(burst)):
        raise ValueError(f"a token bucket needs a rate above 0 and a burst of at least 1, not {rate} and {burst}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Coordination(ABC):
    """Token buckets and short-lived secrets shared by every process of the hub (see the module docstring)."""

    @abstractmethod
    async def take(self, key: str, rate: float, burst: float, max_wait: float = math.inf) -> Slot:
        """Take a token from the bucket ``key`` (``rate`` tokens a second, at most ``burst``, full when new).

        Returns the seconds to wait before spending it (0 when one is free) and whether it was
        taken: when the wait would be over ``max_wait`` nothing is taken and ``wait`` says how
        long it would have been (a retry-after). A token not spent after all is lost, the safe side.
        """

    @abstractmethod
    async def throttled(self, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
        """The shop refused a call (HTTP 429): empty the bucket ``key`` for ``hold`` seconds at least; return the seconds until its next token."""

    @abstractmethod
    async def secret(self, key: str, fetch: Fetch) -> str:
        """The valid secret under ``key``, or the one ``fetch`` returns (run by one caller at a time, stored for all)."""

    @abstractmethod
    async def forget(self, key: str, stale: str | None = None) -> None:
        """Drop the secret under ``key``; with ``stale``, only while it is still that value."""

    def held(self, key: str) -> str | None:
        """The secret under ``key`` if this process holds a valid copy in memory (no round trip, no await), else ``None``."""
        return None

    def scoped(self, namespace: str) -> Coordination:
        """The same service with every key under ``namespace`` (core gives each connector its own)."""
        return _Scoped(self, namespace)


class _Scoped(Coordination):
    def __init__(self, inner: Coordination, namespace: str) -> None:
        self._inner, self._prefix = inner, f"{namespace}:"

    async def take(self, key: str, rate: float, burst: float, max_wait: float = math.inf) -> Slot:
        return await self._inner.take(self._prefix + key, rate, burst, max_wait)

    async def throttled(self, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
        return await self._inner.throttled(self._prefix + key, rate, burst, hold)

    async def secret(self, key: str, fetch: Fetch) -> str:
        return await self._inner.secret(self._prefix + key, fetch)

    async def forget(self, key: str, stale: str | None = None) -> None:
        await self._inner.forget(self._prefix + key, stale)

    def held(self, key: str) -> str | None:
        return self._inner.held(self._prefix + key)


@dataclass
class _Held:
    value: str
    expires: float  # on the process's monotonic clock


class _Locks:
    """One asyncio lock per key, so that a process runs one refresh per key at a time."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, key: str) -> asyncio.Lock:
        # The process may run several event loops in turn (CLI commands, tests); a lock belongs to one.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._locks = loop, {}
        return self._locks.setdefault(key, asyncio.Lock())


class MemoryCoordination(Coordination):
    """``Coordination`` within one process: what a single process, the contract kit and hand-built contexts use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)
        self._secrets: dict[str, _Held] = {}
        self._locks = _Locks()

    def _refilled(self, key: str, rate: float, burst: float) -> float:
        now = self._clock()
        tokens, since = self._buckets.get(key, (burst, now))
        return min(burst, tokens + max(0.0, now - since) * rate)

    async def take(self, key: str, rate: float, burst: float, max_wait: float = math.inf) -> Slot:
        _check_plan(rate, burst)
        tokens = self._refilled(key, rate, burst)
        taken = tokens - 1 >= -max_wait * rate
        if taken:
            tokens -= 1
        self._buckets[key] = (tokens, self._clock())
        return Slot(wait=max(0.0, (-tokens if taken else 1 - tokens) / rate), taken=taken)

    async def throttled(self, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
        _check_plan(rate, burst)
        tokens = min(self._refilled(key, rate, burst), 0.0, 1 - hold * rate)
        self._buckets[key] = (tokens, self._clock())
        return (1 - tokens) / rate

    def held(self, key: str) -> str | None:
        held = self._secrets.get(key)
        return held.value if held is not None and held.expires > self._clock() else None

    async def secret(self, key: str, fetch: Fetch) -> str:
        held = self._secrets.get(key)
        if held is not None and held.expires > self._clock():
            return held.value
        async with self._locks(key):
            held = self._secrets.get(key)
            if held is not None and held.expires > self._clock():
                return held.value
            value, seconds = await fetch()
            self._secrets[key] = _Held(value, self._clock() + seconds)
            return value

    async def forget(self, key: str, stale: str | None = None) -> None:
        held = self._secrets.get(key)
        if held is not None and (stale is None or held.value == stale):
            del self._secrets[key]


class _FetchFailed(Exception):
    """Carries a secret's ``fetch`` failure (the shop's or the connector's) past ``_database_answers`` unchanged."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def _database_answers() -> Iterator[None]:
    """A database fault while pacing or sharing a token passes like a shop's 5xx: a ``TransientError``.

    Raised inside a connector's hook, anything else would read as the connector's own failure
    and fail the work for good. What a secret's ``fetch`` raised passes unchanged, whatever it is.
    """
    try:
        yield
    except _FetchFailed as failed:
        raise failed.error from failed.error.__cause__
    except DATABASE_FAULTS as err:
        raise TransientError(
            "The hub's database did not answer while pacing the calls to the shop; the hub will retry.",
            detail=f"coordination: {type(err).__name__}",
        ) from err


class DatabaseCoordination(Coordination):
    """``Coordination`` for every process on one PostgreSQL (core.storage.coordination holds the SQL).

    Secrets are stored encrypted with the hub's vault; one that cannot be decrypted any more (its
    key was retired) counts as missing and is fetched again.
    """

    def __init__(self, pool: asyncpg.Pool, vault: Vault) -> None:
        self._db, self._vault = pool, vault
        self._held: dict[str, _Held] = {}
        self._locks = _Locks()

    async def take(self, key: str, rate: float, burst: float, max_wait: float = math.inf) -> Slot:
        _check_plan(rate, burst)
        with _database_answers():
            return await store.take_token(self._db, key, rate, burst, max_wait)

    async def throttled(self, key: str, rate: float, burst: float, hold: float = 0.0) -> float:
        _check_plan(rate, burst)
        with _database_answers():
            return await store.drain_bucket(self._db, key, rate, burst, hold)

    def held(self, key: str) -> str | None:
        return self._in_memory(key)

    def _in_memory(self, key: str) -> str | None:
        held = self._held.get(key)
        return held.value if held is not None and held.expires > time.monotonic() else None

    def _keep(self, key: str, value: str, seconds: float) -> str:
        self._held[key] = _Held(value, time.monotonic() + seconds)
        return value

    def _readable(self, stored: store.StoredSecret | None) -> str | None:
        if stored is None:
            return None
        try:
            value = self._vault.decrypt(stored.value)
        except ConfigError:
            return None
        return value if isinstance(value, str) else None

    async def secret(self, key: str, fetch: Fetch) -> str:
        value = self._in_memory(key)
        if value is not None:
            return value
        with _database_answers():
            return await self._shared_secret(key, fetch)

    async def _shared_secret(self, key: str, fetch: Fetch) -> str:
        async with self._locks(key):
            value = self._in_memory(key)
            if value is not None:
                return value
            stored = await store.read_secret(self._db, key)
            value = self._readable(stored)
            if value is not None and stored is not None:
                return self._keep(key, value, stored.seconds_left)
            async with self._db.acquire() as db, db.transaction():
                # One process at a time fetches; the others wait here and then read its secret.
                await store.lock_secret(db, key)
                stored = await store.read_secret(db, key)
                value = self._readable(stored)
                if value is not None and stored is not None:
                    return self._keep(key, value, stored.seconds_left)
                try:
                    value, seconds = await fetch()
                except Exception as err:
                    raise _FetchFailed(err) from err
                await store.write_secret(db, key, self._vault.encrypt(value), _digest(value), seconds)
            return self._keep(key, value, seconds)

    async def forget(self, key: str, stale: str | None = None) -> None:
        held = self._held.get(key)
        if held is not None and (stale is None or held.value == stale):
            del self._held[key]
        with _database_answers():
            await store.delete_secret(self._db, key, _digest(stale) if stale is not None else None)
