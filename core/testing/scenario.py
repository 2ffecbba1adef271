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

Some moves only matter for some connectors, and the kit asks for them where they do (a check
that needs one the scenarios lack fails and names it; it never skips for that):

- connect style ``consent`` (the manifest's ``[connect]``): ``consent``, the merchant on the
  shop's consent page;
- connect style ``credentials``: ``good_fields`` and ``bad_fields``, what the merchant pastes;
- a connector with ``check_parcels`` (the shop settles parcels later): ``settle``;
- a connector with ``receive_event``: ``signed_event`` and ``stale_event`` (``unsigned_event``
  and ``forged_event`` have defaults derived from a signed one).

One pair is optional: ``lose_next_answer`` with ``shipments_at_shop`` lets the kit check that a
push repeated after a lost answer makes no second shipment; without them that check is skipped
and says so. ``connector_state`` lets a scenario adjust what ``open_connector`` returned (put it
on the shop's clock, say).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from core.contract.context import utc_now
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

#: The shop faults a connector must map: a 5xx answer, no answer in time, a 429 answer.
Fault = Literal["5xx", "timeout", "429"]
FAULTS: tuple[Fault, ...] = ("5xx", "timeout", "429")


@dataclass(frozen=True)
class PostedEvent:
    """A message as the shop posts it to a connection's events URL: its headers and raw body."""

    headers: Mapping[str, str]
    body: bytes


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

    def connector_state(self, opened: Any) -> Any:
        """The per-process state the kit gives the hooks (``context.state``), from what ``open_connector`` returned.

        By default unchanged. Override to adjust it for the shop under test, for instance to run
        the connector's pacing on the simulator's clock.
        """
        return opened

    # connecting --------------------------------------------------------------------------------

    async def consent(self, redirect: AuthRedirect, start: AuthStart) -> Mapping[str, str]:
        """Play the merchant on the shop's consent page and return the callback parameters.

        Needed for connect style ``consent``: the kit checks the ``authorize`` round trip
        (consent URL, callback, credentials that work).
        """
        raise NotImplementedError

    def good_fields(self) -> Mapping[str, str]:
        """The Connect form's fields as a merchant fills them in with credentials the shop accepts.

        Needed for connect style ``credentials``: every field the manifest declares, by name.
        """
        raise NotImplementedError

    def bad_fields(self) -> Mapping[str, str]:
        """The Connect form's fields with credentials the shop refuses (a wrong secret).

        Needed for connect style ``credentials``: ``authorize`` must raise ``ConnectorAuthFailed``.
        """
        raise NotImplementedError

    # asynchronous confirmations --------------------------------------------------------------

    async def settle(self, shop_reference: str, confirmed: bool = True) -> None:
        """Make the shop settle what it accepted under ``shop_reference``: done, or refused with a reason.

        Needed when the connector implements ``check_parcels``.
        """
        raise NotImplementedError

    async def lose_next_answer(self) -> None:
        """Make the shop do the next push's work (make the shipment) and then lose its answer (a timeout).

        Optional, with ``shipments_at_shop``.
        """
        raise NotImplementedError

    async def shipments_at_shop(self, order_external_id: str) -> int:
        """How many shipments (confirmations) the shop holds for an order; refused ones do not count.

        Optional, with ``lose_next_answer``; also used to check that a repeated push made no second one.
        """
        raise NotImplementedError

    # events ------------------------------------------------------------------------------------

    async def signed_event(self, events_url: str) -> PostedEvent:
        """A message the shop posts to ``events_url``, genuinely signed, sent just now.

        Needed when the connector implements ``receive_event``. The kit has connected first with
        ``events_url`` in the context, so a subscription the connector made for it exists.
        """
        raise NotImplementedError

    async def stale_event(self, events_url: str) -> PostedEvent:
        """A genuinely signed message sent too long ago to be taken (a replay).

        Needed when the connector implements ``receive_event``.
        """
        raise NotImplementedError

    async def unsigned_event(self, events_url: str) -> PostedEvent:
        """A message without a signature; by default a signed one with only its ``content-type`` header kept."""
        signed = await self.signed_event(events_url)
        return PostedEvent({k: v for k, v in signed.headers.items() if k.lower() == "content-type"}, signed.body)

    async def forged_event(self, events_url: str) -> PostedEvent:
        """A message whose signature does not fit it; by default a signed one with a space added to its body."""
        signed = await self.signed_event(events_url)
        return PostedEvent(signed.headers, signed.body[:1] + b" " + signed.body[1:])

    # -------------------------------------------------------------------------------------------

    @classmethod
    def implements(cls, method: str) -> bool:
        """Whether this class overrides ``method`` of ``Scenarios`` (the defaults raise NotImplementedError)."""
        return getattr(cls, method) is not getattr(Scenarios, method)

    @classmethod
    def supports_consent(cls) -> bool:
        """Whether this class implements ``consent``."""
        return cls.implements("consent")


__all__ = ["FAULTS", "Fault", "PostedEvent", "Scenarios"]
