"""Labels end to end: stable parcel references, idempotent pushes, outcomes kept per parcel."""

from __future__ import annotations

import pytest

from core import authorization
from core.errors import Conflict, ConnectorAuthFailed, InvalidInput, NotFound, TransientError
from core.imports import run_import
from core.labels import NewLabel, NewParcel, create_label, push_label, retry_label
from core.models import Connection, ConnectionState, ParcelItem, PushState
from core.runtime import Runtime
from core.storage.connections import get_connection
from core.storage.orders import find_order
from tests.contract.fake.shop import FakeItem, FakeShop


async def imported_order(rt: Runtime, shop: FakeShop, connection: Connection, items: int = 1) -> int:
    order = shop.add_order(items=[FakeItem(id=f"item-{n}", sku=f"S{n}", title="Mug", quantity=2) for n in range(items)])
    await run_import(rt, connection.id)
    await authorization.change_settings(rt, None, connection.id, {"update_tracking": True})
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
    await authorization.change_settings(fake_runtime, None, connection.id, {"update_tracking": False})
    label = await create_label(fake_runtime, order_id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="T")]))
    pushed = await push_label(fake_runtime, label.id)
    assert pushed.parcels[0].push_state is PushState.SKIPPED
    assert shop.confirmations == {}
    await authorization.change_settings(fake_runtime, None, connection.id, {"update_tracking": True})
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
