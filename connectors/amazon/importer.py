"""Importing orders with ``searchOrders``: the query, the pages and the cursor rules.

A run asks for orders updated at or after ``since`` (``lastUpdatedAfter``) and lets Amazon fix
the end of the window (``lastUpdatedBefore``, two minutes before its now), which it reports in
every answer. Cursor rules:

- mid-run pages carry ``Cursor(since=<the run's since>, page_token=<mode>:<nextToken>)``, so a
  resumed run sends exactly the parameters the token was issued for (``since`` stays put);
- the last page carries ``Cursor(since=<the answer's lastUpdatedBefore>)``; ``since`` never
  moves backwards and never past now; an order updated exactly at ``since`` was in the previous
  run (both bounds are inclusive) and is left out;
- a first import (no ``since``) looks back ``lookback_days`` and asks only for the orders still
  to ship; later runs also ask for SHIPPED and CANCELLED, so that an order shipped elsewhere or
  cancelled after its import is updated. The mode is kept in the page token;
- a pagination token Amazon no longer accepts (they expire after 24 hours) restarts the run from
  ``since``: orders already yielded come again and change nothing;
- a ``since`` that is not yet two minutes in the past yields nothing and makes no call.

An order whose ``salesChannel`` names no marketplace gets the one it was fetched under: the
run's only marketplace, or, when the run asked for several (or for all), the one a search of
each of them over that order's update time finds it in (one searchOrders per marketplace, only
for a page that has such an order). confirmShipment needs it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.amazon.client import SpApi
from connectors.amazon.const import OPEN_STATUSES, TRACKED_STATUSES, UPDATED_BEFORE_MARGIN, find_marketplace
from connectors.amazon.mapping import amazon_time, map_orders, parse_time
from connectors.amazon.settings import AmazonSettings
from core.hubapi import ConnectorContext, ConnectorNotReady, ConnectorRejected, Cursor, ImportPage, Order, SkippedOrder

#: Page-token prefixes: which statuses the run asks for.
FIRST_RUN, INCREMENTAL = "open", "all"
_STATUSES = {FIRST_RUN: OPEN_STATUSES, INCREMENTAL: TRACKED_STATUSES}


def encode_token(mode: str, token: str) -> str:
    """The cursor's page token: the run's mode and Amazon's ``nextToken``."""
    return f"{mode}:{token}"


def decode_token(page_token: str | None) -> tuple[str, str | None]:
    """The mode and Amazon's token from a cursor's page token."""
    if not page_token:
        return INCREMENTAL, None
    mode, sep, token = page_token.partition(":")
    if sep and mode in _STATUSES and token:
        return mode, token
    return INCREMENTAL, page_token


def search_query(
    settings: AmazonSettings, since: datetime, mode: str, marketplaces: list[str], token: str | None
) -> list[tuple[str, str]]:
    """The ``searchOrders`` query of a run (arrays comma-separated, as the model's ``csv``)."""
    query = [
        ("lastUpdatedAfter", amazon_time(since)),
        ("fulfillmentStatuses", ",".join(_STATUSES[mode])),
        ("fulfilledBy", "MERCHANT"),
    ]
    if marketplaces:
        query.append(("marketplaceIds", ",".join(marketplaces)))
    query += [
        ("includedData", ",".join(settings.included_data)),
        ("maxResultsPerPage", str(settings.page_size)),
    ]
    if token:
        query.append(("paginationToken", token))
    return query


def marketplace_ids(context: ConnectorContext) -> list[str]:
    """The connection's marketplaces as Amazon ids (country codes are translated); empty means all."""
    ids = []
    for value in context.connection.settings.marketplaces:
        known = find_marketplace(value)
        ids.append(known.id if known else value)
    return list(dict.fromkeys(ids))[:50]


async def import_orders(
    context: ConnectorContext, settings: AmazonSettings, api: SpApi, cursor: Cursor
) -> AsyncIterator[ImportPage]:
    """Yield the pages of one ``searchOrders`` run from ``cursor`` (see the module docstring)."""
    now = context.now()
    mode, token = decode_token(cursor.page_token)
    if cursor.since is None:
        since, mode = now - timedelta(days=settings.lookback_days), FIRST_RUN
    else:
        since = cursor.since
    if since > now - UPDATED_BEFORE_MARGIN:
        return
    marketplaces = marketplace_ids(context)
    latest_seen: datetime | None = None
    restarted = False
    # The next page is fetched and mapped while core stores this one, so waiting for Amazon (or for
    # the usage plan), mapping and PostgreSQL's writing overlap. A prefetched answer lost to a crash
    # or an early close costs one call and nothing else: the cursor only moves with the pages core
    # has stored.

    async def fetch(token: str | None) -> tuple[dict[str, Any], list[Order], list[SkippedOrder]]:
        answer = await api.search_orders(search_query(settings, since, mode, marketplaces, token))
        raw_orders = answer.get("orders")
        if not isinstance(raw_orders, list):
            # Reading this as "no orders" would move the cursor past orders never seen.
            raise ConnectorNotReady(
                "Amazon sent an unreadable page of orders; the hub will try again.",
                detail="searchOrders answer without an orders list",
            )
        orders, skipped = map_orders(raw for raw in raw_orders if not _seen(raw, since))
        return answer, await attribute_marketplaces(api, orders, marketplaces, _STATUSES[mode]), skipped

    pending: asyncio.Task[tuple[dict[str, Any], list[Order], list[SkippedOrder]]] | None = None
    try:
        while True:
            ahead, pending = pending, None
            try:
                answer, orders, skipped = await (ahead or fetch(token))
            except ConnectorRejected as err:
                if token is None or restarted:
                    raise
                context.log.warning(
                    "Amazon refused the pagination token (%s); restarting the run from its start", err.detail
                )
                token, restarted = None, True
                continue
            for order in orders:
                latest_seen = order.updated_at if latest_seen is None else max(latest_seen, order.updated_at)
            pagination = answer.get("pagination")
            next_token = pagination.get("nextToken") if isinstance(pagination, dict) else None
            if isinstance(next_token, str) and next_token:
                token = next_token
                # The next page is fetched while core prepares and stores this one.
                pending = asyncio.ensure_future(fetch(token))
                mid_run = Cursor(since=since, page_token=encode_token(mode, token))
                yield ImportPage(orders=orders, skipped=skipped, cursor=mid_run)
                continue
            end = _next_since(answer, since, latest_seen, context.now())
            yield ImportPage(orders=orders, skipped=skipped, cursor=Cursor(since=end))
            return
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved: the page it fetched is not wanted any more


#: The most pages one marketplace's search for unattributed orders reads.
ATTRIBUTION_PAGES = 5


async def attribute_marketplaces(
    api: SpApi, orders: list[Order], asked: list[str], statuses: tuple[str, ...]
) -> list[Order]:
    """Give each order whose ``salesChannel`` named no marketplace the one it was fetched under.

    With one marketplace asked for, that one. With several (or none: all the seller's), each is
    searched over the update times of those orders until every one is found; an order found in
    none keeps no marketplace (its push then says so).
    """
    missing = {order.external_id for order in orders if not order.marketplace}
    if not missing:
        return orders
    found: dict[str, str] = {}
    if len(asked) == 1:
        found = dict.fromkeys(missing, asked[0])
    else:
        candidates = asked or await _participating(api)
        times = [order.updated_at for order in orders if order.external_id in missing]
        window = (min(times), _whole_second_up(max(times)))
        for marketplace in candidates:
            for order_id in await _ids_in(api, window, statuses, marketplace):
                if order_id in missing:
                    found[order_id] = marketplace
            if missing <= found.keys():
                break
    if missing - found.keys():
        api.log.warning(
            "Amazon named no marketplace for %d order(s), and no search of the connection's marketplaces found them",
            len(missing - found.keys()),
        )
    return [
        order.model_copy(update={"marketplace": found[order.external_id]}) if order.external_id in found else order
        for order in orders
    ]


async def _participating(api: SpApi) -> list[str]:
    """The ids of the marketplaces the seller sells in (a connection asking for all of them)."""
    ids = []
    for entry in await api.marketplace_participations():
        market, participation = entry.get("marketplace"), entry.get("participation")
        if isinstance(market, dict) and isinstance(participation, dict) and participation.get("isParticipating"):
            if isinstance(market.get("id"), str) and market["id"]:
                ids.append(market["id"])
    return list(dict.fromkeys(ids))


async def _ids_in(
    api: SpApi, window: tuple[datetime, datetime], statuses: tuple[str, ...], marketplace: str
) -> list[str]:
    """The ids of one marketplace's merchant orders updated within ``window`` (both ends included)."""
    query = [
        ("lastUpdatedAfter", amazon_time(window[0])),
        ("lastUpdatedBefore", amazon_time(window[1])),
        ("fulfillmentStatuses", ",".join(statuses)),
        ("fulfilledBy", "MERCHANT"),
        ("marketplaceIds", marketplace),
        ("maxResultsPerPage", "100"),
    ]
    ids: list[str] = []
    token = None
    for _ in range(ATTRIBUTION_PAGES):
        answer = await api.search_orders(query + ([("paginationToken", token)] if token else []))
        for raw in answer.get("orders") or []:
            if isinstance(raw, dict) and isinstance(raw.get("orderId"), str):
                ids.append(raw["orderId"])
        pagination = answer.get("pagination")
        token = pagination.get("nextToken") if isinstance(pagination, dict) else None
        if not (isinstance(token, str) and token):
            break
    return ids


def _whole_second_up(value: datetime) -> datetime:
    """``value`` rounded up to a whole second (Amazon's times in queries have no fractions)."""
    seconds = math.ceil(value.timestamp())
    return datetime.fromtimestamp(seconds, UTC)


def _seen(raw: Any, since: datetime) -> bool:
    """Whether an order was in the previous run already: ``lastUpdatedAfter`` is inclusive, so an
    order updated exactly at ``since`` (the previous run's end) comes in both runs."""
    updated = parse_time(raw.get("lastUpdatedTime")) if isinstance(raw, dict) else None
    return updated is not None and updated <= since


def _next_since(answer: dict[str, Any], since: datetime, latest_seen: datetime | None, now: datetime) -> datetime:
    """Where the next run starts: Amazon's ``lastUpdatedBefore``, never backwards, never past now."""
    before = parse_time(answer.get("lastUpdatedBefore"))
    if before is None:
        # Without Amazon's end of window, the newest order seen is a safe end: every order updated
        # up to it was in this run's answers.
        before = latest_seen or since
    return max(since, min(before, now))

