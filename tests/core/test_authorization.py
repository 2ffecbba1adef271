"""Connecting a shop: both legs, refused codes, replayed states, reconnect, disconnect."""

from __future__ import annotations

import pytest

from core.contract.errors import ConnectorAuthFailed, InvalidInput, NotFound, TransientError
from core.contract.models import ConnectionState
from core.infra.runtime import Runtime
from core.storage.accounts import create_account
from core.storage.connections import get_connection, load_credentials
from core.usecases import connections
from tests.contract.fake.shop import GOOD_KEY, FakeShop
from tests.core.conftest import connect


async def test_connect_stores_encrypted_credentials_and_connects(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    assert connection.state is ConnectionState.CONNECTED
    assert connection.external_account_id == "fake-default"
    assert connection.settings.marketplaces == ["NL"]
    assert (await load_credentials(fake_runtime.db.pool, fake_runtime.vault, connection.id)) == {"api_key": GOOD_KEY}


async def test_consent_url_carries_a_signed_state_and_the_callback(fake_runtime: Runtime, shop: FakeShop) -> None:
    owner = await create_account(fake_runtime.db.pool, "A")
    connection, url = await connections.start_connect(fake_runtime, owner.id, "fake")
    assert connection.state is ConnectionState.PENDING
    assert "state=" in url and "connect%2Fcallback" in url


async def test_replayed_callback_is_refused(fake_runtime: Runtime, shop: FakeShop) -> None:
    owner = await create_account(fake_runtime.db.pool, "A")
    _, url = await connections.start_connect(fake_runtime, owner.id, "fake")
    params = shop.consent(url)
    await connections.complete_connect(fake_runtime, params)
    with pytest.raises(InvalidInput, match="used already"):
        await connections.complete_connect(fake_runtime, params)


async def test_callback_for_another_account_is_refused(fake_runtime: Runtime, shop: FakeShop) -> None:
    owner = await create_account(fake_runtime.db.pool, "A")
    other = await create_account(fake_runtime.db.pool, "B")
    connection, url = await connections.start_connect(fake_runtime, owner.id, "fake")
    with pytest.raises(InvalidInput, match="another account"):
        await connections.complete_connect(fake_runtime, shop.consent(url), account_id=other.id)
    assert (await get_connection(fake_runtime.db.pool, connection.id)).state is ConnectionState.PENDING


async def test_refused_code_leaves_the_connection_pending_with_a_reason(fake_runtime: Runtime, shop: FakeShop) -> None:
    owner = await create_account(fake_runtime.db.pool, "A")
    connection, url = await connections.start_connect(fake_runtime, owner.id, "fake")
    params = {**shop.consent(url), "code": "forged"}
    with pytest.raises(ConnectorAuthFailed):
        await connections.complete_connect(fake_runtime, params)
    pending = await get_connection(fake_runtime.db.pool, connection.id)
    assert pending.state is ConnectionState.PENDING and "refused" in (pending.reason or "")


async def test_unknown_connector_names_the_installed_ones(fake_runtime: Runtime) -> None:
    owner = await create_account(fake_runtime.db.pool, "A")
    with pytest.raises(NotFound, match="installed are fake"):
        await connections.start_connect(fake_runtime, owner.id, "bol")


async def test_reconnect_after_revocation_connects_again(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    shop.api_keys.clear()
    with pytest.raises(ConnectorAuthFailed):
        await connections.check(fake_runtime, None, connection.id)
    assert (await get_connection(fake_runtime.db.pool, connection.id)).state is ConnectionState.AUTH_REQUIRED
    url = await connections.start_reconnect(fake_runtime, connection.account_id, connection.id)
    again = await connections.complete_connect(fake_runtime, shop.consent(url))
    assert (again.id, again.state) == (connection.id, ConnectionState.CONNECTED)


async def test_disconnect_forgets_credentials(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    done = await connections.disconnect(fake_runtime, None, connection.id)
    assert done.state is ConnectionState.DISCONNECTED
    assert await load_credentials(fake_runtime.db.pool, fake_runtime.vault, connection.id) == {}
    assert GOOD_KEY not in shop.api_keys


async def test_other_accounts_connection_is_not_found(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    with pytest.raises(NotFound):
        await connections.disconnect(fake_runtime, connection.account_id + 1, connection.id)


async def test_bad_settings_change_is_refused(fake_runtime: Runtime, shop: FakeShop) -> None:
    connection = await connect(fake_runtime, shop)
    with pytest.raises(InvalidInput):
        await connections.change_settings(fake_runtime, None, connection.id, {"import_interval_minutes": 0})
    assert (await get_connection(fake_runtime.db.pool, connection.id)).settings == connection.settings


async def test_a_connection_disabled_while_it_needed_a_reconnect_still_needs_one_when_enabled(
    fake_runtime: Runtime, shop: FakeShop
) -> None:
    connection = await connect(fake_runtime, shop)
    await connections.shop_answered(fake_runtime, connection.id, connections.PUSH, ConnectorAuthFailed("the key was revoked"))
    assert (await connections.disable(fake_runtime, None, connection.id)).state is ConnectionState.DISABLED
    assert (await connections.enable(fake_runtime, None, connection.id)).state is ConnectionState.AUTH_REQUIRED


async def test_a_check_that_passes_does_not_undo_a_disable_made_meanwhile(
    fake_runtime: Runtime, shop: FakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = await connect(fake_runtime, shop)
    await connections.shop_answered(fake_runtime, connection.id, connections.IMPORT, TransientError("503"), in_a_row=5)
    ping = shop.ping

    async def disabled_during_the_check(api_key: str) -> None:
        await connections.disable(fake_runtime, None, connection.id)
        await ping(api_key)

    monkeypatch.setattr(shop, "ping", disabled_during_the_check)
    assert (await connections.check(fake_runtime, None, connection.id)).state is ConnectionState.DISABLED
