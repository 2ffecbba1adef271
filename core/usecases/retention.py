"""Data retention: personal data is deleted once it is no longer needed.

Amazon's data protection policy allows keeping a recipient at most 30 days after the order
shipped; ``jobs.retention_days`` sets it. Expired OAuth states go too, connects never finished
(their consent links expired), shop events older than a week (kept to ignore a redelivery), and
the shared pacing's expired secrets and idle buckets.
"""

from __future__ import annotations

import logging

from core.infra.runtime import Runtime
from core.storage import coordination as coordination_store
from core.storage import events as event_store
from core.storage import oauth as oauth_store
from core.storage import orders as order_store
from core.usecases.connections import delete_abandoned_connects

log = logging.getLogger(__name__)


async def delete_expired_personal_data(rt: Runtime) -> int:
    """Delete recipients of orders shipped or cancelled more than ``retention_days`` ago; return how many."""
    count = await order_store.forget_recipients(rt.db.pool, rt.settings.jobs.retention_days)
    await oauth_store.delete_expired(rt.db.pool)
    await event_store.delete_older(rt.db.pool, days=7)
    await coordination_store.delete_stale(rt.db.pool)
    await delete_abandoned_connects(rt)
    if count:
        log.info("retention: deleted the personal data of %s closed orders", count)
    return count
