"""The JSON API end to end on PostgreSQL with the fake connector and the job workers."""

from __future__ import annotations

import io
import time
from urllib.parse import urlencode

import pytest

from core.infra.queue import due_imports
from hub.keys import QUEUE_WORKER
from tests.contract.fake.shop import FakeShop
from tests.hub.api.conftest import Api
from tests.waiting import eventually


async def connected(api: Api, shop: FakeShop) -> int:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake", "marketplace": "nl"})
    assert status == 201, body
    params = shop.consent(body["authorize_url"])
    response = await api.client.get("/connect/callback?" + urlencode(params))
    assert response.status == 200 and "Connected" in await response.text()
    return body["connection"]["id"]


async def imported(api: Api, shop: FakeShop, orders: int = 3) -> int:
    connection_id = await connected(api, shop)
    for _ in range(orders):
        shop.add_order()
    status, run = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})
    assert status == 202 and run["state"] in ("queued", "running", "succeeded")

    async def finished() -> dict | None:
        _, body = await api.call("GET", f"/api/v1/imports/{run['id']}")
        return body if body["state"] == "succeeded" else None

    done = await eventually(finished)
    assert done["new"] == orders
    return connection_id


async def test_missing_or_wrong_token_is_401(api: Api) -> None:
    response = await api.client.get("/api/v1/connections")
    assert response.status == 401 and "hub accounts token" in (await response.json())["error"]["message"]
    response = await api.client.get("/api/v1/connections", headers={"Authorization": "Bearer hub_nope"})
    assert response.status == 401


async def test_openapi_and_operations_routes_answer(api: Api) -> None:
    assert (await api.client.get("/healthz")).status == 200
    ready = await api.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.1") and "/api/v1/labels" in spec["paths"]
    metrics = await (await api.client.get("/metrics")).text()
    assert "hub_queue_jobs" in metrics


async def test_readyz_is_503_while_the_job_worker_waits_to_reconnect(api: Api) -> None:
    worker = api.client.server.app[QUEUE_WORKER]
    worker.down_since = time.monotonic()
    try:
        ready = await api.client.get("/readyz")
        assert ready.status == 503 and "job worker" in (await ready.json())["reason"]
    finally:
        worker.down_since = None
    assert (await api.client.get("/readyz")).status == 200


async def test_connectors_lists_all_integrations(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/connectors")
    assert status == 200 and [c["id"] for c in body["connectors"]] == ["fake", "keyshop"]


async def test_connect_flow_through_the_callback_route(api: Api, shop: FakeShop) -> None:
    connection_id = await connected(api, shop)
    status, body = await api.call("GET", f"/api/v1/connections/{connection_id}")
    assert status == 200 and body["state"] == "connected" and body["external_account_id"] == "fake-default"


async def test_replayed_callback_is_refused_with_a_page(api: Api, shop: FakeShop) -> None:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake"})
    params = shop.consent(body["authorize_url"])
    assert (await api.client.get("/connect/callback?" + urlencode(params))).status == 200
    again = await api.client.get("/connect/callback?" + urlencode(params))
    assert again.status == 400 and "used already" in await again.text()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"connector": "nope"}, "Unknown connector"),
        ({"connector": "fake", "marketplace": "NLD"}, "marketplace"),
        ({"connector": 5}, "connector"),
        ({"connector": "fake", "extra": 1}, "extra"),
        ({}, "connector"),
    ],
)
async def test_bad_connect_bodies_are_refused_and_write_nothing(api: Api, body: dict, message: str) -> None:
    status, answer = await api.call("POST", "/api/v1/connections", json=body)
    assert status in (400, 404) and message in answer["error"]["message"]
    assert (await api.call("GET", "/api/v1/connections"))[1]["connections"] == []


async def test_malformed_json_and_wrong_content_type_are_400(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/connections", data="{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and "Invalid JSON" in body["error"]["message"]
    status, body = await api.call("POST", "/api/v1/connections", data="connector=fake")
    assert status == 400 and "JSON" in body["error"]["message"]
    status, body = await api.call("POST", "/api/v1/connections", json=["fake"])
    assert status == 400 and "object" in body["error"]["message"]


async def test_oversized_body_is_413(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/labels", data=io.BytesIO(b"x" * (2 * 1024 * 1024)), headers={"Content-Type": "application/json"})
    assert status == 413


async def test_settings_change_and_bad_settings_change_nothing(api: Api, shop: FakeShop) -> None:
    connection_id = await connected(api, shop)
    status, body = await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    assert status == 200 and body["settings"]["update_tracking"] is True
    status, body = await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"import_interval_minutes": 0})
    assert status == 400
    status, body = await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={})
    assert status == 400 and "Nothing to change" in body["error"]["message"]
    assert (await api.call("GET", f"/api/v1/connections/{connection_id}"))[1]["settings"]["import_interval_minutes"] == 5


async def test_another_accounts_ids_answer_404(api: Api, other: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=1)
    _, orders = await api.call("GET", "/api/v1/orders")
    order_id = orders["orders"][0]["id"]
    for method, path, body in [
        ("GET", f"/api/v1/connections/{connection_id}", None),
        ("PATCH", f"/api/v1/connections/{connection_id}", {"update_tracking": True}),
        ("POST", f"/api/v1/connections/{connection_id}/reconnect", None),
        ("POST", f"/api/v1/connections/{connection_id}/disable", None),
        ("POST", f"/api/v1/connections/{connection_id}/enable", None),
        ("DELETE", f"/api/v1/connections/{connection_id}", None),
        ("POST", "/api/v1/imports", {"connection_id": connection_id}),
        ("GET", f"/api/v1/orders/{order_id}", None),
        ("POST", "/api/v1/labels", {"order_id": order_id, "label_id": "X", "parcels": [{"tracking_number": "T1"}]}),
    ]:
        status, answer = await other.call(method, path, json=body)
        assert status == 404, (method, path, answer)
    assert (await other.call("GET", "/api/v1/orders"))[1]["orders"] == []
    assert (await api.call("GET", f"/api/v1/connections/{connection_id}"))[1]["state"] == "connected"


async def test_import_label_and_push_end_to_end(api: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=2)
    await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    _, orders = await api.call("GET", "/api/v1/orders")
    order = orders["orders"][0]
    assert order["recipient"]["city"] == "Amsterdam"
    label = {"order_id": order["id"], "label_id": "PL-1", "parcels": [{"tracking_number": "GLS123"}]}
    status, created = await api.call("POST", "/api/v1/labels", json=label)
    assert status == 201 and created["parcels"][0]["reference"] == "1"
    status, again = await api.call("POST", "/api/v1/labels", json=label)
    assert status == 200 and again["id"] == created["id"]

    async def confirmed() -> bool:
        _, body = await api.call("GET", f"/api/v1/labels/{created['id']}")
        return body["parcels"][0]["push_state"] == "confirmed"

    await eventually(confirmed)
    assert shop.confirmations[(order["external_id"], "1")].tracking_number == "GLS123"
    _, detail = await api.call("GET", f"/api/v1/orders/{order['id']}")
    assert detail["labels"][0]["parcels"][0]["push_state"] == "confirmed"


async def test_failed_push_shows_the_message_and_can_be_retried(api: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=1)
    await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    _, orders = await api.call("GET", "/api/v1/orders")
    order = orders["orders"][0]
    stash = shop.orders.pop(order["external_id"])  # the shop no longer knows the order: 404, rejected
    _, created = await api.call("POST", "/api/v1/labels", json={"order_id": order["id"], "label_id": "PL-2", "parcels": [{"tracking_number": "T2"}]})

    async def state(wanted: str):  # noqa: ANN202
        async def check() -> dict | None:
            _, body = await api.call("GET", f"/api/v1/labels/{created['id']}")
            return body if body["parcels"][0]["push_state"] == wanted else None

        return await eventually(check)

    failed = await state("failed")
    assert "not found" in failed["parcels"][0]["push_message"]
    shop.orders[stash.id] = stash
    status, _ = await api.call("POST", f"/api/v1/labels/{created['id']}/retry")
    assert status == 202
    await state("confirmed")


async def test_label_for_unknown_or_cancelled_order_is_refused(api: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=1)
    status, _ = await api.call("POST", "/api/v1/labels", json={"order_id": 999999, "label_id": "L", "parcels": [{"tracking_number": "T"}]})
    assert status == 404
    _, orders = await api.call("GET", "/api/v1/orders")
    order = orders["orders"][0]
    shop.cancel_order(order["external_id"])
    _, run = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})

    async def cancelled() -> bool:
        _, body = await api.call("GET", f"/api/v1/orders/{order['id']}")
        return body["status"] == "cancelled"

    await eventually(cancelled)
    status, body = await api.call("POST", "/api/v1/labels", json={"order_id": order["id"], "label_id": "L", "parcels": [{"tracking_number": "T"}]})
    assert status == 409 and "cancelled" in body["error"]["message"]
    assert await api.rt.db.pool.fetchval("select count(*) from labels") == 0


@pytest.mark.parametrize(
    "label",
    [
        {"order_id": "1", "label_id": "L", "parcels": [{"tracking_number": "T"}]},
        {"order_id": 1, "label_id": "", "parcels": [{"tracking_number": "T"}]},
        {"order_id": 1, "label_id": "L", "parcels": []},
        {"order_id": 1, "label_id": "L", "parcels": [{"tracking_number": "T\u0000"}]},
        {"order_id": 1, "label_id": "L\nX", "parcels": [{"tracking_number": "T"}]},
        {"order_id": 1, "label_id": "L", "parcels": [{"tracking_number": "T", "items": [{"item_external_id": "i", "quantity": 0}]}]},
        {"order_id": -1, "label_id": "L", "parcels": [{"tracking_number": "T"}]},
        {"order_id": 1, "label_id": "L", "ship_date": "yesterday", "parcels": [{"tracking_number": "T"}]},
    ],
)
async def test_bad_label_bodies_are_400_and_write_nothing(api: Api, label: dict) -> None:
    status, body = await api.call("POST", "/api/v1/labels", json=label)
    assert status == 400, body
    assert await api.rt.db.pool.fetchval("select count(*) from labels") == 0


async def test_disconnect_keeps_orders_and_blocks_imports(api: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=1)
    status, body = await api.call("DELETE", f"/api/v1/connections/{connection_id}")
    assert status == 200 and body["state"] == "disconnected"
    status, body = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})
    assert status == 400 and "connect the shop again" in body["error"]["message"]
    assert len((await api.call("GET", "/api/v1/orders"))[1]["orders"]) == 1


async def test_a_disabled_connection_neither_imports_nor_pushes_until_enabled(api: Api, shop: FakeShop) -> None:
    connection_id = await imported(api, shop, orders=1)
    await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    _, orders = await api.call("GET", "/api/v1/orders")
    status, body = await api.call("POST", f"/api/v1/connections/{connection_id}/disable")
    assert status == 200 and (body["state"], body["reason"]) == ("disabled", "disabled by the merchant")
    assert await due_imports(api.rt.db.pool) == []
    status, body = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})
    assert status == 400 and "Enable the connection again" in body["error"]["message"]
    label = {"order_id": orders["orders"][0]["id"], "label_id": "L1", "parcels": [{"tracking_number": "T1"}]}
    status, stored = await api.call("POST", "/api/v1/labels", json=label)
    assert status == 201

    async def no_push_job_left() -> bool:
        return await api.rt.db.pool.fetchval("select count(*) from pgqueuer where entrypoint = 'push'") == 0

    await eventually(no_push_job_left)  # the worker took the push and left it waiting
    assert shop.confirmations == {}
    assert (await api.call("GET", f"/api/v1/labels/{stored['id']}"))[1]["parcels"][0]["push_state"] == "pending"

    status, body = await api.call("POST", f"/api/v1/connections/{connection_id}/enable")
    assert status == 200 and body["state"] == "connected"

    async def pushed() -> bool:
        return len(shop.confirmations) == 1

    await eventually(pushed)  # enabling queued the waiting push again
