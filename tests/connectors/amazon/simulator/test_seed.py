"""Seeding: the same seed gives the same world, and the world has a realistic mix."""

from __future__ import annotations

from collections import Counter

from connectors.amazon.simulator import SimulatorConfig, SimulatorState
from connectors.amazon.simulator.seed import DAY, HISTORY_DAYS, make_detail
from tests.connectors.amazon.simulator.conftest import START


def world(**overrides) -> SimulatorState:
    """A seeded state (2 sellers x 400 orders at START) without a server."""
    values = {"start_time": START, "freeze_clock": True, "sellers": 2, "orders_per_seller": 400} | overrides
    return SimulatorState(SimulatorConfig(**values))


def snapshot(state: SimulatorState) -> list[tuple]:
    """Everything about every order, details included, for comparison."""
    return [
        (o.order_id, o.seller_id, o.marketplace, o.created, o.updated, o.status, o.fulfilled_by, o.programs,
         state.detail(o))
        for o in state.orders.values()
    ]


def test_same_seed_gives_the_same_world():
    assert snapshot(world()) == snapshot(world())


def test_another_seed_gives_another_world():
    assert [o[0] for o in snapshot(world(seed=2))] != [o[0] for o in snapshot(world())]


def test_details_are_the_same_every_time_they_are_read():
    state = world(orders_per_seller=20)
    for order in state.orders.values():
        assert make_detail(1, order) == make_detail(1, order)


def test_sellers_have_distinct_amazon_shaped_ids():
    state = world(sellers=30, orders_per_seller=0)
    ids = list(state.sellers)
    assert len(set(ids)) == 30
    assert all(len(i) == 14 and i[0] == "A" and i.isalnum() and i.isupper() for i in ids)


def test_order_ids_are_unique_and_3_7_7():
    state = world(sellers=3, orders_per_seller=2000)
    assert len(state.orders) == 6000
    for order_id in state.orders:
        parts = order_id.split("-")
        assert [len(p) for p in parts] == [3, 7, 7] and all(p.isdigit() for p in parts)


def test_mix_of_fulfilment_statuses_and_programs():
    orders = list(world().orders.values())
    assert {o.fulfilled_by for o in orders} == {"MERCHANT", "AMAZON"}
    assert {o.status for o in orders} == {"PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED"}
    programs = Counter(p for o in orders for p in o.programs)
    assert {"PRIME", "AMAZON_EASY_SHIP", "FBM_SHIP_PLUS", "AMAZON_BUSINESS"} <= programs.keys()
    assert programs["FBM_SHIP_PLUS"] < len(orders) * 0.1
    assert all(o.fulfilled_by == "MERCHANT" for o in orders if "FBM_SHIP_PLUS" in o.programs)


def test_orders_spread_over_the_last_ten_days_up_to_now():
    state = world()
    now = state.clock.seconds()
    for order in state.orders.values():
        assert now - HISTORY_DAYS * DAY <= order.created <= order.updated <= now
    assert min(o.created for o in state.orders.values()) < now - 8 * DAY


def test_several_marketplaces():
    state = world(marketplaces=["NL", "DE", "FR"])
    assert {o.marketplace for o in state.orders.values()} == {"NL", "DE", "FR"}


def test_items_and_quantities():
    state = world()
    details = [state.detail(o) for o in state.orders.values()]
    assert {len(d.items) for d in details} == {1, 2, 3, 4}
    assert {i.quantity for d in details for i in d.items} == {1, 2, 3}


def test_addresses_are_european_with_diacritics_companies_and_extra_lines():
    state = world(marketplaces=["NL", "DE", "FR", "ES", "PL", "SE"], orders_per_seller=600)
    addresses = [state.detail(o).address for o in state.orders.values()]
    text = " ".join(" ".join(a.values()) for a in addresses)
    for word in ("Müller", "Łódź", "Nuñez"):
        assert word in text
    assert "Ørsted" in text
    assert any("São" in a.get("city", "") for a in addresses)
    assert any("companyName" in a for a in addresses)
    assert any("addressLine2" in a for a in addresses)
    assert any("addressLine3" in a for a in addresses)
    assert {a["addressType"] for a in addresses} == {"RESIDENTIAL", "COMMERCIAL", "PICKUP_POINT"}
    assert all(a["phone"].startswith("+") for a in addresses)
    assert len({a["countryCode"] for a in addresses}) > 6


def test_seller_order_ids_windows_and_service_levels():
    state = world()
    details = [state.detail(o) for o in state.orders.values()]
    assert 0.4 < sum(bool(d.seller_order_id) for d in details) / len(details) < 0.8
    assert len({d.service_level for d in details}) >= 4
    assert all(d.ship_by[0] <= d.ship_by[1] < d.deliver_by[0] <= d.deliver_by[1] for d in details)


def test_seeded_packages_match_the_status():
    state = world()
    for order in state.orders.values():
        detail = state.detail(order)
        shipped = sum(detail.shipped(i.order_item_id) for i in detail.items)
        ordered = sum(i.quantity for i in detail.items)
        if order.fulfilled_by == "AMAZON" or order.status not in ("SHIPPED", "PARTIALLY_SHIPPED"):
            assert not detail.packages
        elif order.status == "SHIPPED":
            assert shipped == ordered
        else:
            assert 0 < shipped < ordered


def test_orders_are_indexed_by_update_and_creation():
    state = world(sellers=1, orders_per_seller=5000)
    index = next(iter(state.indexes.values()))
    assert len(index.by_updated) == len(index.by_created) == 5000
    assert index.by_updated == sorted((o.updated, o.order_id) for o in state.orders.values())
    assert index.by_created == sorted((o.created, o.order_id) for o in state.orders.values())
