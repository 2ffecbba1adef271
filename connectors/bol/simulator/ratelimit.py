"""Rate limits per endpoint, as bol.com publishes them, with its ``X-RateLimit-*`` headers.

bol.com limits each endpoint (path and method) to ``maxCapacity`` calls per ``timeToLive``
(contract §6). The simulator keeps a token bucket per (retailer, operation) that holds at most
that many calls and refills evenly over the window on the simulated clock, so 25 calls a minute
means a burst of 25, then one more every 2.4 seconds.

Every answer past the bucket carries ``X-RateLimit-Limit`` (the capacity), ``X-RateLimit-Remaining``
(whole calls left) and ``X-RateLimit-Reset`` (seconds until the bucket is full again); a refusal
is 429 with ``Retry-After`` (seconds until the next call is allowed). Limits marked unverified in
the contract use the values below; the token endpoint is not limited (bol.com publishes nothing; it
blocks addresses that ask too often, which the simulator only counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .clock import SimClock

MINUTE = 60.0
_EPSILON = 1e-6  # epoch seconds in floats carry about 1e-7 s of error
HOUR = 3600.0


@dataclass(frozen=True)
class Limit:
    """At most ``capacity`` calls per ``window`` seconds."""

    capacity: int
    window: float

    @property
    def rate(self) -> float:
        """Calls earned per second."""
        return self.capacity / self.window


#: From bol.com's rate-limit table as copied by third parties (contract §6).
LIMITS: dict[str, Limit] = {
    "get-orders": Limit(25, MINUTE),
    "get-order": Limit(25, 1.0),
    "create-shipment": Limit(25, 1.0),
    "get-shipments": Limit(25, MINUTE),
    "get-shipment": Limit(50, MINUTE),
    "get-process-status-bulk": Limit(2, 1.0),  # unverified in the contract
    "get-subscription-keys": Limit(10, HOUR),  # unverified in the contract
}
#: Every other operation (cancellation, transports, single process status, retailers,
#: subscriptions): not published; the simulator's choice.
DEFAULT_LIMIT = Limit(25, 1.0)


def limit_of(operation: str) -> Limit:
    """The limit of an operation."""
    return LIMITS.get(operation, DEFAULT_LIMIT)


@dataclass(frozen=True)
class Verdict:
    """The outcome of taking a call from a bucket, and the headers that describe the bucket."""

    allowed: bool
    limit: Limit
    remaining: int
    reset: int  # seconds until full
    retry_after: int  # seconds until the next call is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` headers, and ``Retry-After`` on a refusal."""
        headers = {
            "X-RateLimit-Limit": str(self.limit.capacity),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass
class Bucket:
    """Calls left and when they were last counted."""

    limit: Limit
    tokens: float
    counted_at: float

    def refill(self, now: float) -> float:
        """Add what the rate earned since the last count, up to the capacity; return the calls left."""
        if now > self.counted_at:
            self.tokens = min(float(self.limit.capacity), self.tokens + (now - self.counted_at) * self.limit.rate)
            self.counted_at = now
        return self.tokens


class RateLimiter:
    """Buckets per (retailer, operation), read against the simulated clock."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def take(self, retailer_id: str, operation: str) -> Verdict:
        """Spend a call of the retailer's bucket for ``operation`` if one is left."""
        limit = limit_of(operation)
        now = self._clock.time()
        key = (retailer_id, operation)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(limit, float(limit.capacity), now)
        tokens = bucket.refill(now)
        allowed = tokens >= 1.0 - _EPSILON  # 2.4 s at 25 a minute earn one call, float sums notwithstanding
        if allowed:
            bucket.tokens = max(0.0, tokens - 1.0)
        left = bucket.tokens
        reset = math.ceil((limit.capacity - left) / limit.rate - _EPSILON) if left < limit.capacity else 0
        retry_after = 0 if allowed else max(1, math.ceil((1.0 - left) / limit.rate - _EPSILON))
        return Verdict(allowed, limit, int(left + _EPSILON), reset, retry_after)

    def left(self, retailer_id: str, operation: str) -> float | None:
        """Calls left in a bucket now (None if the bucket was never used)."""
        bucket = self._buckets.get((retailer_id, operation))
        return None if bucket is None else bucket.refill(self._clock.time())

    def reset(self) -> None:
        """Refill every bucket (forget them)."""
        self._buckets.clear()
