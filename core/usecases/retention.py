"""Data retention: personal data is deleted once it is no longer needed.

Amazon's data protection policy allows keeping a recipient at most 30 days after the order
shipped; ``jobs.retention_days`` sets it. Expired OAuth states go too, connects never finished
(their consent links expired), shop events older than a week (kept to ignore a redelivery), the
shared pacing's expired secrets and idle buckets, and the import runs no longer worth showing.
"""

from __future__ import annotations

import logging

from core.infra.runtime import Runtime
from core.storage import coordination as coordination_store
from core.storage import events as event_store
from core.storage import oauth as oauth_store
from core.storage import orders as order_store
from core.storage import schedule as schedule_store
from core.usecases.connections import delete_abandoned_connects

log = logging.getLogger(__name__)

#: A scheduled import that stored nothing is kept this long: at 100,000 connections on a 5-minute
#: schedule they are 1.2 million rows an hour, and they say only "nothing new".
QUIET_RUN_HOURS = 1.0

#: Every other import run (it stored orders, failed, or a person or an event asked for it) is kept
#: this long. A connection's latest run is always kept: its schedule counts from it.
RUN_HISTORY_DAYS = 30


async def delete_expired_personal_data(rt: Runtime) -> int:
    """Delete recipients of orders shipped or cancelled more than ``retention_days`` ago; return how many."""
    count = await order_store.forget_recipients(rt.db.pool, rt.settings.jobs.retention_days)
    await oauth_store.delete_expired(rt.db.pool)
    await event_store.delete_older(rt.db.pool, days=7)
    await coordination_store.delete_stale(rt.db.pool)
    await schedule_store.prune_runs(rt.db.pool, QUIET_RUN_HOURS, RUN_HISTORY_DAYS)
    await delete_abandoned_connects(rt)
    if count:
        log.info("retention: deleted the personal data of %s closed orders", count)
    return count
