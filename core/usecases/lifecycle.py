"""Connection states and the transitions between them, persisted with a reason.

pending_authorization -> connected -> (auth_required | error | disabled) -> disconnected.
Every transition is written to ``connections`` and to ``connection_events`` in the caller's
transaction, so every daemon and every page shows the same state.
"""

from __future__ import annotations

import logging

import asyncpg

from core.contract.errors import Conflict, NotFound
from core.contract.models import ConnectionState as S
from core.storage import connections as store

log = logging.getLogger(__name__)

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.CONNECTED, S.DISCONNECTED}),
    S.CONNECTED: frozenset({S.CONNECTED, S.AUTH_REQUIRED, S.ERROR, S.DISABLED, S.DISCONNECTED}),
    S.AUTH_REQUIRED: frozenset({S.CONNECTED, S.DISABLED, S.DISCONNECTED}),
    S.ERROR: frozenset({S.CONNECTED, S.AUTH_REQUIRED, S.DISABLED, S.DISCONNECTED}),
    S.DISABLED: frozenset({S.CONNECTED, S.AUTH_REQUIRED, S.DISCONNECTED}),
    S.DISCONNECTED: frozenset(),
}

#: What the merchant can do about each state, shown beside the reason.
ACTIONS: dict[S, str | None] = {
    S.PENDING: "Finish connecting in the shop's consent page, or start again with Connect.",
    S.CONNECTED: None,
    S.AUTH_REQUIRED: "Reconnect under Settings > Integrations.",
    S.ERROR: "The hub retries by itself; Reconnect if it persists.",
    S.DISABLED: "Enable the connection again under Settings > Integrations (or `hub connections enable`).",
    S.DISCONNECTED: None,
}


def allowed(current: S, target: S) -> bool:
    """Whether a connection may move from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


async def transition(
    db: asyncpg.Connection,
    connection_id: int,
    target: S,
    reason: str | None = None,
    *,
    expected: frozenset[S] | None = None,
) -> S:
    """Move a connection to ``target`` with a reason; return the state it left.

    ``expected``: the states the caller decided on, checked again under the row lock, so a
    change another request made meanwhile (a merchant disabling it, say) is not overwritten.
    Raises ``Conflict`` when the lifecycle does not allow the move or the state is not expected.
    """
    current = await store.lock_state(db, connection_id)
    if current is None:
        raise NotFound(f"Connection {connection_id} does not exist: list them with `hub connections list`.")
    if not allowed(current, target) or (expected is not None and current not in expected):
        raise Conflict(
            f"Connection {connection_id} is {current.value} and cannot become {target.value}: "
            "look at it again with `hub connections show` or on its Integration details page.",
        )
    await store.set_state(db, connection_id, current, target, reason)
    log.info("connection %s: %s -> %s (%s)", connection_id, current.value, target.value, reason or "-")
    return current
