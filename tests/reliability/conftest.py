"""A shared world for the bad-input and isolation tests: one database and one hub app, set up once.

Each bad-input case makes one request and compares database snapshots, so the cases share a world
(two accounts with connections, orders, a cancelled order, a label, a pending and a disconnected
connection, and a key shop connection connected with credentials, whose event route takes signed
events) instead of paying for a database and an app each. The job workers are off, so nothing
changes the database behind a case's back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.infra.crypto import new_key
from core.infra.plugins import load_connector
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.storage.tokens import create_token, digest
from core.usecases.imports import run_import
from hub.app import create_app
from hub.keys import RUNTIME
from tests.conftest import FAKE, TEMPLATE, _create_database, _drop, _with_database
from tests.contract.fake.shop import FakeShop, close_shop, open_shop
from tests.contract.keyshop import shop as keyshops
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.api.conftest import KEYSHOP, Api, new_api

#: What the owner pasted to connect the key shop.
KEYSHOP_CREDENTIALS = {"client_id": GOOD_CLIENT_ID, "client_secret": GOOD_CLIENT_SECRET}


@dataclass
class FakeWorld:
    """The hub app with the fake connector and what the tests refer to."""

    client: TestClient
    shop: FakeShop
    database_url: str
    settings: HubSettings
    api: Api  # "Merchant One": owns what the other account must not see
    other: Api  # "Merchant Two"
    connection_id: int  # api's, connected
    pending_connection_id: int  # api's, waiting for authorisation
    disconnected_connection_id: int  # api's
    order_id: int  # api's open order, no label
    labelled_order_id: int  # api's open order with label ``label_id``
    cancelled_order_id: int  # api's
    label_id: int
    run_id: int  # api's last import run
    other_connection_id: int
    other_order_id: int
    other_label_id: int
    revoked_token: str  # the owner's, revoked
    used_callback: dict[str, str]  # the parameters of the owner's completed connect (state and code used)
    keyshop: KeyShop  # the key shop (credentials style, signed events)
    keyshop_connection_id: int  # api's, connected with KEYSHOP_CREDENTIALS
    event_path: str  # the path where the key shop posts the owner's connection's events
    owner_values: list[str] = field(default_factory=list)  # strings only the owner's data holds

    @property
    def rt(self) -> Runtime:
        """The app's runtime."""
        return self.client.server.app[RUNTIME]

    def cli_env(self, folder: Path) -> dict[str, str]:
        """Environment for `hub` commands on this world's database and key."""
        config = folder / "hub.toml"
        config.write_text("# empty: everything from the environment\n", encoding="utf-8")
        return {
            "HUB_CONFIG": str(config),
            "HUB_DATABASE__URL": self.database_url,
            "HUB_DATA_DIR": str(folder / "data"),
            "HUB_SECURITY__ENCRYPTION_KEYS": json.dumps(
                [key.get_secret_value() for key in self.settings.security.encryption_keys]
            ),
        }


async def connect(api: Api, shop: FakeShop) -> tuple[int, dict[str, str]]:
    """Connect the fake shop for an account through the API and the callback route; the id and the callback's parameters."""
    status, body = await api.call("POST", "/api/v1/connections", json={"connector": "fake", "marketplace": "nl"})
    assert status == 201, body
    params = shop.consent(body["authorize_url"])
    response = await api.client.get("/connect/callback?" + urlencode(params))
    assert response.status == 200, await response.text()
    return body["connection"]["id"], params


async def order_id_of(api: Api, external_id: str) -> int:
    """The hub's id of one of the account's orders."""
    _, body = await api.call("GET", "/api/v1/orders", params={"limit": "500"})
    return next(o["id"] for o in body["orders"] if o["external_id"] == external_id)


@pytest.fixture(scope="package")
async def fake_world(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakeWorld]:
    """The world, built through the API and core's use cases."""
    name = await _create_database(pg_admin_url, TEMPLATE)
    url = _with_database(pg_admin_url, name)
    settings = HubSettings(
        data_dir=tmp_path_factory.mktemp("reliability") / "data",
        database={"url": url, "pool_min": 1, "pool_max": 5},
        security={"encryption_keys": [new_key()]},
        jobs={"enabled": False},
    )
    shop = open_shop("default")
    keyshop = keyshops.open_shop("default")
    app = create_app(settings, connectors=[load_connector(FAKE, settings), load_connector(KEYSHOP, settings)])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        rt = client.server.app[RUNTIME]
        api, other = await new_api(client, "Merchant One"), await new_api(client, "Merchant Two")

        other_connection, _ = await connect(other, shop)
        shop.add_order("F-OTHER-1", name="Olga Otherbuyer")
        await run_import(rt, other_connection)
        other_order = await order_id_of(other, "F-OTHER-1")
        status, other_label = await other.call(
            "POST", "/api/v1/labels", json={"order_id": other_order, "label_id": "OTHER-LABEL", "parcels": [{"tracking_number": "GLSOTHER1"}]}
        )
        assert status == 201, other_label

        connection, callback = await connect(api, shop)
        for n in (1, 2, 3):
            shop.add_order(f"F-OWN-{n}", name=f"Owen Ownerbuyer-{n}", street=f"Geheimstraat {n}0", city="Owncity")
        await run_import(rt, connection)
        shop.cancel_order("F-OWN-3")
        run = await run_import(rt, connection)
        labelled = await order_id_of(api, "F-OWN-2")
        status, label = await api.call(
            "POST", "/api/v1/labels", json={"order_id": labelled, "label_id": "OWNER-LABEL-1", "parcels": [{"tracking_number": "GLSOWNER1"}]}
        )
        assert status == 201, label
        status, pending = await api.call("POST", "/api/v1/connections", json={"connector": "fake"})
        assert status == 201, pending
        status, gone = await api.call("POST", "/api/v1/connections", json={"connector": "fake"})
        assert status == 201, gone
        await rt.db.pool.execute("update connections set state = 'disconnected' where id = $1", gone["connection"]["id"])

        status, keyshop_connection = await api.call(
            "POST", "/api/v1/connections", json={"connector": "keyshop", "fields": KEYSHOP_CREDENTIALS}
        )
        assert status == 201, keyshop_connection
        (events_url,) = keyshop.subscriptions

        revoked = await create_token(rt.db.pool, api.account_id, "revoked")
        await rt.db.pool.execute("update api_tokens set revoked_at = now() where digest = $1", digest(revoked))

        world = FakeWorld(
            client=client,
            shop=shop,
            database_url=url,
            settings=settings,
            api=api,
            other=other,
            connection_id=connection,
            pending_connection_id=pending["connection"]["id"],
            disconnected_connection_id=gone["connection"]["id"],
            order_id=await order_id_of(api, "F-OWN-1"),
            labelled_order_id=labelled,
            cancelled_order_id=await order_id_of(api, "F-OWN-3"),
            label_id=label["id"],
            run_id=run.id,
            other_connection_id=other_connection,
            other_order_id=other_order,
            other_label_id=other_label["id"],
            revoked_token=revoked,
            used_callback=callback,
            keyshop=keyshop,
            keyshop_connection_id=keyshop_connection["connection"]["id"],
            event_path=urlsplit(events_url).path,
            owner_values=[
                "Merchant One", "F-OWN-", "Owen Ownerbuyer", "Geheimstraat", "Owncity", "OWNER-LABEL-1", "GLSOWNER1", api.token,
                GOOD_CLIENT_SECRET,
            ],
        )
        yield world
    close_shop("default")
    keyshops.close_shop("default")
    await _drop(pg_admin_url, name)
