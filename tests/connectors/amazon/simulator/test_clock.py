"""The simulated clock: real time plus a forward-only offset, freezable; ISO 8601 in and out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.amazon.simulator.clock import SimClock, iso, parse_iso


def test_clock_follows_real_time_plus_offset():
    now = [1000.0]
    clock = SimClock(source=lambda: now[0])
    clock.advance(60)
    now[0] += 5
    assert clock.time() == 1065.0


def test_clock_starts_where_asked():
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock = SimClock(start, source=lambda: 5.0)
    assert clock.now() == start


def test_clock_never_moves_backwards():
    clock = SimClock()
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_frozen_clock_moves_only_when_advanced():
    now = [1000.0]
    clock = SimClock(source=lambda: now[0], frozen=True)
    now[0] += 30
    assert clock.time() == 1000.0
    clock.advance(10)
    assert clock.time() == 1010.0


def test_unfrozen_clock_resumes_from_where_it_stood():
    now = [1000.0]
    clock = SimClock(source=lambda: now[0], frozen=True)
    clock.advance(100)
    clock.unfreeze()
    now[0] += 1
    assert clock.time() == 1101.0


def test_iso_renders_whole_seconds_in_utc():
    assert iso(1772452800.9) == "2026-03-02T12:00:00Z"


@pytest.mark.parametrize("text", ["2026-03-02T12:00:00Z", "2026-03-02T13:00:00+01:00", "2026-03-02T12:00:00.000Z"])
def test_parse_iso_reads_offsets_and_fractions(text):
    assert parse_iso(text) == 1772452800.0


@pytest.mark.parametrize("text", ["2026-03-02", "2026-03-02T12:00:00", "03/02/2026", "2026-13-02T12:00:00Z"])
def test_parse_iso_rejects_dates_without_time_or_zone(text):
    with pytest.raises(ValueError):
        parse_iso(text)
