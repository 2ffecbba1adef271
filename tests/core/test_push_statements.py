"""The push path in few statements: what each combined statement must still do (issue 17)."""

from __future__ import annotations

import json
import uuid

import pytest

from core.contract.errors import NotFound
from core.contract.models import Connection, PushState
from core.infra.runtime import Runtime
from core.storage import labels as store
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label
from tests.contract.fake.shop import FakeShop
from tests.core.test_labels import imported_order


async def test_a_new_label_queues_its_push_job_in_the_same_statement(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")]))
    jobs = await fake_runtime.db.pool.fetch("select id, entrypoint, status::text, payload from pgqueuer")
    assert [(j["entrypoint"], j["status"], json.loads(j["payload"])) for j in jobs] == [
        ("push", "queued", {"label_id": label.id})
    ]
    logged = await fake_runtime.db.pool.fetch("select job_id, status::text from pgqueuer_log")
    assert [(row["job_id"], row["status"]) for row in logged] == [(jobs[0]["id"], "queued")]


async def test_the_same_label_again_queues_no_second_job(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    new = NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")])
    await create_label(fake_runtime, order_id, new)
    await create_label(fake_runtime, order_id, new)
    assert await fake_runtime.db.pool.fetchval("select count(*) from pgqueuer where entrypoint = 'push'") == 1


async def test_another_accounts_order_is_not_found_and_leaves_no_transaction_open(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    async with fake_runtime.db.pool.acquire() as db:
        with pytest.raises(NotFound):
            async with store.order_locked(db, order_id, account_id=connection.account_id + 1000):
                await store.label_target(db, order_id, "L1", connection.account_id + 1000)
        assert not db.is_in_transaction()
        async with store.order_locked(db, order_id, connection.account_id):
            target = await store.label_target(db, order_id, "L1", connection.account_id)
            assert db.is_in_transaction()
        assert not db.is_in_transaction()
    assert target.existing_label is None and target.next_reference == 1 and target.tracking_numbers == {}


async def test_a_label_read_knows_the_orders_tracking_numbers(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")]))
    async with fake_runtime.db.pool.acquire() as db, store.order_locked(db, order_id):
        target = await store.label_target(db, order_id, "L2")
    assert target.tracking_numbers == {"G1": (label.id, "1")}


async def test_taking_the_lease_reads_what_the_push_needs(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")]))
    owner = uuid.uuid4()
    start = await store.begin_push(fake_runtime.db.pool, label.id, owner, 30)
    assert start is not None
    assert start.label.id == label.id and [p.tracking_number for p in start.label.parcels] == ["G1"]
    assert start.order["id"] == order_id and [i["external_id"] for i in start.order["items"]] == ["item-0"]
    assert start.connection.id == connection.id and start.credentials is not None
    # Held: a second push takes nothing.
    assert await store.begin_push(fake_runtime.db.pool, label.id, uuid.uuid4(), 30) is None


async def test_storing_the_outcome_gives_the_lease_up(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")]))
    pushed = await push_label(fake_runtime, label.id)
    assert [p.push_state for p in pushed.parcels] == [PushState.CONFIRMED]
    assert pushed.parcels == (await store.get_label(fake_runtime.db.pool, label.id)).parcels
    lease = await fake_runtime.db.pool.fetchrow("select push_owner, push_until from labels where id = $1", label.id)
    assert (lease["push_owner"], lease["push_until"]) == (None, None)


async def test_an_outcome_under_a_lost_lease_changes_nothing_and_keeps_the_other_lease(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="G1")]))
    other = uuid.uuid4()
    assert await store.begin_push(fake_runtime.db.pool, label.id, other, 30) is not None
    held, changed = await store.finish_push(
        fake_runtime.db.pool, label.id, [("1", PushState.CONFIRMED, None)], lease_owner=uuid.uuid4()
    )
    assert (held, changed) == (False, [])
    assert await fake_runtime.db.pool.fetchval("select push_owner from labels where id = $1", label.id) == other
    assert [p.push_state for p in (await store.get_label(fake_runtime.db.pool, label.id)).parcels] == [PushState.PENDING]


async def test_jsonb_goes_both_ways_in_binary(fake_runtime: Runtime) -> None:
    value = {"a": [1, 2.5, None, "ü"], "b": {"c": True}}
    assert await fake_runtime.db.pool.fetchval("select $1::jsonb", value) == value
    # Text passes through as JSON already (pgqueuer sends its jsonb parameters so).
    assert await fake_runtime.db.pool.fetchval("select $1::jsonb", '{"x": 1}') == {"x": 1}
    assert await fake_runtime.db.pool.fetchval("select '[1, {\"y\": 2}]'::jsonb") == [1, {"y": 2}]
