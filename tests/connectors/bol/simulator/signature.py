"""Verifying bol.com's ``Signature`` header: RSASSA-PKCS1-v1_5 with SHA-256 over the raw body bytes."""

from __future__ import annotations

import base64
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

HEADER = re.compile(r'^keyId=(?P<key_id>[^,\s]+), algorithm="(?P<algorithm>[^"]+)", signature=(?P<signature>\S+)$')


def parse_signature(header: str) -> tuple[str, str, bytes]:
    """(key id, algorithm, signature bytes) of a ``Signature`` header."""
    match = HEADER.match(header)
    assert match, f"not a bol.com Signature header: {header!r}"
    return match["key_id"], match["algorithm"], base64.b64decode(match["signature"], validate=True)


def verifies(public_key: str, body: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``body`` verifies with a base64 DER SubjectPublicKeyInfo key."""
    key = load_der_public_key(base64.b64decode(public_key))
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    except InvalidSignature:
        return False
    return True


def verify_header(keys: list[dict[str, str]], body: bytes, header: str) -> str:
    """Check a message against published ``KeySet``s; returns the key id that signed it."""
    key_id, algorithm, signature = parse_signature(header)
    assert algorithm == "rsa-sha256"
    published = {key["id"]: key for key in keys}
    assert key_id in published, f"key {key_id} is not published ({sorted(published)})"
    assert published[key_id]["type"] == "RSA"
    assert verifies(published[key_id]["publicKey"], body, signature), "the signature does not verify"
    return key_id
