"""Starting and stopping as a new user meets it: a busy port said in one line before any work, and a
`hub demo --serve` that stops cleanly, embedded PostgreSQL included, on SIGTERM and on a SIGINT that
reaches it in the background."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.infra.crypto import new_key
from hub.cli import main
from tests.hub.daemons import free_port
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", [["serve"], ["demo", "--serve"]])
def test_a_busy_port_is_said_in_one_line_before_any_work(
    command: list[str], taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, [*command, "--port", str(taken_port)])
    assert result.exit_code == 1
    assert f"Port {taken_port} on 127.0.0.1 is taken" in result.output
    assert "--port" in result.output
    assert "Traceback" not in result.output
    assert "1. Starting" not in result.output  # the demo did no step
    assert not (tmp_path / "data").exists()  # no database was started


def _postgres_running(data_dir: Path) -> bool:
    """Whether a postgres process serves the embedded database in ``data_dir``."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"postgres" in command and str(data_dir).encode() in command:
            return True
    return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data folder for an embedded PostgreSQL, not under pytest's tmp_path (removed afterwards).

    As root the embedded server runs as another user, which must reach its data folder: the server
    opens the folders above it to others, but any pytest session that starts meanwhile (another
    engineer's, on a shared machine) closes pytest's root folder again (0700), and initdb or pg_ctl
    then cannot reach the folder (initdb failed, or pg_ctl's log file was missing).
    """
    folder = Path(tempfile.mkdtemp(prefix="hub-test-demo-"))
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
async def test_demo_serve_stops_cleanly_and_stops_its_database(data_dir: Path, signal_number: int) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_DATA_DIR": str(data_dir), "HUB_SECURITY__ENCRYPTION_KEYS": '["' + _key() + '"]'}
    port = free_port()

    def background() -> None:  # as a shell starts a background job: SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"), "demo", "--serve", "--port", str(port), "--orders", "5", "--labels", "1",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=background,
    )
    assert process.stdout is not None
    seen: list[str] = []

    async def serving() -> bool:
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        seen.append(line.decode())
        if not line:
            raise AssertionError("the demo ended early:\n" + "".join(seen))
        return "Press Ctrl-C to stop." in line.decode()

    try:
        await eventually(serving, timeout=180)
        assert _postgres_running(data_dir)
        process.send_signal(signal_number)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, "".join(seen) + rest.decode()
    assert "Traceback" not in rest.decode()
    assert not _postgres_running(data_dir)


def _key() -> str:
    return new_key()
