"""The bol.com demo shop: its settings and pasted credentials connect, import and ship against its simulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

import connectors.bol as bol
from connectors.bol.client import BolState
from connectors.bol.demo import BolDemo
from connectors.bol.settings import BolSettings
from core.hubapi import (
    AuthCredentials,
    Connection,
    ConnectionState,
    ConnectorContext,
    Cursor,
    Label,
    Parcel,
    ParcelItem,
    utc_now,
)


@pytest.fixture
async def demo() -> AsyncIterator[BolDemo]:
    shop = BolDemo(orders=8)
    await shop.start()
    try:
        yield shop
    finally:
        await shop.stop()


async def test_the_demo_merchant_connects_imports_and_sees_its_orders_shipped(demo: BolDemo) -> None:
    settings = BolSettings(**demo.settings())
    assert settings.webhook_url("http://127.0.0.1:8080/events/x") is not None
    async with aiohttp.ClientSession() as http:
        draft = Connection(id=0, account_id=1, connector="bol", state=ConnectionState.PENDING)

        def context(connection: Connection, credentials: dict[str, SecretStr]) -> ConnectorContext:
            return ConnectorContext(
                connection=connection, credentials=credentials, settings=settings, http=http,
                log=logging.LoggerAdapter(logging.getLogger("connectors.bol"), {}), state=state,
            )

        state = BolState()
        fields = {name: SecretStr(value) for name, value in demo.connect_fields().items()}
        grant = await bol.authorize(context(draft, {}), AuthCredentials(fields=fields))
        connected = draft.model_copy(update={"id": 1, "state": ConnectionState.CONNECTED,
                                             "external_account_id": grant.external_account_id})
        ctx = context(connected, dict(grant.credentials))
        pages = [page async for page in bol.import_orders(ctx, Cursor())]
        orders = [order for page in pages for order in page.orders if order.status.value == "open"]
        assert orders and any(page.skipped for page in pages)
        order = orders[0]
        label = Label(external_id="demo-1", ship_date=utc_now(), parcels=[Parcel(
            reference="1", tracking_number="GLS0000000042",
            items=[ParcelItem(item_external_id=i.external_id, quantity=i.quantity_unshipped) for i in order.items if i.quantity_unshipped],
        )])
        (outcome,) = await bol.on_label_created(ctx, order, label)
        assert outcome.state == "accepted"
    (line,) = await demo.order_lines([order.external_id])
    assert line == f"{order.external_id}: SHIPPED (GLS GLS0000000042)"
    assert demo.url in demo.describe()[0]
