"""FakeScenarios: how the contract kit drives a FakeShop (see core.testing.Scenarios).

The fake connects by consent and confirms at once: beside the moves every connector gives, it
plays the merchant on the consent page and can lose a confirmation's answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime

from pydantic import SecretStr

from core.contract.models import AuthRedirect, AuthStart
from core.testing import Fault, Scenarios
from tests.contract.fake.settings import FakeSettings
from tests.contract.fake.shop import GOOD_KEY, FakeShop, close_shop, open_shop

_names = itertools.count(1)


class FakeScenarios(Scenarios):
    """A fresh FakeShop per check, under a name of its own, with pages of ``page_size`` orders."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self._shop: FakeShop | None = None

    @property
    def shop(self) -> FakeShop:
        """The shop of the running check."""
        if self._shop is None:
            raise RuntimeError("FakeScenarios.start() has not run")
        return self._shop

    async def start(self) -> None:
        self._shop = open_shop(f"contract-{next(_names)}")

    async def stop(self) -> None:
        if self._shop is not None:
            close_shop(self._shop.name)
            self._shop = None

    def settings(self) -> FakeSettings:
        return FakeSettings(shop=self.shop.name, page_size=self.page_size)

    def good_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr(GOOD_KEY)}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr("revoked-key-7f3a")}

    def now(self) -> datetime:
        return self.shop.now

    async def fail_next(self, kind: Fault, calls: int) -> None:
        self.shop.fail_next(kind, calls)

    async def seed_orders(self, count: int) -> list[str]:
        return [self.shop.add_order().id for _ in range(count)]

    async def change_order(self, external_id: str) -> None:
        self.shop.update_order(external_id, city="Utrecht")

    def shop_calls(self) -> int:
        return len(self.shop.calls)

    async def consent(self, redirect: AuthRedirect, start: AuthStart) -> Mapping[str, str]:
        return self.shop.consent(redirect.url)

    async def lose_next_answer(self) -> None:
        self.shop.lose_next_answer()

    async def shipments_at_shop(self, order_external_id: str) -> int:
        return sum(1 for order_id, _ in self.shop.confirmations if order_id == order_external_id)
