"""Shop events (hub API v2): a message a shop posted to a connection's event route, verified and acted on.

The route is ``<public_url>/events/<event token>``, one per connection (``Runtime.events_url``).
The connection's own connector verifies the message and says what it means (``receive_event``);
core then ignores an event id it has seen for the connection, limits verified events per minute
(``events.per_minute``), and acts through its jobs: an import, or a check of the accepted parcels
the event names. Nothing else changes, and a rejected message changes nothing at all. Polling
stays the source of truth: an event only makes the hub look sooner.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from core.contract.errors import NotFound, RateLimited
from core.contract.models import ConnectionState, EventMeaning, ShopEvent
from core.infra import queue
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import events as store
from core.storage import labels as label_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventReceipt:
    """What core did with a verified event."""

    connection_id: int
    meaning: EventMeaning
    duplicate: bool = False
    import_queued: bool = False
    parcels_due: int = 0


async def receive_event(rt: Runtime, event_token: str, headers: Mapping[str, str], body: bytes) -> EventReceipt:
    """Verify a shop event with the connection's connector and act on it.

    Raises ``NotFound`` for an unknown token or a connection that takes no events,
    ``EventRejected`` (from the connector) for an unverified message, ``RateLimited`` beyond
    ``events.per_minute``; none of them changes anything.
    """
    connection = await connection_store.by_event_token(rt.db.pool, event_token)
    if (
        connection is None
        or connection.state is ConnectionState.DISCONNECTED
        or "receive_event" not in rt.runner.implemented(connection.connector)
    ):
        raise NotFound("No connection takes events at this address.")
    limit = rt.settings.events.per_minute
    # Before anything costs the shop or the database: a flood of posts, forged ones included,
    # must not make the connector fetch the shop's signature keys again and again.
    if not rt.event_posts.admit(event_token, 2 * limit, rt.now().timestamp()):
        raise RateLimited(f"Too many posts to this event address: send at most {limit} a minute.", retry_after=60)
    if await store.recent_count(rt.db.pool, connection.id) >= limit:
        raise RateLimited(f"More than {limit} events a minute for this connection: send it later.", retry_after=60)
    event = ShopEvent(
        headers={key.lower(): value for key, value in headers.items()}, body=body, received_at=rt.now()
    )
    meaning = await rt.runner.receive_event(await rt.context(connection), event)
    async with rt.db.pool.acquire() as db, db.transaction():
        # The row lock first: remembering the event takes a key-share lock on the connection (its
        # foreign key), and queueing an import the row lock; two events taking them in that order
        # at once would deadlock.
        await connection_store.lock_row(db, connection.id)
        if not await store.remember(db, connection.id, meaning.event_id):
            return EventReceipt(connection.id, meaning, duplicate=True)
        if not connection.state.working:
            # Paused or waiting for a reconnect: the event is noted, and polling catches up later.
            return EventReceipt(connection.id, meaning)
        import_queued = False
        if meaning.import_orders:
            # Behind a run that may have read past the order this event is about.
            await queue.enqueue_import(db, connection.id, "event", again_if_running=True)
            import_queued = True
        due = await label_store.check_now(db, connection.id, meaning.settled) if meaning.settled else 0
        if due:
            await queue.enqueue_settle(db, connection.id)
    log.info(
        "connection %s: shop event: import %s, %s parcels to check",
        connection.id, "queued" if import_queued else "not needed", due,
    )
    return EventReceipt(connection.id, meaning, import_queued=import_queued, parcels_due=due)
