"""Shipping > Import from shop (start, live progress, result) and Shipments (labels, tracking pushes, Retry).

A parcel the shop accepted and confirms later shows as such ("Accepted by the shop, waiting for its
confirmation") until the hub learns the outcome; the page follows it like a pending push.

Start import queues the same job the API and the scheduler queue (core.queue); the progress page
follows the run through a small JSON endpoint, or a meta refresh without JavaScript. "Create label"
stands in for the carrier platform's label creation: it records a one-parcel label through
core.labels, which queues the tracking push in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from core import queue
from core.errors import HubError, InvalidInput
from core.labels import NewLabel, NewParcel, create_label, retry_label
from core.models import ConnectionState, OrderStatus, PushState
from core.storage import connections as connection_store
from core.storage import imports as import_store
from core.storage import labels as label_store
from core.storage import orders as order_store
from core.storage.imports import ImportRun
from core.storage.labels import StoredLabel
from core.storage.orders import StoredOrder
from hub.api.errors import status_of
from hub.keys import RUNTIME
from hub.web.i18n import N_, ORDER_STATES, PUSH_STATES, RUN_STATES
from hub.web.integrations import connector_name, shop_name
from hub.web.pages import account_of, page, render, see_other, translator

routes = web.RouteTableDef()

#: Orders on one page of Shipments.
PAGE_SIZE = 25
#: Shipments filter: value, name.
STATUSES = [
    ("all", N_("All shipments")),
    (OrderStatus.OPEN.value, N_("To ship")),
    (OrderStatus.PARTIALLY_SHIPPED.value, N_("Partially shipped")),
    (OrderStatus.SHIPPED.value, N_("Shipped")),
    (OrderStatus.CANCELLED.value, N_("Cancelled")),
]
FINISHED = ("succeeded", "failed", "interrupted")

NOTICES = {
    "label": N_("Label created."),
    "retry": N_("The tracking code is sent to the shop again."),
}


def _number(raw: object, name: str) -> int:
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(name)
    return int(raw)


# Shipping > Import from shop


@dataclass
class ShopImport:
    """A connected shop with its last import, on the import page."""

    connection: Any
    name: str
    last_run: ImportRun | None


async def _import_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    rt = request.app[RUNTIME]
    shops = []
    for c in await connection_store.list_connections(rt.db.pool, account_of(request)):
        if c.state.working:
            name = f"{connector_name(rt, c.connector)} – {await shop_name(rt, c)}"
            shops.append(ShopImport(c, name, await import_store.last_run(rt.db.pool, c.id)))
    return render(
        request,
        "import.html",
        {"section": "import", "connections": shops, "run_states": RUN_STATES, "error": error},
        status=status,
    )


@routes.get("/shipping/import")
@page()
async def import_page(request: web.Request) -> web.Response:
    """Import from shop: a Start import button per connected shop."""
    return await _import_page(request)


@routes.post("/shipping/import")
@page()
async def start_import(request: web.Request) -> web.Response:
    """Start import: queue the run (a running one is followed instead) and show its progress."""
    rt = request.app[RUNTIME]
    form = await request.post()
    try:
        connection_id = _number(form.get("connection_id"), N_("Choose the shop to import from."))
    except InvalidInput as err:
        return await _import_page(request, error=err.message, status=400)
    connection = await connection_store.get_connection(rt.db.pool, connection_id, account_of(request))
    if not connection.state.working:
        error = (
            N_("This shop is disabled: enable it on its Integration details page first.")
            if connection.state is ConnectionState.DISABLED
            else N_("This shop is not connected: reconnect it under Settings › All integrations first.")
        )
        return await _import_page(request, error=error, status=409)
    async with rt.db.pool.acquire() as db, db.transaction():
        run_id = await queue.enqueue_import(db, connection.id, "manual")
    return see_other(f"/shipping/import/{run_id}")


async def _own_run(request: web.Request) -> ImportRun:
    return await import_store.get_run(request.app[RUNTIME].db.pool, int(request.match_info["id"]), account_of(request))


@routes.get(r"/shipping/import/{id:\d{1,18}}")
@page()
async def import_run(request: web.Request) -> web.Response:
    """One import: live progress while it runs, then imported, updated and skipped with reasons."""
    rt = request.app[RUNTIME]
    run = await _own_run(request)
    connection = await connection_store.get_connection(rt.db.pool, run.connection_id)
    return render(
        request,
        "import_run.html",
        {
            "section": "import",
            "run": run,
            "finished": run.state in FINISHED,
            "shop_name": f"{connector_name(rt, connection.connector)} – {await shop_name(rt, connection)}",
            "run_states": RUN_STATES,
        },
    )


@routes.get(r"/shipping/import/{id:\d{1,18}}/progress")
@page(json=True)
async def import_progress(request: web.Request) -> web.Response:
    """The run's counts as JSON, for the progress page's poll."""
    run = await _own_run(request)
    t = translator(request)
    return web.json_response(
        {
            "id": run.id,
            "state": run.state,
            "state_text": t(RUN_STATES[run.state]),
            "finished": run.state in FINISHED,
            "pages": run.pages,
            "new": run.new,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "skipped": run.skipped_total,
        }
    )


# Shipping > Shipments


@dataclass
class Row:
    """An order on Shipments with its labels and what can be done with it."""

    stored: StoredOrder
    labels: list[StoredLabel]
    can_label: bool
    retryable: set[int] = field(default_factory=set)
    error: str | None = None


def _retryable(label: StoredLabel) -> bool:
    return bool(label.parcels_in(PushState.FAILED, PushState.SKIPPED))


def _left_to_ship(stored: StoredOrder, labels: list[StoredLabel]) -> int:
    """Items not yet in a parcel (as core.labels counts them: failed parcels do not count)."""
    used: dict[str, int] = {}
    for label in labels:
        for parcel in label.parcels:
            if parcel.push_state is PushState.FAILED:
                continue
            for item in parcel.items:
                used[item.item_external_id] = used.get(item.item_external_id, 0) + item.quantity
    items = stored.order.items
    if not used:
        return sum(item.quantity_unshipped for item in items)
    return sum(max(0, item.quantity_ordered - used.get(item.external_id, 0)) for item in items)


async def _shipments_page(
    request: web.Request,
    status: str = "all",
    after: int = 0,
    errors: dict[int, str] | None = None,
    http_status: int = 200,
) -> web.Response:
    rt = request.app[RUNTIME]
    found = await order_store.list_orders(
        rt.db.pool,
        rt.vault,
        account_id=account_of(request),
        status=None if status == "all" else status,
        limit=PAGE_SIZE,
        after_id=after,
    )
    rows = []
    for stored in found:
        ids = await label_store.labels_of_order(rt.db.pool, stored.id)
        labels = [await label_store.get_label(rt.db.pool, label_id) for label_id in ids]
        open_order = stored.order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_SHIPPED)
        rows.append(
            Row(
                stored=stored,
                labels=labels,
                can_label=open_order and _left_to_ship(stored, labels) > 0,
                retryable={label.id for label in labels if _retryable(label)},
                error=(errors or {}).get(stored.id),
            )
        )
    return render(
        request,
        "shipments.html",
        {
            "section": "shipments",
            "rows": rows,
            "status": status,
            "statuses": STATUSES,
            "order_states": ORDER_STATES,
            "push_states": PUSH_STATES,
            "next_after": found[-1].id if len(found) == PAGE_SIZE else None,
            "notice": NOTICES.get(request.query.get("done", "")) if not errors else None,
        },
        status=http_status,
    )


@routes.get("/shipping/shipments")
@page()
async def shipments(request: web.Request) -> web.Response:
    """The imported orders with recipient, items, labels, tracking and push states."""
    status = request.query.get("status", "all")
    if status not in dict(STATUSES):
        raise InvalidInput(N_("Choose which shipments to show from the list."))
    after = _number(request.query.get("after", "0"), N_("The page link is broken: open Shipments again."))
    return await _shipments_page(request, status, after)


@routes.post(r"/shipping/shipments/{id:\d{1,18}}/label")
@page()
async def new_label(request: web.Request) -> web.Response:
    """Create a one-parcel label with this tracking number; its push to the shop is queued with it."""
    rt = request.app[RUNTIME]
    order_id = int(request.match_info["id"])
    await order_store.get_order(rt.db.pool, rt.vault, order_id, account_of(request))  # 404 for others' orders
    form = await request.post()
    tracking = form.get("tracking_number")
    tracking = tracking.strip() if isinstance(tracking, str) else ""
    try:
        parcel = NewParcel(tracking_number=tracking)
    except ValidationError:
        error = N_("A tracking number has 1 to 64 letters, digits or dashes.")
        return await _shipments_page(request, after=order_id - 1, errors={order_id: error}, http_status=400)
    label = NewLabel(external_id=f"web-{tracking}", parcels=[parcel])
    try:
        await create_label(rt, order_id, label, account_id=account_of(request))
    except HubError as err:
        status = status_of(err)
        if status >= 500 or status == 404:
            raise
        return await _shipments_page(request, after=order_id - 1, errors={order_id: err.message}, http_status=status)
    return see_other(f"/shipping/shipments?done=label#order-{order_id}")


async def _own_label(request: web.Request) -> StoredLabel:
    return await label_store.get_label(request.app[RUNTIME].db.pool, int(request.match_info["id"]), account_of(request))


@routes.post(r"/shipping/labels/{id:\d{1,18}}/retry")
@page()
async def retry(request: web.Request) -> web.Response:
    """Retry: the label's failed (and skipped) parcels go to the shop again."""
    rt = request.app[RUNTIME]
    label = await retry_label(rt, (await _own_label(request)).id)
    return see_other(f"/shipping/shipments?done=retry#order-{label.order_id}")


@routes.get(r"/shipping/labels/{id:\d{1,18}}/state")
@page(json=True)
async def label_state(request: web.Request) -> web.Response:
    """The push state of a label's parcels as JSON, for the Shipments page's poll."""
    label = await _own_label(request)
    t = translator(request)
    parcels = []
    for p in label.parcels:
        message = ""
        if p.push_message and p.push_state is PushState.FAILED:
            message = f"{t(N_('Message from the shop:'))} {t(p.push_message)}"
        elif p.push_message and p.push_state is PushState.SKIPPED:
            message = t(p.push_message)
        parcels.append({"id": p.id, "state": p.push_state.value, "state_text": t(PUSH_STATES[p.push_state.value]), "message": message})
    # "pending": the page keeps asking while a parcel is still to send or accepted and not yet confirmed.
    waiting = bool(label.parcels_in(PushState.PENDING, PushState.ACCEPTED))
    return web.json_response({"id": label.id, "pending": waiting, "retryable": _retryable(label), "parcels": parcels})
