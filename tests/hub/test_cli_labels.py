"""`hub labels`: no option ignored silently, and a push once tracking is on pushes; `hub orders reindex-search` (issue 15)."""

from __future__ import annotations

from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.test_cli import cli_env, merchant, only_error, shops, typed

__all__ = ["cli_env", "shops"]  # the fixtures


def connected_with_an_order(env: dict[str, str], shop: KeyShop) -> None:
    merchant(env)
    credentials = {**env, "HUB_CONNECT_CLIENT_ID": GOOD_CLIENT_ID, "HUB_CONNECT_CLIENT_SECRET": GOOD_CLIENT_SECRET}
    assert typed(credentials, "connections", "connect", "keyshop", "--account", "Key merchant").exit_code == 0
    shop.add_order()
    assert "1 new" in typed(env, "import", "--connection", "1").output


def test_tracking_and_parcel_together_are_refused_not_ignored(cli_env: dict[str, str], shops: KeyShop) -> None:
    connected_with_an_order(cli_env, shops)
    line = only_error(typed(cli_env, "labels", "create", "--order", "1", "--tracking", "A1", "--parcel", "T2"))
    assert "either --tracking" in line and "not both" in line and "--parcel A1 --parcel T2" in line
    assert "no label yet" in typed(cli_env, "orders", "show", "1").output  # nothing recorded


def test_labels_push_after_turning_tracking_on_pushes_the_skipped_parcels(cli_env: dict[str, str], shops: KeyShop) -> None:
    connected_with_an_order(cli_env, shops)
    created = typed(cli_env, "labels", "create", "--order", "1", "--tracking", "GLSOFF1")
    assert created.exit_code == 0 and "skipped (not sent to the shop): updating the tracking code in the shop is off" in created.output
    assert typed(cli_env, "connections", "set", "1", "--update-tracking").exit_code == 0
    pushed = typed(cli_env, "labels", "push", "1")
    assert pushed.exit_code == 0, pushed.output
    assert "skipped" not in pushed.output and "parcel 1 GLSOFF1: accepted" in pushed.output
    assert len(shops.pending_processes()) == 1
    # Off again, a new label is skipped again; pushing it keeps it so.
    assert typed(cli_env, "connections", "set", "1", "--no-update-tracking").exit_code == 0
    shops.add_order()
    assert "1 new" in typed(cli_env, "import", "--connection", "1").output
    second = typed(cli_env, "labels", "create", "--order", "2", "--tracking", "GLSOFF2")
    assert "skipped" in second.output
    assert "skipped" in typed(cli_env, "labels", "push", "2").output and len(shops.pending_processes()) == 1


def test_orders_reindex_search_makes_the_recipients_tokens_again(cli_env: dict[str, str], shops: KeyShop) -> None:
    connected_with_an_order(cli_env, shops)
    result = typed(cli_env, "orders", "reindex-search")
    assert result.exit_code == 0 and "Search tokens made again for 1 recipient(s) under the newest key." in result.output
