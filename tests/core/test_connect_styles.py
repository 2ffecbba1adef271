"""Hub API v2 in core, end to end on the embedded PostgreSQL with the key shop (credentials, 202s, events).

Connecting with pasted credentials (checked before anything is stored, keyed by the shop account,
reconnected for the same account only), abandoned consent connects cleaned up, accepted parcels
settled by asking the shop later without spending push attempts, and shop events verified,
deduplicated, rate-limited and acted on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import EntryPoint
from types import SimpleNamespace

import pytest

from core.contract.errors import (
    Conflict,
    ConnectorAuthFailed,
    ConnectorError,
    EventRejected,
    InvalidInput,
    NotFound,
    RateLimited,
    TransientError,
)
from core.contract.models import Connection, ConnectionState, PushState
from core.infra.plugins import ENTRY_POINT_GROUP, load_connector
from core.infra.queue import schedule_due_settles
from core.infra.runtime import Runtime, open_runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.connections import get_connection, list_connections
from core.storage.imports import start_run
from core.storage.labels import get_label
from core.storage.orders import find_order
from core.usecases import connections
from core.usecases.events import receive_event
from core.usecases.imports import run_import
from core.usecases.jobs import run_settle_job
from core.usecases.labels import NewLabel, NewParcel, create_label, push_label, settle_parcels
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop, close_shop, open_shop

KEYSHOP = EntryPoint(name="keyshop", value="tests.contract.keyshop", group=ENTRY_POINT_GROUP)
GOOD = {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}


@pytest.fixture
def keyshop() -> Iterator[KeyShop]:
    """A fresh key shop under the default name."""
    shop = open_shop("default")
    yield shop
    close_shop("default")


@pytest.fixture
async def rt(settings: HubSettings, keyshop: KeyShop, shop: FakeShop) -> AsyncIterator[Runtime]:
    """A runtime with the key shop and the fake connector, events addressed over https."""
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"public_url": "https://hub.example.test"})}
    )
    async with open_runtime(settings, connectors=[load_connector(KEYSHOP, settings), load_connector(FAKE, settings)]) as runtime:
        yield runtime


async def connected(rt: Runtime, name: str = "Shop BV") -> Connection:
    account = await create_account(rt.db.pool, name)
    return await connections.connect_with_credentials(rt, account.id, "keyshop", GOOD)


async def connection_count(rt: Runtime) -> int:
    return await rt.db.pool.fetchval("select count(*) from connections")


# connecting with credentials ---------------------------------------------------------------


async def test_credentials_are_checked_with_the_shop_before_anything_is_stored(rt: Runtime, keyshop: KeyShop) -> None:
    account = await create_account(rt.db.pool, "Shop BV")
    with pytest.raises(ConnectorAuthFailed) as refused:
        await connections.connect_with_credentials(
            rt, account.id, "keyshop", {"client_id": GOOD_CLIENT_ID, "client_secret": "wrong-secret"}
        )
    assert "wrong-secret" not in str(refused.value)
    assert await connection_count(rt) == 0
    connection = await connections.connect_with_credentials(rt, account.id, "keyshop", GOOD)
    assert connection.state is ConnectionState.CONNECTED
    assert connection.external_account_id == keyshop.account.id
    # Stored encrypted: the secret is not in the row's bytes.
    raw = await rt.db.pool.fetchval("select credentials from connections where id = $1", connection.id)
    assert GOOD_CLIENT_SECRET.encode() not in raw
    # The connector subscribed the shop to this connection's own event route.
    token = await rt.db.pool.fetchval("select event_token from connections where id = $1", connection.id)
    assert list(keyshop.subscriptions) == [rt.events_url(token)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_id": GOOD_CLIENT_ID}, "client_secret"),
        ({**GOOD, "api_key": "x"}, "api_key"),
        ({**GOOD, "client_id": "a" * 501}, "client_id"),
        ({**GOOD, "client_id": "line\nbreak"}, "client_id"),
        ({**GOOD, "client_secret": 12}, "client_secret"),
    ],
)
async def test_malformed_credentials_name_the_field_and_ask_the_shop_nothing(
    rt: Runtime, keyshop: KeyShop, fields: dict[str, object], field: str
) -> None:
    account = await create_account(rt.db.pool, "Shop BV")
    with pytest.raises(InvalidInput) as refused:
        await connections.connect_with_credentials(rt, account.id, "keyshop", fields)
    assert refused.value.field == field
    assert keyshop.calls == []
    assert await connection_count(rt) == 0


async def test_each_connect_style_refuses_the_other_form(rt: Runtime) -> None:
    account = await create_account(rt.db.pool, "Shop BV")
    with pytest.raises(InvalidInput, match="consent page"):
        await connections.connect_with_credentials(rt, account.id, "fake", GOOD)
    with pytest.raises(InvalidInput, match="credentials"):
        await connections.start_connect(rt, account.id, "keyshop", {})
    assert await connection_count(rt) == 0


async def test_the_same_shop_account_connects_once_per_carrier_account(rt: Runtime, keyshop: KeyShop) -> None:
    first = await connected(rt)
    client_id, secret = keyshop.add_client()
    with pytest.raises(Conflict, match="reconnect that connection"):
        await connections.connect_with_credentials(
            rt, first.account_id, "keyshop", {"client_id": client_id, "client_secret": secret}
        )
    assert [c.id for c in await list_connections(rt.db.pool)] == [first.id]
    # The refused connect's subscription at the shop was undone; the first one's stays.
    token = await rt.db.pool.fetchval("select event_token from connections where id = $1", first.id)
    assert list(keyshop.subscriptions) == [rt.events_url(token)]


async def test_reconnect_takes_new_credentials_for_the_same_shop_account(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    keyshop.revoke_client(GOOD_CLIENT_ID)
    with pytest.raises(ConnectorAuthFailed):
        await connections.check(rt, None, connection.id)
    assert (await get_connection(rt.db.pool, connection.id)).state is ConnectionState.AUTH_REQUIRED
    client_id, secret = keyshop.add_client()
    with pytest.raises(ConnectorAuthFailed):
        await connections.reconnect_with_credentials(
            rt, connection.account_id, connection.id, {"client_id": client_id, "client_secret": "wrong"}
        )
    assert (await get_connection(rt.db.pool, connection.id)).state is ConnectionState.AUTH_REQUIRED
    again = await connections.reconnect_with_credentials(
        rt, connection.account_id, connection.id, {"client_id": client_id, "client_secret": secret}
    )
    assert (again.id, again.state) == (connection.id, ConnectionState.CONNECTED)
    await connections.check(rt, None, connection.id)
    # Another account cannot reconnect it.
    stranger = await create_account(rt.db.pool, "Other BV")
    with pytest.raises(NotFound):
        await connections.reconnect_with_credentials(rt, stranger.id, connection.id, GOOD)


async def test_abandoned_consent_connects_are_deleted_once_their_links_expire(rt: Runtime, shop: FakeShop) -> None:
    account = await create_account(rt.db.pool, "Shop BV")
    abandoned, _ = await connections.start_connect(rt, account.id, "fake", {})
    fresh, _ = await connections.start_connect(rt, account.id, "fake", {})
    await rt.db.pool.execute(
        "update oauth_states set expires_at = now() - interval '1 hour' where connection_id = $1", abandoned.id
    )
    await rt.db.pool.execute(
        "update connections set updated_at = now() - interval '1 hour' where id = any($1::bigint[])",
        [abandoned.id, fresh.id],
    )
    assert await connections.delete_abandoned_connects(rt) == 1
    assert [c.id for c in await list_connections(rt.db.pool)] == [fresh.id]


# accepted parcels ------------------------------------------------------------------------------


async def labelled(rt: Runtime, keyshop: KeyShop, connection: Connection) -> tuple[int, str]:
    """An imported order with a pushed label; return the label id and the order's shop id."""
    order = keyshop.add_order()
    await run_import(rt, connection.id)
    await connections.change_settings(rt, None, connection.id, {"update_tracking": True})
    stored = await find_order(rt.db.pool, rt.vault, connection.id, order.id)
    label = await create_label(rt, stored.id, NewLabel(external_id="L1", parcels=[NewParcel(tracking_number="GLS1")]))
    return label.id, order.id


async def due_now(rt: Runtime) -> None:
    await rt.db.pool.execute("update parcels set check_after = now() where push_state = 'accepted'")


async def test_an_accepted_parcel_is_confirmed_when_the_shop_settles_it(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    label_id, order_id = await labelled(rt, keyshop, connection)
    pushed = await push_label(rt, label_id)
    [parcel] = pushed.parcels
    assert parcel.push_state is PushState.ACCEPTED
    assert parcel.shop_reference == keyshop.pending_processes()[0]
    assert parcel.push_attempts == 1
    # Asked before it is due: nothing happens.
    assert await settle_parcels(rt, connection.id) == 0
    await due_now(rt)
    assert await schedule_due_settles(rt.db.pool) == 1
    assert await settle_parcels(rt, connection.id) == 1  # still pending at the shop
    assert (await get_label(rt.db.pool, label_id)).parcels[0].push_state is PushState.ACCEPTED
    keyshop.settle(parcel.shop_reference)
    await due_now(rt)
    await settle_parcels(rt, connection.id)
    [settled] = (await get_label(rt.db.pool, label_id)).parcels
    assert (settled.push_state, settled.push_attempts) == (PushState.CONFIRMED, 1)
    assert keyshop.shipment_count(order_id) == 1
    status_calls = [call for call in keyshop.calls if call.operation == "process_statuses"]
    assert len(status_calls) == 2  # one bulk call per question, not one per parcel


async def test_a_refused_shipment_is_failed_with_the_shops_message_and_can_be_retried(
    rt: Runtime, keyshop: KeyShop
) -> None:
    connection = await connected(rt)
    label_id, order_id = await labelled(rt, keyshop, connection)
    [parcel] = (await push_label(rt, label_id)).parcels
    keyshop.settle(parcel.shop_reference, "FAILURE", "Track and trace is not valid for GLS.")
    await due_now(rt)
    await settle_parcels(rt, connection.id)
    [failed] = (await get_label(rt.db.pool, label_id)).parcels
    assert (failed.push_state, failed.push_message) == (PushState.FAILED, "Track and trace is not valid for GLS.")


async def test_a_lost_answer_never_makes_a_second_shipment(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    label_id, order_id = await labelled(rt, keyshop, connection)
    keyshop.lose_next_answer()
    with pytest.raises(TransientError):
        await push_label(rt, label_id)
    assert (await get_label(rt.db.pool, label_id)).parcels[0].push_state is PushState.PENDING
    [parcel] = (await push_label(rt, label_id)).parcels
    assert parcel.push_state is PushState.ACCEPTED
    assert keyshop.shipment_count(order_id) == 1


async def test_a_shop_that_cannot_answer_is_asked_again_later(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    label_id, _ = await labelled(rt, keyshop, connection)
    await push_label(rt, label_id)
    await due_now(rt)
    keyshop.fail_next("5xx", 5)
    with pytest.raises(TransientError):
        await settle_parcels(rt, connection.id)
    row = await rt.db.pool.fetchrow("select push_state, checks, check_after > now() as later from parcels")
    assert (row["push_state"], row["checks"], row["later"]) == ("accepted", 1, True)


# shop events -----------------------------------------------------------------------------------


async def event_token(rt: Runtime, connection: Connection) -> str:
    return await rt.db.pool.fetchval("select event_token from connections where id = $1", connection.id)


async def queued_imports(rt: Runtime, connection: Connection) -> int:
    return await rt.db.pool.fetchval(
        "select count(*) from import_runs where connection_id = $1 and trigger = 'event'", connection.id
    )


async def test_a_signed_order_event_queues_one_import_and_its_redelivery_nothing(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    token = await event_token(rt, connection)
    keyshop.add_order()
    [message] = keyshop.events_for()
    receipt = await receive_event(rt, token, message.headers, message.body)
    assert (receipt.duplicate, receipt.import_queued) == (False, True)
    assert await queued_imports(rt, connection) == 1
    again = await receive_event(rt, token, message.headers, message.body)
    assert again.duplicate
    assert await queued_imports(rt, connection) == 1


async def test_forged_unsigned_and_stale_events_change_nothing(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    token = await event_token(rt, connection)
    url = rt.events_url(token)
    forged = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-1", secret="not-the-secret")
    stale = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-1", timestamp=1_000_000_000.0)
    genuine = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-1")
    unsigned = {key: value for key, value in genuine.headers.items() if "signature" not in key}
    for headers, body in ((forged.headers, forged.body), (stale.headers, stale.body), (unsigned, genuine.body)):
        with pytest.raises(EventRejected):
            await receive_event(rt, token, headers, body)
    assert await rt.db.pool.fetchval("select count(*) from shop_events") == 0
    assert await queued_imports(rt, connection) == 0
    with pytest.raises(NotFound):
        await receive_event(rt, "no-such-token", genuine.headers, genuine.body)


async def test_a_process_status_event_makes_its_parcel_due_at_once(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    label_id, _ = await labelled(rt, keyshop, connection)
    [parcel] = (await push_label(rt, label_id)).parcels
    keyshop.settle(parcel.shop_reference)
    [message] = [m for m in keyshop.events_for() if b"PROCESS_STATUS" in m.body]
    receipt = await receive_event(rt, await event_token(rt, connection), message.headers, message.body)
    assert receipt.parcels_due == 1
    assert await settle_parcels(rt, connection.id) == 1
    assert (await get_label(rt.db.pool, label_id)).parcels[0].push_state is PushState.CONFIRMED


async def test_events_beyond_the_limit_per_minute_are_refused(rt: Runtime, keyshop: KeyShop) -> None:
    rt.settings = rt.settings.model_copy(update={"events": rt.settings.events.model_copy(update={"per_minute": 2})})
    connection = await connected(rt)
    token = await event_token(rt, connection)
    for _ in range(3):
        keyshop.add_order()
    first, second, third = keyshop.events_for()
    await receive_event(rt, token, first.headers, first.body)
    await receive_event(rt, token, second.headers, second.body)
    with pytest.raises(RateLimited):
        await receive_event(rt, token, third.headers, third.body)
    assert await rt.db.pool.fetchval("select count(*) from shop_events") == 2


async def test_a_parcel_the_shop_never_settles_is_failed_after_the_limit(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    label_id, _ = await labelled(rt, keyshop, connection)
    await push_label(rt, label_id)
    hours = rt.settings.jobs.settle_max_hours
    await rt.db.pool.execute(
        "update parcels set check_after = now(), accepted_at = now() - make_interval(hours => $1)", int(hours) + 1
    )
    calls = len(keyshop.calls)
    assert await settle_parcels(rt, connection.id) == 0
    [parcel] = (await get_label(rt.db.pool, label_id)).parcels
    assert parcel.push_state is PushState.FAILED
    assert "did not confirm" in (parcel.push_message or "")
    assert len(keyshop.calls) == calls  # failed without asking the shop


async def test_a_flood_of_forged_events_is_cut_off_before_the_connector_verifies(rt: Runtime, keyshop: KeyShop) -> None:
    rt.settings = rt.settings.model_copy(update={"events": rt.settings.events.model_copy(update={"per_minute": 2})})
    connection = await connected(rt)
    token = await event_token(rt, connection)
    forged = keyshop.message(rt.events_url(token), "ORDER", "ORDER_CREATED", "K-1", secret="not-the-secret")
    rejected = 0
    with pytest.raises(RateLimited):
        for _ in range(10):
            try:
                await receive_event(rt, token, forged.headers, forged.body)
            except EventRejected:
                rejected += 1
    assert rejected == 4  # twice the limit reach the connector in a minute, then none


async def test_events_arriving_together_for_one_connection_are_each_taken(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    token = await event_token(rt, connection)
    for _ in range(6):
        keyshop.add_order()
    messages = keyshop.events_for()
    receipts = await asyncio.gather(*(receive_event(rt, token, m.headers, m.body) for m in messages))
    assert not any(receipt.duplicate for receipt in receipts)
    assert await rt.db.pool.fetchval("select count(*) from shop_events") == len(messages)
    assert await queued_imports(rt, connection) == 1  # one import run serves them all


async def test_a_connector_fault_while_checking_backs_off_like_a_transient_one(
    rt: Runtime, keyshop: KeyShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = await connected(rt)
    label_id, _ = await labelled(rt, keyshop, connection)
    await push_label(rt, label_id)
    await due_now(rt)

    async def broken(*args: object) -> list[object]:
        raise ConnectorError("The key shop connector failed.", detail="a bug")

    monkeypatch.setattr(rt.runner, "check_parcels", broken)
    with pytest.raises(ConnectorError):
        await settle_parcels(rt, connection.id)
    row = await rt.db.pool.fetchrow("select push_state, checks, check_after > now() as later from parcels")
    assert (row["push_state"], row["checks"], row["later"]) == ("accepted", 1, True)
    assert await schedule_due_settles(rt.db.pool) == 0  # not asked again on the next tick


async def test_an_order_event_during_a_running_import_queues_one_more_run(rt: Runtime, keyshop: KeyShop) -> None:
    connection = await connected(rt)
    token = await event_token(rt, connection)
    running = await start_run(rt.db.pool, connection.id, "schedule")  # a run that read its pages already
    keyshop.add_order()
    keyshop.add_order()
    first, second = keyshop.events_for()
    assert (await receive_event(rt, token, first.headers, first.body)).import_queued
    assert (await receive_event(rt, token, second.headers, second.body)).import_queued
    runs = await rt.db.pool.fetch("select id, state from import_runs where connection_id = $1 order by id", connection.id)
    assert [(r["id"] == running, r["state"]) for r in runs] == [(True, "running"), (False, "queued")]


async def test_one_settle_job_asks_batch_after_batch_while_parcels_are_due(
    rt: Runtime, keyshop: KeyShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = await connected(rt)
    label_id, _ = await labelled(rt, keyshop, connection)
    await push_label(rt, label_id)
    other, _ = await labelled_another(rt, keyshop, connection)
    await push_label(rt, other)
    for process in keyshop.pending_processes():
        keyshop.settle(process)
    await due_now(rt)
    monkeypatch.setattr("core.usecases.labels.SETTLE_BATCH", 1)  # two batches of one
    await run_settle_job(rt, SimpleNamespace(id=1, payload=json.dumps({"connection_id": connection.id}).encode()))
    states = await rt.db.pool.fetch("select push_state from parcels")
    assert [row["push_state"] for row in states] == ["confirmed", "confirmed"]


async def labelled_another(rt: Runtime, keyshop: KeyShop, connection: Connection) -> tuple[int, str]:
    order = keyshop.add_order()
    await run_import(rt, connection.id)
    stored = await find_order(rt.db.pool, rt.vault, connection.id, order.id)
    label = await create_label(rt, stored.id, NewLabel(external_id="L2", parcels=[NewParcel(tracking_number="GLS2")]))
    return label.id, order.id
