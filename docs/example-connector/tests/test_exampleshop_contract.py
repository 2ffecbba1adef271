"""The hub's contract kit, run on the Example Shop connector against its stand-in shop."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from exampleshop.settings import ExampleShopSettings
from pydantic import SecretStr
from shop_server import GOOD_KEY, ShopServer

from core.testing import ConnectorContract, Scenarios

REVOKED_KEY = "exs_live_revoked_0000000000000000"


class ExampleShopScenarios(Scenarios):
    """How the kit drives Example Shop: a fresh stand-in shop on 127.0.0.1 for every check."""

    shop: ShopServer

    async def start(self) -> None:
        self.shop = ShopServer()
        await self.shop.start()

    async def stop(self) -> None:
        await self.shop.stop()

    def settings(self) -> ExampleShopSettings:
        # Small pages so that five orders take three; a short timeout so the timeout check is quick.
        return ExampleShopSettings(base_url=self.shop.url, page_size=2, request_timeout=0.3)

    def good_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr(GOOD_KEY)}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr(REVOKED_KEY)}

    def good_fields(self) -> Mapping[str, str]:  # what a merchant pastes on the Connect form
        return {"api_key": GOOD_KEY}

    def bad_fields(self) -> Mapping[str, str]:
        return {"api_key": REVOKED_KEY}

    def now(self) -> datetime:
        return self.shop.now

    async def fail_next(self, kind: str, calls: int) -> None:
        self.shop.fail_next(kind, calls)

    async def seed_orders(self, count: int) -> list[str]:
        return [self.shop.add_order() for _ in range(count)]

    async def change_order(self, external_id: str) -> None:
        self.shop.tick()  # the change lands after the cursor the last import returned
        self.shop.change_order(external_id, city="Amersfoort")

    def shop_calls(self) -> int:
        return self.shop.requests

    async def lose_next_answer(self) -> None:  # the shop makes the shipment, the answer is lost
        self.shop.fail_next("lost", 1)

    async def shipments_at_shop(self, order_external_id: str) -> int:
        return sum(1 for order_id, _ in self.shop.shipments if order_id == order_external_id)


class TestExampleShopContract(ConnectorContract):
    connector = "exampleshop"
    scenarios = ExampleShopScenarios()
