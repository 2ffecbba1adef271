"""The install guide's journey in headless Chromium, against the hub and the Amazon and bol.com simulators on 127.0.0.1.

Sign in, All integrations (Amazon and bol.com), Connect (pick NL), the simulator's Seller Central
consent page (tick, Confirm), back connected, tick "Update the tracking code in the shop", Start
import and watch its progress, the Shipments work list, search it, create a label on the order's
page, see the push confirmed, find the order under Shipped at once and Shipped at the simulator.
bol.com's journey: the Client ID and secret pasted (a wrong secret first), the import with bol.com's
FBB and VVB orders skipped and explained, a label accepted by bol.com and confirmed when its process
status settles and the simulator's signed webhook reaches the hub. The key shop's journey: the same
for a shop in memory, with the contract kit's test connector.
Each once in English and once in Dutch (chosen by the browser's language).

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``HUB_CHROMIUM``) and Playwright for Python;
the tests skip, saying why, without them, but fail when ``HUB_REQUIRE_BROWSER`` is set (``.ci/run``,
which installs both, sets it). ``HUB_SCREENSHOTS=1`` saves a screenshot of each page to
``docs/screenshots/``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.amazon.simulator import RunningSimulator, SimulatorConfig, run_simulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from connectors.bol import simulator as bol_simulator
from connectors.bol.mapping import SKIP_FBB, SKIP_VVB
from core.infra.plugins import load_connector
from core.infra.settings import HubSettings
from core.storage import orders as order_store
from core.storage.accounts import create_account
from core.storage.tokens import create_token
from hub.app import create_app
from hub.keys import RUNTIME
from hub.web.i18n import translator
from tests.contract.keyshop.shop import GOOD_CLIENT_ID, GOOD_CLIENT_SECRET, KeyShop
from tests.hub.api.conftest import KEYSHOP
from tests.hub.web.conftest import bol_app

#: Set by .ci/run, which installs Chromium and Playwright: there a missing one fails the tests.
REQUIRE_BROWSER = os.environ.get("HUB_REQUIRE_BROWSER", "") not in ("", "0")

playwright_api = (
    importlib.import_module("playwright.async_api")
    if REQUIRE_BROWSER
    else pytest.importorskip(
        "playwright.async_api", reason="Playwright for Python is not installed (pip install -e '.[test]')"
    )
)


def find_chromium() -> str | None:
    """Debian's chromium, or the one HUB_CHROMIUM names."""
    for candidate in (os.environ.get("HUB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
NO_CHROMIUM = "no Chromium found: apt-get install chromium (or set HUB_CHROMIUM) to run the browser tests"
pytestmark = pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER, reason=NO_CHROMIUM)

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
#: Generous for a loaded CI machine; every wait ends as soon as its condition holds.
TIMEOUT_MS = 20_000

expect = playwright_api.expect


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for the session."""
    if CHROMIUM is None:  # only with HUB_REQUIRE_BROWSER: without it the tests skip
        pytest.fail(f"{NO_CHROMIUM}; HUB_REQUIRE_BROWSER is set, so this is a failure", pytrace=False)
    async with playwright_api.async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        await launched.close()


@dataclass
class Hub:
    """The hub serving on 127.0.0.1 next to the Amazon and bol.com simulators, and a merchant's account token."""

    url: str
    app: web.Application
    sim: RunningSimulator
    bol: bol_simulator.RunningSimulator
    token: str
    account_id: int
    import_gate: asyncio.Event


@pytest.fixture
async def hub(
    settings: HubSettings, bol_sim: bol_simulator.RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Hub]:
    """The hub with its job workers and the installed connectors, Amazon and bol.com, each pointed at its simulator."""
    async with run_simulator(SimulatorConfig(seed=7, sellers=1, orders_per_seller=20, marketplaces=["NL"])) as sim:
        # Bound first, so that the public URL (and so the OAuth redirect URI) names the real port.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        served = settings.model_copy(
            update={
                "server": settings.server.model_copy(update={"public_url": url}),
                "jobs": settings.jobs.model_copy(update={"tick_seconds": 0.5, "retry_base_seconds": 0.05}),
                "connectors": {
                    "amazon": {
                        "endpoint": sim.url,
                        "application_id": DEFAULT_APPLICATION_ID,
                        "client_id": DEFAULT_CLIENT_ID,
                        "client_secret": DEFAULT_CLIENT_SECRET,
                    },
                    "bol": bol_app(bol_sim),
                },
            }
        )
        app = create_app(served)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            rt = app[RUNTIME]
            gate = asyncio.Event()
            _hold_imports_after_first_page(rt, gate, monkeypatch)
            account = await create_account(rt.db.pool, "Bakkerij Jansen")
            yield Hub(url, app, sim, bol_sim, await create_token(rt.db.pool, account.id), account.id, gate)
        finally:
            await runner.cleanup()


def _hold_imports_after_first_page(rt: Any, gate: asyncio.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each import after its first stored page until ``gate`` opens, so the progress page is seen running."""
    pages = rt.runner.import_orders

    async def held(context: Any, cursor: Any) -> AsyncIterator[Any]:
        async for page in pages(context, cursor):
            yield page
            await gate.wait()

    monkeypatch.setattr(rt.runner, "import_orders", held)


@dataclass(frozen=True)
class Words:
    """What the pages say in one language."""

    locale: str
    sign_in: str
    token: str
    integrations: str
    connect: str
    marketplace: str
    continue_to: str
    connected: str
    details: str
    update_tracking: str
    save: str
    saved: str
    import_from_shop: str
    start_import: str
    importing: str
    result: str
    see_shipments: str
    tracking_number: str
    create_label: str
    confirmed: str
    shipments: str
    to_ship: str
    shipped: str
    search: str
    main_menu: str


ENGLISH = Words(
    locale="en-GB",
    sign_in="Sign in",
    token="API token",
    integrations="All integrations",
    connect="Connect",
    marketplace="Marketplace",
    continue_to="Continue to Amazon",
    connected="Connected",
    details="Integration details",
    update_tracking="Update the tracking code in the shop",
    save="Save",
    saved="Settings saved.",
    import_from_shop="Import from shop",
    start_import="Start import",
    importing="Importing",
    result="Result: Finished",
    see_shipments="See the shipments",
    tracking_number="Tracking number",
    create_label="Create label",
    confirmed="Confirmed by the shop",
    shipments="Shipments",
    to_ship="To ship",
    shipped="Shipped",
    search="Search",
    main_menu="Main menu",
)
DUTCH = Words(
    locale="nl-NL",
    sign_in="Aanmelden",
    token="API-token",
    integrations="Alle integraties",
    connect="Koppelen",
    marketplace="Marktplaats",
    continue_to="Verder naar Amazon",
    connected="Gekoppeld",
    details="Integratie details",
    update_tracking="Update de trackingcode in de shop",
    save="Opslaan",
    saved="Instellingen opgeslagen.",
    import_from_shop="Importeer uit Shop",
    start_import="Import starten",
    importing="Bezig met importeren",
    result="Resultaat: Klaar",
    see_shipments="Naar de zendingen",
    tracking_number="Trackingnummer",
    create_label="Label aanmaken",
    confirmed="Bevestigd door de shop",
    shipments="Zendingen",
    to_ship="Te verzenden",
    shipped="Verzonden",
    search="Zoeken",
    main_menu="Hoofdmenu",
)


class Camera:
    """Saves a screenshot of each page when HUB_SCREENSHOTS=1 (so CI leaves the repository as it is)."""

    def __init__(self, page: Any, lang: str) -> None:
        self.page, self.lang, self.count = page, lang, 0
        self.enabled = os.environ.get("HUB_SCREENSHOTS") == "1"

    async def shot(self, name: str) -> None:
        self.count += 1
        if self.enabled:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(SCREENSHOTS / f"{self.lang}-{self.count:02d}-{name}.png"), full_page=True)


@pytest.mark.parametrize("words", [ENGLISH, DUTCH], ids=["english", "dutch"])
async def test_the_merchant_journey_in_a_browser(browser: Any, hub: Hub, words: Words) -> None:
    context = await browser.new_context(locale=words.locale, viewport={"width": 1100, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    camera = Camera(page, words.locale[:2])
    rt = hub.app[RUNTIME]
    try:
        # Sign in, with the keyboard: the skip link comes first, the focus is visible, Enter submits.
        await page.goto(hub.url + "/")
        await expect(page.get_by_role("heading", name=words.sign_in)).to_be_visible()
        assert await page.get_attribute("html", "lang") == words.locale[:2]
        await page.keyboard.press("Tab")
        await expect(page.locator("a.skip")).to_be_focused()
        assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        await page.get_by_label(words.token).focus()
        await page.keyboard.type(hub.token)
        await camera.shot("sign-in")
        await page.keyboard.press("Enter")

        # Settings > All integrations: the cards of Amazon and bol.com with their logos, not connected.
        await expect(page.get_by_role("heading", name=words.integrations, exact=True)).to_be_visible()
        await expect(page.locator(".card h2")).to_have_text(["Amazon", "bol.com"])
        for logo in await page.locator(".card img").all():
            assert await logo.evaluate("img => img.complete && img.naturalWidth > 0")
        card = page.locator("#integration-amazon")
        await camera.shot("all-integrations")
        await card.get_by_role("link", name=words.connect, exact=True).click()

        # Connect: pick NL, off to Seller Central (the simulator).
        await page.get_by_label(words.marketplace).select_option("NL")
        await camera.shot("connect")
        await page.get_by_role("button", name=words.continue_to).click()
        await expect(page.get_by_role("heading", name=re.compile("^Authorise"))).to_be_visible()
        await page.get_by_label(re.compile("^I direct Amazon to provide")).check()
        await camera.shot("seller-central-consent")
        await page.get_by_role("button", name="Confirm").click()

        # Back at the hub: connected.
        await expect(page.get_by_role("heading", name=words.connected, exact=True)).to_be_visible()
        assert page.url.startswith(hub.url + "/connect/callback")
        await camera.shot("connected")
        await page.get_by_role("link", name=words.details).click()

        # Integration details: tick "Update the tracking code in the shop" (Space on the focused box).
        box = page.get_by_label(words.update_tracking)
        await expect(box).not_to_be_checked()
        await box.focus()
        await page.keyboard.press("Space")
        await page.get_by_role("button", name=words.save).click()
        await expect(page.get_by_role("status").filter(has_text=words.saved)).to_be_visible()
        await expect(page.get_by_label(words.update_tracking)).to_be_checked()
        await expect(page.locator("#marketplaces")).to_have_text("NL")
        await camera.shot("integration-details")

        # Shipping > Import from shop: Start import, progress while it runs, then the result.
        await page.get_by_role("link", name=words.import_from_shop).click()
        await camera.shot("import-from-shop")
        await page.get_by_role("button", name=words.start_import).click()
        progress = page.locator("#progress")
        await expect(progress.get_by_role("status")).to_contain_text(words.importing)
        await expect(progress.locator("[data-field='pages']")).to_have_text("1")  # updated live by the poll
        imported = int(await progress.locator("[data-field='new']").inner_text())
        assert imported > 0
        await camera.shot("import-progress")
        hub.import_gate.set()
        await expect(page.get_by_role("heading", name=words.result)).to_be_visible()
        await expect(page.locator("[data-field='new']")).to_have_text(str(imported))
        await camera.shot("import-result")
        await page.get_by_role("link", name=words.see_shipments).click()

        # Shipments, the work list: what is to ship, earliest ship-by date first, with Amazon's order numbers.
        await expect(page.get_by_role("heading", name=words.shipments, exact=True)).to_be_visible()
        await expect(page.get_by_role("link", name=words.to_ship, exact=True)).to_have_attribute("aria-current", "page")
        rows = page.locator("table.shipments tbody tr")
        assert await rows.count() == min(imported, 25)
        first = rows.first
        order_id = int((await first.get_attribute("id")).removeprefix("order-"))
        stored = await order_store.get_order(rt.db.pool, rt.vault, order_id)
        await expect(first.get_by_role("link", name=stored.order.external_id)).to_be_visible()
        assert stored.order.ship_by is not None and stored.order.ship_by.latest is not None
        await expect(first).to_contain_text(stored.order.ship_by.latest.strftime("%Y-%m-%d"))
        await camera.shot("shipments")

        # Search by the recipient's city finds it; the order's own page creates the label, confirmed by Amazon live.
        assert stored.order.recipient is not None and stored.order.recipient.city
        await page.get_by_label(words.search, exact=True).fill(stored.order.recipient.city)
        await page.get_by_role("button", name=words.search, exact=True).click()
        await expect(page.locator(f"#order-{order_id}")).to_be_visible()
        await page.locator(f"#order-{order_id}").get_by_role("link", name=stored.order.external_id).click()
        await expect(page.get_by_role("heading", name=re.compile(re.escape(stored.order.external_id)))).to_be_visible()
        await page.get_by_label(words.tracking_number).fill("GLS0012345678")
        await page.get_by_role("button", name=words.create_label).click()
        await expect(page.get_by_text(words.confirmed)).to_be_visible()
        await expect(page.locator(".parcels")).to_contain_text("GLS0012345678")
        await expect(page.locator("[data-order-state]")).to_have_text(words.shipped)  # updated live too
        await camera.shot("order")

        # Every item in a confirmed parcel: Shipped at once, without waiting for the next import.
        await page.get_by_role("navigation", name=words.main_menu).get_by_role("link", name=words.shipments, exact=True).click()
        await page.get_by_role("link", name=words.shipped, exact=True).click()
        shipped = page.locator(f"#order-{order_id}")
        await expect(shipped).to_contain_text(words.shipped)
        await expect(shipped).to_contain_text("GLS0012345678")
        await camera.shot("shipped")

        # Amazon has the shipment: the order is Shipped at the simulator, confirmed once, carrier GLS.
        stored = await order_store.get_order(rt.db.pool, rt.vault, order_id)
        at_amazon = hub.sim.state.order(stored.order.external_id)
        assert at_amazon.status == "SHIPPED"
        (confirmation,) = hub.sim.state.confirmations_of(order_id=stored.order.external_id)
        assert "GLS0012345678" in json.dumps(confirmation.payload) and confirmation.action == "created"
    finally:
        await context.close()


# bol.com: pasted credentials, bol.com's own orders skipped with a reason, parcels settled later.


@dataclass(frozen=True)
class BolWords:
    """What the pages say in one language, for bol.com's journey."""

    locale: str
    token: str
    integrations: str
    connect: str
    heading: str
    help: str
    refused: str
    connected: str
    details: str
    marketplaces: str
    update_tracking: str
    save: str
    saved: str
    import_from_shop: str
    start_import: str
    importing: str
    result: str
    skipped_by_reason: str
    see_shipments: str
    search: str
    tracking_number: str
    create_label: str
    accepted: str
    confirmed: str
    shipped: str


BOL_ENGLISH = BolWords(
    locale="en-GB", token="API token", integrations="All integrations", connect="Connect", heading="Connect bol.com",
    help="In the bol.com Seller Dashboard, go to Instellingen > Diensten > API instellingen",
    refused="The shop did not accept these details:", connected="Connected", details="Integration details",
    marketplaces="Marketplaces", update_tracking="Update the tracking code in the shop", save="Save",
    saved="Settings saved.", import_from_shop="Import from shop", start_import="Start import", importing="Importing",
    result="Result: Finished", skipped_by_reason="Skipped orders by reason", see_shipments="See the shipments",
    search="Search", tracking_number="Tracking number", create_label="Create label",
    accepted="Accepted by the shop, waiting for its confirmation", confirmed="Confirmed by the shop", shipped="Shipped",
)
BOL_DUTCH = BolWords(
    locale="nl-NL", token="API-token", integrations="Alle integraties", connect="Koppelen", heading="bol.com koppelen",
    help="Ga in het bol.com Verkoopaccount naar Instellingen > Diensten > API instellingen",
    refused="De shop accepteerde deze gegevens niet:", connected="Gekoppeld", details="Integratie details",
    marketplaces="Marktplaatsen", update_tracking="Update de trackingcode in de shop", save="Opslaan",
    saved="Instellingen opgeslagen.", import_from_shop="Importeer uit Shop", start_import="Import starten",
    importing="Bezig met importeren", result="Resultaat: Klaar",
    skipped_by_reason="Overgeslagen bestellingen per reden", see_shipments="Naar de zendingen", search="Zoeken",
    tracking_number="Trackingnummer", create_label="Label aanmaken",
    accepted="Geaccepteerd door de shop, wacht op bevestiging", confirmed="Bevestigd door de shop", shipped="Verzonden",
)


@pytest.mark.parametrize("words", [BOL_ENGLISH, BOL_DUTCH], ids=["english", "dutch"])
async def test_a_merchant_connects_bolcom_and_sees_a_parcel_confirmed_once_bolcom_settles_it(
    browser: Any, hub: Hub, words: BolWords
) -> None:
    bol = hub.bol.state
    # The retailer's open orders: two it ships itself, one bol.com ships (FBB), one with bol.com's own label (VVB).
    own = [bol.new_order(shape="fbr").order_id, bol.new_order(shape="multi").order_id]
    bol.new_order(items=[bol_simulator.ItemCreate(method="FBB")])
    bol.new_order(items=[bol_simulator.ItemCreate(method="FBR", distributionParty="BOL")])
    context = await browser.new_context(locale=words.locale, viewport={"width": 1100, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    camera = Camera(page, f"bol-{words.locale[:2]}")
    wrong = "bol-secret-mistyped-0000"
    try:
        await page.goto(hub.url + "/")
        await page.get_by_label(words.token).fill(hub.token)
        await page.keyboard.press("Enter")

        # All integrations: Amazon and bol.com; bol.com's Connect.
        await expect(page.get_by_role("heading", name=words.integrations, exact=True)).to_be_visible()
        await expect(page.locator(".card h2")).to_have_text(["Amazon", "bol.com"])
        card = page.locator("#integration-bol")
        assert await card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
        await card.get_by_role("link", name=words.connect, exact=True).click()

        # The form says where the Seller Dashboard keeps the credentials; a mistyped secret first.
        await expect(page.get_by_role("heading", name=words.heading)).to_be_visible()
        await expect(page.locator("#field-client_id-hint")).to_contain_text(words.help)
        await expect(page.locator("#field-client_secret-hint")).to_contain_text("Diensten > API instellingen")
        secret = page.get_by_label("Client secret")
        assert await secret.get_attribute("type") == "password"
        await page.get_by_label("Client ID").fill(bol_simulator.DEFAULT_CLIENT_ID)
        # The whole pasted Client ID (bol.com's are 36 characters) shows, to be checked by eye.
        assert await page.get_by_label("Client ID").evaluate("input => input.scrollWidth <= input.clientWidth")
        await secret.fill(wrong)
        await camera.shot("connect")
        await page.get_by_role("button", name=words.connect, exact=True).click()

        # Still on the form with bol.com's reason; the ID kept, the secret not.
        await expect(page.get_by_role("alert")).to_contain_text(words.refused)
        await expect(page.get_by_role("alert")).to_contain_text("Bad client credentials")  # bol.com's own words
        await expect(page.get_by_label("Client ID")).to_have_value(bol_simulator.DEFAULT_CLIENT_ID)
        await expect(page.get_by_label("Client secret")).to_have_value("")
        assert wrong not in await page.content() and wrong not in page.url
        await camera.shot("connect-refused")
        await page.get_by_label("Client secret").fill(bol_simulator.DEFAULT_CLIENT_SECRET)
        await page.get_by_role("button", name=words.connect, exact=True).click()

        # Connected, keyed by the retailer; the hub subscribed its own event route (bol.com makes it at once here).
        await expect(page.get_by_role("heading", name=words.connected, exact=True)).to_be_visible()
        assert bol_simulator.DEFAULT_CLIENT_SECRET not in page.url + await page.content()
        bol.settle_all()
        (subscription,) = bol.subscriptions.values()
        assert subscription.url.startswith(hub.url + "/") and subscription.enabled
        await page.get_by_role("link", name=words.details).click()
        await expect(page.get_by_text(bol_simulator.DEFAULT_RETAILER_ID)).to_be_visible()
        await expect(page.locator("dl.facts")).not_to_contain_text(words.marketplaces)  # bol.com has none
        await page.get_by_label(words.update_tracking).check()
        await page.get_by_role("button", name=words.save).click()
        await expect(page.get_by_role("status").filter(has_text=words.saved)).to_be_visible()

        # Import from shop: one run (the scheduler's, held after its first page, or this one), then the
        # result with bol.com's FBB and VVB orders skipped and why.
        await page.get_by_role("link", name=words.import_from_shop).click()
        await page.get_by_role("button", name=words.start_import).click()
        await expect(page.locator("#progress").get_by_role("status")).to_contain_text(words.importing)
        hub.import_gate.set()
        await expect(page.get_by_role("heading", name=words.result)).to_be_visible()
        await expect(page.locator("[data-field='new']")).to_have_text(str(len(own)))
        await expect(page.locator("[data-field='skipped']")).to_have_text("2")
        reasons = page.get_by_role("table").filter(has_text=words.skipped_by_reason)
        say = translator(words.locale[:2])  # bol.com's skip reasons are catalogued: Dutch on Dutch pages
        await expect(reasons.get_by_role("row").filter(has_text=say(SKIP_FBB))).to_contain_text("1")
        await expect(reasons.get_by_role("row").filter(has_text=say(SKIP_VVB))).to_contain_text("1")
        await camera.shot("import-result")
        await page.get_by_role("link", name=words.see_shipments).click()

        # Shipments: search by bol.com's order number, the order's page, a label.
        order_id = own[0]
        await page.get_by_label(words.search, exact=True).fill(order_id)
        await page.get_by_role("button", name=words.search, exact=True).click()
        await page.get_by_role("link", name=order_id, exact=True).click()
        await expect(page.get_by_role("heading", name=re.compile(re.escape(order_id)))).to_be_visible()
        await page.get_by_label(words.tracking_number).fill("GLSBOL0012345")
        await page.get_by_role("button", name=words.create_label).click()

        # bol.com accepts the shipment (202) and settles it later: the parcel waits for that.
        parcel = page.locator(".parcels").filter(has_text="GLSBOL0012345")
        await expect(parcel.get_by_text(words.accepted)).to_be_visible()
        items = {item.order_item_id for item in bol.order(order_id).items}
        (process,) = [s for s in bol.processes.values() if s.pending and items & set(s.entity_ids)]
        bol.settle(process.process_status_id)
        # bol.com posts the settled status, signed, to the hub's event route; the page's poll shows it.
        await expect(parcel.get_by_text(words.confirmed)).to_be_visible()
        await expect(page.locator("[data-order-state]")).to_have_text(words.shipped)
        await camera.shot("order")
        (delivery,) = [d for d in bol.deliveries if d.resource_id == process.process_status_id]
        await bol.wait_for(lambda: delivery.state == "delivered", timeout=TIMEOUT_MS / 1000)
        (shipment,) = bol.shipments_made(order_id=order_id)
        assert shipment.transport.track_and_trace == "GLSBOL0012345"
    finally:
        await context.close()


# A credentials connector: the key shop (a bol.com-like shop in memory).


@dataclass
class KeyshopHub:
    """The hub serving on 127.0.0.1 with the key shop connector, its shop, and a merchant's token."""

    url: str
    app: web.Application
    shop: KeyShop
    token: str


@pytest.fixture
async def keyshop_hub(settings: HubSettings, keyshop: KeyShop) -> AsyncIterator[KeyshopHub]:
    """The hub with its job workers and the key shop connector; the shop posts its events to the hub's public URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    served = settings.model_copy(
        update={
            "server": settings.server.model_copy(update={"public_url": url}),
            "jobs": settings.jobs.model_copy(update={"tick_seconds": 0.5, "retry_base_seconds": 0.05}),
        }
    )
    app = create_app(served, connectors=[load_connector(KEYSHOP, served)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        rt = app[RUNTIME]
        account = await create_account(rt.db.pool, "Sleutelwinkel")
        yield KeyshopHub(url, app, keyshop, await create_token(rt.db.pool, account.id))
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class KeyWords:
    """What the pages say in one language, for the credentials journey."""

    locale: str
    token: str
    connect: str
    heading: str
    refused: str
    connected: str
    details: str
    update_tracking: str
    save: str
    saved: str
    import_from_shop: str
    start_import: str
    result: str
    see_shipments: str
    tracking_number: str
    create_label: str
    accepted: str
    confirmed: str


KEY_ENGLISH = KeyWords(
    locale="en-GB", token="API token", connect="Connect", heading="Connect Key shop",
    refused="The shop did not accept these details:", connected="Connected", details="Integration details",
    update_tracking="Update the tracking code in the shop", save="Save", saved="Settings saved.",
    import_from_shop="Import from shop", start_import="Start import", result="Result: Finished",
    see_shipments="See the shipments", tracking_number="Tracking number", create_label="Create label",
    accepted="Accepted by the shop, waiting for its confirmation", confirmed="Confirmed by the shop",
)
KEY_DUTCH = KeyWords(
    locale="nl-NL", token="API-token", connect="Koppelen", heading="Key shop koppelen",
    refused="De shop accepteerde deze gegevens niet:", connected="Gekoppeld", details="Integratie details",
    update_tracking="Update de trackingcode in de shop", save="Opslaan", saved="Instellingen opgeslagen.",
    import_from_shop="Importeer uit Shop", start_import="Import starten", result="Resultaat: Klaar",
    see_shipments="Naar de zendingen", tracking_number="Trackingnummer", create_label="Label aanmaken",
    accepted="Geaccepteerd door de shop, wacht op bevestiging", confirmed="Bevestigd door de shop",
)


@pytest.mark.parametrize("words", [KEY_ENGLISH, KEY_DUTCH], ids=["english", "dutch"])
async def test_a_merchant_connects_a_shop_by_pasting_its_credentials(browser: Any, keyshop_hub: KeyshopHub, words: KeyWords) -> None:
    hub, shop = keyshop_hub, keyshop_hub.shop
    shop.add_order("K-0001", name="Kees Keyzer", street="Sleutelstraat 2", postal_code="3511 AA", city="Utrecht")
    context = await browser.new_context(locale=words.locale, viewport={"width": 1100, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    camera = Camera(page, f"keyshop-{words.locale[:2]}")
    wrong = "keyshop-secret-mistyped-0000"
    try:
        await page.goto(hub.url + "/")
        await page.get_by_label(words.token).fill(hub.token)
        await page.keyboard.press("Enter")

        # All integrations: the key shop's card, Connect.
        card = page.locator("#integration-keyshop")
        await card.get_by_role("link", name=words.connect, exact=True).click()

        # The connector's form: the client ID as text, the secret as a password; a mistyped secret first.
        await expect(page.get_by_role("heading", name=words.heading)).to_be_visible()
        secret = page.get_by_label("Client secret")
        assert await secret.get_attribute("type") == "password" and await secret.get_attribute("autocomplete") == "off"
        await page.get_by_label("Client ID").fill(GOOD_CLIENT_ID)
        await secret.fill(wrong)
        await camera.shot("connect-form")
        await page.get_by_role("button", name=words.connect, exact=True).click()

        # Still on the form, with the shop's reason; the ID kept, the secret not.
        await expect(page.get_by_role("alert")).to_contain_text(words.refused)
        await expect(page.get_by_role("alert")).to_contain_text("Key shop refused this client ID and secret")
        await expect(page.get_by_label("Client ID")).to_have_value(GOOD_CLIENT_ID)
        await expect(page.get_by_label("Client secret")).to_have_value("")
        assert wrong not in await page.content() and wrong not in page.url
        await camera.shot("connect-refused")
        await page.get_by_label("Client secret").fill(GOOD_CLIENT_SECRET)
        await page.get_by_role("button", name=words.connect, exact=True).click()

        # Connected: no secret in the address, the connection keyed by the shop's account.
        await expect(page.get_by_role("heading", name=words.connected, exact=True)).to_be_visible()
        assert GOOD_CLIENT_SECRET not in page.url and GOOD_CLIENT_SECRET not in await page.content()
        await camera.shot("connected")
        await page.get_by_role("link", name=words.details).click()
        await page.get_by_label(words.update_tracking).check()
        await page.get_by_role("button", name=words.save).click()
        await expect(page.get_by_role("status").filter(has_text=words.saved)).to_be_visible()

        # Import from shop.
        await page.get_by_role("link", name=words.import_from_shop).click()
        await page.get_by_role("button", name=words.start_import).click()
        # (The scheduler may have imported the order a moment before: the run then finds it unchanged.)
        await expect(page.get_by_role("heading", name=words.result)).to_be_visible()
        await page.get_by_role("link", name=words.see_shipments).click()

        # Shipments: the order's page, a label; the shop accepts the parcel and confirms it later.
        await page.get_by_role("link", name="K-0001", exact=True).click()
        await page.get_by_label(words.tracking_number).fill("GLSKEY0001")
        await page.get_by_role("button", name=words.create_label).click()
        labelled = page.locator(".parcels").filter(has_text="GLSKEY0001")
        await expect(labelled.get_by_text(words.accepted)).to_be_visible()
        await camera.shot("accepted")
        (process_id,) = shop.pending_processes()
        shop.settle(process_id, "SUCCESS")
        # The shop tells the hub at once through its signed event (polling would find it too).
        async with aiohttp.ClientSession() as session:
            answers = await shop.deliver(session)
        assert answers and all(status in (200, 204) for _, status in answers), answers
        await expect(labelled.get_by_text(words.confirmed)).to_be_visible()  # updated live by the page's poll
        await camera.shot("confirmed")
        assert shop.shipment_count("K-0001") == 1
    finally:
        await context.close()
