"""Crash run: `hub serve` killed with SIGKILL at random moments during Amazon imports and tracking pushes.

The run itself is tests/reliability/crash_run.py (its docstring says what it does and checks;
tests/reliability/test_crash.py runs it with 3 kills); this script runs it longer on an embedded
PostgreSQL and prints the figures of docs/reliability.md.

    python bench/crash_run.py                   # 25 kills, two daemons
    python bench/crash_run.py --kills 20 --daemons 1 --seed 3
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/crash_run.py`
    sys.path.insert(0, str(REPO))

from bench.harness import crash_arguments, crash_main  # noqa: E402
from tests.reliability.crash_run import CrashReport, crash_run  # noqa: E402


async def main() -> None:
    parser = crash_arguments(__doc__, kills=25, daemons=2, orders_per_round=10)
    parser.add_argument("--sellers", type=int, default=4)
    args = parser.parse_args()

    async def run(database_url: str, workdir: Path) -> CrashReport:
        return await crash_run(
            args.kills, database_url=database_url, workdir=workdir, daemons=args.daemons, sellers=args.sellers,
            orders_per_round=args.orders_per_round, seed=args.seed,
        )

    await crash_main(
        "hub-crash-", run, keep=args.keep, held="held: every order once, every parcel one package, no label lost"
    )


if __name__ == "__main__":
    asyncio.run(main())
