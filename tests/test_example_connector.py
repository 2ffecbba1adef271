"""docs/example-connector works as docs/writing-a-connector.md says: built and installed as an outside
package, it is listed by the hub, passes the contract kit, and a merchant connects it with an API
key, imports and gets tracking codes confirmed through the `hub` command.

The package is copied to a temporary directory and installed there with pip (``--target``, offline:
no index, no build isolation), never into this virtualenv; the checks run in subprocesses whose
``PYTHONPATH`` puts that directory and this repository first.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.testing import ConnectorContract

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example-connector"
CONNECTOR = "exampleshop"
TIMEOUT = 120  # seconds per subprocess; together they take a few


#: A code block that quotes the example: its first line names the file, ``# docs/example-connector/...``.
QUOTE = re.compile(r"^```\w*\n# (docs/example-connector/\S+)\n(.*?)^```", re.M | re.S)


@pytest.mark.parametrize("doc", ["writing-a-connector.md", "connector-kit.md"])
def test_docs_quote_the_example_as_it_is(doc: str) -> None:
    quotes = QUOTE.findall((ROOT / "docs" / doc).read_text(encoding="utf-8"))
    assert quotes, f"docs/{doc} quotes nothing from docs/example-connector"
    for path, quoted in quotes:
        assert quoted in (ROOT / path).read_text(encoding="utf-8"), f"docs/{doc} quotes {path} as it no longer is"


@dataclass(frozen=True)
class Installed:
    """The example package copied to ``package`` and installed into ``site``."""

    package: Path
    site: Path

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
        env["PYTHONPATH"] = os.pathsep.join([str(self.site), str(ROOT)])
        return env

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=TIMEOUT
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The example built and installed offline into a directory of its own."""
    where = tmp_path_factory.mktemp("example-connector")
    package, site = where / "pkg", where / "site"
    shutil.copytree(EXAMPLE, package, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--quiet", "--disable-pip-version-check",
         "--no-index", "--no-deps", "--no-build-isolation", "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, (
        "pip could not build and install docs/example-connector offline (it needs setuptools>=70.1, from the "
        f"test extras):\n{result.stdout}\n{result.stderr}"
    )
    return Installed(package, site)


def test_example_connector_is_found_by_its_entry_point_and_listed(installed: Installed) -> None:
    script = (
        "import json; from core.infra.plugins import installed_entry_points; "
        "print(json.dumps({p.name: p.value for p in installed_entry_points()}))"
    )
    found = installed.run("-c", script, cwd=installed.site.parent)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout).get(CONNECTOR) == "exampleshop", found.stdout

    listed = installed.run(
        "-c", "from hub.cli import main; main()", "connectors", "list", "--json", cwd=installed.site.parent
    )
    assert listed.returncode == 0, listed.stderr
    row = next((row for row in json.loads(listed.stdout) if row["id"] == CONNECTOR), None)
    assert row is not None, listed.stdout
    assert row["error"] is None, row["error"]
    assert row["name"] == "Example Shop"
    assert row["hooks"] == ["authorize", "check_connection", "import_orders", "on_label_created"]


def test_example_connector_passes_the_contract_kit(installed: Installed) -> None:
    report = installed.package / "kit.xml"
    result = installed.run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", "tests", cwd=installed.package
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, f"the example's kit run failed:\n{tail}"
    cases = [
        case
        for case in ET.parse(report).getroot().iter("testcase")
        if case.get("classname", "").endswith("TestExampleShopContract")
    ]
    ran = {case.get("name", "").split("[")[0] for case in cases}
    kit_tests = {name for name in dir(ConnectorContract) if name.startswith("test_")}
    assert kit_tests <= ran, f"kit tests that did not run: {sorted(kit_tests - ran)}\n{tail}"
    failed = [case.get("name") for case in cases if case.find("failure") is not None or case.find("error") is not None]
    assert not failed, f"{failed}\n{tail}"


#: Runs in a subprocess: the example's stand-in shop on a thread, and the merchant's CLI journey
#: against it, as docs/writing-a-connector.md shows it. Prints one JSON line: exit codes, shipments.
JOURNEY = """
import asyncio, json, os, sys, threading
from datetime import UTC, datetime, timedelta
sys.path.insert(0, sys.argv[1])
from shop_server import GOOD_KEY, ShopServer
from hub.cli import main

shop, loop, ready = ShopServer(), asyncio.new_event_loop(), threading.Event()
def serve():
    asyncio.set_event_loop(loop)
    loop.run_until_complete(shop.start())
    ready.set()
    loop.run_forever()
threading.Thread(target=serve, daemon=True).start()
ready.wait(10)
shop.now = datetime.now(UTC) - timedelta(minutes=5)  # placed a little while ago
orders = [shop.add_order(), shop.add_order(), shop.add_order(delivery="pickup")]
os.environ["HUB_CONNECTORS__EXAMPLESHOP__BASE_URL"] = shop.url

def hub(*args):
    print("$ hub", *args, flush=True)
    try:
        main(list(args))
    except SystemExit as exit:
        print(flush=True)
        return exit.code or 0
    return 0

codes = {"account": hub("accounts", "create", "Kaasboerderij Jansen")}
os.environ["HUB_CONNECT_API_KEY"] = "exs_live_mistyped_000000000000000"
codes["wrong key"] = hub("connections", "connect", "exampleshop", "--account", "Kaasboerderij Jansen")
os.environ["HUB_CONNECT_API_KEY"] = GOOD_KEY
codes["connect"] = hub("connections", "connect", "exampleshop", "--account", "Kaasboerderij Jansen")
codes["set"] = hub("connections", "set", "1", "--update-tracking")
codes["import"] = hub("import", "--connection", "1")
codes["label"] = hub("labels", "create", "--order", "1", "--tracking", "3SEXAMPLE0001")
asyncio.run_coroutine_threadsafe(shop.stop(), loop).result(10)
shipments = {f"{order}/{reference}": body["tracking_number"] for (order, reference), body in shop.shipments.items()}
print(json.dumps({"codes": codes, "orders": orders, "shipments": shipments}))
"""


async def test_example_connector_connects_with_an_api_key_imports_and_confirms(
    installed: Installed, database_url: str, tmp_path: Path
) -> None:
    env = {**installed.env(), "HUB_DATABASE__URL": database_url, "HUB_DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", JOURNEY, str(installed.package / "tests")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["codes"] == {"account": 0, "wrong key": 1, "connect": 0, "set": 0, "import": 0, "label": 0}, said
    assert "The shop refused these credentials: Example Shop refused the API key" in said
    assert "exs_live_mistyped" not in said  # a secret is never echoed back
    assert "Connection 1 is connected: exampleshop account shop-4711" in said
    assert "2 new" in said and "Collected in the shop by the customer" in said  # the pickup order, skipped
    assert "3SEXAMPLE0001: confirmed" in said
    first = outcome["orders"][0]
    assert outcome["shipments"] == {f"{first}/1": "3SEXAMPLE0001"}, said
