"""Signed push notifications: the simulator's RSA keys, the message format and delivery with retries.

Messages are what bol.com posts to a ``WEBHOOK`` subscription's URL::

    {"retailerId":1055479,"timeStamp":"2026-03-02T13:00:00+01:00",
     "event":{"resource":"PROCESS_STATUS","type":"SUCCESS","resourceId":"019d...","metadata":{},"links":[]}}

compact JSON, UTF-8, with the header
``Signature: keyId=<id>, algorithm="rsa-sha256", signature=<base64>``: RSASSA-PKCS1-v1_5 with SHA-256
over the raw body bytes, made with the private half of the key whose public half
``GET /retailer/subscriptions/signature-keys`` publishes (``KeySet{id, type: "RSA", publicKey}``,
base64 DER SubjectPublicKeyInfo). The key pairs are the simulator's own (2048-bit, generated with
``cryptography`` when first needed and shared by the simulators of one process); ``rotate`` starts
signing with a new key id while the old key stays published unless retired.

A delivery succeeds on any 2xx answer within ``delivery_timeout``; otherwise it is tried again
``retry_interval`` real seconds later, ``delivery_retries`` times (bol.com: 10 retries within
10 minutes). When the last retry fails the subscription is disabled, as bol.com does; deliveries
still waiting for a disabled or deleted subscription are dropped. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .records import Attempt, Delivery

if TYPE_CHECKING:
    from .state import SimulatorState

log = logging.getLogger(__name__)

ALGORITHM = "rsa-sha256"
USER_AGENT = "bol.com push notifications (hub simulator)"

_PRIVATE_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def _private_key(index: int) -> rsa.RSAPrivateKey:
    # Generating a 2048-bit key takes a noticeable fraction of a second: once per process and index.
    key = _PRIVATE_KEYS.get(index)
    if key is None:
        key = _PRIVATE_KEYS[index] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key


def public_key_text(key: rsa.RSAPrivateKey) -> str:
    """The public half as bol.com publishes it: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def signature_header(key_id: str, signature: bytes) -> str:
    """The ``Signature`` header value."""
    return f'keyId={key_id}, algorithm="{ALGORITHM}", signature={base64.b64encode(signature).decode()}'


class SigningKeys:
    """The key pairs the simulator signs with: one current, older ones published until retired."""

    def __init__(self) -> None:
        self._published: list[tuple[str, int]] = []  # (key id, private key index), oldest first
        self._next = 0
        self.rotate()

    @property
    def current_id(self) -> str:
        """The id of the key that signs now."""
        return self._published[-1][0]

    def rotate(self, retire_old: bool = False) -> str:
        """Sign with a new key from now on; with ``retire_old`` stop publishing the others. Returns its id."""
        index = self._next
        self._next += 1
        if retire_old:
            self._published.clear()
        self._published.append((str(index + 1), index))
        return self.current_id

    def sign(self, body: bytes) -> tuple[str, str]:
        """The current key id and the ``Signature`` header for ``body``."""
        key_id, index = self._published[-1]
        signature = _private_key(index).sign(body, padding.PKCS1v15(), hashes.SHA256())
        return key_id, signature_header(key_id, signature)

    def published(self) -> list[dict[str, str]]:
        """The ``KeySet`` objects of the signature-keys endpoint, oldest first."""
        return [{"id": key_id, "type": "RSA", "publicKey": public_key_text(_private_key(index))}
                for key_id, index in self._published]

    def ids(self) -> list[str]:
        """The published key ids, oldest first."""
        return [key_id for key_id, _ in self._published]


class Deliverer:
    """Posts deliveries to their URLs in the background, with retries; one HTTP session."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the HTTP session."""
        self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        """Stop every delivery and close the session."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def send(self, delivery: Delivery) -> None:
        """Start delivering in the background (nothing happens while the app is not serving)."""
        if self._session is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, delivery: Delivery) -> None:
        state = self._state
        while True:
            attempt = await self._post(delivery)
            delivery.attempts.append(attempt)
            if attempt.status is not None and 200 <= attempt.status < 300:
                delivery.state = "delivered"
                state.notify()
                return
            if len(delivery.attempts) > state.config.delivery_retries:
                delivery.state = "failed"
                state.delivery_failed(delivery)
                state.notify()
                return
            state.notify()
            if await _closing(state, state.config.retry_interval):
                return
            subscription = state.subscriptions.get(delivery.subscription_id)
            if subscription is None or not subscription.enabled:
                delivery.state = "dropped"
                state.notify()
                return

    async def _post(self, delivery: Delivery) -> Attempt:
        assert self._session is not None
        headers = {"Content-Type": "application/json", "Signature": delivery.signature}
        started = time.time()
        try:
            async with self._session.post(
                delivery.url, data=delivery.body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._state.config.delivery_timeout),
            ) as response:
                await response.read()
                return Attempt(started, response.status)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            log.debug("delivery %s to %s failed: %r", delivery.delivery_id, delivery.url, err)
            return Attempt(started, None, f"{type(err).__name__}: {err}"[:300])


async def _closing(state: SimulatorState, seconds: float) -> bool:
    """Wait ``seconds``; True when the simulator stops meanwhile."""
    try:
        await asyncio.wait_for(state.closing.wait(), seconds)
    except TimeoutError:
        return False
    return True
