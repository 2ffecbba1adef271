"""Labels: record a label the platform created, and push its tracking codes to the shop.

A label is idempotent by the platform's label id within an order. Each parcel gets a stable
numeric reference within its order, above every reference the hub or the shop holds for it (so it
never edits a package made outside the hub), stored before any push, so a retried push edits the
same parcel in the shop instead of adding one. A label never asks for more than is left: the
shop's unshipped quantities as last imported, less the hub's parcels the shop did not show yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

import asyncpg
from pydantic import Field, model_validator

from core.contract.context import utc_now
from core.contract.errors import Conflict, ConnectorAuthFailed, HubError, InvalidInput, NotFound, TransientError
from core.contract.models import AcceptedParcel, Label, Model, OrderStatus, Parcel, ParcelItem, PushState, UtcDatetime
from core.infra import queue
from core.infra.metrics import CHECKS, PUSHES
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import labels as store
from core.storage import orders as order_store
from core.storage.database import DATABASE_FAULTS
from core.storage.labels import StoredLabel
from core.usecases import lifecycle
from core.usecases.connections import PUSH, SETTLE, shop_answered

log = logging.getLogger(__name__)


#: Text without control characters (PostgreSQL cannot store NUL; the others have no place in a name).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

# What a label may say, defined once: NewLabel here, and the API's body (hub.api.schemas.LabelIn).
#: The platform's id of a label: printable ASCII without spaces.
LabelId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
Carrier = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
ShippingMethod = Annotated[str | None, Field(max_length=100, pattern=PRINTABLE)]


class NewParcel(Model):
    """A parcel to record: its tracking number and items (all items still to ship when omitted)."""

    tracking_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    items: list[ParcelItem] | None = None


Parcels = Annotated[list[NewParcel], Field(min_length=1, max_length=50)]


def one_parcel_per_tracking_number(parcels: list[NewParcel]) -> None:
    """Refuse a label that gives one tracking number to two of its parcels (``ValueError``)."""
    numbers = [parcel.tracking_number for parcel in parcels]
    twice = sorted({number for number in numbers if numbers.count(number) > 1})
    if twice:
        raise ValueError(f"tracking number {', '.join(twice)} is given to more than one parcel; each parcel has its own")


class NewLabel(Model):
    """A label the platform reports: its id, ship date (now when omitted) and parcels."""

    external_id: LabelId
    carrier: Carrier = "GLS"
    shipping_method: ShippingMethod = None
    ship_date: UtcDatetime | None = None
    parcels: Parcels

    @model_validator(mode="after")
    def _one_parcel_per_tracking_number(self) -> NewLabel:
        one_parcel_per_tracking_number(self.parcels)
        return self


async def create_label(rt: Runtime, order_id: int, new: NewLabel, account_id: int | None = None) -> StoredLabel:
    """Record a label for a stored order and queue its push (see ``record_label``)."""
    label, _created = await record_label(rt, order_id, new, account_id)
    return label


async def record_label(
    rt: Runtime, order_id: int, new: NewLabel, account_id: int | None = None
) -> tuple[StoredLabel, bool]:
    """Record a label for a stored order and queue its push; return it and whether it is new.

    The push job is queued in the same statement, so no label is ever stored without its push.
    The same label id again returns the stored label, unchanged (and ``False``); with other
    tracking numbers, items or carrier it is a ``Conflict`` naming the difference. A tracking
    number already on a parcel of the order is a ``Conflict`` too.
    """
    async with rt.db.pool.acquire() as db, store.order_locked(db, order_id, account_id):
        # Read under the order's lock: a cancellation imported meanwhile must be seen.
        target = await store.label_target(db, order_id, new.external_id, account_id)
        if target.existing_label is not None:
            existing = await store.get_label(db, target.existing_label)
            differences = _differences(existing, new)
            if differences:
                raise Conflict(
                    f"Label {new.external_id} of order {order_id} was recorded already, with "
                    f"{'; '.join(differences)}. A label id names one label: post the new label under a new label_id."
                )
            return existing, False
        if target.status == OrderStatus.CANCELLED.value:
            raise Conflict(f"Order {order_id} was cancelled in the shop: do not ship it.")
        for parcel in new.parcels:
            if parcel.tracking_number in target.tracking_numbers:
                label_id, reference = target.tracking_numbers[parcel.tracking_number]
                raise Conflict(
                    f"Tracking number {parcel.tracking_number} is on parcel {reference} of label {label_id} of "
                    f"order {order_id} already: each parcel has its own tracking number (a parcel the shop "
                    "refused goes again with Retry)."
                )
        # What is left per item, as the shop last reported it less what the hub sent since; a label
        # asking for more is refused here, before anything goes to the shop.
        remaining = target.remaining()
        parcels = []
        for number, parcel in enumerate(new.parcels, start=target.next_reference):
            items = parcel.items or [
                ParcelItem(item_external_id=item_id, quantity=quantity)
                for item_id, quantity in remaining.items()
                if quantity > 0
            ]
            if not items:
                raise InvalidInput(
                    f"Every item of order {order_id} is shipped or in a parcel already: nothing left to ship "
                    f"({_left_of_every_item(target)})."
                )
            for item in items:
                if item.item_external_id not in remaining:
                    raise InvalidInput(f"Order {order_id} has no item {item.item_external_id!r}.")
                if item.quantity > remaining[item.item_external_id]:
                    raise InvalidInput(
                        f"Item {item.item_external_id} of order {order_id} has {remaining[item.item_external_id]} "
                        f"left to ship, not {item.quantity}: {_left_of(target, item.item_external_id)}."
                    )
                remaining[item.item_external_id] -= item.quantity
            parcels.append(Parcel(reference=str(number), tracking_number=parcel.tracking_number, items=items))
        label = Label(
            external_id=new.external_id,
            carrier=new.carrier,
            shipping_method=new.shipping_method,
            ship_date=new.ship_date or utc_now(),
            parcels=parcels,
        )
        # The push job is queued by the same statement.
        return await store.insert_label(db, order_id, label), True


def _differences(stored: StoredLabel, new: NewLabel) -> list[str]:
    """How a label posted again under its label id differs from the stored one (what it sets, not its defaults)."""
    found = []
    if len(new.parcels) != len(stored.parcels):
        found.append(f"{len(stored.parcels)} parcel(s), not {len(new.parcels)}")
    for number, (was, now) in enumerate(zip(stored.parcels, new.parcels, strict=False), start=1):
        if was.tracking_number != now.tracking_number:
            found.append(f"tracking number {was.tracking_number} for parcel {number}, not {now.tracking_number}")
        if now.items is not None and _items(now.items) != _items(was.items):
            found.append(f"other items in parcel {number}")
    if "carrier" in new.model_fields_set and new.carrier != stored.carrier:
        found.append(f"carrier {stored.carrier}, not {new.carrier}")
    return found


def _items(items: list[ParcelItem]) -> list[tuple[str, int]]:
    return sorted((item.item_external_id, item.quantity) for item in items)


def _left_of(target: store.LabelTarget, item_id: str) -> str:
    """Why an item has what it has left: the shop's count at the last import and the hub's parcels."""
    ordered, unshipped = target.items[item_id]
    in_parcels, not_at_shop = target.in_parcels.get(item_id, 0), target.not_at_shop.get(item_id, 0)
    why = f"the shop reported {unshipped} of {ordered} unshipped at the last import, hub parcels hold {in_parcels}"
    if not_at_shop:
        why += f" ({not_at_shop} of them sent since, not counted by the shop yet)"
    return why


def _left_of_every_item(target: store.LabelTarget) -> str:
    return "; ".join(f"item {item_id}: {_left_of(target, item_id)}" for item_id in target.items)


class PushRunning(Conflict):
    """Another worker holds the label's push lease; ``retry_after`` is when it expires at the latest."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def check_delay(rt: Runtime, checks: int, retry_after: float | None = None) -> float:
    """Seconds until core asks the shop about an accepted parcel again, after ``checks`` questions.

    The shop's ``retry_after`` when it gave one, else ``jobs.settle_base_seconds`` doubled per
    check, at most ``jobs.retry_max_seconds``.
    """
    jobs = rt.settings.jobs
    if retry_after is not None:
        return max(0.0, min(retry_after, jobs.retry_max_seconds))
    return float(min(jobs.settle_base_seconds * 2**checks, jobs.retry_max_seconds))


def lease_seconds(rt: Runtime) -> float:
    """How long a push lease lasts unless renewed: ``jobs.heartbeat_seconds``, as a queued job's."""
    return rt.settings.jobs.heartbeat_seconds


async def push_label(rt: Runtime, label_id: int) -> StoredLabel:
    """Send a label's pending parcels to the shop and store each outcome.

    Does nothing but mark the parcels skipped when the connection's "update the tracking code in
    the shop" setting is off; parcels skipped so are pushed once it is on again. Raises
    ``TransientError`` when the shop should be asked again later, ``ConnectorAuthFailed`` (after
    moving the connection to auth_required), and ``PushRunning`` while another worker pushes the
    label.

    The push takes a lease on the label (an owner id and an expiry) rather than holding a
    database connection: connections are taken only for the reads and the outcome writes, never
    while the shop answers. The lease is renewed while the push runs and expires
    ``lease_seconds`` after a crash; the parcels a crashed push left pending are then pushed
    again with the same references, which edits them in the shop instead of adding them.
    Outcomes are stored only while the lease is still this push's, so a push that lost it cannot
    write over the next one's. Taking the lease reads the label, its order and the order's
    connection in the same statement, and storing the outcomes gives the lease up in the same
    statement: two statements a push.
    """
    lease = _Lease(uuid.uuid4())
    start = await store.begin_push(rt.db.pool, label_id, lease.owner, lease_seconds(rt))
    if start is None:
        held = await store.lease_left(rt.db.pool, label_id)
        if held is None:
            raise NotFound(f"No label {label_id}: list a shipment's labels with `hub orders list`.")
        raise PushRunning(
            f"Label {label_id} is being pushed by another worker; it is pushed again once that push ends "
            f"(within {held:.0f} s). Nothing to do.",
            retry_after=held,
        )
    try:
        # The lease is renewed from here to the last outcome written, waits for the pool included.
        async with _lease_kept(rt, label_id, lease.owner):
            return await _push(rt, start, lease)
    finally:
        # A cancellation while taking the lease can leave it taken unseen: it then expires.
        if not lease.released:
            with contextlib.suppress(*DATABASE_FAULTS):  # else it expires
                await asyncio.shield(store.release_lease(rt.db.pool, label_id, lease.owner))


class _Lease:
    """A push's lease on its label: the owner id, and whether storing the outcome gave it up already."""

    __slots__ = ("owner", "released")

    def __init__(self, owner: uuid.UUID) -> None:
        self.owner = owner
        self.released = False


async def _push(rt: Runtime, start: store.PushStart, lease: _Lease) -> StoredLabel:
    label, connection = start.label, start.connection
    label_id = label.id
    if not label.parcels_in(PushState.PENDING, PushState.SKIPPED):
        return label
    # The order as core.storage.orders reads one (the recipient decrypted): what the hook is given.
    order = order_store.stored_order(rt.vault, start.order).order
    if connection.settings.update_tracking and label.parcels_in(PushState.SKIPPED):
        # Skipped while the setting was off; the merchant has turned it on since: they go now.
        async with rt.db.pool.acquire() as db:
            await store.repend_skipped(db, label_id)
            label = await store.get_label(db, label_id)
    if not label.parcels_in(PushState.PENDING):
        return label
    pending = label.as_label((PushState.PENDING,))
    if not connection.settings.update_tracking:
        off = "updating the tracking code in the shop is off"
        PUSHES.labels(connection.connector, "skipped").inc(len(pending.parcels))
        return await _record(rt, label, lease, [(p.reference, PushState.SKIPPED, off) for p in pending.parcels])
    if not connection.state.working:
        PUSHES.labels(connection.connector, "auth_required").inc(len(pending.parcels))
        raise ConnectorAuthFailed(
            f"Connection {connection.id} is {connection.state.value}: "
            f"{lifecycle.ACTIONS[connection.state] or 'reconnect it'}"
        )
    credentials = rt.vault.decrypt(start.credentials) if start.credentials is not None else {}
    context = rt.context_with(connection, credentials, start.event_token)
    # No database connection is held while the shop answers (or its pacing waits).
    try:
        outcomes = await rt.runner.on_label_created(context, order, pending)
    except ConnectorAuthFailed as err:
        PUSHES.labels(connection.connector, "auth_required").inc(len(pending.parcels))
        log.warning("connection %s: push of label %s needs a reconnect: %s", connection.id, label_id, err)
        await shop_answered(rt, connection.id, PUSH, err)
        raise
    except TransientError:
        PUSHES.labels(connection.connector, "retry").inc(len(pending.parcels))
        retry: list[tuple[str, PushState, str | None]] = [(p.reference, PushState.PENDING, "will retry") for p in pending.parcels]
        await _record(rt, label, lease, retry)
        raise
    states = {
        "confirmed": PushState.CONFIRMED, "failed": PushState.FAILED, "retry": PushState.PENDING,
        "accepted": PushState.ACCEPTED,
    }
    accepted = {
        o.reference: (o.shop_reference or "", check_delay(rt, 0, o.retry_after)) for o in outcomes if o.state == "accepted"
    }
    # Accepted parcels are asked about (check_parcels) once due, by the scheduler's next tick
    # or at once when a shop event names them; no push attempt is spent on them.
    label = await _record(rt, label, lease, [(o.reference, states[o.state], o.message) for o in outcomes], accepted)
    retry_after = None
    for outcome in outcomes:
        PUSHES.labels(connection.connector, outcome.state).inc()
        if outcome.state == "retry":
            retry_after = max(retry_after or 0.0, outcome.retry_after or 0.0)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "connection %s: label %s pushed: %s",
            connection.id, label_id, ", ".join(f"{o.reference}={o.state}" for o in outcomes),
        )
    if retry_after is not None:
        raise TransientError("Some parcels will be pushed again later.", retry_after=retry_after or None)
    return label


@contextlib.asynccontextmanager
async def _lease_kept(rt: Runtime, label_id: int, owner: uuid.UUID) -> AsyncIterator[None]:
    """Renew the push lease a few times per lease period while the block runs.

    The renewing task starts only once the first renewal is due: most pushes end well before.
    """
    seconds = lease_seconds(rt)
    renewal: asyncio.Task[None] | None = None

    async def renew() -> None:
        while True:
            with contextlib.suppress(*DATABASE_FAULTS):
                await store.renew_lease(rt.db.pool, label_id, owner, seconds)
            await asyncio.sleep(seconds / 3)

    def start_renewing() -> None:
        nonlocal renewal
        renewal = asyncio.create_task(renew(), name=f"hub-lease-{label_id}")

    timer = asyncio.get_running_loop().call_later(seconds / 3, start_renewing)
    try:
        yield
    finally:
        timer.cancel()
        if renewal is not None:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)


async def _record(
    rt: Runtime,
    label: StoredLabel,
    lease: _Lease,
    outcomes: list[tuple[str, PushState, str | None]],
    accepted: dict[str, tuple[str, float]] | None = None,
) -> StoredLabel:
    """Store the outcomes and give up the lease, while the lease is this push's; the label as it is now.

    A push that lost its lease stores nothing (and raises ``PushRunning``).
    """
    held, changed = await store.finish_push(rt.db.pool, label.id, outcomes, lease.owner, accepted)
    if not held:
        log.warning("label %s: the push outlived its lease; another push records the outcome", label.id)
        raise PushRunning(
            f"Label {label.id} is being pushed by another worker, which records what the shop said. Nothing to do.",
            retry_after=0.0,
        )
    lease.released = True
    now = {parcel.id: parcel for parcel in changed}
    return dataclasses.replace(label, parcels=[now.get(parcel.id, parcel) for parcel in label.parcels])


#: How many accepted parcels one question to the shop covers at most.
SETTLE_BATCH = 100


async def settle_parcels(rt: Runtime, connection_id: int) -> int:
    """Ask the shop how a connection's accepted parcels settled (those due), store what it says; return how many were asked about.

    Spends no push attempt. A parcel still processing is asked about again after a backoff
    (``check_delay``); one the shop does not mention, or a question that fails transiently,
    too. Refused credentials move the connection to auth_required; the questions resume after
    the reconnect.
    """
    async with rt.db.pool.acquire() as db:
        connection = await connection_store.get_connection(db, connection_id)
        if not connection.state.working:
            return 0
        due = await store.due_accepted(db, connection_id, SETTLE_BATCH)
        due = await _give_up_unsettled(rt, db, connection_id, due)
        if not due:
            return 0
        context = await rt.context(connection, db=db)
    questions = [
        AcceptedParcel(
            reference=row.reference, shop_reference=row.shop_reference, tracking_number=row.tracking_number,
            order_external_id=row.order_external_id, accepted_at=row.accepted_at, checks=row.checks,
        )
        for row in due
    ]
    try:
        outcomes = await rt.runner.check_parcels(context, questions)
    except ConnectorAuthFailed as err:
        log.warning("connection %s: checking accepted parcels needs a reconnect: %s", connection_id, err)
        await shop_answered(rt, connection_id, SETTLE, err)
        raise
    except HubError as err:
        # Transient or not (a connector fault), the parcels are asked about again after a backoff,
        # never on every tick.
        log.info("connection %s: the shop could not say how %s parcels settled: %s", connection_id, len(due), err)
        retry_after = err.retry_after if isinstance(err, TransientError) else None
        later: list[tuple[int, PushState, str | None, float]] = [
            (row.id, PushState.ACCEPTED, None, check_delay(rt, row.checks + 1, retry_after)) for row in due
        ]
        await store.record_checks(rt.db.pool, later)
        raise
    said = {outcome.shop_reference: outcome for outcome in outcomes}
    states = {"confirmed": PushState.CONFIRMED, "failed": PushState.FAILED, "accepted": PushState.ACCEPTED}
    results = []
    for row in due:
        outcome = said.get(row.shop_reference)
        state = states.get(outcome.state, PushState.ACCEPTED) if outcome else PushState.ACCEPTED
        retry_after = outcome.retry_after if outcome else None
        results.append((row.id, state, outcome.message if outcome else None, check_delay(rt, row.checks + 1, retry_after)))
        CHECKS.labels(connection.connector, state.value).inc()
    await store.record_checks(rt.db.pool, results)
    settled = sum(1 for _, state, _, _ in results if state is not PushState.ACCEPTED)
    log.info("connection %s: asked about %s accepted parcels, %s settled", connection_id, len(due), settled)
    return len(due)


async def _give_up_unsettled(
    rt: Runtime, db: asyncpg.Connection, connection_id: int, due: list[store.AcceptedRow]
) -> list[store.AcceptedRow]:
    """Fail the parcels the shop has left unsettled past ``jobs.settle_max_hours``; return the others."""
    hours = rt.settings.jobs.settle_max_hours
    oldest = rt.now() - timedelta(hours=hours)
    stale = [row for row in due if row.accepted_at < oldest]
    if stale:
        message = f"The shop did not confirm this parcel within {hours:g} hours; Retry looks it up at the shop again."
        await store.record_checks(db, [(row.id, PushState.FAILED, message, 0.0) for row in stale])
        log.warning(
            "connection %s: %s accepted parcels were never settled by the shop; shown as failed", connection_id, len(stale)
        )
    return [row for row in due if row.accepted_at >= oldest]


async def retry_label(rt: Runtime, label_id: int, account_id: int | None = None) -> StoredLabel:
    """Put a label's failed and skipped parcels back to pending and queue their push, in one transaction."""
    await store.get_label(rt.db.pool, label_id, account_id)
    async with rt.db.pool.acquire() as db, db.transaction():
        await store.reset_failed(db, label_id)
        await queue.enqueue_push(db, label_id)
        return await store.get_label(db, label_id)
