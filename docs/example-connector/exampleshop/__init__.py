"""Example Shop: a parcel hub connector for a shop that gives merchants an API key (hub API v2).

- ``authorize``: the merchant pasted an API key on the Connect form (the manifest declares the
  field); ask the shop whose key it is, and return it to be stored, keyed by the shop account.
- ``check_connection``: the same cheap call with the stored key.
- ``import_orders``: the orders updated after the cursor, page by page, in the shop's stable
  order (updated_at, id), within a window that ends when the run starts.
- ``on_label_created``: one ``PUT`` per parcel, addressed by the parcel's stable reference, so a
  repeated push edits the shop's shipment instead of adding a second one.

From the hub it imports ``core.hubapi`` only. The shop's API is in ``exampleshop.client``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from core.hubapi import (
    Address,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorContext,
    ConnectorRejected,
    Cursor,
    ImportPage,
    InvalidInput,
    Label,
    Money,
    Order,
    OrderItem,
    OrderStatus,
    ParcelOutcome,
    SkippedOrder,
    hookimpl,
)
from exampleshop.client import ShopClient, settings_of

__all__ = ["authorize", "check_connection", "import_orders", "on_label_created"]


@hookimpl
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Check a pasted API key with the shop; the account it belongs to keys the connection."""
    if not isinstance(step, AuthCredentials):
        raise InvalidInput("Example Shop connects with an API key, not through a consent page.")
    api_key = step.fields.get("api_key")
    if api_key is None or not api_key.get_secret_value().strip():
        raise InvalidInput("Paste the API key from your Example Shop admin.", field="api_key")
    account = await ShopClient(context, api_key).account()  # a wrong key: 401, ConnectorAuthFailed
    context.log.info("API key accepted for shop account %s", account["id"])  # the log adds the connection id
    return Authorization(
        external_account_id=str(account["id"]),
        credentials={"api_key": api_key},
        display_name=account.get("name"),
    )


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """One call with the stored key."""
    await ShopClient(context).account()


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """The orders updated in (since, until], page by page.

    ``until`` is fixed when a run starts and travels in the page token with the shop's position,
    so that a run resumed after a crash pages through the same window. Orders updated during the
    run fall after ``until`` and come with the next run. This shop stamps ``updated_at`` when a
    change is committed, so no safety margin before now is needed (docs/hooks.md, "Cursors").
    """
    client = ShopClient(context)
    since = cursor.since or context.now() - timedelta(days=settings_of(context).lookback_days)
    until, after = _read_token(cursor.page_token) or (max(context.now(), since), None)
    while True:
        answer = await client.orders(since, until, after)
        after = answer.get("next")
        shop_orders: list[dict[str, Any]] = answer["orders"]
        yield ImportPage(
            orders=[_order(o) for o in shop_orders if o["delivery"] == "ship"],
            skipped=[
                SkippedOrder(external_id=str(o["id"]), reason="Collected in the shop by the customer")
                for o in shop_orders
                if o["delivery"] != "ship"
            ],
            # Mid-run the watermark stays; the last page moves it to the end of the window.
            cursor=Cursor(since=since, page_token=_token(until, after)) if after else Cursor(since=until),
        )
        if not after:
            return


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """One PUT per parcel, by its reference; the shop's refusal is kept for the merchant.

    A 5xx, a timeout or a 429 raises (a ``TransientError``) and the hub pushes every parcel
    again later: parcels already sent are then edited in place, not duplicated.
    """
    client = ShopClient(context)
    outcomes = []
    for parcel in label.parcels:
        shipment = {
            "carrier": label.carrier,
            "tracking_number": parcel.tracking_number,
            "shipped_at": label.ship_date.isoformat(),
            "lines": [{"line_id": item.item_external_id, "quantity": item.quantity} for item in parcel.items],
        }
        try:
            await client.put_shipment(order.external_id, parcel.reference, shipment)
        except ConnectorRejected as err:
            outcomes.append(ParcelOutcome(reference=parcel.reference, state="failed", message=err.message))
        else:
            outcomes.append(ParcelOutcome(reference=parcel.reference, state="confirmed"))
    context.log.info("order %s: %d parcel(s) pushed", order.external_id, len(outcomes))
    return outcomes


# mapping --------------------------------------------------------------------------------------

_STATUSES = {"open": OrderStatus.OPEN, "shipped": OrderStatus.SHIPPED, "cancelled": OrderStatus.CANCELLED}


def _order(shop_order: dict[str, Any]) -> Order:
    """The shop's order as a hub ``Order``."""
    lines = shop_order["lines"]
    status = _STATUSES[shop_order["status"]]
    if status is OrderStatus.OPEN and any(line["shipped"] for line in lines):
        status = OrderStatus.PARTIALLY_SHIPPED
    to = shop_order["ship_to"]
    return Order(
        external_id=str(shop_order["id"]),
        reference=shop_order.get("number"),
        status=status,
        created_at=datetime.fromisoformat(shop_order["created_at"]),
        updated_at=datetime.fromisoformat(shop_order["updated_at"]),
        recipient=Address(
            name=to.get("name"),
            lines=[to["street"]] if to.get("street") else [],
            postal_code=to.get("postal_code"),
            city=to.get("city"),
            country_code=to.get("country"),
            phone=to.get("phone"),
            email=to.get("email"),
        ),
        items=[
            OrderItem(
                external_id=str(line["id"]),
                sku=line.get("sku"),
                title=line.get("title"),
                quantity_ordered=line["quantity"],
                quantity_unshipped=0 if status is OrderStatus.CANCELLED else line["quantity"] - line["shipped"],
                unit_price=Money(amount=line["price"], currency=shop_order["currency"]),
            )
            for line in lines
        ],
    )


def _token(until: datetime, after: str) -> str:
    """The page token core stores with a page: the run's window end and the shop's position."""
    return json.dumps({"until": until.isoformat(), "after": after})


def _read_token(token: str | None) -> tuple[datetime, str] | None:
    """The window end and position of a run that stopped between pages; ``None`` to start the window.

    An unreadable token starts the window over from ``since``: the pages already stored come
    again and the hub writes unchanged orders as nothing new, so nothing is lost.
    """
    if not token:
        return None
    try:
        position = json.loads(token)
        return datetime.fromisoformat(position["until"]), str(position["after"])
    except (ValueError, KeyError, TypeError):
        return None
