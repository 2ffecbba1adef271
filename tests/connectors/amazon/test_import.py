"""import_orders: the searchOrders query, pages and the cursor rules, against aioresponses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aioresponses import aioresponses

import connectors.amazon
from connectors.amazon.client import ClientState
from core.contract.errors import ConnectorAuthFailed, ConnectorNotReady, ConnectorRejected
from core.contract.models import Cursor, ImportPage, OrderStatus
from tests.connectors.amazon.conftest import MakeContext
from tests.connectors.amazon.fakes import (
    DE,
    NL,
    NOW,
    SEARCH_URL,
    TOKEN_URL,
    amazon_order,
    requests_to,
    search_answer,
    token_answer,
)

SINCE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def pages(context: Any, cursor: Cursor) -> list[ImportPage]:
    return [page async for page in connectors.amazon.import_orders(context, cursor)]


def queries(mock: aioresponses) -> list[dict[str, str]]:
    """The query of every searchOrders call, as single values (the model's csv arrays)."""
    return [dict(url.query) for url, _ in requests_to(mock, "GET", SEARCH_URL)]


async def test_first_import_looks_back_and_asks_only_for_orders_to_ship(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1")], next_token="tok/1+="))
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("2")], last_updated_before="2026-03-02T11:58:00Z"))

    result = await pages(make_context(), Cursor())

    first, second = queries(mocked)
    assert first == {
        "lastUpdatedAfter": "2026-02-16T12:00:00Z",
        "fulfillmentStatuses": "UNSHIPPED,PARTIALLY_SHIPPED",
        "fulfilledBy": "MERCHANT",
        "marketplaceIds": f"{NL},{DE}",
        "includedData": "RECIPIENT,FULFILLMENT,PACKAGES",
        "maxResultsPerPage": "100",
    }
    assert second == {**first, "paginationToken": "tok/1+="}
    assert [page.cursor for page in result] == [
        Cursor(since=NOW - timedelta(days=14), page_token="open:tok/1+="),
        Cursor(since=datetime(2026, 3, 2, 11, 58, tzinfo=UTC)),
    ]
    assert [[o.external_id for o in page.orders] for page in result] == [["1"], ["2"]]


async def test_incremental_import_also_asks_for_shipped_and_cancelled(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1", status="CANCELLED", with_recipient=False)]))

    [page] = await pages(make_context(), Cursor(since=SINCE))

    [query] = queries(mocked)
    assert query["lastUpdatedAfter"] == "2026-03-01T08:00:00Z"
    assert query["fulfillmentStatuses"] == "UNSHIPPED,PARTIALLY_SHIPPED,SHIPPED,CANCELLED"
    assert page.orders[0].status is OrderStatus.CANCELLED


async def test_resumed_run_sends_the_same_parameters_with_the_token(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([], next_token="tok-3"))
    mocked.get(SEARCH_URL, payload=search_answer([]))

    result = await pages(make_context(), Cursor(since=SINCE, page_token="open:tok-2"))

    first, second = queries(mocked)
    assert first["paginationToken"] == "tok-2"
    assert first["fulfillmentStatuses"] == "UNSHIPPED,PARTIALLY_SHIPPED"
    assert first["lastUpdatedAfter"] == second["lastUpdatedAfter"] == "2026-03-01T08:00:00Z"
    assert second["paginationToken"] == "tok-3"
    assert result[0].cursor == Cursor(since=SINCE, page_token="open:tok-3")


async def test_an_expired_pagination_token_restarts_the_run_from_since(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    expired = {"errors": [{"code": "InvalidInput", "message": "Invalid paginationToken: expired"}]}
    mocked.get(SEARCH_URL, status=400, payload=expired)
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1")]))

    [page] = await pages(make_context(), Cursor(since=SINCE, page_token="all:old-token"))

    first, second = queries(mocked)
    assert first["paginationToken"] == "old-token"
    assert "paginationToken" not in second
    assert second["lastUpdatedAfter"] == first["lastUpdatedAfter"]
    assert [o.external_id for o in page.orders] == ["1"]
    assert page.cursor.since == datetime(2026, 3, 2, 11, 58, tzinfo=UTC)


async def test_a_bad_request_without_token_is_rejected(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, status=400, payload={"errors": [{"code": "InvalidInput", "message": "bad"}]}, repeat=True)

    with pytest.raises(ConnectorRejected):
        await pages(make_context(), Cursor(since=SINCE, page_token="all:t"))
    assert len(queries(mocked)) == 2


async def test_a_cursor_in_the_future_or_the_last_two_minutes_makes_no_call(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    assert await pages(make_context(), Cursor(since=NOW + timedelta(days=1))) == []
    assert await pages(make_context(), Cursor(since=NOW - timedelta(minutes=1))) == []
    assert mocked.requests == {}


async def test_the_cursor_never_moves_backwards_or_past_now(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([], last_updated_before="2026-02-01T00:00:00Z"))
    mocked.get(SEARCH_URL, payload=search_answer([], last_updated_before="2027-01-01T00:00:00Z"))

    [backwards] = await pages(make_context(), Cursor(since=SINCE))
    [future] = await pages(make_context(), Cursor(since=SINCE))

    assert backwards.cursor == Cursor(since=SINCE)
    assert future.cursor == Cursor(since=NOW)


async def test_without_amazons_window_end_the_newest_order_seen_is_the_cursor(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    answer = {
        "orders": [amazon_order("1", updated="2026-03-01T10:00:00Z"), amazon_order("2", updated="2026-03-02T09:00:00Z")]
    }
    mocked.get(SEARCH_URL, payload=answer)

    [page] = await pages(make_context(), Cursor(since=SINCE))

    assert page.cursor == Cursor(since=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


async def test_a_page_without_an_orders_list_is_not_read_as_empty(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload={"lastUpdatedBefore": "2026-03-02T11:58:00Z"})

    with pytest.raises(ConnectorNotReady):
        await pages(make_context(), Cursor(since=SINCE))


async def test_skipped_orders_come_with_their_reasons(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1"), amazon_order("2", programs=["AMAZON_EASY_SHIP"])]))

    [page] = await pages(make_context(), Cursor(since=SINCE))

    assert [o.external_id for o in page.orders] == ["1"]
    assert [(s.external_id, s.reason) for s in page.skipped] == [("2", "Easy Ship: Amazon arranges the shipping")]


async def test_token_expiring_mid_import_is_refreshed_and_the_page_repeated(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    denied = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
    mocked.post(TOKEN_URL, payload=token_answer("Atza|one"))
    mocked.post(TOKEN_URL, payload=token_answer("Atza|two"))
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1")], next_token="t2"))
    mocked.get(SEARCH_URL, status=403, payload=denied)
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("2")]))

    result = await pages(make_context(), Cursor(since=SINCE))

    assert [[o.external_id for o in page.orders] for page in result] == [["1"], ["2"]]
    tokens = [call["headers"]["x-amz-access-token"] for _, call in requests_to(mocked, "GET", SEARCH_URL)]
    assert tokens == ["Atza|one", "Atza|one", "Atza|two"]


async def test_a_revoked_grant_stops_the_import_with_auth_failed(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, status=400, payload={"error": "invalid_grant", "error_description": "revoked"})

    with pytest.raises(ConnectorAuthFailed):
        await pages(make_context(), Cursor(since=SINCE))


async def test_marketplaces_given_as_countries_are_sent_as_ids(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([]), repeat=True)

    await pages(make_context(marketplaces=["nl", "GB", NL]), Cursor(since=SINCE))
    await pages(make_context(marketplaces=[]), Cursor(since=SINCE))

    with_ids, without = queries(mocked)
    assert with_ids["marketplaceIds"] == f"{NL},A1F83G8C2ARO7P"
    assert "marketplaceIds" not in without


async def test_an_order_on_the_previous_runs_boundary_is_not_yielded_again(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    boundary = amazon_order("1", updated="2026-03-01T08:00:00Z")
    later = amazon_order("2", updated="2026-03-01T08:00:01Z")
    mocked.get(SEARCH_URL, payload=search_answer([boundary, later]))

    [page] = await pages(make_context(), Cursor(since=SINCE))

    assert [o.external_id for o in page.orders] == ["2"]


async def test_an_order_without_a_marketplace_id_gets_the_only_one_asked_for(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1", marketplace_id=None), amazon_order("2")]))

    [page] = await pages(make_context(marketplaces=["DE"]), Cursor(since=SINCE))

    assert [(o.external_id, o.marketplace) for o in page.orders] == [("1", DE), ("2", NL)]
    assert len(queries(mocked)) == 1, "one marketplace asked for: no search to find it"


async def test_with_several_marketplaces_each_is_searched_until_the_order_is_found(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    lost = amazon_order("1", marketplace_id=None, updated="2026-03-01T10:30:00.250Z")
    mocked.get(SEARCH_URL, payload=search_answer([lost, amazon_order("2", updated="2026-03-01T10:31:00Z")]))
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("3", updated="2026-03-01T10:30:00Z")]))  # NL: not there
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1", marketplace_id=None)]))  # DE: found

    [page] = await pages(make_context(marketplaces=["NL", "DE", "FR"]), Cursor(since=SINCE))

    assert [(o.external_id, o.marketplace) for o in page.orders] == [("1", DE), ("2", NL)]
    run, in_nl, in_de = queries(mocked)
    assert in_nl == {
        "lastUpdatedAfter": "2026-03-01T10:30:00Z",
        "lastUpdatedBefore": "2026-03-01T10:30:01Z",
        "fulfillmentStatuses": run["fulfillmentStatuses"],
        "fulfilledBy": "MERCHANT",
        "marketplaceIds": NL,
        "maxResultsPerPage": "100",
    }
    assert in_de == {**in_nl, "marketplaceIds": DE}, "FR is not searched once the order is found"


async def test_an_order_found_under_no_marketplace_keeps_none(
    mocked: aioresponses, make_context: MakeContext, state: ClientState
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(SEARCH_URL, payload=search_answer([amazon_order("1", marketplace_id=None)]))
    mocked.get(SEARCH_URL, payload=search_answer([]), repeat=True)

    [page] = await pages(make_context(marketplaces=["NL", "DE"]), Cursor(since=SINCE))

    assert page.orders[0].marketplace is None
    assert len(queries(mocked)) == 3
