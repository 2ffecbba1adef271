"""Fixtures every connector's tests share: one HTTP session, and aioresponses that let the simulators through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aioresponses import aioresponses


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, as core shares one."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses that lets the loopback address through (the simulator lives there)."""
    with aioresponses(passthrough=["http://127.0.0.1"]) as mock:
        yield mock
