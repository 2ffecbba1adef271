"""The simulated clock: real time plus an offset that tests can move forward.

Everything time-based in the simulator reads this clock: token buckets, authorisation-code and
access-token expiry, the 2-minute rule of searchOrders, pagination-token expiry and the timestamps
it stamps on orders. Time only moves forward, so a cursor taken from the simulator never sees the
past change under it.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.I)


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

    def seconds(self) -> int:
        """The simulated time in whole seconds: the resolution of every timestamp served."""
        return int(self.time())

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds
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

    @property
    def frozen(self) -> bool:
        """True while real time does not move the clock."""
        return self._frozen_at is not None


@functools.lru_cache(maxsize=16_384)  # ship and delivery windows repeat across orders
def iso(seconds: float) -> str:
    """Format epoch seconds the way the SP-API does: ``2026-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 date-time with a UTC offset (RFC 3339) into epoch seconds."""
    if not _RFC3339.match(text):
        raise ValueError(f"{text!r} is not an ISO 8601 date-time with a time zone")
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).timestamp()
