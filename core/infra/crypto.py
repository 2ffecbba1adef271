"""Encryption at rest for credentials and personal data (Fernet, with MultiFernet for rotation).

Keys come from ``security.encryption_keys`` (newest first; older keys only decrypt). With none set,
the hub generates one into ``<data_dir>/encryption.key`` (mode 0600) and says so once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.contract.errors import ConfigError
from core.infra.settings import HubSettings

log = logging.getLogger(__name__)

KEY_FILE = "encryption.key"


class Vault:
    """Encrypts and decrypts JSON values with the configured keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError("No encryption key: set security.encryption_keys or let the hub generate one.")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
            self._primary = keys[0]
            self._keys = list(keys)
        except ValueError as err:
            raise ConfigError(
                "An encryption key is not a valid Fernet key: generate one with `hub config new-key`."
            ) from err

    def encrypt(self, value: Any) -> bytes:
        """Encrypt a JSON-serialisable value."""
        return self._fernet.encrypt(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))

    def decrypt(self, token: bytes) -> Any:
        """Decrypt a value encrypted by this vault or with any older key."""
        try:
            return orjson.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken as err:
            raise ConfigError(
                "Stored data cannot be decrypted with the configured keys: add the old key to security.encryption_keys."
            ) from err

    def derive(self, purpose: str) -> bytes:
        """A key for another purpose (such as signing), derived from the newest key."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
        return hkdf.derive(self._primary)

    def derive_all(self, purpose: str) -> list[bytes]:
        """The key ``derive`` gives, under every configured key, newest first.

        For values made once and looked up later (search tokens): after a key rotation, values
        made under an older key are still found while that key stays configured.
        """
        return [
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)
            for key in self._keys
        ]

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token with the newest key."""
        return self._fernet.rotate(bytes(token))


def new_key() -> str:
    """A fresh Fernet key, as text."""
    return Fernet.generate_key().decode()


def open_vault(settings: HubSettings) -> Vault:
    """The vault for these settings, generating a key file in the data folder if none is configured."""
    keys = [key.get_secret_value().encode() for key in settings.security.encryption_keys]
    if not keys:
        keys = [_key_from_file(settings.data_dir / KEY_FILE)]
    return Vault(keys)


def _key_from_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log.warning(
        "generated an encryption key at %s: back it up, or set security.encryption_keys; without it stored "
        "credentials and addresses cannot be read",
        path,
    )
    return key
