"""Turn stored things into API bodies."""

from __future__ import annotations

from core.lifecycle import ACTIONS
from core.models import Connection
from core.storage.imports import ImportRun
from core.storage.labels import StoredLabel
from core.storage.orders import StoredOrder
from hub.api.schemas import ConnectionOut, ImportOut, LabelOut, OrderOut, ParcelOut


def connection_out(c: Connection) -> ConnectionOut:
    """A connection with the action its state suggests."""
    return ConnectionOut(
        id=c.id,
        connector=c.connector,
        state=c.state.value,
        reason=c.reason,
        action=ACTIONS.get(c.state),
        external_account_id=c.external_account_id,
        settings=c.settings,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def import_out(run: ImportRun) -> ImportOut:
    """An import run."""
    return ImportOut(**{name: getattr(run, name) for name in ImportOut.model_fields})


def label_out(label: StoredLabel) -> LabelOut:
    """A label with its parcels' push states."""
    return LabelOut(
        id=label.id,
        order_id=label.order_id,
        label_id=label.external_id,
        carrier=label.carrier,
        ship_date=label.ship_date,
        created_at=label.created_at,
        parcels=[
            ParcelOut(
                reference=p.reference,
                tracking_number=p.tracking_number,
                items=[i.model_dump() for i in p.items],
                push_state=p.push_state.value,
                push_message=p.push_message,
                push_attempts=p.push_attempts,
                pushed_at=p.pushed_at,
            )
            for p in label.parcels
        ],
    )


def order_out(stored: StoredOrder, labels: list[StoredLabel] | None = None) -> OrderOut:
    """An order with its labels."""
    o = stored.order
    return OrderOut(
        id=stored.id,
        connection_id=stored.connection_id,
        external_id=o.external_id,
        reference=o.reference,
        status=o.status.value,
        marketplace=o.marketplace,
        created_at=o.created_at,
        updated_at=o.updated_at,
        recipient=o.recipient,
        items=o.items,
        ship_by=o.ship_by,
        deliver_by=o.deliver_by,
        service_level=o.service_level,
        is_prime=o.is_prime,
        labels=[label_out(label) for label in labels or []],
    )
