"""How the contract kit drives bol.com: the simulator on 127.0.0.1, one per check, driven in-process.

Every check gets a fresh simulator with no orders and process statuses that settle only when told
(``settle_delay=None``), so the kit sees parcels stay accepted until ``settle``. Faults use the
simulator's rules for every Retailer and Shared API operation; lost answers its ``lost`` fault
(the shipment's process is made, the answer dropped). ``shipments_at_shop`` counts what bol.com
holds for an order: the shipments made, and the shipment requests still being processed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from connectors.bol.settings import BolSettings
from connectors.bol.shipping import process_id_of
from connectors.bol.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RETAILER_ID,
    RunningSimulator,
    SimulatorConfig,
    parse_faults,
    run_simulator,
)
from connectors.bol.simulator.clock import bol_time
from core.hubapi import Connection, ConnectionSettings, ConnectionState
from core.testing import Fault, PostedEvent, Scenarios

#: The simulator's fault kind for each of the kit's faults.
FAULT_KINDS: dict[Fault, str] = {"5xx": "503", "timeout": "timeout", "429": "429"}


def simulator_config(**changes: Any) -> SimulatorConfig:
    """An empty world (no seeded orders), statuses settled only on demand.

    Deliveries to an address that does not answer (the kit's events URL) are retried only after a
    minute, so a subscription stays enabled for the whole check.
    """
    values: dict[str, Any] = {
        "orders_per_retailer": 0, "demo_orders": False, "settle_delay": None, "retry_interval": 60.0,
        "delivery_timeout": 1.0,
    }
    return SimulatorConfig(**{**values, **changes})


def quick_settings(sim: RunningSimulator, **changes: Any) -> BolSettings:
    """Settings on the simulator: small import pages, short timeouts and backoffs, loopback webhooks."""
    values: dict[str, Any] = {
        "endpoint": sim.url, "page_size": 2, "request_timeout": 1.0, "max_retries": 1, "backoff_base": 0.01,
        "backoff_max": 0.05, "max_pacing_wait": 5.0, "webhooks_allow_loopback": True, "settle_retry_seconds": 1.0,
    }
    return BolSettings(**{**values, **changes})


class BolScenarios(Scenarios):
    """The kit's moves on the bol.com simulator."""

    def __init__(self) -> None:
        self._stack: AsyncExitStack | None = None
        self._sim: RunningSimulator | None = None

    @property
    def sim(self) -> RunningSimulator:
        """The running simulator of the current check."""
        assert self._sim is not None, "BolScenarios.start() was not called"
        return self._sim

    async def start(self) -> None:
        """A fresh simulator for the check."""
        self._stack = AsyncExitStack()
        self._sim = await self._stack.enter_async_context(run_simulator(simulator_config()))

    async def stop(self) -> None:
        """Stop the simulator."""
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._sim = None

    # what the connector receives --------------------------------------------------------------

    def settings(self) -> BolSettings:
        """The connector pointed at the simulator."""
        return quick_settings(self.sim)

    def good_credentials(self) -> Mapping[str, SecretStr]:
        """The first retailer's client credentials."""
        return {"client_id": SecretStr(DEFAULT_CLIENT_ID), "client_secret": SecretStr(DEFAULT_CLIENT_SECRET)}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        """The right Client ID with a wrong secret."""
        return {"client_id": SecretStr(DEFAULT_CLIENT_ID), "client_secret": SecretStr("not-the-secret")}

    def good_fields(self) -> Mapping[str, str]:
        """What the merchant pastes: the Client ID and secret from the Seller Dashboard."""
        return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}

    def bad_fields(self) -> Mapping[str, str]:
        """A mistyped secret."""
        return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET + "x"}

    def connection(self, connector: str) -> Connection:
        """Connection 1, keyed by the first retailer."""
        return Connection(
            id=1, account_id=1, connector=connector, state=ConnectionState.CONNECTED,
            external_account_id=DEFAULT_RETAILER_ID, settings=ConnectionSettings(update_tracking=True),
        )

    def now(self) -> datetime:
        """The simulator's clock."""
        return self.sim.state.clock.now()

    def shop_calls(self) -> int:
        """API calls and token requests the simulator received."""
        tokens = sum(client.token_requests for client in self.sim.state.clients.values())
        return sum(self.sim.state.calls.values()) + tokens

    def secrets(self) -> Iterable[str]:
        """The access tokens the simulator gave out."""
        return list(self.sim.state.tokens)

    # driving the shop -------------------------------------------------------------------------

    async def fail_next(self, kind: Fault, calls: int) -> None:
        """The next ``calls`` API calls of any operation fail with ``kind``."""
        self.sim.state.faults.add(parse_faults(f"*:{FAULT_KINDS[kind]}:next={calls}"))

    async def seed_orders(self, count: int) -> list[str]:
        """Orders placed now, each with items the merchant ships itself."""
        return [self.sim.state.new_order(shape="fbr").order_id for _ in range(count)]

    async def change_order(self, external_id: str) -> None:
        """A later change of the order's address: its items are stamped two seconds on."""
        state = self.sim.state
        state.clock.advance(2)
        order = state.order(external_id)
        order.shipment_details["extraAddressInformation"] = "Achterom"
        for item in order.items:
            state.touch(item)
        state.notify()

    async def settle(self, shop_reference: str, confirmed: bool = True) -> None:
        """bol.com finishes the process: done, or FAILURE with a reason."""
        process_id = process_id_of(shop_reference)
        if confirmed:
            self.sim.state.settle(process_id)
        else:
            self.sim.state.settle(process_id, "FAILURE", "Order item cannot be shipped: refused by the contract test.")

    async def lose_next_answer(self) -> None:
        """The next shipment is made (its process exists), and its answer is lost."""
        self.sim.state.faults.add(parse_faults("create-shipment:lost:next=1"))

    async def shipments_at_shop(self, order_external_id: str) -> int:
        """Shipments made for the order, plus shipment requests still being processed for its items."""
        state = self.sim.state
        made = len(state.shipments_made(order_id=order_external_id))
        items = {item.order_item_id for item in state.order(order_external_id).items}
        in_flight = sum(
            1 for status in state.processes.values()
            if status.pending and status.event_type == "CREATE_SHIPMENT" and items & set(status.entity_ids)
        )
        return made + in_flight

    async def signed_event(self, events_url: str) -> PostedEvent:
        """What bol.com posts to the connection's subscription when an order arrives."""
        state = self.sim.state
        state.settle_all()  # the subscription the connector asked for exists once its process settled
        order_id = state.new_order(shape="fbr").order_id
        deliveries = [d for d in state.deliveries if d.url == events_url and d.resource_id == order_id]
        assert deliveries, f"bol.com sent nothing to {events_url}: the connector did not subscribe it"
        return PostedEvent({"signature": deliveries[0].signature, "content-type": "application/json"}, deliveries[0].body)

    async def stale_event(self, events_url: str) -> PostedEvent:
        """A message bol.com signed two hours ago (a replay)."""
        state = self.sim.state
        sent = state.clock.time() - timedelta(hours=2).total_seconds()
        body = json.dumps(
            {"retailerId": int(DEFAULT_RETAILER_ID), "timeStamp": bol_time(sent),
             "event": {"resource": "ORDER", "type": "ORDER_CREATED", "resourceId": "1043946570", "metadata": {}, "links": []}},
            separators=(",", ":"),
        ).encode()
        _, header = state.keys.sign(body)
        return PostedEvent({"signature": header, "content-type": "application/json"}, body)
