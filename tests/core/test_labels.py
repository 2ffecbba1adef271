"""Labels end to end: stable parcel references, idempotent pushes, outcomes kept per parcel."""

from __future__ import annotations

import asyncio

import pytest

from core.contract.errors import Conflict, ConnectorAuthFailed, InvalidInput, NotFound, TransientError
from core.contract.models import Connection, ConnectionState, ParcelItem, PushState
from core.infra.runtime import Runtime
from core.storage.connections import get_connection
from core.storage.labels import StoredLabel
from core.storage.orders import find_order
from core.usecases import connections
from core.usecases.imports import run_import
from core.usecases.labels import NewLabel, NewParcel, PushRunning, create_label, lease_seconds, push_label, retry_label
from tests.contract.fake.shop import FakeItem, FakeShop
from tests.waiting import eventually


async def imported_order(rt: Runtime, shop: FakeShop, connection: Connection, items: int = 1) -> int:
    order = shop.add_order(items=[FakeItem(id=f"item-{n}", sku=f"S{n}", title="Mug", quantity=2) for n in range(items)])
    await run_import(rt, connection.id)
    await connections.change_settings(rt, None, connection.id, {"update_tracking": True})
    return (await find_order(rt.db.pool, rt.vault, connection.id, order.id)).id


async def test_label_push_confirms_each_parcel_once(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    assert [p.reference for p in label.parcels] == ["1"]
    pushed = await push_label(fake_runtime, label.id)
    assert [p.push_state for p in pushed.parcels] == [PushState.CONFIRMED]
    confirmation = shop.confirmations[(shop.orders["F-0001"].id, "1")]
    assert (confirmation.tracking_number, confirmation.items) == ("GLS1", {"item-0": 2})
    # Pushing again sends nothing: the parcel is confirmed.
    calls = len(shop.calls)
    await push_label(fake_runtime, label.id)
    assert len(shop.calls) == calls


async def test_same_label_id_is_recorded_once(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    new = NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")])
    first = await create_label(fake_runtime, order_id, new)
    again = await create_label(fake_runtime, order_id, new)
    assert first.id == again.id
    assert await fake_runtime.db.pool.fetchval("select count(*) from parcels") == 1


async def test_split_shipment_gets_one_reference_per_parcel(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection, items=2)
    one = NewParcel(tracking_number="GLS1", items=[ParcelItem(item_external_id="item-0", quantity=2)])
    two = NewParcel(tracking_number="GLS2", items=[ParcelItem(item_external_id="item-1", quantity=1)])
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[one, two]))
    later = await create_label(fake_runtime, order_id, NewLabel(external_id="L2", parcels=[NewParcel(tracking_number="GLS3")]))
    assert [p.reference for p in label.parcels] == ["1", "2"]
    assert [(p.reference, p.items) for p in later.parcels] == [("3", [ParcelItem(item_external_id="item-1", quantity=1)])]
    await push_label(fake_runtime, label.id)
    await push_label(fake_runtime, later.id)
    assert sorted(ref for _, ref in shop.confirmations) == ["1", "2", "3"]
    with pytest.raises(InvalidInput, match="nothing left"):
        await create_label(fake_runtime, order_id, NewLabel(external_id="L3", parcels=[NewParcel(tracking_number="GLS4")]))


async def test_bad_parcels_are_refused_and_change_nothing(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    too_many = NewParcel(tracking_number="GLS1", items=[ParcelItem(item_external_id="item-0", quantity=3)])
    unknown = NewParcel(tracking_number="GLS1", items=[ParcelItem(item_external_id="nope", quantity=1)])
    for parcel, message in ((too_many, "left to ship"), (unknown, "no item")):
        with pytest.raises(InvalidInput, match=message):
            await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[parcel]))
    with pytest.raises(NotFound):
        await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]), account_id=999)
    assert await fake_runtime.db.pool.fetchval("select count(*) from labels") == 0


async def test_cancelled_order_gets_no_label(fake_runtime: Runtime, shop: FakeShop, connection: Connection) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    shop.cancel_order("F-0001")
    await run_import(fake_runtime, connection.id)
    with pytest.raises(Conflict, match="cancelled"):
        await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))


async def test_push_is_skipped_when_update_tracking_is_off(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    await connections.change_settings(fake_runtime, None, connection.id, {"update_tracking": False})
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))
    pushed = await push_label(fake_runtime, label.id)
    assert pushed.parcels[0].push_state is PushState.SKIPPED
    assert shop.confirmations == {}
    await connections.change_settings(fake_runtime, None, connection.id, {"update_tracking": True})
    assert (await retry_label(fake_runtime, label.id)).parcels[0].push_state is PushState.PENDING
    retried = await push_label(fake_runtime, label.id)
    assert retried.parcels[0].push_state is PushState.CONFIRMED


async def test_transient_failure_keeps_the_parcel_pending_then_pushes_it_once(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))
    shop.fail_next("5xx")
    with pytest.raises(TransientError):
        await push_label(fake_runtime, label.id)
    pushed = await push_label(fake_runtime, label.id)
    assert pushed.parcels[0].push_state is PushState.CONFIRMED
    assert pushed.parcels[0].push_attempts == 2
    assert shop.confirmations[("F-0001", "1")].edits == 0


async def test_rejected_parcel_is_failed_with_the_shops_message(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))
    del shop.orders["F-0001"]  # the shop no longer knows the order
    pushed = await push_label(fake_runtime, label.id)
    assert pushed.parcels[0].push_state is PushState.FAILED
    assert "not found" in (pushed.parcels[0].push_message or "")


async def test_refused_credentials_on_push_require_reconnect(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))
    shop.api_keys.clear()
    with pytest.raises(ConnectorAuthFailed):
        await push_label(fake_runtime, label.id)
    assert (await get_connection(fake_runtime.db.pool, connection.id)).state is ConnectionState.AUTH_REQUIRED
    with pytest.raises(ConnectorAuthFailed, match="Reconnect"):
        await push_label(fake_runtime, label.id)


async def push_held_in_the_shop(
    rt: Runtime, shop: FakeShop, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> tuple[StoredLabel, asyncio.Event, asyncio.Task[StoredLabel]]:
    """A label whose push is inside the shop's confirm call until the event returned is set."""
    order_id = await imported_order(rt, shop, connection)
    label = await create_label(rt, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    answer, inside = asyncio.Event(), asyncio.Event()
    confirm = shop.confirm_shipment

    async def slow_confirm(*args: object, **kwargs: object) -> None:
        inside.set()
        await answer.wait()
        await confirm(*args, **kwargs)

    monkeypatch.setattr(shop, "confirm_shipment", slow_confirm)
    push = asyncio.create_task(push_label(rt, label.id))
    await inside.wait()
    return label, answer, push


async def test_a_label_pushed_by_another_worker_is_left_alone_until_its_lease_ends(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    label, answer, first = await push_held_in_the_shop(fake_runtime, shop, connection, monkeypatch)
    with pytest.raises(PushRunning) as running:
        await push_label(fake_runtime, label.id)
    assert 0 < running.value.retry_after <= lease_seconds(fake_runtime)
    answer.set()
    assert [p.push_state for p in (await first).parcels] == [PushState.CONFIRMED]
    assert await fake_runtime.db.pool.fetchval("select push_owner from labels where id = $1", label.id) is None
    assert len([c for c in shop.calls if c.operation == "confirm_shipment"]) == 1


async def test_the_lease_of_a_push_that_died_expires_and_the_parcel_is_pushed_under_its_reference(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    # What a process killed during its push leaves behind: a live lease, then an expired one.
    stale = "update labels set push_owner = gen_random_uuid(), push_until = now() + make_interval(secs => $2) where id = $1"
    await fake_runtime.db.pool.execute(stale, label.id, 30.0)
    with pytest.raises(PushRunning):
        await push_label(fake_runtime, label.id)
    await fake_runtime.db.pool.execute(stale, label.id, -1.0)
    pushed = await push_label(fake_runtime, label.id)
    assert [p.push_state for p in pushed.parcels] == [PushState.CONFIRMED]
    assert list(shop.confirmations) == [(shop.orders["F-0001"].id, "1")]


async def test_a_push_that_outlived_its_lease_records_nothing(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection)
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    confirm = shop.confirm_shipment

    async def confirm_while_another_push_takes_over(*args: object, **kwargs: object) -> None:
        await confirm(*args, **kwargs)
        await fake_runtime.db.pool.execute(
            "update labels set push_owner = gen_random_uuid(), push_until = now() + interval '1 minute' where id = $1",
            label.id,
        )

    monkeypatch.setattr(shop, "confirm_shipment", confirm_while_another_push_takes_over)
    with pytest.raises(PushRunning):
        await push_label(fake_runtime, label.id)
    parcel = await fake_runtime.db.pool.fetchrow("select push_state, push_attempts from parcels where label_id = $1", label.id)
    assert (parcel["push_state"], parcel["push_attempts"]) == ("pending", 0)
    # The other push's lease is untouched: it records its own outcome.
    assert await fake_runtime.db.pool.fetchval("select push_owner is not null from labels where id = $1", label.id)


async def test_a_push_longer_than_its_lease_renews_it(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = fake_runtime.settings.jobs.model_copy(update={"heartbeat_seconds": 2})
    monkeypatch.setattr(fake_runtime, "settings", fake_runtime.settings.model_copy(update={"jobs": jobs}))
    label, answer, first = await push_held_in_the_shop(fake_runtime, shop, connection, monkeypatch)
    until = "select push_until from labels where id = $1"
    taken = await fake_runtime.db.pool.fetchval(until, label.id)

    async def renewed_past_the_first_period() -> bool:
        now = await fake_runtime.db.pool.fetchval("select now()")
        return (now - taken).total_seconds() > 0.5 and await fake_runtime.db.pool.fetchval(until, label.id) > now

    await eventually(renewed_past_the_first_period)
    with pytest.raises(PushRunning):
        await push_label(fake_runtime, label.id)
    answer.set()
    assert [p.push_state for p in (await first).parcels] == [PushState.CONFIRMED]


async def test_labels_recorded_at_once_for_one_order_get_their_own_references(
    fake_runtime: Runtime, shop: FakeShop, connection: Connection
) -> None:
    order_id = await imported_order(fake_runtime, shop, connection, items=2)
    one = NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1", items=[ParcelItem(item_external_id="item-0", quantity=2)])])
    two = NewLabel(external_id="L2", parcels=[NewParcel(tracking_number="GLS2", items=[ParcelItem(item_external_id="item-1", quantity=2)])])
    again = [create_label(fake_runtime, order_id, one) for _ in range(3)]
    labels = await asyncio.gather(*again, create_label(fake_runtime, order_id, two))
    assert len({label.id for label in labels[:3]}) == 1, "the same label id, sent three times at once, is one label"
    assert sorted(p.reference for label in (labels[0], labels[3]) for p in label.parcels) == ["1", "2"]
