"""Bad input through the Connect and Reconnect forms of a credentials connector (the key shop): each
case gets a 4xx page, never shows a secret, and leaves the database (every row of every table)
as it was. Forged, missing and another session's CSRF tokens on these forms are refused before the
shop is asked anything.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.hub.web.conftest import Merchant
from tests.reliability.conftest import KEYSHOP_CREDENTIALS, FakeWorld
from tests.reliability.snapshot import changes, snapshot

CONNECT = "/settings/integrations/keyshop/connect"
RECONNECT = "/settings/integrations/{keyshop_connection_id}/reconnect"
SECRET = KEYSHOP_CREDENTIALS["client_secret"]


@pytest.fixture
async def owner(fake_world: FakeWorld) -> AsyncIterator[Merchant]:
    """The owner, signed in to the pages."""
    m = Merchant(fake_world.client, fake_world.api.token, fake_world.api.account_id)
    await m.sign_in()
    yield m
    await m.close()


@pytest.fixture
async def stranger(fake_world: FakeWorld) -> AsyncIterator[Merchant]:
    """The other account, signed in to the pages."""
    m = Merchant(fake_world.client, fake_world.other.token, fake_world.other.account_id)
    await m.sign_in()
    yield m
    await m.close()


def fields(**changed: Any) -> dict[str, Any]:
    return {k: v for k, v in {**KEYSHOP_CREDENTIALS, **changed}.items() if v is not None}


CASES = [
    ("secret-missing", CONNECT, fields(client_secret=None), 400, "Client secret: fill this in."),
    ("secret-empty", CONNECT, fields(client_secret=""), 400, "Client secret: fill this in."),
    ("id-blank", CONNECT, fields(client_id="   "), 400, "Client ID: fill this in."),
    ("id-too-long", CONNECT, fields(client_id="k" * 501), 400, "at most 500 characters"),
    ("id-nul", CONNECT, fields(client_id="keyshop\x00client"), 400, "control characters"),
    ("secret-newline", CONNECT, fields(client_secret=SECRET + "\n" + SECRET), 400, "control characters"),
    ("secret-huge", CONNECT, fields(client_secret="s" * 20_000), 400, "at most 500 characters"),
    ("wrong-secret", CONNECT, fields(client_secret="keyshop-secret-wrong-1111"), 400, "Key shop refused this client ID and secret"),
    ("unknown-client", CONNECT, fields(client_id="keyshop-client-404"), 400, "Key shop refused this client ID and secret"),
    ("connected-already", CONNECT, fields(), 409, "connected already"),
    ("unknown-connector", "/settings/integrations/nope/connect", fields(), 404, "does not exist"),
    ("reconnect-wrong-secret", RECONNECT, fields(client_secret="keyshop-secret-wrong-2222"), 400, "Key shop refused"),
    ("reconnect-secret-missing", RECONNECT, fields(client_secret=""), 400, "Client secret: fill this in."),
    ("reconnect-unknown-connection", "/settings/integrations/999999/reconnect", fields(), 404, "does not exist"),
]


@pytest.mark.parametrize(("path", "data", "status", "says"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
async def test_bad_credentials_forms_get_a_4xx_page_and_change_nothing(
    fake_world: FakeWorld, owner: Merchant, path: str, data: dict[str, str], status: int, says: str
) -> None:
    target = path.format(keyshop_connection_id=fake_world.keyshop_connection_id)
    await owner.get(CONNECT)
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    answer, text, location = await owner.post(target, data)
    assert answer == status, text[-2000:]
    assert says in text
    assert SECRET not in text and SECRET not in location
    for value in data.values():  # nothing typed into a secret field comes back
        if value and value != data.get("client_id"):
            assert value not in text
    assert changes(before, await snapshot(pool)) == []


async def test_a_file_upload_as_secret_is_refused(fake_world: FakeWorld, owner: Merchant) -> None:
    await owner.get(CONNECT)
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    form = aiohttp.FormData()
    form.add_field("csrf_token", owner.csrf)
    form.add_field("client_id", KEYSHOP_CREDENTIALS["client_id"])
    form.add_field("client_secret", SECRET.encode(), filename="secret.txt", content_type="text/plain")
    async with owner.http.post(owner.url(CONNECT), data=form) as response:
        text = await response.text()
        assert response.status == 400 and "Client secret" in text and SECRET not in text
    assert changes(before, await snapshot(pool)) == []


async def test_a_body_over_the_limit_is_refused(fake_world: FakeWorld, owner: Merchant) -> None:
    await owner.get(CONNECT)
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    body = urlencode({"csrf_token": owner.csrf, **fields(client_secret="s" * (2 * 1024 * 1024))}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with owner.http.post(owner.url(CONNECT), data=io.BytesIO(body), headers=headers) as response:
        assert response.status == 413
    assert changes(before, await snapshot(pool)) == []


@pytest.mark.parametrize("path", [CONNECT, RECONNECT], ids=["connect", "reconnect"])
async def test_forged_csrf_on_the_credentials_forms_is_refused_before_the_shop_is_asked(
    fake_world: FakeWorld, owner: Merchant, stranger: Merchant, path: str
) -> None:
    target = path.format(keyshop_connection_id=fake_world.keyshop_connection_id)
    await owner.get(CONNECT)
    await stranger.get("/settings/integrations")
    client_id, secret = fake_world.keyshop.add_client()  # credentials that would work
    asked = fake_world.keyshop.token_requests()
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    for token in ("forged-token", "", stranger.csrf):
        status, text, _ = await owner.post(target, {"client_id": client_id, "client_secret": secret}, csrf=token)
        assert status == 403 and "nothing was changed" in text, token
        assert secret not in text
    assert fake_world.keyshop.token_requests() == asked
    assert changes(before, await snapshot(pool)) == []


async def test_another_account_cannot_reconnect_the_owners_connection(fake_world: FakeWorld, stranger: Merchant) -> None:
    target = RECONNECT.format(keyshop_connection_id=fake_world.keyshop_connection_id)
    await stranger.get("/settings/integrations")
    asked = fake_world.keyshop.token_requests()
    pool = fake_world.rt.db.pool
    before = await snapshot(pool)
    status, _ = await stranger.get(target)
    assert status == 404
    status, text, _ = await stranger.post(target, dict(KEYSHOP_CREDENTIALS))
    assert status == 404 and "keyshop-default" not in text
    assert fake_world.keyshop.token_requests() == asked
    assert changes(before, await snapshot(pool)) == []
