"""Shipping > Import from shop (start, live progress, result) and Shipments (the work list, one order's page).

Shipments is the merchant's work list: a table of the account's orders (shop and account, the
shop's order number, order date, ship-by date, recipient city, items, status, tracking) with
filters (to ship, needs attention, shipped, cancelled, all), search by order number or recipient
and keyset pages (core.storage.orders.list_page). Each order has its own page with the recipient,
the items, the labels and their tracking pushes, Create label and Retry. A parcel the shop
accepted and confirms later shows as such until the hub learns the outcome, and a parcel that
waits for a Reconnect says so; the order page follows both with a small JSON endpoint.

Start import asks core.usecases.imports.start_import, as the API does; the progress page
follows the run through a small JSON endpoint, or a meta refresh without JavaScript. "Create label"
stands in for the carrier platform's label creation: it records a one-parcel label through
core.usecases.labels, which queues the tracking push in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from core.contract.errors import HubError, InvalidInput
from core.contract.models import ConnectionState, OrderStatus, PushState
from core.infra.runtime import Runtime
from core.storage import connections as connection_store
from core.storage import imports as import_store
from core.storage import labels as label_store
from core.storage import orders as order_store
from core.storage.imports import ImportRun
from core.storage.labels import StoredLabel, StoredParcel
from core.storage.orders import StoredOrder
from core.usecases import imports
from core.usecases.labels import NewLabel, NewParcel, create_label, retry_label
from hub.api.errors import status_of
from hub.keys import RUNTIME
from hub.web.i18n import N_, ORDER_STATES, PUSH_STATES, RUN_STATES, WAITING, WAITING_ACTIONS, WORK_STATES
from hub.web.integrations import connector_name, shop_name
from hub.web.pages import account_of, page, render, see_other, translator

routes = web.RouteTableDef()

#: Orders on one page of Shipments.
PAGE_SIZE = 25
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
    try:
        started = await imports.start_import(rt, account_of(request), connection_id)
    except imports.ImportRefused as refused:
        # core decided; the page says what to do where the merchant is.
        error = (
            N_("This shop is disabled: enable it on its Integration details page first.")
            if refused.state is ConnectionState.DISABLED
            else N_("This shop is not connected: reconnect it under Settings › All integrations first.")
        )
        return await _import_page(request, error=error, status=409)
    return see_other(f"/shipping/import/{started.run.id}")


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
            "nothing_new": await _nothing_new(rt, run, connection.settings.import_interval_minutes),
        },
    )


async def _nothing_new(rt: Runtime, run: ImportRun, interval: int) -> tuple[str, dict[str, Any]] | None:
    """Why a finished import brought nothing new (a text and its values), or ``None`` when it did."""
    if run.state != "succeeded" or run.new or run.updated:
        return None
    if run.unchanged:
        return N_("Nothing new: the {count} orders the shop sent are here already, unchanged."), {"count": run.unchanged}
    if run.skipped_total:
        return N_("Nothing to ship: the shop's orders were all skipped, for the reasons below."), {}
    if await order_store.count_orders(rt.db.pool, run.connection_id):
        return (
            N_("Nothing new: no order was created or changed in the shop since the previous import. "
               "The hub imports every {minutes} minutes by itself."),
            {"minutes": interval},
        )
    return (
        N_("Nothing to import: the shop has no orders that still need shipping. "
           "Orders it gets later arrive with the next import; the hub imports every {minutes} minutes by itself."),
        {"minutes": interval},
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


# Shipping > Shipments: the work list, and one order on its own page


#: The list's filters: value, name (to ship first: the merchant's work list).
FILTERS = [
    ("to_ship", N_("To ship")),
    ("attention", N_("Needs attention")),
    ("shipped", N_("Shipped")),
    ("cancelled", N_("Cancelled")),
    ("all", N_("All shipments")),
]
#: Longest search text taken.
SEARCH_MAX = 100
#: Before the shop's message about a parcel it refused.
FROM_THE_SHOP = N_("Message from the shop:")


def parcel_view(t: Callable[..., str], parcel: StoredParcel, connection_state: str) -> dict[str, Any]:
    """A parcel's push as the pages say it: badge class, state text, and a message (the shop's, or what to do).

    A parcel still to send while its connection cannot push is not "Sending to the shop": it waits
    for the merchant to reconnect (or enable) the shop, and says so.
    """
    state, message = parcel.push_state.value, ""
    text = t(PUSH_STATES[state])
    if parcel.push_state is PushState.PENDING and connection_state in WAITING:
        state, text = "waiting", t(WAITING[connection_state])
        message = t(WAITING_ACTIONS[connection_state])
    elif parcel.push_message and parcel.push_state is PushState.FAILED:
        message = t(FROM_THE_SHOP) + " " + t(parcel.push_message)
    elif parcel.push_message and parcel.push_state is PushState.SKIPPED:
        message = t(parcel.push_message)
    return {"id": parcel.id, "tracking_number": parcel.tracking_number, "state": state, "state_text": text, "message": message}


def _retryable(label: StoredLabel) -> bool:
    return bool(label.parcels_in(PushState.FAILED, PushState.SKIPPED))


def _left_to_ship(stored: StoredOrder, labels: list[StoredLabel]) -> int:
    """Items not yet in a parcel (as core.usecases.labels counts them: failed parcels do not count)."""
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


def _list_query(request: web.Request) -> tuple[str, str, int | None, int | None]:
    """The list's filter, search text and page anchor from the query; a 400 page for a broken link."""
    query = request.query
    # Control characters (a NUL above all) cannot be in an order number or a name; PostgreSQL refuses a NUL.
    search = " ".join("".join(ch for ch in query.get("q", "")[:1000] if ch.isprintable()).split())[:SEARCH_MAX]
    state = query.get("state") or ("all" if search else "to_ship")
    if state not in dict(FILTERS):
        raise InvalidInput(N_("Choose which shipments to show from the list."))
    broken = N_("The page link is broken: open Shipments again.")
    after = _number(query["after"], broken) if "after" in query else None
    before = _number(query["before"], broken) if "before" in query else None
    if after is not None and before is not None:
        raise InvalidInput(broken)
    return state, search, after, before


def _link(state: str, search: str, **anchor: int) -> str:
    return "/shipping/shipments?" + urlencode({"state": state, **({"q": search} if search else {}), **anchor})


@routes.get("/shipping/shipments")
@page()
async def shipments(request: web.Request) -> web.Response:
    """The work list: the account's orders as a table, by filter and search, a keyset page at a time."""
    rt = request.app[RUNTIME]
    state, search, after, before = _list_query(request)
    found = await order_store.list_page(
        rt.db.pool, rt.vault, account_of(request), state=state, search=search, after=after, before=before,  # type: ignore[arg-type]
        limit=PAGE_SIZE,
    )
    t = translator(request)
    rows = [
        {
            "order": o,
            "state": "attention" if o.stuck else o.work_state,
            "late": o.work_state in ("to_ship", "attention") and o.ship_by is not None and o.ship_by < rt.now(),
            "parcels": [
                parcel_view(t, p, o.connection_state)
                for label in o.labels
                for p in label.parcels
            ],
        }
        for o in found.orders
    ]
    return render(
        request,
        "shipments.html",
        {
            "section": "shipments",
            "rows": rows,
            "work_states": WORK_STATES,
            "state": state,
            "search": search,
            "filters": [(value, name, _link(value, search)) for value, name in FILTERS],
            "connector_name": lambda connector: connector_name(rt, connector),
            "next_link": _link(state, search, after=found.next_after) if found.next_after else None,
            "previous_link": _link(state, search, before=found.previous_before) if found.previous_before else None,
            "first_link": _link(state, search) if after or before else None,
        },
    )


async def _order_page(
    request: web.Request, order_id: int, error: str | None = None, status: int = 200
) -> web.Response:
    rt = request.app[RUNTIME]
    # The labels before the order: a push confirmed between the two reads then shows in both (the
    # order's state is never older than its parcels', and a page with nothing pending polls no more).
    # Another account's order is a 404 from get_order; its labels are never shown.
    labels = (await order_store.labels_of_orders(rt.db.pool, [order_id])).get(order_id, [])
    stored = await order_store.get_order(rt.db.pool, rt.vault, order_id, account_of(request))
    connection = await connection_store.get_connection(rt.db.pool, stored.connection_id)
    t = translator(request)
    open_order = stored.order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_SHIPPED)
    stuck = any(label.parcels_in(PushState.PENDING) for label in labels) and connection.state.value in WAITING
    return render(
        request,
        "order.html",
        {
            "section": "shipments",
            "stored": stored,
            "o": stored.order,
            "state": "attention" if stuck and stored.work_state == "to_ship" else stored.work_state,
            "shop": f"{connector_name(rt, connection.connector)} – {await shop_name(rt, connection)}",
            "labels": [
                {"label": label, "retryable": _retryable(label), "parcels": [parcel_view(t, p, connection.state.value) for p in label.parcels]}
                for label in labels
            ],
            "can_label": open_order and _left_to_ship(stored, labels) > 0,
            "order_states": ORDER_STATES,
            "work_states": WORK_STATES,
            "notice": NOTICES.get(request.query.get("done", "")) if not error else None,
            "error": None,
            "label_error": error,
        },
        status=status,
    )


@routes.get(r"/shipping/shipments/{id:\d{1,18}}")
@page()
async def order_page(request: web.Request) -> web.Response:
    """One order: the shop's facts, recipient, items, labels with their tracking pushes, Create label."""
    return await _order_page(request, int(request.match_info["id"]))


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
        return await _order_page(request, order_id, error=error, status=400)
    label = NewLabel(external_id=f"web-{tracking}", parcels=[parcel])
    try:
        await create_label(rt, order_id, label, account_id=account_of(request))
    except HubError as err:
        status = status_of(err)
        if status >= 500 or status == 404:
            raise
        return await _order_page(request, order_id, error=err.message, status=status)
    return see_other(f"/shipping/shipments/{order_id}?done=label")


async def _own_label(request: web.Request) -> StoredLabel:
    return await label_store.get_label(request.app[RUNTIME].db.pool, int(request.match_info["id"]), account_of(request))


@routes.post(r"/shipping/labels/{id:\d{1,18}}/retry")
@page()
async def retry(request: web.Request) -> web.Response:
    """Retry: the label's failed (and skipped) parcels go to the shop again."""
    rt = request.app[RUNTIME]
    label = await retry_label(rt, (await _own_label(request)).id)
    return see_other(f"/shipping/shipments/{label.order_id}?done=retry")


@routes.get(r"/shipping/labels/{id:\d{1,18}}/state")
@page(json=True)
async def label_state(request: web.Request) -> web.Response:
    """The push state of a label's parcels as JSON, for the order page's poll."""
    rt = request.app[RUNTIME]
    label = await _own_label(request)
    work_state, connection_state = await order_store.standing_of(rt.db.pool, label.order_id)
    t = translator(request)
    parcels = [parcel_view(t, p, connection_state) for p in label.parcels]
    # "pending": the page keeps asking while a parcel is on its way or accepted and not yet
    # confirmed; one waiting for a Reconnect is not on its way.
    waiting = any(p["state"] in ("pending", "accepted") for p in parcels)
    if any(p["state"] == "waiting" for p in parcels) and work_state == "to_ship":
        work_state = "attention"
    return web.json_response(
        {
            "id": label.id,
            "pending": waiting,
            "retryable": _retryable(label),
            "parcels": parcels,
            # The order moves with its parcels (shipped once every item is in a confirmed one).
            "order_state": work_state,
            "order_state_text": t(WORK_STATES[work_state]),
        }
    )
