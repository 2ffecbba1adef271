"""Bad input through the JSON API: each case gets a clear 4xx as ``{"error": {"code", "message"}}`` and the
database (every row of every hub and pgqueuer table) is the same before and after.

Cases: no token, wrong tokens, malformed and non-object JSON, oversized and deeply nested bodies,
wrong types, control characters, huge numbers, unicode oddities, unknown connector, labels for an
unknown, another account's or a cancelled order, and bad path and query parameters; connect and
reconnect with bad, wrong or already connected credentials; and the shops' event route (public:
no token) with unknown addresses, forged or unsigned messages and bodies over the limit.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from tests.reliability.cases import NO_BODY, Ref, Request, path, resolve
from tests.reliability.conftest import KEYSHOP_CREDENTIALS, FakeWorld
from tests.reliability.snapshot import changes, snapshot

PARCEL = [{"tracking_number": "GLS1"}]


def label(**fields: object) -> dict[str, object]:
    """A label body for the owner's open order, with ``fields`` changed."""
    return {"order_id": Ref("order_id"), "label_id": "L-BAD", "parcels": PARCEL, **fields}


def case(name: str, request: Request, status: int, code: str) -> Any:
    return pytest.param(request, status, code, id=name)


POST, GET, PATCH, DELETE = "POST", "GET", "PATCH", "DELETE"
JSON = {"Content-Type": "application/json"}
CONNECTIONS, IMPORTS, LABELS, ORDERS = "/api/v1/connections", "/api/v1/imports", "/api/v1/labels", "/api/v1/orders"
CONNECTION = "/api/v1/connections/{connection_id}"
KEYSHOP_RECONNECT = "/api/v1/connections/{keyshop_connection_id}/reconnect"
SECRET = KEYSHOP_CREDENTIALS["client_secret"]


def keyshop(**fields: object) -> dict[str, object]:
    """A key shop connect body with ``fields`` changed (None removes one)."""
    merged = {**KEYSHOP_CREDENTIALS, **fields}
    return {"connector": "keyshop", "fields": {k: v for k, v in merged.items() if v is not None}}


def event(signature: str = "sha256=" + "0" * 64, body: str = '{"id": "evt-1", "event": {"resource": "ORDER", "type": "ORDER_CREATED", "resourceId": "K-1"}}') -> dict[str, object]:
    """An event request's data and headers: a made-up signature unless told otherwise."""
    return {
        "data": body,
        "headers": {"content-type": "application/json", "x-keyshop-timestamp": str(int(time.time())), "x-keyshop-signature": signature},
    }

CASES = [
    # -- no token, wrong tokens
    case("no-token", Request(GET, CONNECTIONS, token=None), 401, "unauthorized"),
    case("unknown-token", Request(GET, CONNECTIONS, token="Bearer hub_" + "x" * 43), 401, "unauthorized"),
    case("token-without-prefix", Request(GET, ORDERS, token="Bearer abc"), 401, "unauthorized"),
    case("basic-scheme", Request(GET, ORDERS, token="Basic aHViOmh1Yg=="), 401, "unauthorized"),
    case("empty-bearer", Request(GET, ORDERS, token="Bearer "), 401, "unauthorized"),
    case("overlong-token", Request(GET, ORDERS, token="Bearer hub_" + "A" * 2000), 401, "unauthorized"),
    case("token-with-unicode", Request(GET, ORDERS, token="Bearer hub_ÄÖÜ"), 401, "unauthorized"),
    case("no-token-on-a-write", Request(POST, LABELS, json=label(), token=None), 401, "unauthorized"),
    case("revoked-token", Request(POST, CONNECTIONS, json={"connector": "fake"}, token="revoked"), 401, "unauthorized"),
    # -- malformed bodies
    case("malformed-json", Request(POST, CONNECTIONS, data="{not json", headers=JSON), 400, "invalid_input"),
    case("json-array", Request(POST, CONNECTIONS, json=["fake"]), 400, "invalid_input"),
    case("json-null", Request(POST, CONNECTIONS, data="null", headers=JSON), 400, "invalid_input"),
    case("json-string", Request(POST, IMPORTS, data='"connection_id"', headers=JSON), 400, "invalid_input"),
    case("empty-body", Request(POST, LABELS, data="", headers=JSON), 400, "invalid_input"),
    case("form-body", Request(POST, CONNECTIONS, data="connector=fake"), 400, "invalid_input"),
    case("text-plain-json", Request(POST, CONNECTIONS, data='{"connector": "fake"}', headers={"Content-Type": "text/plain"}), 400, "invalid_input"),
    case("invalid-utf8", Request(POST, CONNECTIONS, data=b'{"connector": "fa\xffke"}', headers=JSON), 400, "invalid_input"),
    case("utf16-body", Request(POST, CONNECTIONS, data='{"connector": "fake"}'.encode("utf-16"), headers=JSON), 400, "invalid_input"),
    case("trailing-garbage", Request(POST, IMPORTS, data='{"connection_id": 1} x', headers=JSON), 400, "invalid_input"),
    case("oversized-body", Request(POST, LABELS, data=b"x" * (2 * 1024 * 1024), headers=JSON), 413, "http_error"),
    case("oversized-valid-json", Request(POST, LABELS, data=json.dumps({"label_id": "L" * (1024 * 1024)}), headers=JSON), 413, "http_error"),
    case("deeply-nested-json", Request(POST, LABELS, data="[" * 100_000 + "]" * 100_000, headers=JSON), 400, "invalid_input"),
    case("deeply-nested-object", Request(POST, CONNECTIONS, data='{"a":' * 50_000 + "1" + "}" * 50_000, headers=JSON), 400, "invalid_input"),
    case("unknown-field", Request(POST, CONNECTIONS, json={"connector": "fake", "admin": True}), 400, "invalid_input"),
    case("missing-field", Request(POST, CONNECTIONS, json={}), 400, "invalid_input"),
    # -- wrong types
    case("connector-number", Request(POST, CONNECTIONS, json={"connector": 5}), 400, "invalid_input"),
    case("connector-list", Request(POST, CONNECTIONS, json={"connector": ["fake"]}), 400, "invalid_input"),
    case("id-as-string", Request(POST, IMPORTS, json={"connection_id": "1"}), 400, "invalid_input"),
    case("id-as-bool", Request(POST, IMPORTS, json={"connection_id": True}), 400, "invalid_input"),
    case("id-as-float", Request(POST, IMPORTS, json={"connection_id": 1.5}), 400, "invalid_input"),
    case("id-as-null", Request(POST, IMPORTS, json={"connection_id": None}), 400, "invalid_input"),
    case("tracking-flag-as-string", Request(PATCH, CONNECTION, json={"update_tracking": "yes"}), 400, "invalid_input"),
    case("marketplaces-as-string", Request(PATCH, CONNECTION, json={"marketplaces": "NL"}), 400, "invalid_input"),
    case("parcels-as-object", Request(POST, LABELS, json=label(parcels={"tracking_number": "T"})), 400, "invalid_input"),
    case("ship-date-as-number", Request(POST, LABELS, json=label(ship_date=1767225600)), 400, "invalid_input"),
    case("ship-date-not-a-date", Request(POST, LABELS, json=label(ship_date="yesterday")), 400, "invalid_input"),
    # -- huge and odd numbers
    case("id-beyond-bigint", Request(POST, IMPORTS, json={"connection_id": 10**30}), 400, "invalid_input"),
    case("id-with-5000-digits", Request(POST, IMPORTS, data='{"connection_id": ' + "9" * 5000 + "}", headers=JSON), 400, "invalid_input"),
    case("id-1e400", Request(POST, IMPORTS, data='{"connection_id": 1e400}', headers=JSON), 400, "invalid_input"),
    case("id-nan", Request(POST, IMPORTS, data='{"connection_id": NaN}', headers=JSON), 400, "invalid_input"),
    case("id-negative", Request(POST, IMPORTS, json={"connection_id": -1}), 400, "invalid_input"),
    case("id-zero", Request(POST, LABELS, json=label(order_id=0)), 400, "invalid_input"),
    case("interval-huge", Request(PATCH, CONNECTION, json={"import_interval_minutes": 2**63}), 400, "invalid_input"),
    case("interval-zero", Request(PATCH, CONNECTION, json={"import_interval_minutes": 0}), 400, "invalid_input"),
    case("quantity-huge", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "T", "items": [{"item_external_id": "F-OWN-1-1", "quantity": 10**40}]}])), 400, "invalid_input"),
    case("quantity-zero", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "T", "items": [{"item_external_id": "F-OWN-1-1", "quantity": 0}]}])), 400, "invalid_input"),
    case("ship-date-year-10000", Request(POST, LABELS, json=label(ship_date="10000-01-01T00:00:00Z")), 400, "invalid_input"),
    # -- control characters and unicode oddities
    case("connector-nul", Request(POST, CONNECTIONS, json={"connector": "fa\u0000ke"}), 400, "invalid_input"),
    case("connector-fullwidth", Request(POST, CONNECTIONS, json={"connector": "ｆａｋｅ"}), 400, "invalid_input"),
    case("connector-rtl-override", Request(POST, CONNECTIONS, json={"connector": "fake\u202e"}), 400, "invalid_input"),
    case("connector-trailing-newline", Request(POST, CONNECTIONS, json={"connector": "fake\n"}), 400, "invalid_input"),
    case("marketplace-nul", Request(POST, CONNECTIONS, json={"connector": "fake", "marketplace": "N\u0000"}), 400, "invalid_input"),
    case("marketplace-cyrillic", Request(POST, CONNECTIONS, json={"connector": "fake", "marketplace": "NА"}), 400, "invalid_input"),
    case("marketplace-three-letters", Request(POST, CONNECTIONS, json={"connector": "fake", "marketplace": "NLD"}), 400, "invalid_input"),
    case("marketplaces-nul", Request(PATCH, CONNECTION, json={"marketplaces": ["N\u0000L"]}), 400, "invalid_input"),
    case("marketplaces-too-many", Request(PATCH, CONNECTION, json={"marketplaces": ["NL"] * 51}), 400, "invalid_input"),
    case("label-id-newline", Request(POST, LABELS, json=label(label_id="L\nX")), 400, "invalid_input"),
    case("label-id-accent", Request(POST, LABELS, json=label(label_id="Lé")), 400, "invalid_input"),
    case("label-id-too-long", Request(POST, LABELS, json=label(label_id="L" * 201)), 400, "invalid_input"),
    case("tracking-zero-width-space", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "GLS\u200b1"}])), 400, "invalid_input"),
    case("tracking-lone-surrogate", Request(POST, LABELS, data='{"order_id": 1, "label_id": "L", "parcels": [{"tracking_number": "\\ud800"}]}', headers=JSON), 400, "invalid_input"),
    case("carrier-nul", Request(POST, LABELS, json=label(carrier="GLS\u0000")), 400, "invalid_input"),
    case("carrier-tab", Request(POST, LABELS, json=label(carrier="GLS\tExpress")), 400, "invalid_input"),
    case("carrier-empty", Request(POST, LABELS, json=label(carrier="")), 400, "invalid_input"),
    case("shipping-method-nul", Request(POST, LABELS, json=label(shipping_method="express\u0000")), 400, "invalid_input"),
    case("item-id-nul", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "T", "items": [{"item_external_id": "F-OWN-1-1\u0000", "quantity": 1}]}])), 400, "invalid_input"),
    case("ship-date-without-zone", Request(POST, LABELS, json=label(ship_date="2026-01-01T10:00:00")), 400, "invalid_input"),
    # -- what the data does not allow
    case("unknown-connector", Request(POST, CONNECTIONS, json={"connector": "nope"}), 404, "not_found"),
    case("label-unknown-order", Request(POST, LABELS, json=label(order_id=999_999)), 404, "not_found"),
    case("label-other-accounts-order", Request(POST, LABELS, json=label(order_id=Ref("other_order_id"))), 404, "not_found"),
    case("label-cancelled-order", Request(POST, LABELS, json=label(order_id=Ref("cancelled_order_id"))), 409, "conflict"),
    case("label-unknown-item", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "T", "items": [{"item_external_id": "nope", "quantity": 1}]}])), 400, "invalid_input"),
    case("label-more-than-ordered", Request(POST, LABELS, json=label(parcels=[{"tracking_number": "T", "items": [{"item_external_id": "F-OWN-1-1", "quantity": 2}]}])), 400, "invalid_input"),
    case("label-nothing-left", Request(POST, LABELS, json=label(order_id=Ref("labelled_order_id"))), 400, "invalid_input"),
    case("label-no-parcels", Request(POST, LABELS, json=label(parcels=[])), 400, "invalid_input"),
    case("label-51-parcels", Request(POST, LABELS, json=label(parcels=[{"tracking_number": f"T{n}"} for n in range(51)])), 400, "invalid_input"),
    case("import-pending-connection", Request(POST, IMPORTS, json={"connection_id": Ref("pending_connection_id")}), 400, "invalid_input"),
    case("import-unknown-connection", Request(POST, IMPORTS, json={"connection_id": 999_999}), 404, "not_found"),
    case("reconnect-disconnected", Request(POST, "/api/v1/connections/{disconnected_connection_id}/reconnect"), 409, "conflict"),
    case("disable-disconnected", Request(POST, "/api/v1/connections/{disconnected_connection_id}/disable"), 409, "conflict"),
    case("enable-disconnected", Request(POST, "/api/v1/connections/{disconnected_connection_id}/enable"), 409, "conflict"),
    case("disable-unknown", Request(POST, "/api/v1/connections/999999/disable"), 404, "not_found"),
    case("settings-nothing-to-change", Request(PATCH, CONNECTION, json={}), 400, "invalid_input"),
    case("retry-unknown-label", Request(POST, "/api/v1/labels/999999/retry"), 404, "not_found"),
    case("disconnect-unknown", Request(DELETE, "/api/v1/connections/999999"), 404, "not_found"),
    # -- connect and reconnect with credentials (key shop): nothing stored, no secret echoed
    case("credentials-secret-missing", Request(POST, CONNECTIONS, json=keyshop(client_secret=None)), 400, "invalid_input"),
    case("credentials-id-empty", Request(POST, CONNECTIONS, json=keyshop(client_id="")), 400, "invalid_input"),
    case("credentials-wrong-secret", Request(POST, CONNECTIONS, json=keyshop(client_secret="keyshop-secret-wrong")), 422, "credentials_refused"),
    case("credentials-unknown-client", Request(POST, CONNECTIONS, json=keyshop(client_id="keyshop-client-99")), 422, "credentials_refused"),
    case("credentials-connected-already", Request(POST, CONNECTIONS, json=keyshop()), 409, "conflict"),
    case("credentials-unknown-field", Request(POST, CONNECTIONS, json=keyshop(api_key="k")), 400, "invalid_input"),
    case("credentials-secret-not-text", Request(POST, CONNECTIONS, json=keyshop(client_secret=12345678)), 400, "invalid_input"),
    case("credentials-secret-null", Request(POST, CONNECTIONS, data='{"connector": "keyshop", "fields": {"client_id": "a", "client_secret": null}}', headers=JSON), 400, "invalid_input"),
    case("credentials-fields-a-list", Request(POST, CONNECTIONS, json={"connector": "keyshop", "fields": [SECRET]}), 400, "invalid_input"),
    case("credentials-field-name-upper", Request(POST, CONNECTIONS, json={"connector": "keyshop", "fields": {"CLIENT_ID": "a"}}), 400, "invalid_input"),
    case("credentials-21-fields", Request(POST, CONNECTIONS, json={"connector": "keyshop", "fields": {f"f{n}": "x" for n in range(21)}}), 400, "invalid_input"),
    case("credentials-id-too-long", Request(POST, CONNECTIONS, json=keyshop(client_id="x" * 501)), 400, "invalid_input"),
    case("credentials-value-huge", Request(POST, CONNECTIONS, json=keyshop(client_id="x" * 10_001)), 400, "invalid_input"),
    case("credentials-secret-nul", Request(POST, CONNECTIONS, json=keyshop(client_secret="keyshop\u0000secret")), 400, "invalid_input"),
    case("credentials-secret-newline", Request(POST, CONNECTIONS, json=keyshop(client_secret=SECRET + "\n" + SECRET)), 400, "invalid_input"),
    case("credentials-marketplace-too", Request(POST, CONNECTIONS, json={**keyshop(), "marketplace": "NL"}), 400, "invalid_input"),
    case("consent-marketplace-twice", Request(POST, CONNECTIONS, json={"connector": "fake", "marketplace": "NL", "fields": {"marketplace": "DE"}}), 400, "invalid_input"),
    case("reconnect-credentials-without-body", Request(POST, KEYSHOP_RECONNECT), 400, "invalid_input"),
    case("reconnect-credentials-wrong-secret", Request(POST, KEYSHOP_RECONNECT, json={"fields": {**KEYSHOP_CREDENTIALS, "client_secret": "keyshop-secret-wrong"}}), 422, "credentials_refused"),
    case("reconnect-credentials-fields-a-string", Request(POST, KEYSHOP_RECONNECT, json={"fields": SECRET}), 400, "invalid_input"),
    case("reconnect-credentials-unknown-member", Request(POST, KEYSHOP_RECONNECT, json={"fields": KEYSHOP_CREDENTIALS, "connector": "keyshop"}), 400, "invalid_input"),
    case("reconnect-consent-unknown-option", Request(POST, "/api/v1/connections/{connection_id}/reconnect", json={"fields": {"client_secret": SECRET}}), 400, "invalid_input"),
    case("reconnect-not-json", Request(POST, KEYSHOP_RECONNECT, data="client_secret=" + SECRET), 400, "invalid_input"),
    # -- the shops' event route: public, so no token; a refused message changes nothing
    case("event-unknown-token", Request(POST, "/events/" + "0" * 64, token=None, **event()), 404, "not_found"),
    case("event-token-bad-characters", Request(POST, "/events/%00abc", token=None, **event()), 404, "http_error"),
    case("event-token-missing", Request(POST, "/events/", token=None, **event()), 404, "http_error"),
    case("event-forged-signature", Request(POST, "{event_path}", token=None, **event()), 401, "event_rejected"),
    case("event-unsigned", Request(POST, "{event_path}", token=None, data="{}", headers=JSON), 401, "event_rejected"),
    case("event-signature-not-ascii", Request(POST, "{event_path}", token=None, **event(signature="sha256=ä")), 401, "event_rejected"),
    case("event-empty-body", Request(POST, "{event_path}", token=None, **event(body="")), 401, "event_rejected"),
    case("event-with-api-token-still-forged", Request(POST, "{event_path}", **event()), 401, "event_rejected"),
    case("event-too-large", Request(POST, "{event_path}", token=None, data="x" * (256 * 1024 + 1)), 413, "too_large"),
    case("event-too-large-unknown-token", Request(POST, "/events/unknown", token=None, data="x" * (256 * 1024 + 1)), 413, "too_large"),
    case("event-get", Request(GET, "{event_path}", token=None), 405, "http_error"),
    # -- path and query parameters
    case("limit-zero", Request(GET, ORDERS, params={"limit": "0"}), 400, "invalid_input"),
    case("limit-huge", Request(GET, ORDERS, params={"limit": "100000"}), 400, "invalid_input"),
    case("limit-text", Request(GET, ORDERS, params={"limit": "ten"}), 400, "invalid_input"),
    case("limit-superscript-digit", Request(GET, ORDERS, params={"limit": "²"}), 400, "invalid_input"),
    case("after-negative", Request(GET, ORDERS, params={"after": "-1"}), 400, "invalid_input"),
    case("connection-filter-beyond-bigint", Request(GET, ORDERS, params={"connection_id": "9" * 30}), 400, "invalid_input"),
    case("status-unknown", Request(GET, ORDERS, params={"status": "lost"}), 400, "invalid_input"),
    case("status-nul", Request(GET, ORDERS, params={"status": "open\u0000"}), 400, "invalid_input"),
    case("order-id-beyond-bigint", Request(GET, "/api/v1/orders/99999999999999999999"), 400, "invalid_input"),
    case("order-id-not-a-number", Request(GET, "/api/v1/orders/abc"), 404, "http_error"),
    case("label-id-unknown", Request(GET, "/api/v1/labels/999999"), 404, "not_found"),
    case("import-id-unknown", Request(GET, "/api/v1/imports/999999"), 404, "not_found"),
    case("unknown-route", Request(GET, "/api/v1/shipments"), 404, "http_error"),
    case("method-not-allowed", Request("PUT", ORDERS, json={}), 405, "http_error"),
]


def authorization(world: FakeWorld, token: str | None) -> dict[str, str]:
    if token is None:
        return {}
    if token in ("api", "other"):
        return getattr(world, token).headers
    if token == "revoked":
        return {"Authorization": f"Bearer {world.revoked_token}"}
    return {"Authorization": token}


@pytest.mark.parametrize(("request_", "status", "code"), CASES)
async def test_bad_api_request_gets_a_clear_4xx_and_changes_nothing(
    fake_world: FakeWorld, request_: Request, status: int, code: str
) -> None:
    world = fake_world
    pool = world.rt.db.pool
    kwargs: dict[str, object] = {"headers": {**authorization(world, request_.token), **request_.headers}}
    if request_.json is not NO_BODY:
        kwargs["json"] = resolve(request_.json, world)
    if request_.data is not None:
        data = request_.data.encode() if isinstance(request_.data, str) else request_.data
        # aiohttp wants big bodies as a stream
        kwargs["data"] = io.BytesIO(data) if len(data) > 1024 * 1024 else request_.data
    if request_.params is not None:
        kwargs["params"] = request_.params
    before = await snapshot(pool)
    response = await world.client.request(request_.method, path(request_.path, world), **kwargs)
    text = await response.text()
    assert (response.status, response.content_type) == (status, "application/json"), text[:500]
    body = json.loads(text)
    assert set(body) == {"error"} and set(body["error"]) - {"field"} == {"code", "message"}, body
    assert body["error"]["code"] == code and body["error"]["message"], body
    assert "Traceback" not in text and "asyncpg" not in text and SECRET not in text
    assert changes(before, await snapshot(pool)) == []
