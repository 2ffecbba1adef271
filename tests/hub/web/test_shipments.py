"""Shipments as the merchant's work list: the table, filters, search, pages, one order's page, and
every message on them in both languages (issue 15)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from core.contract.errors import ConnectorNotReady, ConnectorRejected, message_text
from core.contract.models import Address, ConnectionState, Order, OrderItem, OrderStatus, TimeWindow
from core.infra.crypto import Vault, new_key
from core.storage import labels as label_store
from core.storage import orders as order_store
from core.storage.rekey import reencrypt
from core.usecases import lifecycle
from tests.contract.fake.shop import FakeShop
from tests.hub.web.conftest import Merchant, connect_fake, query_of
from tests.hub.web.test_pages import imported, tracking_on
from tests.waiting import eventually

NOW = datetime(2030, 12, 1, 9, 0, tzinfo=UTC)


def an_order(
    number: int,
    *,
    name: str = "Anna de Vries",
    city: str = "Amsterdam",
    postal_code: str = "1011 AB",
    ship_by: datetime | None = None,
    deliver_by: datetime | None = None,
    status: OrderStatus = OrderStatus.OPEN,
    items: int = 1,
) -> Order:
    """An order as a connector maps it, with the facts the list shows under control."""
    return Order(
        external_id=f"306-{number:07d}-5319054",
        reference=f"SO-{number}",
        status=status,
        created_at=NOW - timedelta(days=2, minutes=number),
        updated_at=NOW,
        marketplace="NL",
        recipient=Address(name=name, lines=["Kerkstraat 1"], postal_code=postal_code, city=city, country_code="NL"),
        items=[
            OrderItem(external_id=f"{number}-{i}", title=f"Product {i}", sku=f"SKU-{i}", quantity_ordered=2, quantity_unshipped=2)
            for i in range(1, items + 1)
        ],
        ship_by=TimeWindow(latest=ship_by) if ship_by else None,
        deliver_by=TimeWindow(latest=deliver_by) if deliver_by else None,
    )


async def store(m: Merchant, connection_id: int, orders: list[Order]) -> dict[str, int]:
    """Store orders as an import page would; the hub's id of each by its shop id."""
    async with m.rt.db.pool.acquire() as db, db.transaction():
        await order_store.save_page(db, m.rt.vault, connection_id, orders, [])
    rows = await m.rt.db.pool.fetch("select id, external_id from orders where connection_id = $1", connection_id)
    return {row["external_id"]: row["id"] for row in rows}


def rows_of(text: str) -> list[int]:
    """The hub ids of the orders a Shipments page lists, in order."""
    return [int(found) for found in re.findall(r'<tr id="order-(\d+)">', text)]


def cells(text: str, order_id: int) -> list[str]:
    """The text of each cell of one order's row."""
    row = re.search(rf'<tr id="order-{order_id}">(.*?)</tr>', text, re.DOTALL)
    assert row, text
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.DOTALL)]


# the table


async def test_the_list_is_a_table_with_the_shops_order_number_dates_city_items_status_and_tracking(
    merchant: Merchant, shop: FakeShop
) -> None:
    connection_id = await connect_fake(merchant, shop)
    ids = await store(merchant, connection_id, [
        an_order(1, ship_by=NOW + timedelta(days=1), items=3, city="Utrecht"),
        an_order(2, deliver_by=NOW + timedelta(days=3)),  # a shop that gives only a delivery date (bol.com)
        an_order(3, ship_by=datetime.now(UTC) - timedelta(days=1)),
    ])
    first, second, late = ids["306-0000001-5319054"], ids["306-0000002-5319054"], ids["306-0000003-5319054"]
    status, text = await merchant.get("/shipping/shipments")
    assert status == 200 and "<table" in text
    headers = re.findall(r'<th scope="col">([^<]+)</th>', text)
    assert headers == ["Shop", "Order number", "Order date", "Ship by", "Recipient", "Items", "Status", "Tracking"]
    shop_cell, *rest = cells(text, first)
    assert shop_cell.startswith("Fake shop ")  # the connector's name and the shop account
    assert rest == ["306-0000001-5319054 SO-1", "2030-11-29", "2030-12-02", "Utrecht NL", "2 × Product 1 and 2 more", "To ship", "–"]
    assert cells(text, second)[3] == "deliver by 2030-12-04"
    assert cells(text, late)[3].endswith("Late") and "Late" not in cells(text, first)[3]
    assert f">{first}<" not in text  # the hub's own number is no order number
    # Earliest deadline first, each with its own page's link.
    assert rows_of(text) == [late, first, second]
    assert f'href="/shipping/shipments/{first}"' in text
    _, dutch = await merchant.get("/shipping/shipments", headers={"Accept-Language": "nl"})
    assert "Bestelnummer" in dutch and "Verzenden vóór" in dutch and "bezorgen vóór 2030-12-04" in dutch
    assert "Te verzenden" in dutch and "en nog 2" in dutch


async def test_one_order_on_its_own_page(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    ids = await store(merchant, connection_id, [an_order(7, ship_by=NOW, items=2, name="Jan Jansen")])
    order_id = ids["306-0000007-5319054"]
    status, text = await merchant.get(f"/shipping/shipments/{order_id}")
    assert status == 200 and "<h1 id=\"order-title\">Order 306-0000007-5319054" in text
    assert "Jan Jansen" in text and "Kerkstraat 1" in text and "Product 2" in text and "SO-1" not in text
    assert "SO-7" in text and "2030-12-01 09:00 UTC" in text and "Create label" in text
    status, _, location = await merchant.post(f"/shipping/shipments/{order_id}/label", {"tracking_number": "GLS77"}, follow=False)
    assert status == 303 and location == f"/shipping/shipments/{order_id}?done=label"
    _, text = await merchant.get(location)
    assert "Label created." in text and "GLS77" in text
    assert (await merchant.get("/shipping/shipments/999999"))[0] == 404


# filters


async def test_filters_to_ship_needs_attention_shipped_cancelled_and_all(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=3)
    await store(merchant, connection_id, [an_order(9, status=OrderStatus.CANCELLED)])  # never stored open: skipped
    orders = await order_store.list_orders(merchant.rt.db.pool, merchant.rt.vault, account_id=merchant.account_id)
    refused, shipped, cancelled = (o.id for o in orders)
    # Tracking off: the first label's push is skipped, so it needs attention.
    await merchant.get(f"/shipping/shipments/{refused}")
    await merchant.post(f"/shipping/shipments/{refused}/label", {"tracking_number": "OFF1"})
    await eventually(lambda: _state(merchant, refused, "attention"))
    await tracking_on(merchant, connection_id)
    await merchant.get(f"/shipping/shipments/{shipped}")
    await merchant.post(f"/shipping/shipments/{shipped}/label", {"tracking_number": "ON1"})
    await eventually(lambda: _state(merchant, shipped, "shipped"))
    shop.cancel_order(orders[2].order.external_id)
    await merchant.get("/shipping/import")
    await merchant.post("/shipping/import", {"connection_id": str(connection_id)})
    await eventually(lambda: _state(merchant, cancelled, "cancelled"))

    lists: dict[str, list[int]] = {}
    for state in ("to_ship", "attention", "shipped", "cancelled", "all"):
        status, text = await merchant.get(f"/shipping/shipments?state={state}")
        assert status == 200 and 'aria-current="page">' in text
        lists[state] = rows_of(text)
    assert lists == {"to_ship": [], "attention": [refused], "shipped": [shipped], "cancelled": [cancelled], "all": lists["all"]}
    assert sorted(lists["all"]) == sorted([refused, shipped, cancelled])
    _, text = await merchant.get("/shipping/shipments?state=attention")
    assert "Needs attention" in text and "OFF1" in text and "Not sent to the shop" in text
    _, text = await merchant.get("/shipping/shipments")
    assert "Nothing to ship." in text


async def _state(m: Merchant, order_id: int, state: str) -> bool:
    return await m.rt.db.pool.fetchval("select work_state from orders where id = $1", order_id) == state


async def test_an_order_whose_items_are_all_confirmed_is_shipped_at_once(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    await tracking_on(merchant, connection_id)
    (stored,) = await order_store.list_orders(merchant.rt.db.pool, merchant.rt.vault, account_id=merchant.account_id)
    imports = await merchant.rt.db.pool.fetchval("select count(*) from import_runs")
    await merchant.get(f"/shipping/shipments/{stored.id}")
    await merchant.post(f"/shipping/shipments/{stored.id}/label", {"tracking_number": "GLS-NOW"})
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, stored.id)

    async def confirmed() -> bool:
        label = await label_store.get_label(merchant.rt.db.pool, label_id)
        return label.parcels[0].push_state.value == "confirmed"

    await eventually(confirmed)
    # No import since: the shop's status as stored is still open, the list says shipped.
    assert await merchant.rt.db.pool.fetchval("select count(*) from import_runs") == imports
    assert (await order_store.get_order(merchant.rt.db.pool, merchant.rt.vault, stored.id)).order.status is OrderStatus.OPEN
    _, text = await merchant.get("/shipping/shipments?state=shipped")
    assert rows_of(text) == [stored.id] and cells(text, stored.id)[6] == "Shipped"
    _, text = await merchant.get(f"/shipping/shipments/{stored.id}")
    assert 'class="badge shipped" data-order-state>Shipped' in text and "To ship" not in text
    assert "<dt>In the shop</dt><dd>Open" in text  # as last imported
    _, body = await _api_order(merchant, stored.id)
    assert body["work_state"] == "shipped" and body["status"] == "open"
    async with merchant.http.get(merchant.url(f"/shipping/labels/{label_id}/state"), headers={"Accept-Language": "nl"}) as response:
        state = await response.json()
    assert (state["order_state"], state["order_state_text"]) == ("shipped", "Verzonden")  # the order page's badge follows


async def _api_order(m: Merchant, order_id: int) -> tuple[int, dict]:
    async with m.http.get(m.url(f"/api/v1/orders/{order_id}"), headers={"Authorization": f"Bearer {m.token}"}) as response:
        return response.status, await response.json()


async def test_an_order_with_one_of_two_items_confirmed_stays_to_ship(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    await tracking_on(merchant, connection_id)
    ids = await store(merchant, connection_id, [an_order(3, items=2)])
    order_id = ids["306-0000003-5319054"]
    async with merchant.rt.db.pool.acquire() as db, db.transaction():
        label_id = await db.fetchval(
            "insert into labels (order_id, external_id, carrier, ship_date) values ($1, 'L', 'GLS', now()) returning id", order_id
        )
        await db.execute(
            "insert into parcels (label_id, order_id, reference, tracking_number, items, push_state) "
            "values ($1, $2, '1', 'T1', '[{\"item_external_id\": \"3-1\", \"quantity\": 2}]', 'confirmed')",
            label_id,
            order_id,
        )
    assert await _state(merchant, order_id, "to_ship")
    await merchant.rt.db.pool.execute(
        "insert into parcels (label_id, order_id, reference, tracking_number, items, push_state) "
        "values ($1, $2, '2', 'T2', '[{\"item_external_id\": \"3-2\", \"quantity\": 2}]', 'pending')",
        label_id,
        order_id,
    )
    assert await _state(merchant, order_id, "to_ship")
    await merchant.rt.db.pool.execute("update parcels set push_state = 'confirmed' where reference = '2'")
    assert await _state(merchant, order_id, "shipped")


# search


async def test_search_by_order_number_or_recipient(merchant: Merchant, other: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    ids = await store(merchant, connection_id, [
        an_order(11, name="Jürgen Müller", city="Den Haag", postal_code="2511 CV"),
        an_order(12, name="Anna de Vries", city="Amsterdam"),
        an_order(13, name="Piet Jansen", city="Amsterdam", status=OrderStatus.PARTIALLY_SHIPPED),
    ])
    muller, anna, piet = (ids[f"306-00000{n}-5319054"] for n in (11, 12, 13))

    async def found(query: str, state: str | None = None) -> list[int]:
        status, text = await merchant.get("/shipping/shipments?" + urlencode({"q": query, **({"state": state} if state else {})}))
        assert status == 200, text
        return sorted(rows_of(text))

    assert await found("306-0000011-5319054") == [muller]  # the shop's order number
    assert await found("306-0000011") == [muller]  # its start
    assert await found("so-12") == [anna]  # the merchant's reference, any case
    assert await found("muller") == [muller] and await found("MÜLLER") == [muller]  # accents and case do not matter
    assert await found("jurgen muller") == [muller] and await found("den haag") == [muller]
    assert await found("2511CV") == [muller] and await found("2511 cv") == [muller]
    assert await found("amsterdam") == sorted([anna, piet])
    assert await found("amsterdam", "to_ship") == sorted([anna, piet])
    assert await found("Jans") == []  # whole words only
    assert await found("Rotterdam") == [] and await found("%") == [] and await found("_") == []
    _, text = await merchant.get("/shipping/shipments?q=Rotterdam&state=to_ship")
    assert "No shipments match “Rotterdam” here." in text and "Search all shipments" in text
    # Nothing readable is stored to search by.
    stored = await merchant.rt.db.pool.fetchval("select recipient_tokens::text from orders where id = $1", muller)
    assert stored and "muller" not in stored.lower() and "haag" not in stored.lower() and "2511" not in stored
    # Another account finds nothing of this one.
    _, text = await other.get("/shipping/shipments?q=amsterdam&state=all")
    assert rows_of(text) == []


async def test_search_finds_recipients_after_a_key_rotation_and_after_the_reindex(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    ids = await store(merchant, connection_id, [an_order(21, name="Kees Keyzer")])
    pool, account_id = merchant.rt.db.pool, merchant.account_id
    (old,) = [key.get_secret_value() for key in merchant.rt.settings.security.encryption_keys]
    fresh = new_key()
    rotated, only_new = Vault([fresh.encode(), old.encode()]), Vault([fresh.encode()])

    async def keyzer(vault: Vault) -> list[int]:
        page = await order_store.list_page(pool, vault, account_id, state="all", search="keyzer")
        return [o.id for o in page.orders]

    # A new key first, the old one kept: tokens made under the old key are still found.
    assert await keyzer(rotated) == [ids["306-0000021-5319054"]]
    # `hub config rotate-keys` re-encrypts the recipients and makes their search tokens again: then
    # the old key can go.
    counts = await reencrypt(pool, rotated)
    assert counts["orders.recipient_tokens"] == counts["orders.recipient"]
    assert await keyzer(only_new) == [ids["306-0000021-5319054"]]


async def test_retention_forgets_the_search_tokens_with_the_recipient(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    await store(merchant, connection_id, [an_order(31)])
    pool = merchant.rt.db.pool
    await pool.execute("update orders set closed_at = now() - interval '40 days'")
    assert await order_store.forget_recipients(pool, 30) == 1
    assert await pool.fetchval("select recipient_tokens is null and recipient is null from orders")


# pages


async def test_pages_of_the_list_cover_every_order_once_both_ways(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)
    # 60 orders, some with the same deadline and some with none: the keyset breaks ties by id.
    orders = [an_order(n, ship_by=NOW + timedelta(hours=n % 7) if n % 5 else None) for n in range(1, 61)]
    ids = await store(merchant, connection_id, orders)
    seen: list[int] = []
    pages: list[str] = []
    path = "/shipping/shipments"
    while path:
        status, text = await merchant.get(path)
        assert status == 200
        pages.append(path)
        seen += rows_of(text)
        found = re.search(r'<a href="([^"]+)" rel="next">', text)
        path = found.group(1).replace("&amp;", "&") if found else ""
    assert len(pages) == 3 and len(seen) == 60 and sorted(seen) == sorted(ids.values())
    # Earliest deadline first, none last.
    due = {ids[o.external_id]: (o.ship_by.latest if o.ship_by else datetime.max.replace(tzinfo=UTC)) for o in orders}
    assert seen == sorted(seen, key=lambda i: (due[i], i))
    # Back from the last page, page by page.
    status, text = await merchant.get(pages[-1])
    back: list[int] = rows_of(text)
    while True:
        found = re.search(r'<a href="([^"]+)" rel="prev">', text)
        if not found:
            break
        status, text = await merchant.get(found.group(1).replace("&amp;", "&"))
        back = rows_of(text) + back
    assert back == seen
    assert "First page" in (await merchant.get(pages[1]))[1]


# what a merchant reads, in both languages


async def test_a_parcel_waiting_for_a_reconnect_says_what_to_do(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await imported(merchant, shop, orders=1)
    await tracking_on(merchant, connection_id)
    (stored,) = await order_store.list_orders(merchant.rt.db.pool, merchant.rt.vault, account_id=merchant.account_id)
    async with merchant.rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, connection_id, ConnectionState.AUTH_REQUIRED, "the shop refused the API key")
    await merchant.get(f"/shipping/shipments/{stored.id}")
    await merchant.post(f"/shipping/shipments/{stored.id}/label", {"tracking_number": "GLS-WAIT"})
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, stored.id)
    async with merchant.http.get(merchant.url(f"/shipping/labels/{label_id}/state")) as response:
        body = await response.json()
    assert body["pending"] is False  # nothing is on its way: the page stops asking
    (parcel,) = body["parcels"]
    assert parcel["state"] == "waiting" and parcel["state_text"] == "Waiting for a Reconnect"
    assert "click Reconnect under Settings › All integrations" in parcel["message"]
    for path in (f"/shipping/shipments/{stored.id}", "/shipping/shipments?state=attention"):
        _, text = await merchant.get(path)
        assert "Waiting for a Reconnect" in text and "Sending to the shop" not in text, path
        _, dutch = await merchant.get(path, headers={"Accept-Language": "nl"})
        assert "Wacht op opnieuw koppelen" in dutch and "Wordt naar de shop gestuurd" not in dutch, path
    _, text = await merchant.get("/shipping/shipments")
    assert stored.id not in rows_of(text)  # not in To ship: it needs the merchant


async def test_after_reconnect_the_connected_page_does_not_ask_to_tick_what_is_ticked(merchant: Merchant, shop: FakeShop) -> None:
    await merchant.get("/settings/integrations/fake/connect")
    _, _, location = await merchant.post("/settings/integrations/fake/connect", {}, follow=False)
    _, text = await merchant.get("/connect/callback?" + urlencode(shop.consent(location)))
    assert "tick “Update the tracking code in the shop”" in text  # a first connect: not ticked yet
    (connection_id,) = [int(found) for found in re.findall(r'href="/settings/integrations/(\d+)"', text)]
    await tracking_on(merchant, connection_id)
    async with merchant.rt.db.pool.acquire() as db, db.transaction():
        await lifecycle.transition(db, connection_id, ConnectionState.AUTH_REQUIRED, "the shop refused the API key")
    await merchant.get(f"/settings/integrations/{connection_id}")
    _, _, location = await merchant.post(f"/settings/integrations/{connection_id}/reconnect", follow=False)
    status, text = await merchant.get("/connect/callback?" + urlencode(shop.consent(location)))
    assert status == 200 and "<h1>Connected</h1>" in text
    assert "tick “Update the tracking code in the shop”" not in text
    assert "Tracking codes go to the shop as soon as labels are created" in text
    _, text = await merchant.get(f"/settings/integrations/{connection_id}/connected", headers={"Accept-Language": "nl"})
    assert "Trackingcodes gaan naar de shop zodra er labels zijn aangemaakt" in text and "Vink hierna" not in text


async def test_an_import_with_nothing_new_says_why(merchant: Merchant, shop: FakeShop) -> None:
    connection_id = await connect_fake(merchant, shop)

    async def run_import() -> str:
        await merchant.get("/shipping/import")
        _, _, location = await merchant.post("/shipping/import", {"connection_id": str(connection_id)}, follow=False)

        async def finished() -> str | None:
            _, text = await merchant.get(location)
            return text if "Result: Finished" in text else None

        return await eventually(finished)

    text = await run_import()
    assert re.search(r'data-field="new">0<', text) and "Nothing to import: the shop has no orders that still need shipping." in text
    assert "every 5 minutes" in text
    shop.add_order()
    text = await run_import()
    assert "Nothing" not in text
    text = await run_import()
    assert "Nothing new: no order was created or changed in the shop since the previous import." in text
    _, dutch = await merchant.get(f"/shipping/import/{await merchant.rt.db.pool.fetchval('select max(id) from import_runs')}",
                                  headers={"Accept-Language": "nl"})
    assert "Niets nieuws: er is sinds de vorige import geen bestelling in de shop bijgekomen of gewijzigd." in dutch


async def test_a_cancelled_consent_and_an_expired_link_in_dutch(merchant: Merchant, shop: FakeShop) -> None:
    await merchant.post("/language", {"lang": "nl", "next": "/"})
    await merchant.get("/settings/integrations/amazon/connect")
    _, _, location = await merchant.post("/settings/integrations/amazon/connect", {"marketplace": "NL"}, follow=False)
    declined = {"state": query_of(location)["state"], "error": "access_denied"}
    status, text = await merchant.get("/connect/callback?" + urlencode(declined))
    assert status == 400 and "geweigerd of geannuleerd in Seller Central" in text
    assert "was declined" not in text and "click Connect" not in text  # no English left

    await merchant.get("/settings/integrations/fake/connect")
    _, _, location = await merchant.post("/settings/integrations/fake/connect", {}, follow=False)
    params = shop.consent(location)
    await merchant.rt.db.pool.execute("update oauth_states set expires_at = now() - interval '1 minute'")
    status, text = await merchant.get("/connect/callback?" + urlencode(params))
    assert status == 400 and "<h1>De link is verlopen</h1>" in text
    assert "De toestemmingslink is verlopen of al gebruikt" in text and "has expired" not in text


async def test_an_import_failure_and_the_shops_refusal_in_dutch_with_the_shops_words(
    merchant: Merchant, shop: FakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.contract.fake as fake_connector

    # A connector that says its messages by code (core.contract.errors.MESSAGES), the shop's words as the reason.
    def coded(err, hook):  # noqa: ANN001, ANN202
        if getattr(err, "status", 0) == 404 and hook == "on_label_created":
            return ConnectorRejected(message_text("tracking_rejected", {"shop": "Fake shop", "reason": err.message}))
        return ConnectorNotReady.coded("shop_not_answering", {"shop": "Fake shop"})

    monkeypatch.setattr(fake_connector, "_core_error", coded)
    connection_id = await imported(merchant, shop, orders=1)
    await tracking_on(merchant, connection_id)
    shop.fail_next("5xx", 10)
    await merchant.get("/shipping/import")
    _, _, location = await merchant.post("/shipping/import", {"connection_id": str(connection_id)}, follow=False)

    async def failed() -> str | None:
        _, text = await merchant.get(location, headers={"Accept-Language": "nl"})
        return text if "Resultaat: Mislukt" in text else None

    text = await eventually(failed)
    assert "Fake shop antwoordt nu niet goed; de hub probeert het later opnieuw." in text and "not answering" not in text
    shop.clear_faults()

    (stored,) = await order_store.list_orders(merchant.rt.db.pool, merchant.rt.vault, account_id=merchant.account_id)
    shop.orders.pop(stored.order.external_id)  # the shop refuses: order not found
    await merchant.get(f"/shipping/shipments/{stored.id}")
    await merchant.post(f"/shipping/shipments/{stored.id}/label", {"tracking_number": "GLS-NL"})
    (label_id,) = await label_store.labels_of_order(merchant.rt.db.pool, stored.id)

    async def refused() -> str | None:
        _, text = await merchant.get(f"/shipping/shipments/{stored.id}", headers={"Accept-Language": "nl"})
        return text if "Niet geaccepteerd door de shop" in text else None

    text = await eventually(refused)
    shop_words = f"order {stored.order.external_id} not found"
    assert f"Bericht van de shop: Fake shop weigerde de trackingcode: {shop_words}" in text
    assert "rejected the tracking code" not in text
    async with merchant.http.get(merchant.url(f"/shipping/labels/{label_id}/state"), headers={"Accept-Language": "nl"}) as response:
        assert (await response.json())["parcels"][0]["message"] == f"Bericht van de shop: Fake shop weigerde de trackingcode: {shop_words}"
    # In English, the same words.
    _, text = await merchant.get(f"/shipping/shipments/{stored.id}", headers={"Accept-Language": "en"})
    assert f"Message from the shop: Fake shop rejected the tracking code: {shop_words}" in text
