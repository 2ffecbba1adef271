"""``hub amazon simulator``: options, their validation, and a real run stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
from click.testing import CliRunner

from connectors.amazon.cli import amazon

RUN = "from connectors.amazon.cli import amazon; amazon()"


def test_simulator_help_lists_every_option():
    result = CliRunner().invoke(amazon, ["simulator", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--orders", "--sellers", "--marketplaces", "--seed", "--faults",
                   "--sandbox-cases"):
        assert option in result.output


def test_bad_fault_syntax_is_a_usage_error():
    result = CliRunner().invoke(amazon, ["simulator", "--faults", "searchOrders:418"])
    assert result.exit_code == 2
    assert "searchOrders:418" in result.output


def test_unknown_marketplace_is_a_usage_error():
    result = CliRunner().invoke(amazon, ["simulator", "--marketplaces", "NL,XX"])
    assert result.exit_code == 2
    assert "--marketplaces" in result.output


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


async def test_simulator_command_serves_until_ctrl_c():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, "simulator", "--port", "0", "--sellers", "3", "--orders", "5",
        "--marketplaces", "DE,FR", "--faults", "getOrder:503:0.1", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = await read_until(process.stdout, "Press Ctrl-C")
        url = banner.split("Amazon simulator at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert "amzn1.application-oa2-client.hubsimulator" in banner
        assert "simulator-secret" in banner
        assert "getOrder:503:0.1" in banner
        async with aiohttp.ClientSession() as session, session.get(url + "/_sim/state") as response:
            state = await response.json()
        assert len(state["sellers"]) == 3
        assert state["sellers"][0]["marketplaces"] == ["DE", "FR"]
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            rest = (await process.stdout.read()).decode()
            assert await process.wait() == 0
        assert "Simulator stopped." in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_simulator_command_stops_on_sigterm():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, "simulator", "--orders", "1", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        await read_until(process.stdout, "Press Ctrl-C")
        process.terminate()
        async with asyncio.timeout(20):
            rest = (await process.stdout.read()).decode()
            assert await process.wait() == 0
        assert "Simulator stopped." in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
