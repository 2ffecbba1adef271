"""Signatures: bol.com's own signed test message verifies, and so do the simulator's.

The genuine vector is rojtjo/bol-api-client ``src/Types/SignatureKeyTest.php`` (contract §5; read at
commit 632f5c9855873a39dc7498c995bc7c6edd28227c): key id ``1``, a public key as bol.com's
signature-keys endpoint publishes it, a PROCESS_STATUS message of retailer 1659925 and its signature,
made by bol.com. Only these values are taken, not the library's code. It proves that the scheme the simulator uses
(PKCS#1 v1.5, SHA-256, raw body bytes, base64 DER SubjectPublicKeyInfo keys) is bol.com's.
"""

from __future__ import annotations

import base64

from connectors.bol.simulator.webhooks import SigningKeys
from tests.connectors.bol.simulator.conftest import BolApi
from tests.connectors.bol.simulator.signature import parse_signature, verifies, verify_header

BOL_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAh5x6f/IexlWgo23VF9yH7zmRWEaFShAXyFoR3Flh0ZwSn8hZY+rR3zJt/FWKT6mcw51c"
    "FjNWGoi92FLLCsXq49TS+8T6z5/AqpS/cORzFndiaPeMN5k9nla9ECwWqizqoBWRFyg7tnP0GkbZF+rjLlAbUznisEItGcfu9rw4+CfulFTwA9CG"
    "xKUDNJOcihEkUflsMlGL2Stqs1Q54O2GTPlLX4KTn1z7Iy4E8IqSOm9Z7sEFHK/RR7sf6K3JsN/h3nR0+NN8o2OGCZ1z17OjSnWXbq1QDZIkN+Pn"
    "tEIW540Og0SHDshLAGxOeW0jw8tU/uKZMhR7lmmrabLjutk3NQIDAQAB"
)
BOL_SIGNATURE = (
    "ae2Z1c36OxpTu7OiljUJMqbW5I2+aqU04xO3Z5eInL73vvXuWwXOIEaVDpmyfXAz7HhaFJ6q73qKqHhE9zP1BEyp/CyRC+3EPU9QauUk6GS66FWS"
    "9EFPhvuC/hj0z6xwRXaMMu6J/p89rb3utsO4nagT1iuFNdAz4mRPg3UnyIl50oSWyC99zje090cxNUGw7f3WY8gvTt9bGhiAQ8gMQgA2dw++UTov"
    "3r+ifdAaj7cMLEHS5gT7mn4Cqo8kYLejRab81l9Zge0q0ozX2/4OUaEXjemo/+w6QFJrq1Vsih+PFrU7BzzyUs8m+CVUdpSsXZQTiragTKs9ZIrn"
    "pmS9mA=="
)
BOL_BODY = (
    b'{"retailerId":1659925,"timeStamp":"2021-11-18T16:37:13+01:00","event":{"resource":"PROCESS_STATUS",'
    b'"type":"SUCCESS","resourceId":"33371690441","metadata":{},"links":[]}}'
)


def test_bols_own_signed_message_verifies():
    keys = [{"id": "1", "type": "RSA", "publicKey": BOL_KEY}]
    header = f'keyId=1, algorithm="rsa-sha256", signature={BOL_SIGNATURE}'
    assert verify_header(keys, BOL_BODY, header) == "1"


def test_bols_signature_fails_on_a_changed_byte():
    signature = base64.b64decode(BOL_SIGNATURE)
    assert not verifies(BOL_KEY, BOL_BODY.replace(b"SUCCESS", b"FAILURE"), signature)
    assert not verifies(BOL_KEY, BOL_BODY + b"\n", signature)


def test_the_header_parses_like_third_party_clients_read_it():
    assert parse_signature('keyId=0, algorithm="rsa-sha256", signature=U29tZQ==') == ("0", "rsa-sha256", b"Some")


def test_the_simulators_signatures_verify_with_its_published_keys():
    keys = SigningKeys()
    body = b'{"retailerId":1055479,"event":{}}'
    key_id, header = keys.sign(body)
    assert verify_header(keys.published(), body, header) == key_id == keys.current_id
    _, _, signature = parse_signature(header)
    assert not verifies(keys.published()[0]["publicKey"], body.replace(b"1055479", b"1055480"), signature)


def test_published_keys_look_like_bols():
    (key,) = SigningKeys().published()
    assert key["type"] == "RSA"
    assert key["publicKey"].startswith("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A")  # 2048-bit RSA SubjectPublicKeyInfo
    assert key["publicKey"][:32] == BOL_KEY[:32]


def test_rotation_signs_with_a_new_key_and_keeps_the_old_one_published():
    keys = SigningKeys()
    old = keys.current_id
    new = keys.rotate()
    assert new != old and keys.ids() == [old, new]
    body = b"{}"
    _, header = keys.sign(body)
    assert verify_header(keys.published(), body, header) == new
    keys.rotate(retire_old=True)
    assert keys.ids() == [str(int(new) + 1)]


async def test_the_signature_keys_endpoint(api: BolApi):
    answer = await api.call("get-subscription-keys")
    assert answer.status == 200
    assert answer.body == {"signatureKeys": api.sim.state.keys.published()}
