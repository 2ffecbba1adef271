"""Turn stored things into API bodies."""

from __future__ import annotations

from core.contract.manifest import ConnectSpec, Text
from core.contract.models import Connection
from core.infra.plugins import LoadedConnector
from core.storage.imports import ImportRun
from core.storage.labels import StoredLabel
from core.storage.orders import StoredOrder
from core.usecases.lifecycle import ACTIONS
from hub.api.schemas import (
    ConnectFieldOut,
    ConnectionOut,
    ConnectorOut,
    ConnectSpecOut,
    ImportOut,
    LabelOut,
    OrderOut,
    ParcelOut,
    TextOut,
)


def _text(text: Text | None) -> TextOut | None:
    return TextOut(en=text.en, nl=text.nl) if text else None


def connect_spec_out(spec: ConnectSpec) -> ConnectSpecOut:
    """A connector's Connect form as the manifest declares it (descriptions only, never a value)."""
    return ConnectSpecOut(
        style=spec.style,
        fields=[
            ConnectFieldOut(
                name=f.name,
                label=TextOut(en=f.label.en, nl=f.label.nl),
                help=_text(f.help),
                secret=f.secret,
                required=f.required,
                choices=list(f.choices),
                link=f.link,
                max_length=f.max_length,
            )
            for f in spec.fields
        ],
    )


def connector_out(c: LoadedConnector) -> ConnectorOut:
    """An installed connector with its Connect form (none when it failed to load)."""
    return ConnectorOut(
        id=c.id,
        name=c.manifest.name if c.manifest else None,
        version=c.manifest.version if c.manifest else None,
        description=c.manifest.description if c.manifest else None,
        hooks=c.hooks,
        error=c.error,
        connect=connect_spec_out(c.manifest.connect) if c.manifest and c.ok else None,
    )


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
                shop_reference=p.shop_reference,
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
        work_state=stored.work_state,
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
