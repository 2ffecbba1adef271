"""Data retention: personal data is deleted once it is no longer needed.

Amazon's data protection policy allows keeping a recipient at most 30 days after the order
shipped; ``jobs.retention_days`` sets it. Expired OAuth states go too, connects never finished
(their consent links expired) and shop events older than a week (kept to ignore a redelivery).
"""

from __future__ import annotations

import logging

from core.authorization import delete_abandoned_connects
from core.runtime import Runtime

log = logging.getLogger(__name__)


async def delete_expired_personal_data(rt: Runtime) -> int:
    """Delete recipients of orders shipped or cancelled more than ``retention_days`` ago; return how many."""
    result = await rt.db.pool.execute(
        """
        update orders set recipient = null
        where recipient is not null and closed_at < now() - make_interval(days => $1)
        """,
        rt.settings.jobs.retention_days,
    )
    await rt.db.pool.execute("delete from oauth_states where expires_at < now() - interval '1 day'")
    await rt.db.pool.execute("delete from shop_events where received_at < now() - interval '7 days'")
    await delete_abandoned_connects(rt)
    count = int(result.split()[-1])
    if count:
        log.info("retention: deleted the personal data of %s closed orders", count)
    return count
