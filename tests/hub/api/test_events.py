"""``POST /events/{token}``: the shops' event route, with the key shop's signed events.

Public (no API token, no session, no CSRF): the connection's connector verifies each message. 204
acted on, 200 a duplicate, 401 unverified, 404 unknown address, 413 too large, 429 too many; a
refused message changes nothing at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from core.infra.logs import SecretFilter, mask
from core.infra.runtime import EVENTS_PATH
from core.infra.settings import HubSettings
from tests.conftest import FAKE
from tests.contract.fake.shop import FakeShop
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.api.conftest import KEYSHOP, Api, new_api, post_event, served
from tests.reliability.snapshot import changes, snapshot
from tests.waiting import eventually

CREDENTIALS = {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}


async def connected(api: Api, keyshop: KeyShop) -> tuple[int, str]:
    """Connect the key shop; the connection id and its events URL (where the shop posts)."""
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": CREDENTIALS})
    assert status == 201, body
    (url,) = keyshop.subscriptions
    return body["connection"]["id"], url


async def import_runs(api: Api, trigger: str) -> int:
    return await api.rt.db.pool.fetchval("select count(*) from import_runs where trigger = $1", trigger)


async def test_a_genuine_event_is_acted_on_once(api: Api, keyshop: KeyShop) -> None:
    connection_id, url = await connected(api, keyshop)
    keyshop.add_order()  # the shop queues an ORDER event for the subscription
    (message,) = keyshop.events_for(url)
    assert urlsplit(message.url).path.startswith(EVENTS_PATH)
    status, body = await post_event(api.client, message)  # no Authorization header: the shop cannot sign in
    assert status == 204, body
    assert await import_runs(api, "event") == 1

    async def imported() -> bool:
        _, orders = await api.call("GET", "/api/v1/orders", params={"connection_id": str(connection_id)})
        return bool(orders["orders"])

    assert await eventually(imported)
    status, body = await post_event(api.client, message)  # the shop sends it again
    assert (status, body) == (200, {"duplicate": True})
    assert await import_runs(api, "event") == 1


async def test_a_process_status_event_settles_the_parcel_at_once(api: Api, keyshop: KeyShop) -> None:
    connection_id, url = await connected(api, keyshop)
    await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    keyshop.add_order()
    await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})

    async def order_id() -> int | None:
        _, orders = await api.call("GET", "/api/v1/orders")
        return orders["orders"][0]["id"] if orders["orders"] else None

    found = await eventually(order_id)
    _, label = await api.call("POST", "/api/v1/labels", json={"order_id": found, "label_id": "EV-1", "parcels": [{"tracking_number": "GLSEV1"}]})

    async def state() -> str:
        _, body = await api.call("GET", f"/api/v1/labels/{label['id']}")
        return body["parcels"][0]["push_state"]

    assert await eventually(lambda: _is(state, "accepted"))
    (process_id,) = keyshop.pending_processes()
    keyshop.settle(process_id, "SUCCESS")
    messages = [m for m in keyshop.events_for(url) if process_id.encode() in m.body]
    status, _ = await post_event(api.client, messages[-1])
    assert status == 204
    assert await eventually(lambda: _is(state, "confirmed"))


async def _is(read, wanted: str) -> bool:  # noqa: ANN001
    return await read() == wanted


@pytest.fixture
async def still(settings: HubSettings, shop: FakeShop, keyshop: KeyShop) -> AsyncIterator[Api]:
    """The main test account on an app without job workers and scheduler: only requests write to its database.

    With them, a job or a tick (the connect's import, a retention job, a due import queued) could
    write between two snapshots, and a snapshot's difference would not be the request's.
    """
    jobs = settings.jobs.model_copy(update={"enabled": False})
    async with served(settings, FAKE, KEYSHOP, jobs=jobs) as client:
        yield await new_api(client, "Merchant One")


@pytest.mark.parametrize("forgery", ["wrong-secret", "unsigned", "stale", "body-changed"])
async def test_a_forged_event_is_401_and_changes_nothing(still: Api, keyshop: KeyShop, forgery: str) -> None:
    api = still
    _, url = await connected(api, keyshop)
    keyshop.add_order()
    (genuine,) = keyshop.events_for(url)
    if forgery == "wrong-secret":
        message = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-0001", secret="not-the-subscription-secret")
        headers, body = message.headers, message.body
    elif forgery == "unsigned":
        headers, body = {"content-type": "application/json"}, genuine.body
    elif forgery == "stale":
        message = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-0001", timestamp=time.time() - 3600)
        headers, body = message.headers, message.body
    else:
        headers, body = genuine.headers, genuine.body.replace(b"ORDER_CREATED", b"ORDER_CHANGED")
    pool = api.rt.db.pool
    before = await snapshot(pool)
    response = await api.client.post(urlsplit(url).path, data=body, headers=headers)
    answer = await response.json()
    assert response.status == 401 and answer["error"]["code"] == "event_rejected", answer
    assert changes(before, await snapshot(pool)) == []


async def test_an_unknown_address_is_404(api: Api, keyshop: KeyShop) -> None:
    _, url = await connected(api, keyshop)
    keyshop.add_order()
    (message,) = keyshop.events_for(url)
    for path in (EVENTS_PATH + "0" * 64, EVENTS_PATH + "not a token", EVENTS_PATH):
        response = await api.client.post(path, data=message.body, headers=message.headers)
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] in ("not_found", "http_error")


async def test_a_disconnected_connection_takes_no_events(api: Api, keyshop: KeyShop) -> None:
    connection_id, url = await connected(api, keyshop)
    keyshop.add_order()
    (message,) = keyshop.events_for(url)
    status, _ = await api.call("DELETE", f"/api/v1/connections/{connection_id}")
    assert status == 200
    assert (await post_event(api.client, message))[0] == 404


async def test_a_body_over_the_limit_is_413_before_anything_else(api: Api, keyshop: KeyShop) -> None:
    limit = api.rt.settings.events.max_body_bytes
    for path in (EVENTS_PATH + "0" * 64, EVENTS_PATH + "unknown"):
        response = await api.client.post(path, data=b"x" * (limit + 1))
        assert response.status == 413, path

    async def chunks():  # noqa: ANN202 - no Content-Length: the limit holds while reading
        for _ in range(limit // 4096 + 2):
            yield b"y" * 4096

    response = await api.client.post(EVENTS_PATH + "0" * 64, data=chunks())
    assert response.status == 413


async def test_too_many_events_are_429_with_retry_after(api: Api, keyshop: KeyShop, monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = await connected(api, keyshop)
    monkeypatch.setattr(api.rt.settings.events, "per_minute", 1)
    keyshop.add_order()
    keyshop.add_order()
    first, second = keyshop.events_for(url)
    assert (await post_event(api.client, first))[0] == 204
    response = await api.client.post(urlsplit(url).path, data=second.body, headers=second.headers)
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert (await response.json())["error"]["code"] == "rate_limited"


async def test_the_event_route_needs_no_token_and_ignores_one(api: Api, keyshop: KeyShop) -> None:
    _, url = await connected(api, keyshop)
    keyshop.add_order()
    (message,) = keyshop.events_for(url)
    response = await api.client.post(
        urlsplit(url).path, data=message.body, headers={**message.headers, "Authorization": "Bearer hub_not-a-token"}
    )
    assert response.status == 204


async def test_a_connections_events_address_is_masked_in_log_lines(api: Api, keyshop: KeyShop) -> None:
    _, url = await connected(api, keyshop)
    token = urlsplit(url).path.removeprefix(EVENTS_PATH)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.addFilter(SecretFilter())  # as `hub serve` logs
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        keyshop.add_order()
        (message,) = keyshop.events_for(url)
        assert (await post_event(api.client, message))[0] == 204
        forged = keyshop.message(url, "ORDER", "ORDER_CREATED", "K-0001", secret="forged")
        assert (await post_event(api.client, forged))[0] == 401
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert lines and not [line for line in lines if token in line]
    # Any line that quotes the address (the access log of `hub serve`) has the token masked.
    assert token not in mask(f'127.0.0.1 "POST {urlsplit(url).path} HTTP/1.1" 204')
