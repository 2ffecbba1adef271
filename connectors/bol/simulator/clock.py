"""The simulated clock and bol.com's way of writing times.

Real time plus an offset that tests move forward; ``freeze`` stops real time so that only
``advance`` moves it. Token expiry, rate-limit buckets, process-status settling and retention, and
every timestamp served read this clock. Time only moves forward. Listeners hear of every
``advance`` (the settler wakes to settle what became due).

bol.com writes date-times in Dutch local time with an offset (``2017-02-09T12:39:48+01:00``) and
dates as ``YYYY-MM-DD``; ``bol_time`` and ``bol_date`` do the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    AMSTERDAM: tzinfo = ZoneInfo("Europe/Amsterdam")
except (ImportError, ZoneInfoNotFoundError):  # no time zone database: winter time all year
    AMSTERDAM = timezone(timedelta(hours=1))


class SimClock:
    """Real time plus an offset; ``advance`` moves it forward, ``freeze`` stops real time."""

    def __init__(
        self,
        start: datetime | None = None,
        *,
        frozen: bool = False,
        source: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._offset = 0.0 if start is None else start.timestamp() - source()
        self._frozen_at: float | None = None
        self._listeners: list[Callable[[], None]] = []
        if frozen:
            self._frozen_at = source() if start is None else start.timestamp()

    def time(self) -> float:
        """Seconds since the epoch on the simulated clock."""
        if self._frozen_at is not None:
            return self._frozen_at
        return self._source() + self._offset

    def now(self) -> datetime:
        """The simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds
        for listener in list(self._listeners):
            listener()
        return self.now()

    def freeze(self) -> None:
        """Stop real time from passing; only ``advance`` moves the clock until ``unfreeze``."""
        if self._frozen_at is None:
            self._frozen_at = self.time()

    def unfreeze(self) -> None:
        """Let real time pass again from where the frozen clock stands."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - self._source()
            self._frozen_at = None
            for listener in list(self._listeners):
                listener()

    @property
    def frozen(self) -> bool:
        """True while real time does not move the clock."""
        return self._frozen_at is not None

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every move of the clock."""
        self._listeners.append(listener)


def bol_time(seconds: float) -> str:
    """Epoch seconds as bol.com writes a date-time: Dutch local time with its offset, whole seconds."""
    return datetime.fromtimestamp(int(seconds), AMSTERDAM).isoformat()


def bol_date(seconds: float) -> str:
    """Epoch seconds as the Dutch local date ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(seconds, AMSTERDAM).date().isoformat()


def utc_time(seconds: float) -> str:
    """Epoch seconds as ``2026-03-02T12:00:00Z`` (the admin API and jjwt's messages use UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
