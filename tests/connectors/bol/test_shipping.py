"""The tracking push against aioresponses: what a push finds out first, what it sends, how parcels settle.

The simulator tests (test_end_to_end.py) prove exactly one shipment per parcel under lost answers
and crashes; these pin down each branch of the push with bol.com's answers spelt out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from aioresponses import CallbackResult, aioresponses

from connectors.bol.client import BolApi
from connectors.bol.shipping import check_parcels, push_label, shipment_reference
from core.contract.errors import read_message
from core.hubapi import (
    AcceptedParcel,
    Label,
    Order,
    OrderItem,
    OrderStatus,
    Parcel,
    ParcelItem,
)
from core.infra.coordination import DatabaseCoordination, MemoryCoordination
from core.infra.crypto import Vault, new_key
from hub.web.i18n import translator
from tests.connectors.bol.fakes import (
    BULK_STATUS_URL,
    ENDPOINT,
    NOW,
    SHIPMENTS_OF_URL,
    SHIPMENTS_URL,
    STATUS_OF_URL,
    TOKEN_URL,
    bol_settings,
    order_detail,
    order_item,
    order_url,
    process_status,
    requests_to,
    token_answer,
)
from tests.connectors.bol.sent import check_all, from_mock

ORDER_ID, ITEM = "1042831430", "6107331383"
TRACKING = "GLS00001234567"


def hub_order(quantity: int = 1) -> Order:
    return Order(
        external_id=ORDER_ID, status=OrderStatus.OPEN, created_at=NOW, updated_at=NOW,
        items=[OrderItem(external_id=ITEM, quantity_ordered=quantity, quantity_unshipped=quantity)],
    )


def label(*parcels: tuple[str, int, str]) -> Label:
    return Label(
        external_id="label-1", ship_date=NOW,
        parcels=[
            Parcel(reference=reference, tracking_number=tracking, items=[ParcelItem(item_external_id=ITEM, quantity=quantity)])
            for reference, quantity, tracking in parcels or (("1", 1, TRACKING),)
        ],
    )


def shipment_list(reference: str, shipment_id: str = "541757635", transport_id: str = "312778947") -> dict[str, Any]:
    return {"shipments": [{
        "shipmentId": shipment_id, "shipmentDateTime": "2026-03-02T13:05:00+01:00", "shipmentReference": reference,
        "order": {"orderId": ORDER_ID}, "shipmentItems": [{"orderItemId": ITEM, "ean": "8712626055143"}],
        "transport": {"transportId": transport_id},
    }]}


def shipment_detail(reference: str, tracking: str, shipment_id: str = "541757635") -> dict[str, Any]:
    return {
        "shipmentId": shipment_id, "shipmentReference": reference, "order": {"orderId": ORDER_ID},
        "shipmentItems": [{"orderItemId": ITEM, "quantity": 1, "unitPrice": 12.99}],
        "transport": {"transportId": "312778947", "transporterCode": "GLS", "trackAndTrace": tracking},
    }


def posted(mocked: aioresponses) -> list[dict[str, Any]]:
    return [orjson.loads(call["data"]) for _, call in requests_to(mocked, "POST", SHIPMENTS_URL)]


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_first_push_creates_the_shipment_and_is_accepted_until_it_settles(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=3)))
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("019d4d55-0001", entity=ITEM))

    (outcome,) = await push_label(bol_settings(), api, hub_order(3), label(("1", 2, TRACKING)))

    assert (outcome.state, outcome.shop_reference) == ("accepted", "019d4d55-0001")
    assert posted(mocked) == [{
        "orderItems": [{"orderItemId": ITEM, "quantity": 2}],
        "shipmentReference": f"{ORDER_ID}-1",
        "transport": {"transporterCode": "GLS", "trackAndTrace": TRACKING},
    }]
    assert not requests_to(mocked, "GET", SHIPMENTS_OF_URL)  # nothing shipped yet: no shipment to look for
    check_all(from_mock(mocked))


async def test_a_repeat_while_a_shipment_of_the_items_is_processing_waits_for_it_and_sends_nothing(
    mocked: aioresponses, api: BolApi
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM)))
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("lost-answer", entity=ITEM)]}, repeat=True)
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert (outcome.state, outcome.shop_reference) == ("accepted", "found:lost-answer")
    assert posted(mocked) == []


async def test_a_process_found_goes_to_one_parcel_and_the_next_parcel_of_its_items_waits(
    mocked: aioresponses, api: BolApi
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2)))
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("lost-answer", entity=ITEM)]}, repeat=True)
    first, second = await push_label(bol_settings(), api, hub_order(2), label(("1", 1, "GLS-A"), ("2", 1, "GLS-B")))
    assert (first.state, first.shop_reference) == ("accepted", "found:lost-answer")
    assert (second.state, second.shop_reference) == ("retry", None)  # it may be either parcel's: wait until it settles
    assert posted(mocked) == []


async def test_a_found_process_confirms_the_parcel_only_when_its_shipment_is_there(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(BULK_STATUS_URL, payload={"processStatuses": [process_status("ours", "SUCCESS"), process_status("theirs", "SUCCESS")]})
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-1"))
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2, shipped=1)))
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("ours", "SUCCESS"), process_status("theirs", "SUCCESS")]})
    outcomes = {o.shop_reference: o for o in await check_parcels(api, [accepted("1", "found:ours"), accepted("2", "found:theirs")], NOW)}
    assert outcomes["found:ours"].state == "confirmed"
    assert outcomes["found:theirs"].state == "failed"
    assert outcomes["found:theirs"].message == (
        "bol.com finished an earlier shipment of these items, but not this parcel's: push it again."
    )
    ((_, call),) = requests_to(mocked, "POST", BULK_STATUS_URL)
    assert [q["processStatusId"] for q in orjson.loads(call["data"])["processStatusQueries"]] == ["ours", "theirs"]
    assert len(requests_to(mocked, "GET", SHIPMENTS_OF_URL)) == 1  # one look per order


async def test_a_found_process_that_was_another_parcels_waits_while_the_items_are_still_processing(
    mocked: aioresponses, api: BolApi
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(BULK_STATUS_URL, payload={"processStatuses": [process_status("theirs", "SUCCESS")]})
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-2"))
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2, shipped=1)))
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("ours-maybe"), process_status("theirs", "SUCCESS")]})
    (outcome,) = await check_parcels(api, [accepted("1", "found:theirs")], NOW)
    assert (outcome.state, outcome.shop_reference) == ("accepted", "found:theirs")


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_repeat_after_the_shipment_was_made_confirms_it_without_a_second(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("done", "SUCCESS", entity=ITEM)]})
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, shipped=1)))
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-1"))
    mocked.get(f"{ENDPOINT}/retailer/shipments/541757635", payload=shipment_detail(f"{ORDER_ID}-1", TRACKING))
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert outcome.state == "confirmed"
    assert posted(mocked) == []
    check_all(from_mock(mocked))


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_changed_tracking_code_goes_to_the_existing_transport(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, shipped=1)))
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-1"))
    mocked.get(f"{ENDPOINT}/retailer/shipments/541757635", payload=shipment_detail(f"{ORDER_ID}-1", "GLS-OLD"))
    transport = f"{ENDPOINT}/retailer/transports/312778947"
    mocked.put(transport, status=202, payload=process_status("change-1", entity="312778947", event="CHANGE_TRANSPORT"))
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert (outcome.state, outcome.shop_reference) == ("accepted", "change-1")
    ((_, call),) = requests_to(mocked, "PUT", transport)
    assert orjson.loads(call["data"]) == {"transporterCode": "GLS", "trackAndTrace": TRACKING}
    assert posted(mocked) == []
    check_all(from_mock(mocked))


async def test_a_cancellation_request_stops_the_shipment(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, cancellation_request=True)))
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert outcome.state == "failed"
    assert outcome.message is not None and "asked bol.com to cancel" in outcome.message
    assert posted(mocked) == []


async def test_units_shipped_elsewhere_are_not_shipped_again(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=1, shipped=1)))
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list("by-hand-in-the-seller-dashboard"))
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert outcome.state == "failed"
    assert outcome.message is not None and "0 unit(s) of item 6107331383 left to ship (1 shipped" in outcome.message
    assert posted(mocked) == []


async def test_two_parcels_of_one_item_make_two_shipments(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []})  # before the order is read
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []})
    mocked.get(STATUS_OF_URL, payload={"processStatuses": [process_status("p-1", entity=ITEM)]})  # our own, in flight
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2)))
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("p-1", entity=ITEM))
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("p-2", entity=ITEM))
    outcomes = await push_label(bol_settings(), api, hub_order(2), label(("1", 1, "GLS-A"), ("2", 1, "GLS-B")))
    assert [(o.reference, o.state, o.shop_reference) for o in outcomes] == [("1", "accepted", "p-1"), ("2", "accepted", "p-2")]
    assert [body["shipmentReference"] for body in posted(mocked)] == [f"{ORDER_ID}-1", f"{ORDER_ID}-2"]


async def test_a_lost_answer_is_not_sent_again_and_the_rest_wait(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2)))
    mocked.post(SHIPMENTS_URL, status=504, payload={"title": "Gateway Timeout", "status": 504})
    outcomes = await push_label(bol_settings(), api, hub_order(2), label(("1", 1, "GLS-A"), ("2", 1, "GLS-B")))
    assert [o.state for o in outcomes] == ["retry", "retry"]
    assert len(posted(mocked)) == 1


async def test_a_rejected_shipment_fails_with_bols_reason(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM)))
    problem = {"type": "https://api.bol.com/problems", "title": "Error validating request", "status": 400,
               "detail": "Bad request", "violations": [{"name": "transport.trackAndTrace", "reason": "Invalid value."}]}
    mocked.post(SHIPMENTS_URL, status=400, payload=problem)
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert outcome.state == "failed"
    assert outcome.message == "bol.com rejected the shipment: Bad request (transport.trackAndTrace: Invalid value.)"
    reason = "Bad request (transport.trackAndTrace: Invalid value.)"
    assert read_message(outcome.message) == ("shipment_rejected", {"shop": "bol.com", "reason": reason})
    assert translator("nl")(outcome.message) == f"bol.com weigerde de zending: {reason}"


async def test_an_order_bol_does_not_know_fails_with_a_catalogued_message(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    problem = {"type": "https://api.bol.com/problems", "title": "Not Found", "status": 404,
               "detail": f"Order {ORDER_ID} could not be found."}
    mocked.get(order_url(ORDER_ID), status=404, payload=problem)
    (outcome,) = await push_label(bol_settings(), api, hub_order(), label())
    assert outcome.state == "failed" and outcome.message is not None
    assert read_message(outcome.message) == ("order_unknown", {"shop": "bol.com", "order": ORDER_ID})
    assert translator("nl")(outcome.message) == f"bol.com kent bestelling {ORDER_ID} niet; het pakket kan daar niet bevestigd worden."
    assert posted(mocked) == []


def accepted(reference: str, shop_reference: str, *, hours: float = 0) -> AcceptedParcel:
    return AcceptedParcel(
        reference=reference, shop_reference=shop_reference, tracking_number=TRACKING, order_external_id=ORDER_ID,
        accepted_at=NOW - timedelta(hours=hours),
    )


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_check_parcels_asks_in_bulk_and_reads_every_state(mocked: aioresponses, api: BolApi) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.post(BULK_STATUS_URL, payload={"processStatuses": [
        process_status("s", "SUCCESS"), process_status("f", "FAILURE", error="Order item 6107331383 is cancelled."),
        process_status("t", "TIMEOUT"), process_status("p", "PENDING"),
    ]})
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-5"))
    parcels = [accepted("1", "s"), accepted("2", "f"), accepted("3", "t"), accepted("4", "p"),
               accepted("5", "expired-found"), accepted("6", "expired-old", hours=4), accepted("7", "expired-young")]

    outcomes = {o.shop_reference: o for o in await check_parcels(api, parcels, NOW)}

    assert len(requests_to(mocked, "POST", BULK_STATUS_URL)) == 1
    assert {ref: o.state for ref, o in outcomes.items()} == {
        "s": "confirmed", "f": "failed", "t": "failed", "p": "accepted", "expired-found": "confirmed", "expired-old": "failed",
    }
    assert outcomes["f"].message == "bol.com did not accept the shipment (failure): Order item 6107331383 is cancelled."
    ((_, call),) = requests_to(mocked, "POST", BULK_STATUS_URL)
    assert [q["processStatusId"] for q in orjson.loads(call["data"])["processStatusQueries"]] == [p.shop_reference for p in parcels]
    check_all(from_mock(mocked))


def test_the_shipment_reference_is_stable_unique_per_order_and_short_enough() -> None:
    assert shipment_reference("A2K8290LP8", "3") == "A2K8290LP8-3"
    long = shipment_reference("X" * 100, "1")
    assert len(long) <= 90 and long == shipment_reference("X" * 100, "1") != shipment_reference("X" * 100, "2")


async def test_a_shipment_settled_after_the_order_was_read_is_not_sent_again(mocked: aioresponses, api: BolApi) -> None:
    # Parcel 1 of the item's two units is shipped; parcel 2's answer was lost and its process is
    # still PENDING while the push reads the order (one unit shipped) and the order's shipments
    # (parcel 1's), then settles: asked after that, bol.com shows it SUCCESS, not PENDING. The order
    # as read does not show parcel 2's shipment, so the push must not send it again (the crash
    # run's lost parcel: the repeat failed at bol.com for lack of open units).
    mocked.post(TOKEN_URL, payload=token_answer())

    def statuses(url: Any, **kwargs: Any) -> CallbackResult:
        settled = bool(requests_to(mocked, "GET", SHIPMENTS_OF_URL))
        second = process_status("p-2", "SUCCESS" if settled else "PENDING", entity=ITEM)
        return CallbackResult(payload={"processStatuses": [second, process_status("p-1", "SUCCESS", entity=ITEM)]})

    mocked.get(STATUS_OF_URL, callback=statuses, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2, shipped=1)))
    mocked.get(SHIPMENTS_OF_URL, payload=shipment_list(f"{ORDER_ID}-1"))
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("p-3", entity=ITEM))

    (outcome,) = await push_label(bol_settings(), api, hub_order(2), label(("2", 1, "GLS-B")))

    assert posted(mocked) == []
    assert (outcome.state, outcome.shop_reference) == ("retry", None)  # the next push reads it all again


async def test_the_next_push_reads_the_order_after_the_processes_and_confirms_the_shipment(
    mocked: aioresponses, api: BolApi
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    shipped_both = [process_status("p-2", "SUCCESS", entity=ITEM), process_status("p-1", "SUCCESS", entity=ITEM)]
    mocked.get(STATUS_OF_URL, payload={"processStatuses": shipped_both}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2, shipped=2)))
    mocked.get(SHIPMENTS_OF_URL, payload={"shipments": [
        *shipment_list(f"{ORDER_ID}-2", "541757636", "312778948")["shipments"], *shipment_list(f"{ORDER_ID}-1")["shipments"],
    ]})
    mocked.get(f"{ENDPOINT}/retailer/shipments/541757636", payload=shipment_detail(f"{ORDER_ID}-2", "GLS-B", "541757636"))

    (outcome,) = await push_label(bol_settings(), api, hub_order(2), label(("2", 1, "GLS-B")))

    assert outcome.state == "confirmed"
    assert posted(mocked) == []


async def test_a_process_a_push_started_is_not_found_by_another_parcel_of_its_items(mocked: aioresponses, api: BolApi) -> None:
    # Parcel 1 is sent and accepted (its process PENDING); parcel 2 of the same item met a passing
    # fault before it was sent. Pushed again while parcel 1's process is still PENDING, parcel 2
    # must not take that process for its own lost answer (it would fail once the process settles
    # with parcel 1's shipment): it waits until bol.com has settled it, then is sent.
    mocked.post(TOKEN_URL, payload=token_answer())
    claims = MemoryCoordination()

    def statuses(url: Any, **kwargs: Any) -> CallbackResult:
        sent = bool(requests_to(mocked, "POST", SHIPMENTS_URL))
        return CallbackResult(payload={"processStatuses": [process_status("p-1", entity=ITEM)] if sent else []})

    mocked.get(STATUS_OF_URL, callback=statuses, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM, quantity=2)), repeat=True)
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("p-1", entity=ITEM))

    (first,) = await push_label(bol_settings(), api, hub_order(2), label(("1", 1, "GLS-A")), claims)
    (second,) = await push_label(bol_settings(), api, hub_order(2), label(("2", 1, "GLS-B")), claims)

    assert (first.state, first.shop_reference) == ("accepted", "p-1")
    assert (second.state, second.shop_reference) == ("retry", None)
    assert len(posted(mocked)) == 1


async def test_a_started_process_stays_accepted_when_its_claim_cannot_be_kept(
    mocked: aioresponses, api: BolApi, database_url: str
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    gone = DatabaseCoordination(pool, Vault([new_key().encode()]))  # the hub's database went away
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(STATUS_OF_URL, payload={"processStatuses": []}, repeat=True)
    mocked.get(order_url(ORDER_ID), payload=order_detail(ORDER_ID, order_item(ITEM)))
    mocked.post(SHIPMENTS_URL, status=202, payload=process_status("p-1", entity=ITEM))

    (outcome,) = await push_label(bol_settings(), api, hub_order(), label(), gone)

    assert (outcome.state, outcome.shop_reference) == ("accepted", "p-1")  # sent: not a retry
