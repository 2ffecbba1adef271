"""bol.com's webhook messages: verified, then read as what they mean to the hub.

bol.com signs every message: ``Signature: keyId=1, algorithm="rsa-sha256", signature=<base64>``,
RSASSA-PKCS1-v1_5 with SHA-256 over the raw body, with the key of that id from
``GET /retailer/subscriptions/signature-keys`` (base64 DER SubjectPublicKeyInfo). The keys are
kept in core's coordination, shared by every process (``BolState.signature_keys``), and fetched
again for an unknown key id, at most once per ``signature_key_refresh_seconds`` among all
processes (bol.com allows few calls there).

Refused (``EventRejected``, answered 401, nothing changes): no or a malformed signature, an
unknown key, a signature that does not verify, a message for another retailer, one without a
time or older than ``event_max_age_seconds`` (a replay). A message repeated within that age is
the same event (its id is a digest of the body), which core answers once. ``ORDER`` events ask
for an import; ``PROCESS_STATUS`` events name the process status that settled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from connectors.bol.client import BolApi, BolState
from connectors.bol.const import (
    RESOURCE_ORDER,
    RESOURCE_PROCESS_STATUS,
    SIGNATURE_HEADER,
)
from connectors.bol.mapping import parse_time
from connectors.bol.settings import BolSettings
from connectors.bol.shipping import shop_references
from core.hubapi import (
    ConnectorContext,
    EventMeaning,
    EventRejected,
    InvalidInput,
    ShopEvent,
    parse_json,
)

_PARAMETER = re.compile(r'\s*([A-Za-z]+)\s*=\s*("([^"]*)"|[^,\s]*)\s*(?:,|$)')


def parse_signature(header: str) -> tuple[str, str, bytes]:
    """``(key id, algorithm, signature bytes)`` from a ``Signature`` header; ``ValueError`` when malformed."""
    values: dict[str, str] = {}
    position = 0
    while position < len(header):
        match = _PARAMETER.match(header, position)
        if match is None or match.end() == position:
            raise ValueError("malformed Signature header")
        values[match.group(1).lower()] = match.group(3) if match.group(3) is not None else match.group(2)
        position = match.end()
    key_id, algorithm, signature = values.get("keyid"), values.get("algorithm"), values.get("signature")
    if not key_id or not algorithm or not signature:
        raise ValueError("Signature header lacks keyId, algorithm or signature")
    try:
        return key_id, algorithm.lower(), base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("the signature is not base64") from err


def verify(public_key_der: bytes, body: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is RSA-SHA256 (PKCS#1 v1.5) over ``body`` with the DER public key."""
    try:
        key = load_der_public_key(public_key_der)
    except (ValueError, UnsupportedAlgorithm):
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


async def fetch_keys(api: BolApi) -> dict[str, bytes]:
    """bol.com's RSA signature keys by id, as DER; unreadable entries are left out."""
    keys = {}
    for entry in await api.signature_keys():
        key_id, kind, encoded = entry.get("id"), entry.get("type"), entry.get("publicKey")
        if key_id is None or kind != "RSA" or not isinstance(encoded, str):
            continue
        try:
            keys[str(key_id)] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
    return keys


async def receive(
    context: ConnectorContext, settings: BolSettings, state: BolState, api: BolApi, event: ShopEvent
) -> EventMeaning:
    """Verify a message bol.com posted and say what it means (see the module docstring)."""
    header = event.headers.get(SIGNATURE_HEADER)
    if not header:
        raise EventRejected("The message carries no bol.com signature.", detail="no Signature header")
    try:
        key_id, algorithm, signature = parse_signature(header)
    except ValueError as err:
        raise EventRejected("The message's bol.com signature is malformed.", detail=str(err)) from err
    if algorithm != "rsa-sha256":
        raise EventRejected("The message is signed with an algorithm bol.com does not use.", detail=algorithm)
    key = await state.signature_keys.key(key_id, lambda: fetch_keys(api), settings.signature_key_refresh_seconds)
    if key is None:
        raise EventRejected("The message is signed with a key bol.com does not publish.", detail=f"keyId {key_id}")
    if not verify(key, event.body, signature):
        raise EventRejected("The message's bol.com signature does not verify.", detail=f"keyId {key_id}")

    message = parse_json(event.body)
    if not isinstance(message, dict) or not isinstance(message.get("event"), dict):
        raise InvalidInput("A signed bol.com message without an event.")
    retailer = message.get("retailerId")
    expected = context.connection.external_account_id
    if expected and str(retailer) != expected:
        raise EventRejected("The message is for another bol.com retailer.", detail=f"retailerId {retailer}")
    _check_age(message, event.received_at, settings.event_max_age_seconds)
    return meaning(message, event.body)


def _check_age(message: dict[str, Any], received_at: datetime, max_age: float) -> None:
    # Real messages spell it timeStamp, bol.com's documentation timestamp.
    sent = parse_time(message.get("timeStamp", message.get("timestamp")))
    if sent is None:
        raise EventRejected("The message carries no time, so a replay cannot be told apart.", detail="no timeStamp")
    window = timedelta(seconds=max_age)
    if received_at - sent > window or sent - received_at > window:
        raise EventRejected(
            "The message is too old (or from the future): refused as a replay.",
            detail=f"timeStamp {sent.isoformat()}, received {received_at.isoformat()}",
        )


def meaning(message: dict[str, Any], body: bytes) -> EventMeaning:
    """What a verified message means: an import for ORDER, a settled process status for PROCESS_STATUS."""
    event = message["event"]
    event_id = "bol-" + hashlib.sha256(body).hexdigest()[:40]
    resource, resource_id = event.get("resource"), event.get("resourceId")
    if resource == RESOURCE_ORDER:
        return EventMeaning(event_id=event_id, import_orders=True)
    if resource == RESOURCE_PROCESS_STATUS and resource_id is not None and str(resource_id):
        return EventMeaning(event_id=event_id, settled=shop_references(str(resource_id)))
    return EventMeaning(event_id=event_id)
