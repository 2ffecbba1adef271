"""The seeded world: the same seed gives the same world, ids are unique and look like bol.com's."""

from __future__ import annotations

import random
import re

from connectors.bol.simulator import SimulatorConfig, SimulatorState
from connectors.bol.simulator.seed import SHAPES, IdSource, ean, make_order
from tests.connectors.bol.simulator.conftest import START


def world(**overrides) -> SimulatorState:
    return SimulatorState(SimulatorConfig(start_time=START, freeze_clock=True, **overrides))


def snapshot(state: SimulatorState) -> list[tuple]:
    return [(o.order_id, o.placed, o.shipment_details["surname"], [(i.order_item_id, i.quantity, i.method,
             i.distribution_party, i.quantity_shipped) for i in o.items]) for o in state.orders.values()]


def test_the_same_seed_gives_the_same_world():
    assert snapshot(world(seed=7)) == snapshot(world(seed=7))


def test_another_seed_gives_another_world():
    assert snapshot(world(seed=7)) != snapshot(world(seed=8))


def test_ids_are_unique_and_shaped_like_bols():
    state = world(orders_per_retailer=500, retailers=3)
    order_ids = [o.order_id for o in state.orders.values()]
    item_ids = [i.order_item_id for o in state.orders.values() for i in o.items]
    assert len(set(order_ids)) == len(order_ids) == 3 * 500 + 7
    assert len(set(item_ids)) == len(item_ids)
    assert all(re.fullmatch(r"\d{10}|[A-Z]\d[A-Z]\d{4}LP\d", i) for i in order_ids)
    assert all(re.fullmatch(r"\d{10}", i) for i in item_ids)


def test_seeded_shipments_match_the_shipped_quantities():
    state = world(orders_per_retailer=200)
    for order in state.orders.values():
        for item in order.items:
            shipped = sum(units for s in state.shipments.values() for i, units in s.items if i == item.order_item_id)
            assert shipped == item.quantity_shipped, item.order_item_id
    assert state.shipment_counts() == {}  # none made through the API yet


def test_eans_have_valid_check_digits():
    rng = random.Random(3)
    for _ in range(100):
        code = ean(rng)
        digits = [int(c) for c in code]
        assert len(code) == 13
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def test_every_shape_can_be_made_now():
    ids = IdSource(random.Random(1))
    for shape in set(SHAPES):
        order, _ = make_order(random.Random(shape), shape, "1055479", START.timestamp(), ids, placed=START.timestamp())
        assert order.placed == START.timestamp()
        assert all(item.changed == START.timestamp() for item in order.items)


def test_retailers_have_stable_ids_and_credentials():
    state = world(retailers=3)
    assert list(state.retailers) == ["1055479", "1055480", "1055481"]
    assert [c.retailer_id for c in state.clients.values()] == ["1055479", "1055480", "1055481"]
