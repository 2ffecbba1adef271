"""KeyshopScenarios: how the contract kit drives a KeyShop (see core.testing.Scenarios).

Beside the moves every connector gives, and those of any shop built on the fake's MemoryShop
(``MemoryShopScenarios``: clock, faults, orders, calls, a lost answer): the Connect form's fields
(the connector connects with pasted credentials), settling the shop's processes, counting
shipments, and the shop's signed messages (genuine, and sent too long ago).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from pydantic import SecretStr

from core.hubapi import Connection, ConnectionSettings, ConnectionState
from core.testing import PostedEvent
from tests.contract.fake.scenarios import MemoryShopScenarios
from tests.contract.keyshop.settings import KeyshopSettings
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, EventMessage, KeyShop, close_shop, open_shop

#: What the shop says when it refuses a shipment the kit tells it to refuse.
REFUSAL = "Track and trace code is not valid for transporter GLS"


class KeyshopScenarios(MemoryShopScenarios[KeyShop]):
    """A fresh KeyShop per check, under a name of its own, with pages of ``page_size`` orders."""

    def __init__(self, page_size: int = 2) -> None:
        super().__init__(open_shop, close_shop, "contract-ks", page_size)

    def settings(self) -> KeyshopSettings:
        return KeyshopSettings(shop=self.shop.name, page_size=self.page_size)

    def connection(self, connector: str) -> Connection:
        return Connection(
            id=1,
            account_id=1,
            connector=connector,
            state=ConnectionState.CONNECTED,
            external_account_id=self.shop.account.id,
            settings=ConnectionSettings(update_tracking=True),
        )

    def good_credentials(self) -> Mapping[str, SecretStr]:
        return {"client_id": SecretStr(GOOD_CLIENT_ID), "client_secret": SecretStr(GOOD_CLIENT_SECRET)}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        return {"client_id": SecretStr(GOOD_CLIENT_ID), "client_secret": SecretStr("keyshop-secret-revoked-77")}

    def good_fields(self) -> Mapping[str, str]:
        return {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}

    def bad_fields(self) -> Mapping[str, str]:
        return {"client_id": GOOD_CLIENT_ID, "client_secret": "keyshop-secret-mistyped-42"}

    def secrets(self) -> Iterable[str]:
        """The access tokens the shop issued and the subscriptions' signing secrets."""
        return [*self.shop.tokens, *(subscription.secret for subscription in self.shop.subscriptions.values())]

    async def settle(self, shop_reference: str, confirmed: bool = True) -> None:
        self.shop.settle(shop_reference, "SUCCESS" if confirmed else "FAILURE", None if confirmed else REFUSAL)

    async def shipments_at_shop(self, order_external_id: str) -> int:
        return self.shop.shipment_count(order_external_id)

    async def signed_event(self, events_url: str) -> PostedEvent:
        order = next(iter(self.shop.orders), "K-0000")
        return _posted(self.shop.message(events_url, "ORDER", "ORDER_CHANGED", order))

    async def stale_event(self, events_url: str) -> PostedEvent:
        order = next(iter(self.shop.orders), "K-0000")
        return _posted(self.shop.message(events_url, "ORDER", "ORDER_CHANGED", order, timestamp=time.time() - 600))

    async def forged_event(self, events_url: str) -> PostedEvent:
        """Signed, but with a secret that is not the subscription's."""
        order = next(iter(self.shop.orders), "K-0000")
        return _posted(self.shop.message(events_url, "ORDER", "ORDER_CHANGED", order, secret="keyshop-forger-secret"))


def _posted(message: EventMessage) -> PostedEvent:
    return PostedEvent(headers=message.headers, body=message.body)
