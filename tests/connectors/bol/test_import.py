"""The import's runs against aioresponses: full scans, the known set, quick runs, resuming, the cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aioresponses import aioresponses

from connectors.bol.client import BolState, connection_api
from connectors.bol.importer import DONE, FULL, RunState, import_orders
from connectors.bol.mapping import SKIP_DONE, SKIP_FBB, SKIP_VVB
from core.hubapi import Cursor, ImportPage, OrderStatus
from tests.connectors.bol.conftest import MakeContext
from tests.connectors.bol.fakes import (
    NOW,
    ORDERS_URL,
    TOKEN_URL,
    bol_settings,
    order_detail,
    order_item,
    order_url,
    reduced_item,
    reduced_order,
    requests_to,
    token_answer,
)
from tests.connectors.bol.sent import check_all, from_mock


async def run(make_context: MakeContext, state: BolState, cursor: Cursor, *, minutes: float = 0, **settings: Any) -> list[ImportPage]:
    context = make_context(settings=bol_settings(**settings), now=lambda: NOW + timedelta(minutes=minutes))
    api = connection_api(context, context.settings, state)  # type: ignore[arg-type]
    return [page async for page in import_orders(context, context.settings, api, cursor)]  # type: ignore[arg-type]


def ids(pages: list[ImportPage]) -> list[str]:
    return [order.external_id for page in pages for order in page.orders]


def skips(pages: list[ImportPage]) -> dict[str, str]:
    return {skip.external_id: skip.reason for page in pages for skip in page.skipped}


#: The order-list URLs asked, in the order asked (aioresponses groups its record by URL).
LISTED: list[str] = []


def list_queries(mocked: aioresponses) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(url).query) for url in LISTED]


def detail_calls(mocked: aioresponses, order_id: str) -> int:
    return len(requests_to(mocked, "GET", order_url(order_id)))


def serve(mocked: aioresponses, *pages: list[dict[str, Any]]) -> None:
    """The order list's pages for one run (a last short page ends it)."""
    for page in pages:
        mocked.get(ORDERS_URL, payload={"orders": page} if page else {}, callback=lambda url, **_: LISTED.append(str(url)))


@pytest.fixture(autouse=True)
def _listed() -> None:
    LISTED.clear()


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_first_run_imports_own_orders_and_skips_fbb_and_vvb_with_reasons(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [
        reduced_order("1001", reduced_item("10011")),
        reduced_order("1002", reduced_item("10021", method="FBB")),
        reduced_order("1003", reduced_item("10031")),
    ])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011")))
    mocked.get(order_url("1003"), payload=order_detail("1003", order_item("10031", party="BOL")))

    pages = await run(make_context, state, Cursor())

    assert ids(pages) == ["1001"]
    assert skips(pages) == {"1002": SKIP_FBB, "1003": SKIP_VVB}
    assert detail_calls(mocked, "1002") == 0  # the list says FBB: no detail needed
    assert list_queries(mocked) == [{"page": ["1"], "fulfilment-method": ["ALL"], "status": ["OPEN"]}]
    final = pages[-1].cursor
    assert final.since == NOW
    state_after = RunState.decode(final.page_token)
    assert state_after is not None and state_after.mode == DONE
    assert set(state_after.known) == {"1001", "1002", "1003"}
    check_all(from_mock(mocked))


async def test_an_empty_list_is_a_complete_run(mocked: aioresponses, make_context: MakeContext, state: BolState) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [])
    pages = await run(make_context, state, Cursor())
    assert ids(pages) == []
    assert pages[-1].cursor.since == NOW


async def test_unchanged_orders_are_not_fetched_or_yielded_again_and_changed_ones_are(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    listed = [reduced_order("1001", reduced_item("10011")), reduced_order("1002", reduced_item("10021"))]
    serve(mocked, listed)
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011")))
    mocked.get(order_url("1002"), payload=order_detail("1002", order_item("10021")))
    first = await run(make_context, state, Cursor(), full_scan_minutes=0)

    changed = reduced_order("1002", reduced_item("10021", changed="2026-03-02T13:30:00+01:00"))
    serve(mocked, [listed[0], changed])
    mocked.get(order_url("1002"), payload=order_detail("1002", order_item("10021", changed="2026-03-02T13:30:00+01:00")))
    second = await run(make_context, state, first[-1].cursor, minutes=10, full_scan_minutes=0)

    serve(mocked, [listed[0], changed])
    third = await run(make_context, state, second[-1].cursor, minutes=20, full_scan_minutes=0)

    assert ids(second) == ["1002"]
    assert ids(third) == []
    assert detail_calls(mocked, "1001") == 1
    assert detail_calls(mocked, "1002") == 2
    assert second[-1].cursor.since == NOW + timedelta(minutes=10)


async def test_an_order_that_left_the_open_list_comes_back_with_its_status_at_bol(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [reduced_order("1001", reduced_item("10011")), reduced_order("1002", reduced_item("10021"))])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011")))
    mocked.get(order_url("1002"), payload=order_detail("1002", order_item("10021")))
    first = await run(make_context, state, Cursor(), full_scan_minutes=0)

    serve(mocked, [])  # both gone: one shipped at bol.com, one still open (the list moved under the scan)
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011", shipped=1)))
    mocked.get(order_url("1002"), payload=order_detail("1002", order_item("10021")))
    second = await run(make_context, state, first[-1].cursor, minutes=10, full_scan_minutes=0)

    statuses = {order.external_id: order.status for page in second for order in page.orders}
    assert statuses == {"1001": OrderStatus.SHIPPED, "1002": OrderStatus.OPEN}
    known = RunState.decode(second[-1].cursor.page_token)
    assert known is not None and set(known.known) == {"1002"}


async def test_an_order_the_moving_list_hid_from_a_scan_is_found_by_the_next(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    full_page = [reduced_order(str(2000 + n), reduced_item(f"{2000 + n}1")) for n in range(50)]
    for order in full_page:
        mocked.get(order_url(order["orderId"]), payload=order_detail(order["orderId"], order_item(order["orderItems"][0]["orderItemId"])))
    hidden = reduced_order("1999", reduced_item("19991"))
    serve(mocked, full_page, [])  # 1999 moved from page 2 to page 1 while page 1 was read: never listed
    first = await run(make_context, state, Cursor(), full_scan_minutes=0)
    assert "1999" not in ids(first)

    serve(mocked, [hidden, *full_page[:49]], [full_page[49]])  # the list as it is now
    mocked.get(order_url("1999"), payload=order_detail("1999", order_item("19991")))
    second = await run(make_context, state, first[-1].cursor, minutes=10, full_scan_minutes=0)
    assert ids(second) == ["1999"]
    assert [q["page"] for q in list_queries(mocked)] == [["1"], ["2"], ["1"], ["2"]]


@pytest.mark.bol_models  # checks the requests against bol.com's descriptions
async def test_a_quick_run_asks_for_changes_since_the_last_run_and_follows_handled_orders(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [reduced_order("1001", reduced_item("10011")), reduced_order("1002", reduced_item("10021"))])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011")))
    mocked.get(order_url("1002"), payload=order_detail("1002", order_item("10021")))
    first = await run(make_context, state, Cursor())

    serve(mocked, [
        reduced_order("1001", reduced_item("10011", status="HANDLED", cancelled=1)),
        reduced_order("1003", reduced_item("10031")),
        reduced_order("1004", reduced_item("10041", status="HANDLED", shipped=1)),  # never open for the hub
    ])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011", cancelled=1)))
    mocked.get(order_url("1003"), payload=order_detail("1003", order_item("10031")))
    second = await run(make_context, state, first[-1].cursor, minutes=5)

    assert list_queries(mocked)[-1] == {
        "page": ["1"], "fulfilment-method": ["ALL"], "status": ["ALL"], "change-interval-minute": ["7"],
    }
    statuses = {order.external_id: order.status for page in second for order in page.orders}
    assert statuses == {"1001": OrderStatus.CANCELLED, "1003": OrderStatus.OPEN}
    assert detail_calls(mocked, "1004") == 0
    known = RunState.decode(second[-1].cursor.page_token)
    assert known is not None and set(known.known) == {"1002", "1003"}
    check_all(from_mock(mocked))


async def test_a_full_scan_comes_after_full_scan_minutes(mocked: aioresponses, make_context: MakeContext, state: BolState) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [])
    first = await run(make_context, state, Cursor(), full_scan_minutes=15)
    serve(mocked, [])
    second = await run(make_context, state, first[-1].cursor, minutes=10, full_scan_minutes=15)
    serve(mocked, [])
    await run(make_context, state, second[-1].cursor, minutes=16, full_scan_minutes=15)
    assert [q["status"] for q in list_queries(mocked)] == [["OPEN"], ["ALL"], ["OPEN"]]


async def test_a_new_order_that_bol_already_handled_is_skipped(mocked: aioresponses, make_context: MakeContext, state: BolState) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [reduced_order("1001", reduced_item("10011"))])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011", shipped=1)))
    pages = await run(make_context, state, Cursor())
    assert skips(pages) == {"1001": SKIP_DONE}


async def test_pages_hold_page_size_orders_and_a_resumed_run_yields_exactly_the_rest(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    listed = [reduced_order(str(1000 + n), reduced_item(f"{1000 + n}1")) for n in range(5)]
    for order in listed:
        mocked.get(order_url(order["orderId"]), payload=order_detail(order["orderId"], order_item(order["orderItems"][0]["orderItemId"])),
                   repeat=True)
    serve(mocked, listed)
    full = await run(make_context, state, Cursor(), page_size=2)
    assert [[o.external_id for o in page.orders] for page in full] == [["1000", "1001"], ["1002", "1003"], ["1004"]]
    middle = RunState.decode(full[0].cursor.page_token)
    assert middle is not None and (middle.mode, middle.page, middle.offset) == (FULL, 1, 2)
    assert full[0].cursor.since is None

    serve(mocked, listed)
    resumed = await run(make_context, state, full[0].cursor, page_size=2)
    assert ids(resumed) == ["1002", "1003", "1004"]
    assert resumed[-1].cursor.page_token is not None
    assert RunState.decode(resumed[-1].cursor.page_token).known.keys() == {o["orderId"] for o in listed}  # type: ignore[union-attr]


async def test_a_cursor_in_the_future_yields_nothing_and_calls_nothing(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    pages = await run(make_context, state, Cursor(since=NOW + timedelta(days=1)))
    assert pages == []
    assert not mocked.requests


async def test_an_unreadable_page_token_starts_a_full_scan(mocked: aioresponses, make_context: MakeContext, state: BolState) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    serve(mocked, [reduced_order("1001", reduced_item("10011"))])
    mocked.get(order_url("1001"), payload=order_detail("1001", order_item("10011")))
    pages = await run(make_context, state, Cursor(since=NOW - timedelta(minutes=5), page_token="garbage"), minutes=1)
    assert ids(pages) == ["1001"]
    assert pages[-1].cursor.since == NOW + timedelta(minutes=1)
    assert list_queries(mocked)[0]["status"] == ["OPEN"]


def test_the_page_token_stays_small() -> None:
    known = {str(1_043_946_570 + n): "o" + f"{(n * 2654435761) % 2**32:08x}" for n in range(1000)}
    token = RunState(DONE, NOW, known=known, full_scan=NOW).encode()
    assert len(token) < 20 * len(known)  # about 20 bytes per open order
    decoded = RunState.decode(token)
    assert decoded is not None and decoded.known == known


async def test_an_order_listed_twice_in_one_run_is_yielded_once(
    mocked: aioresponses, make_context: MakeContext, state: BolState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    first_page = [reduced_order(str(3000 + n), reduced_item(f"{3000 + n}1")) for n in range(50)]
    for order in first_page:
        order_id = order["orderId"]
        mocked.get(order_url(order_id), payload=order_detail(order_id, order_item(f"{order_id}1")), repeat=True)
    # A new order joined the front while page 1 was read: its last order slides onto page 2, changed meanwhile.
    moved = reduced_order("3049", reduced_item("30491", changed="2026-03-01T11:00:00+01:00"))
    serve(mocked, first_page, [moved])
    pages = await run(make_context, state, Cursor())
    assert sorted(ids(pages)) == sorted(o["orderId"] for o in first_page)
    assert len(ids(pages)) == 50
