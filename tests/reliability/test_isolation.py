"""Isolation: every /api/v1 route tried by another account with the owner's ids answers 404, names
none of the owner's data, and changes nothing; lists filtered by the owner's ids are empty.

The routes come from the app's router, so a route added without a case here fails the coverage
test instead of going unchecked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.api.routes import PREFIX
from tests.reliability.cases import NO_BODY, Ref, path, resolve
from tests.reliability.conftest import KEYSHOP_CREDENTIALS, FakeWorld
from tests.reliability.snapshot import changes, snapshot

#: (method, route as the router names it, path with the owner's ids, body): each must answer 404.
FOREIGN_IDS: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/v1/connections/{id}", "/api/v1/connections/{connection_id}", NO_BODY),
    ("PATCH", "/api/v1/connections/{id}", "/api/v1/connections/{connection_id}", {"update_tracking": False}),
    ("DELETE", "/api/v1/connections/{id}", "/api/v1/connections/{connection_id}", NO_BODY),
    ("POST", "/api/v1/connections/{id}/reconnect", "/api/v1/connections/{connection_id}/reconnect", NO_BODY),
    # The owner's credentials connection, with good credentials of the same shop account.
    ("POST", "/api/v1/connections/{id}/reconnect", "/api/v1/connections/{keyshop_connection_id}/reconnect", {"fields": KEYSHOP_CREDENTIALS}),
    ("GET", "/api/v1/connections/{id}", "/api/v1/connections/{keyshop_connection_id}", NO_BODY),
    ("DELETE", "/api/v1/connections/{id}", "/api/v1/connections/{keyshop_connection_id}", NO_BODY),
    ("POST", "/api/v1/connections/{id}/disable", "/api/v1/connections/{connection_id}/disable", NO_BODY),
    ("POST", "/api/v1/connections/{id}/enable", "/api/v1/connections/{connection_id}/enable", NO_BODY),
    ("POST", "/api/v1/imports", "/api/v1/imports", {"connection_id": Ref("connection_id")}),
    ("GET", "/api/v1/imports/{id}", "/api/v1/imports/{run_id}", NO_BODY),
    ("GET", "/api/v1/orders/{id}", "/api/v1/orders/{order_id}", NO_BODY),
    ("POST", "/api/v1/labels", "/api/v1/labels", {"order_id": Ref("order_id"), "label_id": "STEAL", "parcels": [{"tracking_number": "T1"}]}),
    ("GET", "/api/v1/labels/{id}", "/api/v1/labels/{label_id}", NO_BODY),
    ("POST", "/api/v1/labels/{id}/retry", "/api/v1/labels/{label_id}/retry", NO_BODY),
]

#: Routes that take no id: they answer 200 with the caller's own data only.
LISTS: list[tuple[str, str, dict[str, str] | None, str]] = [
    ("GET", "/api/v1/connections", None, "connections"),
    ("GET", "/api/v1/orders", {"connection_id": "{connection_id}"}, "orders"),
    ("GET", "/api/v1/orders", {"after": "0", "limit": "500"}, "orders"),
]

#: Routes with nothing of an account's in them.
PUBLIC = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/connectors"), ("POST", "/api/v1/connections")}


def api_routes(world: FakeWorld) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, ids written as ``{id}``."""
    found = set()
    for route in world.client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path") or ""
        if template.startswith(PREFIX + "/") and route.method != "HEAD":
            found.add((route.method, template.replace(r"{id:\d+}", "{id}")))
    return found


def leaks(world: FakeWorld, text: str) -> list[str]:
    """The owner's values that appear in ``text``."""
    return [value for value in world.owner_values if value in text]


def test_every_api_route_has_an_isolation_case(fake_world: FakeWorld) -> None:
    covered = {(m, r) for m, r, _, _ in FOREIGN_IDS} | {(m, r) for m, r, _, _ in LISTS} | PUBLIC
    assert api_routes(fake_world) == covered


@pytest.mark.parametrize(("method", "route", "template", "body"), FOREIGN_IDS, ids=[f"{m} {t}" for m, _, t, _ in FOREIGN_IDS])
async def test_another_accounts_id_answers_404_and_leaks_nothing(
    fake_world: FakeWorld, method: str, route: str, template: str, body: Any
) -> None:
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    kwargs = {} if body is NO_BODY else {"json": resolve(body, fake_world)}
    status, answer = await fake_world.other.call(method, path(template, fake_world), **kwargs)
    assert status == 404, answer
    assert answer["error"]["code"] == "not_found"
    assert leaks(fake_world, json.dumps(answer, ensure_ascii=False)) == []
    assert changes(before, await snapshot(pool)) == []


@pytest.mark.parametrize(("method", "route", "params", "key"), LISTS, ids=[f"{m} {r} {p}" for m, r, p, _ in LISTS])
async def test_lists_show_another_account_only_its_own(
    fake_world: FakeWorld, method: str, route: str, params: dict[str, str] | None, key: str
) -> None:
    query = {name: path(value, fake_world) for name, value in (params or {}).items()}
    status, answer = await fake_world.other.call(method, route, params=query)
    assert status == 200, answer
    assert leaks(fake_world, json.dumps(answer, ensure_ascii=False)) == []
    own = {fake_world.other_connection_id} if key == "connections" else {fake_world.other_order_id}
    shown = {item["id"] for item in answer[key]}
    assert shown <= own and (shown == own or "connection_id" in query)


async def test_another_accounts_connect_of_the_same_shop_account_touches_not_the_owners(fake_world: FakeWorld) -> None:
    # Connections belong to carrier accounts: the other account may connect the same shop account
    # (its own connection), and the owner's connection stays exactly as it was.
    pool = fake_world.rt.db.pool
    owner = await pool.fetchrow("select * from connections where id = $1", fake_world.keyshop_connection_id)
    status, body = await fake_world.other.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": KEYSHOP_CREDENTIALS})
    try:
        assert status == 201, body
        assert body["connection"]["id"] != fake_world.keyshop_connection_id
        assert leaks(fake_world, json.dumps(body, ensure_ascii=False)) == []
        assert await pool.fetchrow("select * from connections where id = $1", fake_world.keyshop_connection_id) == owner
    finally:  # the shared world stays as the other tests expect it
        if status == 201:
            await pool.execute("delete from connection_events where connection_id = $1", body["connection"]["id"])
            await pool.execute("delete from connections where id = $1", body["connection"]["id"])


async def test_the_owner_still_sees_its_data_unchanged(fake_world: FakeWorld) -> None:
    # The checks above would pass on an empty world: the owner's data must be there to steal.
    status, connection = await fake_world.api.call("GET", f"/api/v1/connections/{fake_world.connection_id}")
    assert status == 200 and connection["state"] == "connected"
    status, connection = await fake_world.api.call("GET", f"/api/v1/connections/{fake_world.keyshop_connection_id}")
    assert status == 200 and connection["state"] == "connected" and connection["external_account_id"] == "keyshop-default"
    status, order = await fake_world.api.call("GET", f"/api/v1/orders/{fake_world.labelled_order_id}")
    assert status == 200 and order["recipient"]["name"].startswith("Owen Ownerbuyer")
    assert [label["label_id"] for label in order["labels"]] == ["OWNER-LABEL-1"]
    status, run = await fake_world.api.call("GET", f"/api/v1/imports/{fake_world.run_id}")
    assert status == 200 and run["state"] == "succeeded"
