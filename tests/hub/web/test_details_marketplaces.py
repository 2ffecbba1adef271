"""Integration details: the merchant narrows the marketplaces a connection imports from; unknown ones change nothing."""

from __future__ import annotations

from multidict import MultiDict

from core.storage.connections import get_connection
from core.usecases import connections
from tests.hub.web.conftest import Merchant


async def amazon_connection(merchant: Merchant) -> int:
    connection, _ = await connections.start_connect(merchant.rt, merchant.account_id, "amazon", {"marketplace": "NL"})
    await connections.change_settings(merchant.rt, None, connection.id, {"marketplaces": ["NL", "DE", "BE"]})
    return connection.id


async def save(merchant: Merchant, connection_id: int, *marketplaces: str, shown: bool = True) -> tuple[int, str]:
    fields = MultiDict([("csrf_token", merchant.csrf), ("update_tracking", "on"), ("import_interval_minutes", "5")])
    if shown:
        fields.add("marketplaces_shown", "on")
    for code in marketplaces:
        fields.add("marketplaces", code)
    async with merchant.http.post(merchant.url(f"/settings/integrations/{connection_id}/settings"), data=fields) as response:
        return response.status, await response.text()


async def test_the_details_page_ticks_the_marketplaces_imported_from_and_saves_a_narrower_choice(
    merchant: Merchant,
) -> None:
    connection_id = await amazon_connection(merchant)

    status, page = await merchant.get(f"/settings/integrations/{connection_id}")

    assert status == 200
    for code in ("NL", "DE", "BE"):
        assert f'id="marketplace-{code}" name="marketplaces" value="{code}" checked' in page
    assert 'id="marketplace-FR" name="marketplaces" value="FR">' in page and "FR – France" in page
    status, _ = await save(merchant, connection_id, "DE", "BE")
    assert status == 200
    assert (await get_connection(merchant.rt.db.pool, connection_id)).settings.marketplaces == ["DE", "BE"]


async def test_unknown_or_no_marketplaces_are_refused_and_change_nothing(merchant: Merchant) -> None:
    connection_id = await amazon_connection(merchant)
    await merchant.get(f"/settings/integrations/{connection_id}")

    unknown = await save(merchant, connection_id, "NL", "XX")
    none = await save(merchant, connection_id)

    assert unknown[0] == 400 and "choose from NL, DE, FR, IT, ES, UK, BE, PL, SE, IE" in unknown[1]
    assert none[0] == 400 and "Tick at least one marketplace" in none[1]
    connection = await get_connection(merchant.rt.db.pool, connection_id)
    assert connection.settings.marketplaces == ["NL", "DE", "BE"] and not connection.settings.update_tracking


async def test_a_form_without_the_marketplaces_keeps_them(merchant: Merchant) -> None:
    connection_id = await amazon_connection(merchant)
    await merchant.get(f"/settings/integrations/{connection_id}")

    status, _ = await save(merchant, connection_id, shown=False)

    assert status == 200
    assert (await get_connection(merchant.rt.db.pool, connection_id)).settings.marketplaces == ["NL", "DE", "BE"]
