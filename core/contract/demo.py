"""What a connector gives ``hub demo``: a shop simulator on 127.0.0.1 and the merchant's part in it.

A connector's manifest names its ``DemoShop`` subclass (``demo = "module:Class"``); ``hub demo``
creates it with the number of orders wanted, starts it, merges ``settings()`` into the connector's
settings table, connects a demo account the way the manifest's ``[connect] style`` says (the
consent page through ``consent``, or the credentials of ``connect_fields``), imports, creates
labels and prints ``order_lines``. ``hub`` names no connector: everything shop-specific is here.
"""

from __future__ import annotations

import abc
from typing import Any


class DemoShop(abc.ABC):
    """One connector's shop simulator for the demo, started and stopped by ``hub demo``."""

    #: What the demo calls the shop in its steps ("Amazon").
    title: str = ""
    #: What the shop calls a merchant's account, in "connected to <account> <id>" ("seller").
    account: str = "account"
    #: What the demo says once the merchant has consented on the shop's page (consent style only).
    consented: str = "the merchant gave consent on the shop's page"

    def __init__(self, orders: int) -> None:
        """A shop whose demo merchants have about ``orders`` orders each, not started yet."""
        self.orders = orders

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the simulator on a free port of 127.0.0.1."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the simulator and release what ``start`` took."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The simulator's base URL, once started."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """The connector's settings table (``[connectors.<id>]``) that points it at the simulator."""

    def connect_fields(self) -> dict[str, str]:
        """The Connect form's fields as the demo merchant fills them in (options, or pasted credentials)."""
        return {}

    async def consent(self, url: str) -> str:
        """Play the merchant on the consent page at ``url``; return the URL the shop sends them back to.

        Only for a connector whose connect style is ``consent``.
        """
        raise NotImplementedError

    @abc.abstractmethod
    async def order_lines(self, external_ids: list[str]) -> list[str]:
        """One line per order as the shop shows it now (its status and the tracking it holds)."""

    def describe(self) -> list[str]:
        """Lines saying where the simulator is and what it serves, once started."""
        return [f"{self.title} simulator at {self.url}"]
