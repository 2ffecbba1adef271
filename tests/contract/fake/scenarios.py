"""FakeScenarios: how the contract kit drives a FakeShop (see core.testing.Scenarios).

The fake connects by consent and confirms at once: beside the moves every connector gives, it
plays the merchant on the consent page and can lose a confirmation's answer.

``MemoryShopScenarios`` is what the kit does alike with any shop built on ``MemoryShop`` (this
fake's and the key shop's, tests/contract/keyshop/scenarios.py): a fresh shop per check, its
clock, faults, orders, calls and lost answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import SecretStr

from core.contract.models import AuthRedirect, AuthStart
from core.testing import Fault, Scenarios
from tests.contract.fake.settings import FakeSettings
from tests.contract.fake.shop import GOOD_KEY, FakeShop, MemoryShop, close_shop, open_shop

_names = itertools.count(1)

S = TypeVar("S", bound=MemoryShop)


class MemoryShopScenarios(Scenarios, Generic[S]):
    """A fresh shop per check from ``open_shop``, under a name of its own, with pages of ``page_size`` orders."""

    def __init__(
        self, open_shop: Callable[[str], S], close_shop: Callable[[str], None], prefix: str, page_size: int
    ) -> None:
        self._open, self._close, self._prefix = open_shop, close_shop, prefix
        self.page_size = page_size
        self._shop: S | None = None

    @property
    def shop(self) -> S:
        """The shop of the running check."""
        if self._shop is None:
            raise RuntimeError(f"{type(self).__name__}.start() has not run")
        return self._shop

    async def start(self) -> None:
        self._shop = self._open(f"{self._prefix}-{next(_names)}")

    async def stop(self) -> None:
        if self._shop is not None:
            self._close(self._shop.name)
            self._shop = None

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

    async def lose_next_answer(self) -> None:
        self.shop.lose_next_answer()


class FakeScenarios(MemoryShopScenarios[FakeShop]):
    """A fresh FakeShop per check, under a name of its own, with pages of ``page_size`` orders."""

    def __init__(self, page_size: int = 2) -> None:
        super().__init__(open_shop, close_shop, "contract", page_size)

    def settings(self) -> FakeSettings:
        return FakeSettings(shop=self.shop.name, page_size=self.page_size)

    def good_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr(GOOD_KEY)}

    def bad_credentials(self) -> Mapping[str, SecretStr]:
        return {"api_key": SecretStr("revoked-key-7f3a")}

    async def consent(self, redirect: AuthRedirect, start: AuthStart) -> Mapping[str, str]:
        return self.shop.consent(redirect.url)

    async def shipments_at_shop(self, order_external_id: str) -> int:
        return sum(1 for order_id, _ in self.shop.confirmations if order_id == order_external_id)
