"""Orders with their labels in a list, labels that conflict, and the list's cost at scale (issue 15)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from core.storage import labels as label_store
from core.storage import orders as order_store
from tests.contract.fake.shop import FakeShop
from tests.hub.api.conftest import Api
from tests.hub.api.test_api import imported
from tests.waiting import eventually


async def labelled(api: Api, shop: FakeShop, orders: int) -> list[dict[str, Any]]:
    """Import ``orders`` orders and give each a label; the orders as the API lists them."""
    await imported(api, shop, orders=orders)
    _, body = await api.call("GET", "/api/v1/orders")
    for n, order in enumerate(body["orders"]):
        label = {"order_id": order["id"], "label_id": f"PL-{n}", "parcels": [{"tracking_number": f"GLS{n:04d}"}]}
        status, created = await api.call("POST", "/api/v1/labels", json=label)
        assert status == 201, created
    return body["orders"]


async def test_the_order_list_carries_each_orders_labels(api: Api, shop: FakeShop, monkeypatch: pytest.MonkeyPatch) -> None:
    orders = await labelled(api, shop, orders=3)

    def per_order(*_: Any, **__: Any) -> None:
        raise AssertionError("the list reads labels per order")

    monkeypatch.setattr(label_store, "get_label", per_order)
    monkeypatch.setattr(label_store, "labels_of_order", per_order)
    status, body = await api.call("GET", "/api/v1/orders")
    assert status == 200
    assert [[p["tracking_number"] for label in o["labels"] for p in label["parcels"]] for o in body["orders"]] == [
        ["GLS0000"], ["GLS0001"], ["GLS0002"]
    ]
    assert body["orders"][0]["labels"][0]["label_id"] == "PL-0" and body["orders"][0]["work_state"] in ("to_ship", "attention")
    assert [o["id"] for o in body["orders"]] == [o["id"] for o in orders]


class Counting:
    """A database stand-in that counts the statements sent through it."""

    def __init__(self, pool: Any) -> None:
        self.pool, self.statements = pool, []

    async def _sent(self, name: str, sql: str, args: tuple[Any, ...]) -> Any:
        self.statements.append((sql, args))
        return await getattr(self.pool, name)(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> Any:
        return await self._sent("fetch", sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._sent("fetchrow", sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._sent("fetchval", sql, args)

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._sent("execute", sql, args)


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


async def explain(pool: Any, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    (found,) = json.loads(await pool.fetchval(f"explain (format json) {sql}", *args))
    return plan_nodes(found["Plan"])


async def test_a_list_page_costs_the_same_few_statements_however_many_orders_it_shows(api: Api, shop: FakeShop) -> None:
    await labelled(api, shop, orders=30)
    rt = api.rt
    first, later = set(), set()
    for limit in (1, 5, 25):
        db = Counting(rt.db.pool)
        page = await order_store.list_page(db, rt.vault, api.account_id, state="all", limit=limit)
        assert len(page.orders) == limit and all(o.labels for o in page.orders)
        first.add(len(db.statements))
        db = Counting(rt.db.pool)
        page = await order_store.list_page(db, rt.vault, api.account_id, state="all", limit=limit, after=page.orders[-1].id)
        assert page.orders and all(o.labels for o in page.orders)
        later.add(len(db.statements))
    # The orders whose parcels wait for a reconnect, the page, its labels; and the anchor of a later page.
    assert first == {3} and later == {4}
    db = Counting(rt.db.pool)
    found = await order_store.labels_of_orders(db, [o["id"] for o in (await api.call("GET", "/api/v1/orders"))[1]["orders"]])
    assert len(db.statements) == 1 and sum(len(labels) for labels in found.values()) == 30


async def test_each_list_filter_reads_an_index_range_not_the_whole_table(api: Api, shop: FakeShop) -> None:
    """With 100,000 orders in the account (and 10,000 of another), every filter's page is an index range in the
    list's order, never a sort of the account's orders; a search finds its matches through the search indexes,
    then reads just those."""
    connection_id = await imported(api, shop, orders=1)
    pool = api.rt.db.pool
    other_account = await pool.fetchval("insert into accounts (name) values ('Someone else') returning id")
    other_connection = await pool.fetchval(
        "insert into connections (account_id, connector, state) values ($1, 'fake', 'connected') returning id", other_account
    )
    states = ["to_ship", "to_ship", "to_ship", "attention", "shipped", "shipped", "cancelled"]
    for account_id, connection, count in ((api.account_id, connection_id, 100_000), (other_account, other_connection, 10_000)):
        await pool.execute(
            """
            insert into orders (connection_id, account_id, external_id, reference, status, shop_created_at, shop_updated_at,
                                details, fingerprint, due_at, work_state, recipient_tokens)
            select $1, $2, format('%s-%s-%s', 100 + n % 900, lpad(n::text, 7, '0'), 1000000 + n * 7919 % 9000000), 'SO-' || n,
                   'open', now(), now(), '{}', 'f', now() + n * interval '1 minute',
                   ($3::text[])[1 + n % 7], array[md5('name' || n % 3000), md5('city' || n % 40)]
            from generate_series(1, $4) as n
            """,
            connection,
            account_id,
            states,
            count,
        )
    await pool.execute("analyze orders")
    for state in ("to_ship", "attention", "shipped", "cancelled", "all"):
        for page in ("first", "next", "previous"):
            db = Counting(pool)
            anchor = await pool.fetchval("select max(id) - 50000 from orders where account_id = $1", api.account_id)
            await order_store.list_page(
                db, api.rt.vault, api.account_id, state=state,  # type: ignore[arg-type]
                after=anchor if page == "next" else None, before=anchor if page == "previous" else None,
            )
            sql, args = next((sql, args) for sql, args in db.statements if "from orders o join connections" in sql)
            nodes = await explain(pool, sql, args)
            # (an order's items are sorted, a few rows each; the page never is)
            assert not [n for n in nodes if n["Node Type"] == "Sort" and "o.due_at" in str(n["Sort Key"])], (state, page, nodes)
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "orders"], (state, page)
            assert {n.get("Index Name") for n in nodes} & {"orders_work_list", "orders_all_list"}, (state, page, nodes)
    number = await pool.fetchval("select external_id from orders where account_id = $1 and reference = 'SO-777'", api.account_id)
    for search, found in ((number, [number]), (number[:11], [number]), ("so-777", None)):
        db = Counting(pool)
        page = await order_store.list_page(db, api.rt.vault, api.account_id, state="all", search=search)
        assert found is None or [o.external_id for o in page.orders] == found, search
        matches, listed = [(sql, args) for sql, args in db.statements if "from orders o " in sql]
        nodes = await explain(pool, *matches)
        used = {n.get("Index Name") for n in nodes}
        assert {"orders_external_search", "orders_reference_search", "orders_recipient_search"} <= used, (search, nodes)
        nodes = await explain(pool, *listed)
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "orders"], search
        assert [n["Index Name"] for n in nodes if n.get("Relation Name") == "orders"] == ["orders_pkey"], search


# labels that conflict


async def test_a_label_posted_again_with_another_tracking_number_is_409_naming_the_difference(api: Api, shop: FakeShop) -> None:
    (order,) = await labelled(api, shop, orders=1)
    same = {"order_id": order["id"], "label_id": "PL-0", "parcels": [{"tracking_number": "GLS0000"}]}
    status, again = await api.call("POST", "/api/v1/labels", json=same)
    assert status == 200 and again["parcels"][0]["tracking_number"] == "GLS0000"
    status, body = await api.call("POST", "/api/v1/labels", json={**same, "parcels": [{"tracking_number": "GLS9999"}]})
    assert status == 409 and body["error"]["code"] == "conflict"
    assert "tracking number GLS0000 for parcel 1, not GLS9999" in body["error"]["message"] and "new label_id" in body["error"]["message"]
    status, body = await api.call("POST", "/api/v1/labels", json={**same, "carrier": "DHL"})
    assert status == 409 and "carrier GLS, not DHL" in body["error"]["message"]
    status, body = await api.call(
        "POST", "/api/v1/labels", json={**same, "parcels": [{"tracking_number": "GLS0000"}, {"tracking_number": "GLS0001"}]}
    )
    assert status == 409 and "1 parcel(s), not 2" in body["error"]["message"]
    _, stored = await api.call("GET", f"/api/v1/orders/{order['id']}")
    assert [p["tracking_number"] for label in stored["labels"] for p in label["parcels"]] == ["GLS0000"]


async def test_one_tracking_number_on_two_parcels_of_an_order_is_refused(api: Api, shop: FakeShop) -> None:
    await imported(api, shop, orders=1)
    _, body = await api.call("GET", "/api/v1/orders")
    order = body["orders"][0]
    item = order["items"][0]["external_id"]
    status, body = await api.call("POST", "/api/v1/labels", json={
        "order_id": order["id"], "label_id": "TWO",
        "parcels": [{"tracking_number": "SAME1", "items": [{"item_external_id": item, "quantity": 1}]},
                    {"tracking_number": "SAME1", "items": [{"item_external_id": item, "quantity": 1}]}],
    })
    assert status == 400 and "tracking number SAME1 is given to more than one parcel" in body["error"]["message"]
    status, _ = await api.call("POST", "/api/v1/labels", json={
        "order_id": order["id"], "label_id": "FIRST", "parcels": [{"tracking_number": "SAME1", "items": [{"item_external_id": item, "quantity": 1}]}],
    })
    assert status == 201
    status, body = await api.call("POST", "/api/v1/labels", json={
        "order_id": order["id"], "label_id": "SECOND", "parcels": [{"tracking_number": "SAME1", "items": [{"item_external_id": item, "quantity": 1}]}],
    })
    assert status == 409 and "Tracking number SAME1 is on parcel 1 of label" in body["error"]["message"]
    assert await api.rt.db.pool.fetchval("select count(*) from labels") == 1


# errors with a message code


async def test_a_catalogued_message_comes_with_its_code_and_parameters(api: Api, shop: FakeShop, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.contract.errors import ConnectorNotReady

    async def down(*_: Any, **__: Any) -> None:
        raise ConnectorNotReady.coded("shop_not_answering", {"shop": "Fake shop"})

    connection_id = await imported(api, shop, orders=1)
    monkeypatch.setattr("hub.api.routes.connections.change_settings", down)
    status, body = await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    assert status == 503
    assert body["error"] == {
        "code": "not_ready", "message": "Fake shop is not answering properly right now; the hub will try again.",
        "message_code": "shop_not_answering", "params": {"shop": "Fake shop"},
    }


# what a client sends never reaches a log line whole


async def test_an_authorization_header_over_the_limit_is_one_log_line_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "hub_" + "SECRETTOKEN" * 1000
    reader, writer = await asyncio.open_connection(api.client.server.host, api.client.server.port)
    writer.write(f"GET /api/v1/orders HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read(200)
    writer.close()
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer
    await eventually(lambda: _logged(caplog, "refused a request it could not read"))
    lines = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert "SECRETTOKEN" not in caplog.text and "Traceback" not in caplog.text
    (refused,) = [r for r in lines if "could not read" in r.getMessage()]
    assert refused.getMessage().startswith("refused a request it could not read from 127.0.0.1: LineTooLong (answered 400)")
    assert refused.exc_info is None and refused.levelname == "WARNING"


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text
