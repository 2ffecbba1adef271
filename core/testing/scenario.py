"""What a connector gives the contract kit: a ``Scenarios`` object that drives its shop.

The kit knows the hub API but nothing about any shop. To check that a connector maps a 429 to
``RateLimited`` it must make the shop answer 429; to check that an incremental import repeats
nothing it must create orders in the shop and change one. A connector teaches the kit those few
moves by subclassing ``Scenarios``::

    class AmazonScenarios(Scenarios):
        async def start(self):                      # a fresh simulator state for each check
            self.sim = await start_simulator()
        async def stop(self):
            await self.sim.close()
        def settings(self):                         # the connector's own settings model
            return AmazonSettings(endpoint=self.sim.url, page_size=2, ...)
        def good_credentials(self):
            return {"refresh_token": SecretStr(self.sim.refresh_token)}
        def bad_credentials(self):
            return {"refresh_token": SecretStr("Atzr|revoked")}
        async def fail_next(self, kind, calls):
            self.sim.faults.add(kind, calls)        # "5xx", "timeout" or "429"
        async def seed_orders(self, count):
            return [self.sim.add_order().id for _ in range(count)]
        async def change_order(self, external_id):
            self.sim.update_order(external_id, city="Utrecht")
        def shop_calls(self):
            return len(self.sim.requests)

The kit calls ``start()`` before every check and ``stop()`` after it, so each check begins with an
empty shop; everything else is called between the two. The abstract methods are what every
connector must supply; the others have defaults that suit most shops.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, SecretStr

from core.context import utc_now
from core.models import (
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

#: The shop faults a connector must map: a 5xx answer, no answer in time, a 429 answer.
Fault = Literal["5xx", "timeout", "429"]
FAULTS: tuple[Fault, ...] = ("5xx", "timeout", "429")


class Scenarios(abc.ABC):
    """How the contract kit drives one connector's shop (a simulator, a fake, a sandbox).

    Implement the abstract methods; override the others where the defaults do not fit. All
    methods are called between ``start()`` and ``stop()`` of the same check.
    """

    # lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Give the next check a fresh shop: no orders, no faults, no recorded calls."""

    async def stop(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release what ``start()`` took (servers, sessions); called even when the check fails."""

    # what the connector receives --------------------------------------------------------------

    @abc.abstractmethod
    def settings(self) -> BaseModel:
        """The connector's settings, an instance of the model its manifest names.

        Point the connector at the shop under test and make it quick: a small page size (so an
        import of ``seed_count`` orders spans several pages), short HTTP timeouts and retry delays
        (so the timeout and 5xx checks finish fast). ``SecretStr`` fields (a client secret) are
        among the secrets that must never be logged.
        """

    @abc.abstractmethod
    def good_credentials(self) -> Mapping[str, SecretStr]:
        """Credentials the shop accepts, as core would store them after ``authorize``."""

    @abc.abstractmethod
    def bad_credentials(self) -> Mapping[str, SecretStr]:
        """Credentials the shop refuses (revoked or unknown): they must raise ``ConnectorAuthFailed``."""

    def connection(self, connector: str) -> Connection:
        """The connection the checks use; by default connection 1 of account 1, connected."""
        return Connection(
            id=1,
            account_id=1,
            connector=connector,
            state=ConnectionState.CONNECTED,
            external_account_id="contract-shop",
            settings=ConnectionSettings(update_tracking=True),
        )

    def now(self) -> datetime:
        """The clock given to the connector as ``context.now`` (the shop's clock when it has one)."""
        return utc_now()

    # driving the shop -------------------------------------------------------------------------

    @abc.abstractmethod
    async def fail_next(self, kind: Fault, calls: int) -> None:
        """Make the shop fail its next ``calls`` calls with ``kind``.

        ``"5xx"``: answer a server error (500/503). ``"timeout"``: answer too late for the
        connector's HTTP timeout (keep that timeout short in ``settings()``). ``"429"``: answer
        429 Too Many Requests, with ``Retry-After`` if the shop sends one. The kit asks for enough
        calls to outlast a connector's own retries.
        """

    @abc.abstractmethod
    async def seed_orders(self, count: int) -> list[str]:
        """Create ``count`` orders the merchant must ship and return their external ids.

        A first import (``Cursor()``) that starts now must find them all: give them update times
        inside the connector's look-back window and, if the connector leaves a safety margin
        before now (Amazon: two minutes), older than that margin.
        """

    @abc.abstractmethod
    async def change_order(self, external_id: str) -> None:
        """Change one seeded order (an address, a status) so that the next import must yield it again.

        The change must be visible to an import from the cursor the previous import returned:
        stamp it, or move the shop's clock, past that cursor and any safety margin.
        """

    def label_for(self, order: Order) -> Label:
        """A label for an imported order that the shop will accept; by default one parcel with all items."""
        items = [
            ParcelItem(item_external_id=item.external_id, quantity=item.quantity_unshipped or item.quantity_ordered)
            for item in order.items
            if item.quantity_unshipped or item.quantity_ordered
        ]
        return Label(
            external_id=f"label-{order.external_id}"[:200],
            ship_date=self.now(),
            # Core numbers parcels 1, 2, ... within an order; shops may rely on that (Amazon does).
            parcels=[Parcel(reference="1", tracking_number="CONTRACT0000000001", items=items)],
        )

    def shop_calls(self) -> int | None:
        """How many calls the shop has received since ``start()``; ``None`` if it cannot tell.

        The kit also counts the HTTP requests made through ``context.http``; this count covers
        connectors whose shop is not reached through it (and catches those that bypass it).
        """
        return None

    def secrets(self) -> Iterable[str]:
        """Secrets beyond the credentials and the settings' ``SecretStr`` fields, such as access
        tokens the shop issued during the check; asked for after the check has run."""
        return ()

    async def consent(self, redirect: AuthRedirect, start: AuthStart) -> Mapping[str, str]:
        """Play the merchant on the shop's consent page and return the callback parameters.

        Optional: when a connector implements it, the kit checks the ``authorize`` round trip
        (consent URL, callback, credentials that work). Not implementing it skips that check.
        """
        raise NotImplementedError

    @classmethod
    def supports_consent(cls) -> bool:
        """Whether this class implements ``consent`` (and so the authorize round trip is checked)."""
        return cls.consent is not Scenarios.consent


__all__ = ["FAULTS", "Fault", "Scenarios"]
