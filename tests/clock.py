"""A clock for the tests of paced clients (core's kit, the connectors): it moves only when someone sleeps on it."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A clock that only moves when someone sleeps on it: a shop's limits without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The virtual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Move the virtual time on, and let other tasks run."""
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the start."""
        return self.now - self.start
