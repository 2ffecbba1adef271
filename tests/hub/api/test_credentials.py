"""The API with a credentials connector (the key shop): connect and reconnect by pasted fields, the
connectors' declared forms, secrets kept out of answers and logs, and parcels the shop accepts and
confirms later."""

from __future__ import annotations

import json
import logging

import pytest

from core.storage import connections as connection_store
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.api.conftest import Api
from tests.waiting import eventually

CREDENTIALS = {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}
WRONG_SECRET = "keyshop-secret-wrong-71c2"


async def connect_keyshop(api: Api, fields: dict[str, str] | None = None) -> dict:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": fields or CREDENTIALS})
    assert status == 201, body
    return body


async def connections_of(api: Api) -> list:
    return await connection_store.list_connections(api.rt.db.pool, api.account_id)


async def test_connectors_describe_their_connect_form_without_values(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/connectors")
    assert status == 200
    connect = {c["id"]: c["connect"] for c in body["connectors"]}
    assert connect["fake"] == {"style": "consent", "fields": []}
    keyshop = connect["keyshop"]
    assert keyshop["style"] == "credentials"
    assert [(f["name"], f["secret"], f["required"]) for f in keyshop["fields"]] == [
        ("client_id", False, True),
        ("client_secret", True, True),
    ]
    secret = keyshop["fields"][1]
    assert secret["label"] == {"en": "Client secret", "nl": "Client secret"}
    assert secret["help"]["nl"].startswith("Maak ze aan") and secret["link"] == "https://keyshop.invalid/settings/api"
    assert set(secret) == {"name", "label", "help", "secret", "required", "choices", "link", "max_length"}


async def test_credentials_connect_answers_the_connected_connection(api: Api, keyshop: KeyShop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = await connect_keyshop(api)
    assert body["authorize_url"] is None
    connection = body["connection"]
    assert (connection["connector"], connection["state"], connection["external_account_id"]) == (
        "keyshop", "connected", "keyshop-default",
    )
    status, shown = await api.call("GET", f"/api/v1/connections/{connection['id']}")
    assert status == 200 and shown["state"] == "connected"
    # The connector subscribed the shop to the connection's own event route.
    (url,) = keyshop.subscriptions
    assert "/events/" in url
    assert GOOD_CLIENT_SECRET not in json.dumps(body) + json.dumps(shown)
    assert GOOD_CLIENT_SECRET not in caplog.text


async def test_a_wrong_secret_is_refused_with_the_shops_reason_and_stores_nothing(
    api: Api, keyshop: KeyShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = await api.call(
        "POST", "/api/v1/connections", json={"connector": "keyshop", "fields": {**CREDENTIALS, "client_secret": WRONG_SECRET}}
    )
    assert status == 422, body
    assert body["error"]["code"] == "credentials_refused"
    assert "Key shop refused this client ID and secret" in body["error"]["message"]
    assert WRONG_SECRET not in json.dumps(body) and WRONG_SECRET not in caplog.text
    assert await connections_of(api) == []
    assert keyshop.subscriptions == {}  # the shop was asked nothing more than the token


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"client_id": GOOD_CLIENT_ID}, "client_secret", "Client secret"),
        ({"client_id": "", "client_secret": GOOD_CLIENT_SECRET}, "client_id", "Client ID"),
        ({**CREDENTIALS, "api_key": "k"}, "api_key", "no connect field"),
        ({**CREDENTIALS, "client_id": "x" * 501}, "client_id", "at most 500"),
        ({**CREDENTIALS, "client_id": "id\u0007"}, "client_id", "printable"),
    ],
    ids=["secret-missing", "id-empty", "unknown-field", "id-too-long", "id-control-char"],
)
async def test_a_field_at_fault_is_named_and_nothing_is_stored(
    api: Api, keyshop: KeyShop, fields: dict[str, str], field: str, says: str
) -> None:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": fields})
    assert status == 400, body
    assert body["error"]["field"] == field and says in body["error"]["message"], body
    assert GOOD_CLIENT_SECRET not in json.dumps(body)
    assert await connections_of(api) == []
    assert keyshop.token_requests() == 0  # refused before the shop was asked


@pytest.mark.parametrize(
    "body",
    [
        {"connector": "keyshop", "fields": {"client_id": GOOD_CLIENT_ID, "client_secret": 12345678}},
        {"connector": "keyshop", "fields": [GOOD_CLIENT_ID, GOOD_CLIENT_SECRET]},
        {"connector": "keyshop", "fields": {"Client-ID": GOOD_CLIENT_ID}},
        {"connector": "keyshop", "fields": {f"f{n}": "x" for n in range(21)}},
        {"connector": "keyshop", "fields": CREDENTIALS, "marketplace": "NL"},
        {"connector": "fake", "marketplace": "NL", "fields": {"marketplace": "DE"}},
    ],
    ids=["secret-not-text", "fields-not-an-object", "bad-field-name", "too-many-fields", "marketplace-for-credentials", "marketplace-twice"],
)
async def test_malformed_connect_bodies_are_400(api: Api, keyshop: KeyShop, body: dict) -> None:
    status, answer = await api.call("POST", "/api/v1/connections", json=body)
    assert status == 400 and answer["error"]["code"] == "invalid_input", answer
    assert GOOD_CLIENT_SECRET not in json.dumps(answer)
    assert await connections_of(api) == []


async def test_the_marketplace_shorthand_still_starts_a_consent_connect(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake", "marketplace": "de"})
    assert status == 201 and "marketplace=DE" in body["authorize_url"]
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake", "fields": {"marketplace": "BE"}})
    assert status == 201 and "marketplace=BE" in body["authorize_url"]


async def test_credentials_sent_to_a_consent_connector_are_refused(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop"})
    assert status == 400 and body["error"]["field"] == "client_id"


async def test_the_same_shop_account_twice_is_409(api: Api, other: Api, keyshop: KeyShop) -> None:
    first = await connect_keyshop(api)
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": CREDENTIALS})
    assert status == 409 and "connected already" in body["error"]["message"], body
    client_id, secret = keyshop.add_client()  # other credentials, same shop account
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "keyshop", "fields": {"client_id": client_id, "client_secret": secret}})
    assert status == 409 and secret not in json.dumps(body)
    assert [c.id for c in await connections_of(api)] == [first["connection"]["id"]]
    # Another carrier account may connect the same shop account: connections are per account.
    assert (await connect_keyshop(other))["connection"]["state"] == "connected"


async def test_reconnect_with_new_credentials_for_the_same_account(api: Api, keyshop: KeyShop) -> None:
    connection_id = (await connect_keyshop(api))["connection"]["id"]
    keyshop.revoke_client(GOOD_CLIENT_ID)  # the merchant deleted the API client in the shop
    status, body = await api.call("POST", f"/api/v1/connections/{connection_id}/reconnect")
    assert status == 400 and body["error"]["field"] == "client_id"
    status, body = await api.call(
        "POST", f"/api/v1/connections/{connection_id}/reconnect", json={"fields": CREDENTIALS}
    )
    assert status == 422 and body["error"]["code"] == "credentials_refused"
    client_id, secret = keyshop.add_client()
    status, body = await api.call(
        "POST", f"/api/v1/connections/{connection_id}/reconnect",
        json={"fields": {"client_id": client_id, "client_secret": secret}},
    )
    assert status == 200, body
    assert body["authorize_url"] is None and body["connection"]["state"] == "connected"
    assert body["connection"]["id"] == connection_id and secret not in json.dumps(body)
    assert len(await connections_of(api)) == 1


async def test_reconnect_of_a_consent_connection_still_answers_the_url(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake"})
    status, answer = await api.call("POST", f"/api/v1/connections/{body['connection']['id']}/reconnect")
    assert status == 200 and answer["authorize_url"].startswith("https://") and answer["connection"] is None


async def test_another_account_cannot_reconnect_with_its_credentials(api: Api, other: Api, keyshop: KeyShop) -> None:
    connection_id = (await connect_keyshop(api))["connection"]["id"]
    status, body = await other.call("POST", f"/api/v1/connections/{connection_id}/reconnect", json={"fields": CREDENTIALS})
    assert status == 404, body
    assert keyshop.token_requests() == 1  # only the owner's connect asked the shop


async def labelled(api: Api, keyshop: KeyShop) -> tuple[int, int]:
    """Connect the key shop with tracking updates on, import one order, report a label; (order id, label id)."""
    connection_id = (await connect_keyshop(api))["connection"]["id"]
    status, _ = await api.call("PATCH", f"/api/v1/connections/{connection_id}", json={"update_tracking": True})
    assert status == 200
    keyshop.add_order()
    status, run = await api.call("POST", "/api/v1/imports", json={"connection_id": connection_id})
    assert status == 202

    async def imported() -> int | None:
        _, orders = await api.call("GET", "/api/v1/orders")
        return orders["orders"][0]["id"] if orders["orders"] else None

    order_id = await eventually(imported)
    status, label = await api.call(
        "POST", "/api/v1/labels", json={"order_id": order_id, "label_id": "KS-1", "parcels": [{"tracking_number": "GLSKS1"}]}
    )
    assert status == 201, label
    return order_id, label["id"]


async def test_a_parcel_is_accepted_then_confirmed_when_the_shop_settles_it(api: Api, keyshop: KeyShop) -> None:
    order_id, label_id = await labelled(api, keyshop)

    async def parcel(state: str) -> dict | None:
        _, label = await api.call("GET", f"/api/v1/labels/{label_id}")
        return label["parcels"][0] if label["parcels"][0]["push_state"] == state else None

    accepted = await eventually(lambda: parcel("accepted"))
    (process_id,) = keyshop.pending_processes()
    assert accepted["shop_reference"] == process_id and accepted["push_attempts"] == 1
    _, order = await api.call("GET", f"/api/v1/orders/{order_id}")
    assert order["labels"][0]["parcels"][0]["push_state"] == "accepted"
    keyshop.settle(process_id, "SUCCESS")
    confirmed = await eventually(lambda: parcel("confirmed"))
    assert confirmed["push_attempts"] == 1  # asking the shop spent no push attempt
    assert keyshop.shipment_count(order["external_id"]) == 1


async def test_a_parcel_the_shop_refuses_later_fails_with_its_message(api: Api, keyshop: KeyShop) -> None:
    _, label_id = await labelled(api, keyshop)

    async def state() -> str | None:
        _, label = await api.call("GET", f"/api/v1/labels/{label_id}")
        return label["parcels"][0]["push_state"] if label["parcels"][0]["push_state"] != "pending" else None

    assert await eventually(state) == "accepted"
    (process_id,) = keyshop.pending_processes()
    keyshop.settle(process_id, "FAILURE", "Track and trace is not valid for GLS.")

    async def failed() -> dict | None:
        _, label = await api.call("GET", f"/api/v1/labels/{label_id}")
        return label["parcels"][0] if label["parcels"][0]["push_state"] == "failed" else None

    assert (await eventually(failed))["push_message"] == "Track and trace is not valid for GLS."
