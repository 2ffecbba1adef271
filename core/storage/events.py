"""Shop events seen per connection, by the shop's own event id (hub API v2)."""

from __future__ import annotations

from core.storage.database import Db


async def remember(db: Db, connection_id: int, event_id: str) -> bool:
    """Note an event id for a connection; ``False`` when it was seen before."""
    inserted = await db.fetchval(
        "insert into shop_events (connection_id, event_id) values ($1, $2) on conflict do nothing returning 1",
        connection_id,
        event_id,
    )
    return inserted is not None


async def recent_count(db: Db, connection_id: int) -> int:
    """How many events of a connection arrived in the last minute."""
    return await db.fetchval(
        "select count(*) from shop_events where connection_id = $1 and received_at > now() - interval '1 minute'",
        connection_id,
    )


async def delete_older(db: Db, days: int) -> None:
    """Forget the events that arrived more than ``days`` ago."""
    await db.execute("delete from shop_events where received_at < now() - make_interval(days => $1)", days)
