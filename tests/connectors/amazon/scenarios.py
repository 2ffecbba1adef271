"""How the contract kit drives Amazon: a fresh simulator on 127.0.0.1 for every check.

The simulator's clock is frozen; the connector's pacing and backoff run on it (``connector_state``
puts what ``open_connector`` made on that clock), so Amazon's real usage plans apply and no check
waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from pydantic import SecretStr

from connectors.amazon.client import ClientState
from connectors.amazon.const import MARKETPLACES
from connectors.amazon.settings import AmazonSettings
from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.amazon.simulator.faults import FaultRule
from core.contract.models import (
    AuthRedirect,
    AuthStart,
    Connection,
    ConnectionSettings,
    ConnectionState,
    Label,
    Order,
    Parcel,
    ParcelItem,
)
from core.testing import REDIRECT_URI, Scenarios
from core.testing.scenario import Fault
from tests.connectors.amazon.fakes import SimulatedClock
from tests.connectors.amazon.simulator.browser import parse_form

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: The redirect URI of the kit's authorize check; the simulator must know it as registered.
KIT_REDIRECT_URI = REDIRECT_URI
#: Past Amazon's two-minute margin, so that what was just seeded or changed is searchable.
SETTLE = 300
FAULT_KINDS: dict[str, str] = {"5xx": "503", "timeout": "timeout", "429": "429"}


class AmazonScenarios(Scenarios):
    """The Amazon connector's shop for the contract kit: the simulator, one seller, NL."""

    def __init__(self) -> None:
        self._running: AbstractAsyncContextManager[RunningSimulator] | None = None
        self._sim: RunningSimulator | None = None
        self._refresh_token = ""

    @property
    def sim(self) -> RunningSimulator:
        assert self._sim is not None, "the kit calls start() first"
        return self._sim

    @property
    def seller(self) -> str:
        return self.sim.state.first_seller.seller_id

    async def start(self) -> None:
        """A new simulator: no orders, frozen clock, Amazon's usage plans, one grant for its seller."""
        self._running = run_simulator(
            SimulatorConfig(
                start_time=START,
                freeze_clock=True,
                sellers=1,
                orders_per_seller=0,
                marketplaces=["NL"],
                redirect_uris=[KIT_REDIRECT_URI],
                hang_seconds=30,
            )
        )
        self._sim = await self._running.__aenter__()
        self._refresh_token = self.sim.state.grant(self.seller)

    async def stop(self) -> None:
        """Stop the simulator."""
        if self._running is not None:
            await self._running.__aexit__(None, None, None)
        self._running = self._sim = None

    def settings(self) -> AmazonSettings:
        """Every endpoint on the simulator; small pages, short timeouts, one retry."""
        return AmazonSettings(
            application_id=DEFAULT_APPLICATION_ID,
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            endpoint=self.sim.url,
            page_size=2,
            max_retries=1,
            request_timeout=0.5,
        )

    def connector_state(self, opened: Any) -> ClientState:
        """What ``open_connector`` made, on the simulator's clock: pacing and backoff move that clock instead of waiting."""
        assert isinstance(opened, ClientState), f"open_connector returned {type(opened).__name__}, not a ClientState"
        return ClientState(clock=SimulatedClock(self.sim.state.clock), rng=opened.random)

    def good_credentials(self) -> Mapping[str, SecretStr]:
        """A grant the simulator issued for its seller."""
        return {"refresh_token": SecretStr(self._refresh_token), "region": SecretStr("EU")}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        """A refresh token the simulator never issued."""
        return {"refresh_token": SecretStr("Atzr|never-issued-by-amazon"), "region": SecretStr("EU")}

    def connection(self, connector: str) -> Connection:
        """The seller's connection, NL."""
        return Connection(
            id=1,
            account_id=1,
            connector=connector,
            state=ConnectionState.CONNECTED,
            external_account_id=self.seller,
            settings=ConnectionSettings(update_tracking=True, marketplaces=[MARKETPLACES["NL"].id]),
        )

    def now(self) -> datetime:
        """The simulator's clock."""
        return self.sim.state.clock.now()

    async def fail_next(self, kind: Fault, calls: int) -> None:
        """The next ``calls`` SP-API calls fail with ``kind``."""
        self.sim.state.faults.add([FaultRule(operation="*", kind=FAULT_KINDS[kind], next=calls)])

    async def seed_orders(self, count: int) -> list[str]:
        """Merchant-fulfilled unshipped orders, settled past the two-minute margin."""
        ids = [self.sim.state.add_order(self.seller).order_id for _ in range(count)]
        self.sim.state.clock.advance(SETTLE)
        return ids

    async def change_order(self, external_id: str) -> None:
        """The buyer corrects the address; the change settles past the margin."""
        self.sim.state.update_order(external_id, address={"city": "Utrecht"})
        self.sim.state.clock.advance(SETTLE)

    def label_for(self, order: Order) -> Label:
        """One parcel with everything left to ship; Amazon wants a positive number as its reference."""
        items = [
            ParcelItem(item_external_id=item.external_id, quantity=item.quantity_unshipped)
            for item in order.items
            if item.quantity_unshipped
        ]
        return Label(
            external_id=f"label-{order.external_id}",
            ship_date=self.now(),
            parcels=[Parcel(reference="1", tracking_number="GLS0000000001", items=items)],
        )

    async def lose_next_answer(self) -> None:
        """Amazon confirms the next package and the answer is lost on the way (the connection drops)."""
        self.sim.state.faults.add([FaultRule(operation="confirmShipment", kind="lost", next=1)])

    async def shipments_at_shop(self, order_external_id: str) -> int:
        """The packages Amazon holds for the order (one per ``packageReferenceId``)."""
        return len(self.sim.state.detail(self.sim.state.order(order_external_id)).packages)

    def secrets(self) -> Iterable[str]:
        """The access and refresh tokens the simulator issued during the check."""
        state = self.sim.state
        return [*state.access_tokens, *(grant.refresh_token for grant in state.grants.values())]

    async def consent(self, redirect: AuthRedirect, start: AuthStart) -> Mapping[str, str]:
        """Tick the box on the simulator's consent page and Confirm; return what comes back."""
        async with aiohttp.ClientSession() as http:
            async with http.get(redirect.url) as page:
                form = parse_form(await page.text())
            assert form.checkbox is not None, "the consent page has no consent box"
            fields: dict[str, Any] = {**form.fields, form.checkbox[0]: form.checkbox[1], "action": "confirm"}
            async with http.post(self.sim.url + form.action, data=fields, allow_redirects=False) as answer:
                location = answer.headers["Location"]
        return dict(parse_qsl(urlsplit(location).query))
