"""A push that takes over a label reads the parcels as the push before it left them."""

from __future__ import annotations

import asyncio
import uuid

from core.contract.models import Connection, PushState
from core.infra.runtime import Runtime
from core.storage import labels as store
from core.usecases.labels import NewLabel, NewParcel, create_label
from tests.contract.fake.shop import FakeShop
from tests.core.test_labels import imported_order
from tests.waiting import eventually


async def test_a_push_waiting_on_a_finishing_push_reads_its_outcome(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    pool = fake_runtime.db.pool
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    first = uuid.uuid4()
    assert await store.begin_push(pool, label.id, first, 60) is not None
    # The first push outlived its lease (its renewals failed) and is storing its outcome just as a
    # second push takes the label over: the second waits on the label's row, then must see the
    # parcel confirmed, or it would send it to the shop again.
    await pool.execute("update labels set push_until = now() - interval '1 second' where id = $1", label.id)
    async with pool.acquire() as db:
        finishing = db.transaction()
        await finishing.start()
        held, _ = await store.finish_push(db, label.id, [("1", PushState.CONFIRMED, None)], first)
        assert held
        second = asyncio.ensure_future(store.begin_push(pool, label.id, uuid.uuid4(), 60))
        await eventually(lambda: pool.fetchval("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"))
        await finishing.commit()
    start = await second
    assert start is not None
    assert [p.push_state for p in start.label.parcels] == [PushState.CONFIRMED]
