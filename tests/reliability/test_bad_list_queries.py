"""Shipments' filters, search and page links with bad or hostile input: a 400 page or an empty list,
never a 500, never another account's order, and the database as it was."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from tests.hub.web.conftest import Merchant
from tests.reliability.conftest import FakeWorld
from tests.reliability.snapshot import changes, snapshot


@pytest.fixture
async def owner(fake_world: FakeWorld) -> AsyncIterator[Merchant]:
    m = Merchant(fake_world.client, fake_world.api.token, fake_world.api.account_id)
    await m.sign_in()
    yield m
    await m.close()


@pytest.fixture
async def stranger(fake_world: FakeWorld) -> AsyncIterator[Merchant]:
    m = Merchant(fake_world.client, fake_world.other.token, fake_world.other.account_id)
    await m.sign_in()
    yield m
    await m.close()


BROKEN = ["state=lost", "after=x", "after=-1", "after=1e3", "before=" + "9" * 19, "after=1&before=2", "state=all%00"]


@pytest.mark.parametrize("query", BROKEN)
async def test_a_broken_list_link_is_a_400_page(fake_world: FakeWorld, owner: Merchant, query: str) -> None:
    before = await snapshot(fake_world.rt.db.pool)
    status, text = await owner.get(f"/shipping/shipments?{query}")
    assert status == 400 and "<h1>That did not work</h1>" in text
    assert changes(before, await snapshot(fake_world.rt.db.pool)) == []


HOSTILE = ["%", "_", "\\", "%%%", "'; drop table orders; --", "q\x00z", "\x1b[31m", "ő" * 300, "x" * 5_000, "(", "*", "[a-z]"]


@pytest.mark.parametrize("search", HOSTILE, ids=range(len(HOSTILE)))
async def test_any_search_text_is_a_list_not_an_error(fake_world: FakeWorld, owner: Merchant, search: str) -> None:
    before = await snapshot(fake_world.rt.db.pool)
    for state in ("to_ship", "all"):
        status, text = await owner.get(f"/shipping/shipments?state={state}&q={quote(search)}")
        assert status == 200, text[-1500:]
        assert re.findall(r'<tr id="order-\d+">', text) == []
    assert changes(before, await snapshot(fake_world.rt.db.pool)) == []


async def test_another_account_finds_nothing_of_the_owners(fake_world: FakeWorld, owner: Merchant, stranger: Merchant) -> None:
    _, text = await owner.get("/shipping/shipments?state=all&q=Owncity")
    assert len(re.findall(r'<tr id="order-\d+">', text)) == 3  # the owner finds them
    for search in ("Owncity", "Ownerbuyer", "F-OWN-1", "F-OWN", "GLSOWNER1"):
        for state in ("to_ship", "attention", "shipped", "cancelled", "all"):
            status, text = await stranger.get(f"/shipping/shipments?state={state}&q={quote(search)}")
            assert status == 200 and re.findall(r'<tr id="order-\d+">', text) == [], (search, state)
            shown = text.replace(search, "")  # the page repeats what was searched for
            assert not any(value in shown for value in fake_world.owner_values[1:6]), (search, state)
    for anchor in ("after", "before"):
        _, text = await stranger.get(f"/shipping/shipments?state=all&{anchor}={fake_world.order_id}")
        assert "F-OWN-" not in text and "Owncity" not in text
    status, text = await stranger.get(f"/shipping/shipments/{fake_world.order_id}")
    assert status == 404 and "Owen" not in text
