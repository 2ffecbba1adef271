"""Key rotation: rewrite every encrypted value under the newest key.

Rotating takes two steps. Put a new key first in ``security.encryption_keys`` and keep the old
ones after it: the hub reads data under any of them and writes under the first (MultiFernet).
Then ``reencrypt`` (``hub config rotate-keys``) rewrites the stored credentials and recipients
under the newest key, a batch per transaction, and makes the recipients' search tokens again under
it, after which the old keys can be removed. OAuth
states and web sessions are signed with a key derived from the newest key, so connects in
progress must start again and merchants sign in again.
"""

from __future__ import annotations

import asyncpg
from cryptography.fernet import InvalidToken

from core.contract.errors import ConfigError
from core.infra.crypto import Vault
from core.storage.orders import reindex_recipients

#: Every encrypted column, as (table, column); both tables have a bigint ``id``.
ENCRYPTED = (("connections", "credentials"), ("orders", "recipient"))


async def reencrypt(pool: asyncpg.Pool, vault: Vault, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value with the vault's newest key; how many per ``table.column``."""
    counts: dict[str, int] = {}
    for table, column in ENCRYPTED:
        done, last = 0, 0
        while True:
            async with pool.acquire() as db, db.transaction():
                rows = await db.fetch(
                    f"select id, {column} as value from {table} where id > $1 and {column} is not null"
                    " order by id limit $2 for update",
                    last,
                    batch,
                )
                if not rows:
                    break
                try:
                    rotated = [(row["id"], vault.rotate(row["value"])) for row in rows]
                except InvalidToken as err:
                    raise ConfigError(
                        f"Some {table}.{column} cannot be decrypted with the configured keys: keep the old key "
                        "in security.encryption_keys (after the new one) until the rotation is done."
                    ) from err
                await db.executemany(f"update {table} set {column} = $2 where id = $1", rotated)
            done += len(rows)
            last = rows[-1]["id"]
        counts[f"{table}.{column}"] = done
    # The search tokens are keyed by the newest key too: until they are remade, the old key finds them.
    counts["orders.recipient_tokens"] = await reindex_recipients(pool, vault)
    return counts
