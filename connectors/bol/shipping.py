"""The tracking push: one bol.com shipment per parcel, created exactly once, settled later.

``POST /retailer/shipments`` takes the parcel's order items and quantities, the GLS track and trace
and a ``shipmentReference`` that is stable per parcel (the order id and the parcel's reference), and
answers 202 with a process status that settles later (``accepted``; ``check_parcels`` asks). bol.com
takes no idempotency key, so any push may repeat one whose answer was lost, or one a crash cut
short. Before creating anything a push therefore finds out what happened to the parcel:

1. when bol.com shows units of the parcel's items shipped, the order's shipments: one with the
   parcel's ``shipmentReference`` is the parcel's (``confirmed``; a changed track and trace goes
   to its transport with ``PUT /retailer/transports/{id}``, ``accepted`` until that settles);
2. the ``CREATE_SHIPMENT`` process statuses of the parcel's items: one still PENDING that this push
   did not start is most likely the parcel's own, whose answer was lost: the parcel is
   ``accepted`` with that process as its shop reference, marked ``found:``. A process found goes
   to one parcel only, the first to find it (a claim every hub process shares, through
   ``context.coordination``; a process a push starts is given to its parcel at once, so no other
   parcel takes it for its own): another parcel of the same items waits (``retry``) until bol.com has
   settled it, since it may be either parcel's (bol.com's process statuses do not show the
   reference), and core settles parcels by their shop reference, so two parcels must never share
   one;
3. the order at bol.com: a cancellation request, an item bol.com ships itself, or fewer units
   left than the parcel carries stops the parcel (``failed``, with the reason).

Only then is the shipment created; a POST whose answer is lost is never repeated blindly (the
client does not repeat it, the parcel is ``retry``, and the next push starts at step 1).

The order must show every shipment bol.com has made of the items, or step 3 counts units as open
that a lost answer's shipment took. So a push reads the ``CREATE_SHIPMENT`` processes of the
label's items *before* the order: one SUCCESS then is in the order and its shipments. A process
that step 2 (asked after the order) finds SUCCESS but that was not SUCCESS before may have
settled after the order was read: the parcel is ``retry`` and the next push reads it all again.
The processes this push started itself are counted apart (they were started after the read).

A found process may still turn out to be another parcel's (when two answers were lost, each
parcel may claim the other's). ``check_parcels`` therefore
confirms a parcel with a found process only when the order's shipments show its reference; while
other shipments of the order's items are still processing it waits for them, and only when none
is left does it give the parcel up (``failed``: a new push sends it).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from connectors.bol.client import BolApi
from connectors.bol.const import (
    BOL,
    CREATE_SHIPMENT,
    FAILURE,
    FBB,
    MAX_BULK_PROCESS_STATUSES,
    PENDING,
    SUCCESS,
    TIMEOUT,
)
from connectors.bol.errors import SHOP, BolRejected
from connectors.bol.settings import BolSettings
from core.hubapi import (
    AcceptedParcel,
    Coordination,
    Label,
    Order,
    Parcel,
    ParcelOutcome,
    TransientError,
    message_text,
)

#: bol.com settles a process within minutes, at most about three hours; one it no longer knows
#: after that, with no shipment to show for it, did not happen.
SETTLED_WITHIN = timedelta(hours=3)
MAX_REFERENCE = 90
#: Marks a shop reference for a process a push found rather than started: once it succeeds, the
#: order's shipments must show the parcel's reference before the parcel counts as confirmed.
FOUND = "found:"
#: How long a parcel's claim on a process it found is kept: longer than bol.com takes to settle one.
CLAIM_SECONDS = 2 * SETTLED_WITHIN.total_seconds()
#: What a process status was about, as the first word of its outcome's message code (``shipment_failed``, ...).
SHIPMENT = "shipment"
TRACKING_CHANGE = "tracking_change"


def process_id_of(shop_reference: str) -> str:
    """The process status id behind a shop reference."""
    return shop_reference.removeprefix(FOUND)


def shop_references(process_id: str) -> list[str]:
    """The shop references a settled process status may be known by (a push started it, or found it)."""
    return [process_id, FOUND + process_id]


def shipment_reference(order_id: str, parcel_reference: str) -> str:
    """The parcel's ``shipmentReference`` at bol.com: stable, and unique per retailer (at most 90 characters)."""
    reference = f"{order_id}-{parcel_reference}"
    if len(reference) <= MAX_REFERENCE:
        return reference
    return "hub-" + hashlib.blake2b(reference.encode(), digest_size=20).hexdigest()


def shipment_request(settings: BolSettings, reference: str, parcel: Parcel) -> dict[str, Any]:
    """The ``ShipmentRequest`` of one parcel."""
    return {
        "orderItems": [{"orderItemId": item.item_external_id, "quantity": item.quantity} for item in parcel.items],
        "shipmentReference": reference,
        "transport": {"transporterCode": settings.transporter_code, "trackAndTrace": parcel.tracking_number},
    }


class _Push:
    """One push of a label: what it learnt from bol.com, and what it started there."""

    def __init__(
        self, settings: BolSettings, api: BolApi, order: Order, label: Label, claims: Coordination | None
    ) -> None:
        self.settings, self.api, self.order, self.claims = settings, api, order, claims
        self.item_ids = list(dict.fromkeys(item.item_external_id for parcel in label.parcels for item in parcel.items))
        self._detail: dict[str, Any] | None = None
        self._detail_read = False
        #: The processes of the label's items that had succeeded before the order was read: the order shows them.
        self.in_order: set[str] = set()
        self._shipments: list[dict[str, Any]] | None = None
        #: Units of each item this push has sent, and the process statuses it started.
        self.sent: dict[str, int] = defaultdict(int)
        self.started: set[str] = set()
        #: Processes found PENDING, and the parcel (its shipmentReference) each was given to.
        self.claimed: dict[str, str] = {}

    async def detail(self) -> dict[str, Any] | None:
        """The order at bol.com, read once per push, after the processes of the label's items (see the module docstring)."""
        if not self._detail_read:
            for item_id in self.item_ids:
                for status in await self.api.process_statuses_of(item_id, CREATE_SHIPMENT):
                    process_id = status.get("processStatusId")
                    if status.get("status") == SUCCESS and isinstance(process_id, str):
                        self.in_order.add(process_id)
            self._detail = await self.api.order(self.order.external_id)
            self._detail_read = True
        return self._detail

    async def shipments(self) -> list[dict[str, Any]]:
        if self._shipments is None:
            self._shipments = await self.api.shipments_of(self.order.external_id)
        return self._shipments

    async def parcel(self, parcel: Parcel) -> ParcelOutcome:
        """Find out what happened to the parcel, then do only what bol.com does not have yet."""
        reference = shipment_reference(self.order.external_id, parcel.reference)
        detail = await self.detail()
        if detail is None:
            return _failed(parcel, message_text("order_unknown", {"shop": SHOP, "order": self.order.external_id}))
        items = {str(item.get("orderItemId")): item for item in detail.get("orderItems") or [] if isinstance(item, dict)}
        if any(_count(items.get(i.item_external_id, {}), "quantityShipped") for i in parcel.items):
            existing = next((s for s in await self.shipments() if s.get("shipmentReference") == reference), None)
            if existing is not None:
                return await self._existing(parcel, existing)
        waiting = await self._processing(parcel, reference)
        if waiting is not None:
            return waiting
        problem = self._unsendable(parcel, items)
        if problem:
            return _failed(parcel, problem)
        try:
            status = await self.api.create_shipment(shipment_request(self.settings, reference, parcel))
        except BolRejected as err:
            return _failed(parcel, message_text("shipment_rejected", {"shop": SHOP, "reason": err.problem.text()}))
        for item in parcel.items:
            self.sent[item.item_external_id] += item.quantity
        process_id = status.get("processStatusId")
        if isinstance(process_id, str) and process_id:
            await self._keep(process_id, reference)
        return self._settling(parcel, status, SHIPMENT)

    async def _processing(self, parcel: Parcel, reference: str) -> ParcelOutcome | None:
        """The parcel's outcome while bol.com processes a shipment of its items that this push did not start."""
        held_by_another = settled_since = False
        for item in parcel.items:
            statuses = await self.api.process_statuses_of(item.item_external_id, CREATE_SHIPMENT)
            for status in statuses:
                process_id = status.get("processStatusId")
                if not isinstance(process_id, str) or process_id in self.started:
                    continue
                if status.get("status") == SUCCESS and process_id not in self.in_order:
                    settled_since = True
                if status.get("status") != PENDING:
                    continue
                if not await self._claim(process_id, reference):
                    held_by_another = True
                    continue
                # Most likely this parcel's own shipment, whose answer was lost: wait for it to settle.
                return ParcelOutcome(
                    reference=parcel.reference,
                    state="accepted",
                    shop_reference=FOUND + process_id,
                    retry_after=self.settings.settle_retry_seconds,
                )
        if held_by_another:
            # Another parcel was given that process, but it may be this one's: sent (or found
            # shipped) once bol.com has settled it.
            return ParcelOutcome(
                reference=parcel.reference,
                state="retry",
                message=message_text("items_processing", {"shop": SHOP}),
                retry_after=self.settings.settle_retry_seconds,
            )
        if settled_since:
            # Its shipment may be missing from the order as read, which then shows units open that it took.
            return ParcelOutcome(
                reference=parcel.reference,
                state="retry",
                message=message_text("items_settled_meanwhile", {"shop": SHOP}),
                retry_after=self.settings.settle_retry_seconds,
            )
        return None

    async def _claim(self, process_id: str, reference: str) -> bool:
        """Give a found process to the parcel ``reference`` unless another parcel has it; whether it is this parcel's."""
        owner = self.claimed.get(process_id)
        if owner is None and self.claims is not None:

            async def this_parcel() -> tuple[str, float]:
                return reference, CLAIM_SECONDS

            # One caller at a time across the hub's processes: the first parcel to find it keeps it.
            owner = await self.claims.secret(FOUND + process_id, this_parcel)
        owner = self.claimed.setdefault(process_id, owner or reference)
        return owner == reference

    async def _keep(self, process_id: str, reference: str) -> None:
        """Give a process this push started to its parcel, so that no other parcel's push takes it for its own lost answer."""
        try:
            if not await self._claim(process_id, reference):
                # Another parcel's push found it PENDING between the 202 and here: it waits for it
                # to settle and is then told to push again, so no parcel is confirmed by another's.
                self.api.log.warning("bol.com process %s this push started was claimed by another parcel", process_id)
        except TransientError as err:
            # The shipment is on its way at bol.com: a claim the hub's database did not keep must not undo that.
            self.api.log.warning("bol.com process %s was started, but its claim was not kept: %s", process_id, err.detail)

    def _unsendable(self, parcel: Parcel, items: dict[str, dict[str, Any]]) -> str | None:
        """Why bol.com's order stops the parcel (a cancellation request, not the merchant's item, too few units)."""
        for line in parcel.items:
            item = items.get(line.item_external_id)
            if item is None:
                return message_text("item_unknown", {"shop": SHOP, "order": self.order.external_id, "item": line.item_external_id})
            fulfilment = item.get("fulfilment")
            fulfilment = fulfilment if isinstance(fulfilment, dict) else {}
            if fulfilment.get("method") == FBB or fulfilment.get("distributionParty") == BOL:
                return message_text("item_not_yours", {"shop": SHOP, "item": line.item_external_id})
            if item.get("cancellationRequest") is True:
                return message_text(
                    "cancel_requested", {"shop": SHOP, "item": line.item_external_id, "place": "the bol.com Seller Dashboard"}
                )
            shipped, cancelled = _count(item, "quantityShipped"), _count(item, "quantityCancelled")
            left = _count(item, "quantity") - shipped - cancelled - self.sent[line.item_external_id]
            if line.quantity > left:
                counts = {"left": max(left, 0), "shipped": shipped, "cancelled": cancelled, "asked": line.quantity}
                return message_text(
                    "units_left", {"shop": SHOP, "item": line.item_external_id, **counts, "place": "the Seller Dashboard"}
                )
        return None

    async def _existing(self, parcel: Parcel, shipment: dict[str, Any]) -> ParcelOutcome:
        """The parcel's shipment exists at bol.com: confirmed, or its transport gets the new track and trace."""
        shipment_id = str(shipment.get("shipmentId") or "")
        full = await self.api.shipment(shipment_id) if shipment_id else None
        transport = (full or shipment).get("transport") or {}
        if transport.get("trackAndTrace") == parcel.tracking_number:
            return ParcelOutcome(reference=parcel.reference, state="confirmed")
        transport_id = transport.get("transportId") or (shipment.get("transport") or {}).get("transportId")
        if not transport_id:
            return _failed(parcel, message_text("no_transport", {"shop": SHOP, "shipment": shipment_id}))
        request = {"transporterCode": self.settings.transporter_code, "trackAndTrace": parcel.tracking_number}
        try:
            status = await self.api.change_transport(str(transport_id), request)
        except BolRejected as err:
            return _failed(parcel, message_text("tracking_change_rejected", {"shop": SHOP, "reason": err.problem.text()}))
        return self._settling(parcel, status, TRACKING_CHANGE)

    def _settling(self, parcel: Parcel, status: dict[str, Any], what: str) -> ParcelOutcome:
        """The outcome of a 202: accepted until its process status settles (at once, if it already has)."""
        process_id = status.get("processStatusId")
        if isinstance(process_id, str) and process_id:
            self.started.add(process_id)
        outcome = outcome_of(parcel.reference, status, what)
        if outcome.state == "retry":
            return outcome.model_copy(update={"retry_after": self.settings.settle_retry_seconds})
        return outcome


async def push_label(
    settings: BolSettings, api: BolApi, order: Order, label: Label, claims: Coordination | None = None
) -> list[ParcelOutcome]:
    """Create a shipment per parcel at bol.com (see the module docstring); one outcome per parcel.

    ``claims`` (``context.coordination``) keeps which parcel each found process was given to, for
    every process of the hub; without it, only within this push. Once bol.com fails transiently,
    the parcels left are not sent but marked ``retry`` too. ``ConnectorAuthFailed`` is raised,
    for core to ask for a reconnect.
    """
    push = _Push(settings, api, order, label, claims)
    outcomes: list[ParcelOutcome] = []
    transient: TransientError | None = None
    for parcel in label.parcels:
        if transient is None:
            try:
                outcomes.append(await push.parcel(parcel))
                continue
            except TransientError as err:
                transient = err
        outcomes.append(
            ParcelOutcome(reference=parcel.reference, state="retry", message=str(transient), retry_after=transient.retry_after)
        )
    return outcomes


async def check_parcels(api: BolApi, parcels: list[AcceptedParcel], now: datetime) -> list[ParcelOutcome]:
    """Ask bol.com in bulk how the parcels' process statuses settled; outcomes keyed by ``shop_reference``.

    A process the push found (``FOUND``) rather than started may have been another parcel's: once
    it has settled, the parcel is confirmed only if the order's shipments show its reference; if
    they do not, it waits while other shipments of the order's items are still processing (its
    own may be among them), and only then fails.
    """
    asked = list({parcel.shop_reference: parcel for parcel in parcels}.values())
    ids = list(dict.fromkeys(process_id_of(parcel.shop_reference) for parcel in asked))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), MAX_BULK_PROCESS_STATUSES):
        for answer in await api.process_statuses(ids[start:start + MAX_BULK_PROCESS_STATUSES]):
            if isinstance(answer.get("processStatusId"), str):
                found[answer["processStatusId"]] = answer
    shipped = _ShipmentReferences(api)
    processing = _Processing(api)
    outcomes: list[ParcelOutcome] = []
    for parcel in asked:
        status = found.get(process_id_of(parcel.shop_reference))
        outcome: ParcelOutcome | None
        if status is None:
            outcome = await _forgotten(shipped, parcel, now)
        else:
            outcome = outcome_of(parcel.reference, status, SHIPMENT, parcel.shop_reference)
            if outcome.state != "accepted" and parcel.shop_reference.startswith(FOUND):
                outcome = await _found_settled(shipped, processing, parcel, outcome)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


async def _found_settled(
    shipped: _ShipmentReferences, processing: _Processing, parcel: AcceptedParcel, outcome: ParcelOutcome
) -> ParcelOutcome:
    """The outcome of a parcel whose found process settled: its shipment decides, once nothing else is processing."""
    if await shipped.holds(parcel):
        return ParcelOutcome(reference=parcel.reference, state="confirmed", shop_reference=parcel.shop_reference)
    if await processing.any(parcel.order_external_id):
        # The process was another parcel's; this parcel's own may still be processing.
        return ParcelOutcome(reference=parcel.reference, state="accepted", shop_reference=parcel.shop_reference)
    if outcome.state == "confirmed":
        return ParcelOutcome(
            reference=parcel.reference,
            state="failed",
            shop_reference=parcel.shop_reference,
            message=message_text("other_shipment_settled", {"shop": SHOP}),
        )
    return outcome


class _Processing:
    """Whether bol.com is still processing a shipment of an order's items, each order asked once per check."""

    def __init__(self, api: BolApi) -> None:
        self.api = api
        self._orders: dict[str, bool] = {}

    async def any(self, order_id: str) -> bool:
        """Whether a ``CREATE_SHIPMENT`` process of one of the order's items is still PENDING."""
        if order_id not in self._orders:
            detail = await self.api.order(order_id)
            item_ids = [str(i.get("orderItemId")) for i in (detail or {}).get("orderItems") or [] if isinstance(i, dict)]
            pending = False
            for item_id in item_ids:
                statuses = await self.api.process_statuses_of(item_id, CREATE_SHIPMENT)
                if any(s.get("status") == PENDING for s in statuses):
                    pending = True
                    break
            self._orders[order_id] = pending
        return self._orders[order_id]


class _ShipmentReferences:
    """The shipment references of orders at bol.com, each order asked once per check."""

    def __init__(self, api: BolApi) -> None:
        self.api = api
        self._orders: dict[str, set[str]] = {}

    async def holds(self, parcel: AcceptedParcel) -> bool:
        """Whether the parcel's order has a shipment with the parcel's reference."""
        order_id = parcel.order_external_id
        if order_id not in self._orders:
            self._orders[order_id] = {str(s.get("shipmentReference")) for s in await self.api.shipments_of(order_id)}
        return shipment_reference(order_id, parcel.reference) in self._orders[order_id]


async def _forgotten(shipped: _ShipmentReferences, parcel: AcceptedParcel, now: datetime) -> ParcelOutcome | None:
    """A parcel whose process status bol.com no longer keeps: its shipment shows whether it happened."""
    if await shipped.holds(parcel):
        return ParcelOutcome(reference=parcel.reference, state="confirmed", shop_reference=parcel.shop_reference)
    if now - parcel.accepted_at > SETTLED_WITHIN:
        return ParcelOutcome(
            reference=parcel.reference,
            state="failed",
            shop_reference=parcel.shop_reference,
            message=message_text("request_forgotten", {"shop": SHOP}),
        )
    return None


def outcome_of(reference: str, status: dict[str, Any], what: str, shop_reference: str | None = None) -> ParcelOutcome:
    """A parcel outcome from a ``ProcessStatus``: SUCCESS confirmed, FAILURE/TIMEOUT failed, PENDING accepted.

    ``what`` is ``SHIPMENT`` or ``TRACKING_CHANGE``: what the process was about, for the message.
    """
    process_id = status.get("processStatusId")
    shop_reference = shop_reference or (process_id if isinstance(process_id, str) and process_id else None)
    state = status.get("status")
    if state == SUCCESS:
        return ParcelOutcome(reference=reference, state="confirmed", shop_reference=shop_reference)
    if state in (FAILURE, TIMEOUT):
        reason = status.get("errorMessage") or ("bol.com gave up processing it" if state == TIMEOUT else "no reason given")
        return ParcelOutcome(
            reference=reference,
            state="failed",
            shop_reference=shop_reference,
            message=message_text(f"{what}_failed", {"shop": SHOP, "outcome": str(state).lower(), "reason": reason}),
        )
    if shop_reference is None:
        # Nothing to ask about later: the next push finds the shipment (or its process) itself.
        return ParcelOutcome(reference=reference, state="retry", message=message_text(f"{what}_processing", {"shop": SHOP}))
    return ParcelOutcome(reference=reference, state="accepted", shop_reference=shop_reference)


def _failed(parcel: Parcel, message: str) -> ParcelOutcome:
    return ParcelOutcome(reference=parcel.reference, state="failed", message=message)


def _count(item: dict[str, Any], key: str) -> int:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
