"""Webhook messages: signatures verified against bol.com's keys, replays and forgeries refused, meanings read."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from aioresponses import aioresponses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.bol import events
from connectors.bol.client import BolState, connection_api
from core.hubapi import EventRejected, InvalidInput, ShopEvent
from tests.connectors.bol.conftest import MakeContext
from tests.connectors.bol.fakes import (
    KEYS_URL,
    RETAILER_ID,
    TOKEN_URL,
    FakeClock,
    bol_settings,
    requests_to,
    token_answer,
)

RECEIVED = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)

# A message bol.com signed, with the key it published (third-party test vector: rojtjo/bol-api-client,
# src/Types/SignatureKeyTest.php, checked with openssl): the verifier must accept bol.com's real signatures.
GENUINE_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAh5x6f/IexlWgo23VF9yH7zmRWEaFShAXyFoR3Flh0ZwSn8hZY+rR3zJt/FWKT6mcw51cFjNW"
    "Goi92FLLCsXq49TS+8T6z5/AqpS/cORzFndiaPeMN5k9nla9ECwWqizqoBWRFyg7tnP0GkbZF+rjLlAbUznisEItGcfu9rw4+CfulFTwA9CGxKUDNJOc"
    "ihEkUflsMlGL2Stqs1Q54O2GTPlLX4KTn1z7Iy4E8IqSOm9Z7sEFHK/RR7sf6K3JsN/h3nR0+NN8o2OGCZ1z17OjSnWXbq1QDZIkN+PntEIW540Og0SH"
    "DshLAGxOeW0jw8tU/uKZMhR7lmmrabLjutk3NQIDAQAB"
)
GENUINE_SIGNATURE = (
    "ae2Z1c36OxpTu7OiljUJMqbW5I2+aqU04xO3Z5eInL73vvXuWwXOIEaVDpmyfXAz7HhaFJ6q73qKqHhE9zP1BEyp/CyRC+3EPU9QauUk6GS66FWS9EFPh"
    "vuC/hj0z6xwRXaMMu6J/p89rb3utsO4nagT1iuFNdAz4mRPg3UnyIl50oSWyC99zje090cxNUGw7f3WY8gvTt9bGhiAQ8gMQgA2dw++UTov3r+ifdAaj7c"
    "MLEHS5gT7mn4Cqo8kYLejRab81l9Zge0q0ozX2/4OUaEXjemo/+w6QFJrq1Vsih+PFrU7BzzyUs8m+CVUdpSsXZQTiragTKs9ZIrnpmS9mA=="
)
GENUINE_BODY = (
    b'{"retailerId":1659925,"timeStamp":"2021-11-18T16:37:13+01:00","event":{"resource":"PROCESS_STATUS",'
    b'"type":"SUCCESS","resourceId":"33371690441","metadata":{},"links":[]}}'
)


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """Two signing keys: "1" published from the start, "2" published later (rotation)."""
    return {key_id: rsa.generate_private_key(public_exponent=65537, key_size=2048) for key_id in ("1", "2")}


def published(*pairs: tuple[str, rsa.RSAPrivateKey]) -> dict[str, object]:
    entries = []
    for key_id, key in pairs:
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        entries.append({"id": key_id, "type": "RSA", "publicKey": base64.b64encode(der).decode()})
    return {"signatureKeys": entries}


def message(resource: str = "PROCESS_STATUS", resource_id: str = "019d4d55-0001", *, sent: datetime = RECEIVED,
            retailer: int | str = int(RETAILER_ID), spelling: str = "timeStamp") -> bytes:
    return orjson.dumps({
        "retailerId": retailer,
        spelling: sent.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="seconds"),
        "event": {"resource": resource, "type": "SUCCESS", "resourceId": resource_id, "metadata": {}, "links": []},
    })


def signed(body: bytes, key: rsa.RSAPrivateKey, key_id: str = "1") -> ShopEvent:
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    header = f'keyId={key_id}, algorithm="rsa-sha256", signature={signature}'
    return ShopEvent(headers={"signature": header, "content-type": "application/json"}, body=body, received_at=RECEIVED)


@pytest.fixture
def receive(make_context: MakeContext, state: BolState):
    context = make_context(settings=bol_settings(signature_key_refresh_seconds=60))
    api = connection_api(context, context.settings, state)  # type: ignore[arg-type]

    async def call(event: ShopEvent):
        return await events.receive(context, context.settings, state, api, event)  # type: ignore[arg-type]

    return call


async def test_a_signed_process_status_message_names_the_settled_process(
    mocked: aioresponses, receive, keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    meaning = await receive(signed(message(), keys["1"]))
    assert meaning.settled == ["019d4d55-0001", "found:019d4d55-0001"]  # started by a push, or found by one
    assert not meaning.import_orders
    again = await receive(signed(message(), keys["1"]))
    assert again.event_id == meaning.event_id  # bol.com's retry of the same message: core answers it once
    assert len(requests_to(mocked, "GET", KEYS_URL)) == 1  # the keys are cached


async def test_an_order_message_asks_for_an_import(mocked: aioresponses, receive, keys) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    meaning = await receive(signed(message("ORDER", "1043946570", spelling="timestamp"), keys["1"]))
    assert meaning.import_orders and meaning.settled == []


async def test_an_unsigned_message_is_refused(receive) -> None:
    with pytest.raises(EventRejected, match="no bol.com signature"):
        await receive(ShopEvent(headers={}, body=message(), received_at=RECEIVED))


@pytest.mark.parametrize("header", ["keyId=1", "keyId=1, algorithm=\"rsa-sha256\", signature=not*base64", "garbage"])
async def test_a_malformed_signature_is_refused(receive, header: str) -> None:
    with pytest.raises(EventRejected, match="malformed"):
        await receive(ShopEvent(headers={"signature": header}, body=message(), received_at=RECEIVED))


async def test_a_forged_or_altered_message_is_refused(mocked: aioresponses, receive, keys) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    forged = signed(message(), keys["2"], key_id="1")  # signed with a key bol.com does not hold
    with pytest.raises(EventRejected, match="does not verify"):
        await receive(forged)
    good = signed(message(), keys["1"])
    altered = ShopEvent(headers=good.headers, body=message(resource_id="someone-elses"), received_at=RECEIVED)
    with pytest.raises(EventRejected, match="does not verify"):
        await receive(altered)


async def test_an_unknown_key_id_fetches_the_keys_again_once(
    mocked: aioresponses, receive, keys, clock: FakeClock
) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    mocked.get(KEYS_URL, payload=published(("1", keys["1"]), ("2", keys["2"])))
    await receive(signed(message(), keys["1"]))
    clock.now += 61
    meaning = await receive(signed(message("ORDER"), keys["2"], key_id="2"))  # bol.com rotated its keys
    assert meaning.import_orders
    assert len(requests_to(mocked, "GET", KEYS_URL)) == 2
    with pytest.raises(EventRejected, match="key bol.com does not publish"):
        await receive(signed(message(), keys["2"], key_id="99"))  # within the minute: not fetched again
    assert len(requests_to(mocked, "GET", KEYS_URL)) == 2


async def test_a_replayed_old_message_is_refused(mocked: aioresponses, receive, keys) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    with pytest.raises(EventRejected, match="too old"):
        await receive(signed(message(sent=RECEIVED - timedelta(hours=2)), keys["1"]))
    with pytest.raises(EventRejected, match="no time"):
        body = orjson.dumps({"retailerId": int(RETAILER_ID), "event": {"resource": "ORDER", "resourceId": "1"}})
        await receive(signed(body, keys["1"]))


async def test_a_message_for_another_retailer_is_refused(mocked: aioresponses, receive, keys) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    with pytest.raises(EventRejected, match="another bol.com retailer"):
        await receive(signed(message(retailer=1659925), keys["1"]))


async def test_a_signed_message_without_an_event_is_bad_input(mocked: aioresponses, receive, keys) -> None:
    mocked.post(TOKEN_URL, payload=token_answer())
    mocked.get(KEYS_URL, payload=published(("1", keys["1"])))
    with pytest.raises(InvalidInput):
        await receive(signed(b'{"retailerId": 1055479}', keys["1"]))


def test_a_genuine_bol_signature_verifies() -> None:
    key_id, algorithm, signature = events.parse_signature(f"keyId=1, algorithm=\"rsa-sha256\", signature={GENUINE_SIGNATURE}")
    assert (key_id, algorithm) == ("1", "rsa-sha256")
    der = base64.b64decode(GENUINE_KEY)
    assert events.verify(der, GENUINE_BODY, signature)
    assert not events.verify(der, GENUINE_BODY.replace(b"33371690441", b"33371690442"), signature)
    meaning = events.meaning(orjson.loads(GENUINE_BODY), GENUINE_BODY)
    assert meaning.settled[0] == "33371690441"
