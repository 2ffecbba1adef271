"""Usage plans: a token bucket per (seller, operation) with the rate and burst of Amazon's models.

A bucket starts full (``burst`` tokens) and refills at ``rate`` tokens per second of the
simulated clock, so a test can spend the burst of searchOrders, advance the clock 180 s and get
exactly one more call. LWA is not throttled.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import SimClock


@dataclass(frozen=True)
class UsagePlan:
    """Requests per second and bucket size of one operation."""

    rate: float
    burst: int

    @property
    def header(self) -> str:
        """The ``x-amzn-RateLimit-Limit`` value: the rate in requests per second."""
        return f"{self.rate:g}"


# Default plans from the operations' descriptions in the models (contract §2.5).
USAGE_PLANS: dict[str, UsagePlan] = {
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    "confirmShipment": UsagePlan(2.0, 10),
    "getOrders": UsagePlan(0.0167, 20),
    "getOrderItems": UsagePlan(0.5, 30),
    "getOrderAddress": UsagePlan(0.5, 30),
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
}
# Amazon's sandbox endpoints throttle every operation alike (developer docs, "SP-API sandbox").
SANDBOX_PLAN = UsagePlan(5.0, 15)


@dataclass
class TokenBucket:
    """Tokens left and when they were last counted."""

    plan: UsagePlan
    tokens: float
    counted_at: float

    def refill(self, now: float) -> float:
        """Add what the rate earned since the last count, up to the burst; return the tokens."""
        if now > self.counted_at:
            self.tokens = min(self.plan.burst, self.tokens + (now - self.counted_at) * self.plan.rate)
            self.counted_at = now
        return self.tokens

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        if self.refill(now) >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Token buckets per (seller, operation), read against the simulated clock."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, seller_id: str, operation: str, plan: UsagePlan) -> bool:
        """Spend a token of the seller's bucket for ``operation``; False means answer 429."""
        now = self._clock.time()
        key = (seller_id, operation)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.plan != plan:
            bucket = self._buckets[key] = TokenBucket(plan, float(plan.burst), now)
        return bucket.take(now)

    def tokens(self, seller_id: str, operation: str) -> float | None:
        """Tokens left in a bucket now (None if the bucket was never used)."""
        bucket = self._buckets.get((seller_id, operation))
        return None if bucket is None else bucket.refill(self._clock.time())

    def reset(self) -> None:
        """Refill every bucket (forget them)."""
        self._buckets.clear()
