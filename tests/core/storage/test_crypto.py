"""Encryption at rest: credentials unreadable without the key; rotation keeps old data readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.contract.errors import ConfigError
from core.contract.models import ConnectionSettings
from core.infra.crypto import KEY_FILE, Vault, new_key, open_vault
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.storage.accounts import create_account
from core.storage.connections import create_connection, load_credentials, store_authorization


def test_generated_key_file_is_private_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = HubSettings(data_dir=tmp_path)
    first = open_vault(settings)
    second = open_vault(settings)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert second.decrypt(first.encrypt({"a": 1})) == {"a": 1}
    assert sum("generated an encryption key" in r.message for r in caplog.records) == 1


def test_rotation_keeps_old_data_readable() -> None:
    old, new = new_key().encode(), new_key().encode()
    token = Vault([old]).encrypt({"refresh_token": "Atzr|x"})
    rotated = Vault([new, old])
    assert rotated.decrypt(token) == {"refresh_token": "Atzr|x"}
    assert Vault([new]).decrypt(rotated.rotate(token)) == {"refresh_token": "Atzr|x"}


def test_wrong_key_cannot_decrypt_and_says_how_to_fix() -> None:
    token = Vault([new_key().encode()]).encrypt("secret")
    with pytest.raises(ConfigError, match="add the old key"):
        Vault([new_key().encode()]).decrypt(token)


def test_invalid_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="new-key"):
        Vault([b"not-a-key"])


async def test_credentials_are_unreadable_in_the_database_without_the_key(runtime: Runtime) -> None:
    account = await create_account(runtime.db.pool, "Crypto BV")
    connection = await create_connection(runtime.db.pool, account.id, "fake", ConnectionSettings())
    secret = "Atzr|IQEBLzAtAhexamplewVz2Nn6f2y-tpJX2DeX"
    await store_authorization(
        runtime.db.pool, runtime.vault, connection.id, "A3SELLER", {"refresh_token": secret}, None, ConnectionSettings()
    )
    raw = await runtime.db.pool.fetchval("select credentials from connections where id = $1", connection.id)
    dump = await runtime.db.pool.fetchval("select row_to_json(c)::text from connections c where id = $1", connection.id)
    assert secret.encode() not in bytes(raw)
    assert secret not in dump and "IQEBLzAt" not in dump
    assert (await load_credentials(runtime.db.pool, runtime.vault, connection.id))["refresh_token"] == secret
    with pytest.raises(ConfigError):
        Vault([new_key().encode()]).decrypt(raw)
