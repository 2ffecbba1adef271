"""`hub demo` with every installed shop: each connected its own way, and every parcel confirmed by its shop.

Amazon's part alone is checked step by step in test_amazon_journey.py; here the demo runs with all
installed connectors, bol.com's pasted credentials and 202s included.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hub.cli import main


def test_demo_connects_every_shop_and_ends_with_every_parcel_confirmed(database_url: str, tmp_path: Path) -> None:
    env = {"HUB_DATABASE__URL": database_url, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_CONFIG": ""}
    result = CliRunner().invoke(main, ["demo", "--orders", "20", "--labels", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "connected to seller" in result.output  # Amazon, through its consent page
    assert "the merchant filled in Client ID, Client secret" in result.output  # bol.com, pasted credentials
    assert "connected to retailer" in result.output
    assert "bol.com accepted them and settles them later" in result.output
    labels = [line for line in result.output.splitlines() if line.strip().startswith("label demo-")]
    assert labels and all("accepted" not in line and "confirmed" in line for line in labels), result.output
    assert result.output.count(": SHIPPED (GLS GLS") == 4  # two orders in each shop
