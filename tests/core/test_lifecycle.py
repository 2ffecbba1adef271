"""Connection states: allowed transitions persist with their reason; others are refused."""

from __future__ import annotations

import pytest

from core.contract.errors import Conflict, InvalidInput
from core.contract.models import ConnectionSettings
from core.contract.models import ConnectionState as S
from core.infra.runtime import Runtime
from core.storage.accounts import create_account
from core.storage.connections import create_connection, get_connection
from core.usecases import lifecycle
from core.usecases.oauth import consume_state, issue_state


async def _connection(rt: Runtime) -> int:
    account = await create_account(rt.db.pool, "Lifecycle BV")
    return (await create_connection(rt.db.pool, account.id, "fake", ConnectionSettings())).id


async def test_transition_persists_state_reason_and_history(runtime: Runtime) -> None:
    cid = await _connection(runtime)
    async with runtime.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, cid, S.CONNECTED, "authorised")
        await lifecycle.transition(db, cid, S.AUTH_REQUIRED, "invalid_grant")
    connection = await get_connection(runtime.db.pool, cid)
    assert (connection.state, connection.reason) == (S.AUTH_REQUIRED, "invalid_grant")
    events = await runtime.db.pool.fetch(
        "select from_state, to_state from connection_events where connection_id = $1 order by id", cid
    )
    assert [(e["from_state"], e["to_state"]) for e in events] == [
        (None, "pending_authorization"),
        ("pending_authorization", "connected"),
        ("connected", "auth_required"),
    ]


async def test_disallowed_transition_is_refused_and_changes_nothing(runtime: Runtime) -> None:
    cid = await _connection(runtime)
    async with runtime.db.pool.acquire() as db:
        with pytest.raises(Conflict, match="cannot become auth_required"):
            async with db.transaction():
                await lifecycle.transition(db, cid, S.AUTH_REQUIRED, "x")
    assert (await get_connection(runtime.db.pool, cid)).state is S.PENDING


def test_disconnected_is_final_and_every_state_can_disconnect() -> None:
    assert lifecycle.TRANSITIONS[S.DISCONNECTED] == frozenset()
    assert all(lifecycle.allowed(state, S.DISCONNECTED) for state in S if state is not S.DISCONNECTED)


async def test_state_is_single_use(runtime: Runtime) -> None:
    cid = await _connection(runtime)
    account_id = (await get_connection(runtime.db.pool, cid)).account_id
    state = await issue_state(runtime.db.pool, runtime.vault, account_id, cid, 600)
    grant = await consume_state(runtime.db.pool, runtime.vault, state)
    assert (grant.account_id, grant.connection_id) == (account_id, cid)
    with pytest.raises(InvalidInput, match="used already"):
        await consume_state(runtime.db.pool, runtime.vault, state)


async def test_forged_state_is_refused(runtime: Runtime) -> None:
    cid = await _connection(runtime)
    account_id = (await get_connection(runtime.db.pool, cid)).account_id
    state = await issue_state(runtime.db.pool, runtime.vault, account_id, cid, 600)
    nonce, signature = state.split(".")
    for forged in (f"{nonce}.{signature[:-2]}xx", f"other.{signature}", "", "no-dot", "a.b.c"):
        with pytest.raises(InvalidInput, match="invalid"):
            await consume_state(runtime.db.pool, runtime.vault, forged)
    assert (await consume_state(runtime.db.pool, runtime.vault, state)).connection_id == cid


async def test_expired_state_is_refused(runtime: Runtime) -> None:
    cid = await _connection(runtime)
    account_id = (await get_connection(runtime.db.pool, cid)).account_id
    state = await issue_state(runtime.db.pool, runtime.vault, account_id, cid, 600)
    await runtime.db.pool.execute("update oauth_states set expires_at = now() - interval '1 second'")
    with pytest.raises(InvalidInput, match="expired"):
        await consume_state(runtime.db.pool, runtime.vault, state)
