"""The CLI journey against the simulator: connect, complete, import, list, label, show."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner, Result

from connectors.amazon.simulator import SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.merchant import approve
from hub.cli import main


@pytest.fixture
def simulator_url() -> Iterator[str]:
    """The simulator served from its own thread and event loop (the CLI runs its own loops)."""
    ready = threading.Event()
    found: list[tuple[str, asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def serve() -> None:
        stop = asyncio.Event()
        async with run_simulator(SimulatorConfig(sellers=1, orders_per_seller=40, marketplaces=["NL"])) as sim:
            found.append((sim.url, asyncio.get_running_loop(), stop))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(20), "the simulator did not start"
    url, loop, stop = found[0]
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


@pytest.fixture
def env(simulator_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {
        "HUB_CONFIG": "",
        "HUB_DATABASE__URL": database_url,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_CONNECTORS__AMAZON__ENDPOINT": simulator_url,
        "HUB_CONNECTORS__AMAZON__APPLICATION_ID": DEFAULT_APPLICATION_ID,
        "HUB_CONNECTORS__AMAZON__CLIENT_ID": DEFAULT_CLIENT_ID,
        "HUB_CONNECTORS__AMAZON__CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }


def hub(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


async def consent(url: str) -> str:
    async with aiohttp.ClientSession() as browser:
        return await approve(browser, url)


def test_cli_connects_imports_and_pushes_a_label(env: dict[str, str]) -> None:
    hub(env, "accounts", "create", "CLI merchant")
    started = hub(env, "connections", "connect", "amazon", "--account", "CLI merchant", "--marketplace", "NL")
    url = next(line for line in started.output.splitlines() if line.startswith("http"))
    callback = asyncio.run(consent(url))
    assert "connected to amazon account" in hub(env, "connections", "complete", callback).output
    assert "update tracking code in the shop: on" in hub(env, "connections", "set", "1", "--update-tracking").output
    imported = hub(env, "import", "--connection", "1")
    new = int(re.search(r"(\d+) new", imported.output).group(1))
    assert new > 3 and "skipped" in imported.output
    listed = hub(env, "orders", "list", "--connection", "1", "--status", "open")
    order_id = listed.output.split()[0]
    pushed = hub(env, "labels", "create", "--order", order_id, "--tracking", "GLS777")
    assert "parcel 1 GLS777: confirmed" in pushed.output
    shown = hub(env, "connections", "show", "1")
    assert "state: connected" in shown.output and "last import" in shown.output
    assert "connected" in hub(env, "connections", "list").output
    assert "disabled: enable it with `hub connections enable 1`" in hub(env, "connections", "disable", "1").output
    refused = CliRunner().invoke(main, ["import", "--connection", "1"], env=env)
    assert refused.exit_code != 0 and "enable it with `hub connections enable 1`" in refused.output
    assert "Connection 1 is connected." in hub(env, "connections", "enable", "1").output


def test_cli_refuses_a_forged_callback_and_an_unknown_connector(env: dict[str, str]) -> None:
    hub(env, "accounts", "create", "CLI merchant")
    result = CliRunner().invoke(main, ["connections", "complete", "http://127.0.0.1:8080/connect/callback?state=x.y&spapi_oauth_code=c"], env=env)
    assert result.exit_code == 1 and "start connecting again" in result.output
    result = CliRunner().invoke(main, ["connections", "connect", "nosuchshop", "--account", "CLI merchant"], env=env)
    assert result.exit_code == 1 and "Unknown connector 'nosuchshop': installed are amazon" in result.output
