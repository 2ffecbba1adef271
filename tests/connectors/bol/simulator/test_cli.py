"""``hub bol simulator``: options, their validation, and a real run stopped with Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
from click.testing import CliRunner

from connectors.bol.cli import bol
from connectors.bol.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

RUN = "from connectors.bol.cli import bol; bol()"


def test_simulator_help_lists_every_option():
    result = CliRunner().invoke(bol, ["simulator", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--orders", "--retailers", "--seed", "--faults", "--no-rate-limits",
                   "--settle-delay", "--retry-interval", "--https-only", "--quiet"):
        assert option in result.output


def test_bad_fault_syntax_is_a_usage_error():
    result = CliRunner().invoke(bol, ["simulator", "--faults", "get-orders:418"])
    assert result.exit_code == 2
    assert "get-orders:418" in result.output


def test_bad_settle_delay_is_a_usage_error():
    result = CliRunner().invoke(bol, ["simulator", "--settle-delay", "soon"])
    assert result.exit_code == 2
    assert "--settle-delay" in result.output


async def read_until(stream: asyncio.StreamReader, marker: str, deadline: float = 20.0) -> str:
    """Output lines up to the one containing ``marker``, within ``deadline`` seconds."""
    lines = []
    async with asyncio.timeout(deadline):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("simulator exited early:\n" + "".join(lines))
            lines.append(line)
            if marker in line:
                return "".join(lines)


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, "simulator", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


async def stopped(process: asyncio.subprocess.Process, signum: int) -> str:
    process.send_signal(signum)
    async with asyncio.timeout(20):
        rest = (await process.stdout.read()).decode()
        assert await process.wait() == 0
    return rest


async def test_simulator_command_serves_until_ctrl_c():
    process = await start("--port", "0", "--retailers", "2", "--orders", "5", "--settle-delay", "manual",
                          "--faults", "get-order:503:0.1", "--no-rate-limits", "--quiet")
    try:
        banner = await read_until(process.stdout, "Press Ctrl-C")
        url = banner.split("bol.com simulator at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert f"{DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}" in banner
        assert "get-order:503:0.1" in banner and "manual (admin API)" in banner
        async with aiohttp.ClientSession() as session, session.get(url + "/_sim/state") as response:
            state = await response.json()
        assert [r["retailerId"] for r in state["retailers"]] == ["1055479", "1055480"]
        assert state["config"]["settleDelay"] is None and state["config"]["rateLimits"] is False
        assert "Simulator stopped." in await stopped(process, signal.SIGINT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_simulator_command_stops_on_sigterm():
    process = await start("--orders", "1", "--quiet")
    try:
        await read_until(process.stdout, "Press Ctrl-C")
        assert "Simulator stopped." in await stopped(process, signal.SIGTERM)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
