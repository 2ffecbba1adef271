"""The connector's hooks against the Amazon simulator on 127.0.0.1, with Amazon's real usage plans.

The hooks are called directly with a context built here (core's storage is not needed), whose
``state`` is a ``ClientState`` on the simulator's clock; that clock is frozen and only the
connector's pacing moves it, so the usage plans apply in full without a test ever waiting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from pydantic import SecretStr

import connectors.amazon
from connectors.amazon.client import ClientState
from connectors.amazon.settings import AmazonSettings
from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from core.contract.context import ConnectorContext
from core.contract.errors import ConnectorAuthFailed
from core.contract.models import (
    AuthCallback,
    Authorization,
    AuthStart,
    Connection,
    ConnectionSettings,
    ConnectionState,
    Cursor,
    ImportPage,
    Label,
    OrderStatus,
    Parcel,
    ParcelItem,
)
from tests.connectors.amazon.fakes import SimulatedClock
from tests.connectors.amazon.simulator.browser import parse_form

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REDIRECT_URI = "http://127.0.0.1:8080/connect/callback"
LOGIN_URI = "http://127.0.0.1:8080/amazon/login"

Simulate = Callable[..., Any]


@pytest.fixture
async def simulate() -> AsyncIterator[Callable[..., Any]]:
    """Start a simulator (frozen clock), with the connector's process state on its clock."""
    async with aiohttp.ClientSession() as http:
        stack: list[Any] = []

        async def start(**config: Any) -> tuple[RunningSimulator, aiohttp.ClientSession, ClientState]:
            context = run_simulator(SimulatorConfig(**{"start_time": START, "freeze_clock": True, **config}))
            sim = await context.__aenter__()
            stack.append(context)
            return sim, http, ClientState(clock=SimulatedClock(sim.state.clock))

        yield start
        for context in reversed(stack):
            await context.__aexit__(None, None, None)


def settings_for(sim: RunningSimulator, **changes: Any) -> AmazonSettings:
    values = {
        "application_id": DEFAULT_APPLICATION_ID,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "endpoint": sim.url,
        "max_retries": 0,  # any 429 or fault fails the test: pacing alone must keep us inside the plans
    }
    return AmazonSettings(**{**values, **changes})


def context_for(
    sim: RunningSimulator,
    http: aiohttp.ClientSession,
    state: ClientState,
    authorization: Authorization | None = None,
    settings: AmazonSettings | None = None,
    marketplaces: list[str] | None = None,
) -> ConnectorContext:
    connection = Connection(
        id=1,
        account_id=1,
        connector="amazon",
        state=ConnectionState.CONNECTED if authorization else ConnectionState.PENDING,
        external_account_id=authorization.external_account_id if authorization else None,
        settings=ConnectionSettings(
            update_tracking=True,
            marketplaces=(
                marketplaces if marketplaces is not None else (authorization.marketplaces if authorization else [])
            ),
        ),
    )
    credentials: dict[str, SecretStr] = dict(authorization.credentials) if authorization else {}
    return ConnectorContext(
        connection=connection,
        credentials=credentials,
        settings=settings or settings_for(sim),
        http=http,
        log=logging.LoggerAdapter(logging.getLogger("connectors.amazon"), {"connection_id": 1}),
        now=sim.state.clock.now,
        state=state,
    )


async def connect(
    sim: RunningSimulator, http: aiohttp.ClientSession, state: ClientState, settings: AmazonSettings | None = None
) -> Authorization:
    """Connect as a merchant would: consent URL, the consent form, Confirm, the callback."""
    context = context_for(sim, http, state, settings=settings)
    redirect = await connectors.amazon.authorize(
        context, AuthStart(state="st-1", redirect_uri=REDIRECT_URI, options={"marketplace": "NL"})
    )
    async with http.get(redirect.url) as page:
        assert page.status == 200
        form = parse_form(await page.text())
    assert form.checkbox is not None
    fields = {**form.fields, form.checkbox[0]: form.checkbox[1], "action": "confirm"}
    async with http.post(sim.url + form.action, data=fields, allow_redirects=False) as answer:
        assert answer.status == 302
        back = answer.headers["Location"]
    assert back.startswith(REDIRECT_URI)
    params = dict(parse_qsl(urlsplit(back).query))
    assert params["state"] == "st-1"
    result = await connectors.amazon.authorize(context, AuthCallback(redirect_uri=REDIRECT_URI, params=params))
    assert isinstance(result, Authorization)
    return result


async def import_all(context: ConnectorContext, cursor: Cursor) -> list[ImportPage]:
    return [page async for page in connectors.amazon.import_orders(context, cursor)]


async def test_connect_through_the_consent_page(simulate: Simulate) -> None:
    sim, http, state = await simulate()

    authorization = await connect(sim, http, state)

    seller = sim.state.first_seller
    assert authorization.external_account_id == seller.seller_id
    assert authorization.display_name == seller.store_name
    assert authorization.credentials["region"].get_secret_value() == "EU"
    assert authorization.marketplaces == ["NL", "DE"]
    await connectors.amazon.check_connection(context_for(sim, http, state, authorization))


async def test_a_draft_app_connects_with_the_beta_version(simulate: Simulate) -> None:
    sim, http, state = await simulate(draft=True)
    authorization = await connect(sim, http, state, settings=settings_for(sim, draft_app=True))
    assert authorization.external_account_id == sim.state.first_seller.seller_id


async def test_a_long_import_under_the_real_usage_plans_meets_no_429(simulate: Simulate) -> None:
    sim, http, state = await simulate(orders_per_seller=1200)
    authorization = await connect(sim, http, state)
    context = context_for(sim, http, state, authorization, settings=settings_for(sim, page_size=10))
    started = sim.state.clock.time()

    pages = await import_all(context, Cursor())

    assert len(pages) > 25, "the import must outlast the searchOrders burst of 20"
    elapsed = sim.state.clock.time() - started
    assert elapsed >= (len(pages) - 20) / 0.0056 - 1
    orders = [order for page in pages for order in page.orders]
    skipped = [skip for page in pages for skip in page.skipped]
    assert len({order.external_id for order in orders}) == len(orders)
    assert all(order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_SHIPPED) for order in orders)
    assert all(order.recipient and order.recipient.lines for order in orders)
    assert {skip.reason for skip in skipped} <= {
        "Easy Ship: Amazon arranges the shipping",
        "Ship+: shipped with Amazon's own labels, which take no other carrier's tracking",
    }
    window_end = pages[-1].cursor.since
    assert pages[-1].cursor.page_token is None and window_end is not None
    merchant_open = [
        o
        for o in sim.state.orders.values()
        if o.seller_id == authorization.external_account_id
        and o.fulfilled_by == "MERCHANT"
        and o.status in ("UNSHIPPED", "PARTIALLY_SHIPPED")
        and o.updated <= window_end.timestamp()
    ]
    assert len(orders) + len(skipped) == len(merchant_open)
    assert all(page.cursor.since == pages[0].cursor.since for page in pages[:-1])


async def test_label_push_ships_the_order_and_a_retry_adds_no_package(simulate: Simulate) -> None:
    sim, http, state = await simulate(orders_per_seller=0)
    authorization = await connect(sim, http, state)
    context = context_for(sim, http, state, authorization)
    added = sim.state.add_order(
        items=[{"orderItemId": "50000000000001", "quantity": 2}, {"orderItemId": "50000000000002", "quantity": 1}]
    )
    sim.state.clock.advance(300)
    [page] = await import_all(context, Cursor())
    [order] = page.orders
    assert order.external_id == added.order_id

    first = Label(
        external_id="L-1",
        ship_date=sim.state.clock.now(),
        parcels=[
            Parcel(
                reference="1",
                tracking_number="GLS100001",
                items=[ParcelItem(item_external_id="50000000000001", quantity=1)],
            )
        ],
    )
    assert [o.state for o in await connectors.amazon.on_label_created(context, order, first)] == ["confirmed"]
    assert sim.state.order(order.external_id).status == "PARTIALLY_SHIPPED"

    second = Label(
        external_id="L-2",
        ship_date=sim.state.clock.now(),
        parcels=[
            Parcel(
                reference="2",
                tracking_number="GLS100002",
                items=[ParcelItem(item_external_id="50000000000001", quantity=1)],
            ),
            Parcel(
                reference="3",
                tracking_number="GLS100003",
                items=[ParcelItem(item_external_id="50000000000002", quantity=1)],
            ),
        ],
    )
    assert [o.state for o in await connectors.amazon.on_label_created(context, order, second)] == [
        "confirmed",
        "confirmed",
    ]
    assert [o.state for o in await connectors.amazon.on_label_created(context, order, second)] == [
        "confirmed",
        "confirmed",
    ]

    shipped = sim.state.order(order.external_id)
    assert shipped.status == "SHIPPED"
    packages = sim.state.detail(shipped).packages
    assert sorted(packages) == ["1", "2", "3"], "the retried push edited packages 2 and 3"
    assert {(p.carrier, p.tracking_number) for p in packages.values()} == {
        ("GLS", "GLS100001"),
        ("GLS", "GLS100002"),
        ("GLS", "GLS100003"),
    }
    assert [c.action for c in sim.state.confirmations_of(order.external_id)] == [
        "created",
        "created",
        "created",
        "updated",
        "updated",
    ]

    sim.state.clock.advance(300)
    [update] = await import_all(context, page.cursor)
    assert [(o.external_id, o.status) for o in update.orders] == [(order.external_id, OrderStatus.SHIPPED)]


async def test_an_order_cancelled_after_import_comes_back_cancelled(simulate: Simulate) -> None:
    sim, http, state = await simulate(orders_per_seller=0)
    authorization = await connect(sim, http, state)
    context = context_for(sim, http, state, authorization)
    added = sim.state.add_order()
    sim.state.clock.advance(300)
    [page] = await import_all(context, Cursor())

    sim.state.cancel_order(added.order_id)
    sim.state.clock.advance(300)
    [update] = await import_all(context, page.cursor)

    assert [(o.external_id, o.status) for o in update.orders] == [(added.order_id, OrderStatus.CANCELLED)]
    assert update.cursor.since and page.cursor.since and update.cursor.since > page.cursor.since


async def test_revocation_leads_to_auth_failed(simulate: Simulate) -> None:
    sim, http, state = await simulate(orders_per_seller=5)
    authorization = await connect(sim, http, state)
    context = context_for(sim, http, state, authorization)
    await connectors.amazon.check_connection(context)

    sim.state.revoke(authorization.external_account_id)

    with pytest.raises(ConnectorAuthFailed, match="Reconnect Amazon"):
        await import_all(context, Cursor(since=START.replace(day=1)))


async def test_login_uri_reauthorisation_renews_the_grant(simulate: Simulate) -> None:
    sim, http, state = await simulate(orders_per_seller=0, login_uri=LOGIN_URI)
    authorization = await connect(sim, http, state)
    seller = authorization.external_account_id
    sim.state.revoke(seller)

    async with http.get(f"{sim.url}/_sim/reauthorize", params={"seller": seller}, allow_redirects=False) as answer:
        login = urlsplit(answer.headers["Location"])
    assert f"{login.scheme}://{login.netloc}{login.path}" == LOGIN_URI
    amazon = dict(parse_qsl(login.query))
    context = context_for(sim, http, state, authorization)
    options = {key: amazon[key] for key in ("amazon_callback_uri", "amazon_state") if key in amazon}
    redirect = await connectors.amazon.authorize(
        context, AuthStart(state="st-2", redirect_uri=REDIRECT_URI, options=options)
    )
    async with http.get(redirect.url, allow_redirects=False) as answer:
        back = answer.headers["Location"]
    params = dict(parse_qsl(urlsplit(back).query))
    assert params["state"] == "st-2" and params["selling_partner_id"] == seller

    renewed = await connectors.amazon.authorize(context, AuthCallback(redirect_uri=REDIRECT_URI, params=params))

    assert renewed.external_account_id == seller
    assert (
        renewed.credentials["refresh_token"].get_secret_value()
        != authorization.credentials["refresh_token"].get_secret_value()
    )
    await connectors.amazon.check_connection(context_for(sim, http, state, renewed))
