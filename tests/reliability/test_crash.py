"""`hub serve` killed with SIGKILL during imports and pushes loses nothing and doubles nothing.

The short version of the crash run (tests/reliability/crash_run.py; ``bench/crash_run.py`` runs it
with 25 kills and prints the figures of docs/reliability.md): two daemons, three kills, a few dozen
labels.
"""

from __future__ import annotations

from pathlib import Path

from tests.reliability.crash_run import crash_run


async def test_sigkill_during_imports_and_pushes_stores_each_order_once_and_confirms_each_parcel_once(
    database_url: str, tmp_path: Path
) -> None:
    report = await crash_run(
        3, database_url=database_url, workdir=tmp_path, sellers=2, first_orders=10, orders_per_round=5, seed=3
    )

    print(report.summary())
    assert report.problems() == [], report.summary()
    assert report.kills == 3
    assert report.kills_by_work["idle"] < 3, "at least one kill hit a daemon in the middle of work"
    assert report.orders == report.orders_at_amazon == 40
    assert report.labels == 40 and report.lost == 0
    assert report.packages == report.parcels >= 40 and report.duplicates == 0
