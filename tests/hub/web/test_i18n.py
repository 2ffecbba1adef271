"""Every text of the pages has a Dutch translation, and the language follows the switch, then the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import connectors.amazon
from connectors.amazon.const import MARKETPLACES
from core.contract.errors import MESSAGES, ConnectorRejected, message_text, read_message
from core.contract.manifest import read_manifest
from hub.web import i18n
from hub.web.integrations import COUNTRIES

WEB = Path(i18n.__file__).parent
TEMPLATE_TEXT = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
MARKED_TEXT = re.compile(r"""\bN_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)""")


def texts() -> set[str]:
    """Every literal passed to t() in a template and every N_() text in the pages' modules."""
    found = set()
    for template in (WEB / "templates").glob("*.html"):
        found.update(a or b for a, b in TEMPLATE_TEXT.findall(template.read_text(encoding="utf-8")))
    for module in WEB.glob("*.py"):
        for literal in MARKED_TEXT.findall(module.read_text(encoding="utf-8")):
            found.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', literal)))
    return found


def test_every_text_has_a_dutch_translation() -> None:
    found = texts()
    assert len(found) > 100
    assert sorted(found - set(i18n.DUTCH)) == []


def test_the_dutch_catalog_has_no_unused_texts() -> None:
    assert sorted(set(i18n.DUTCH) - texts()) == []


def test_translations_keep_their_placeholders() -> None:
    for english, dutch in i18n.DUTCH.items():
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", dutch)), english


def test_the_guides_words_are_used() -> None:
    t = i18n.translator("nl")
    assert t("All integrations") == "Alle integraties"
    assert t("Connect") == "Koppelen"
    assert t("Integration details") == "Integratie details"
    assert t("Update the tracking code in the shop") == "Update de trackingcode in de shop"
    assert (t("Shipping"), t("Import from shop")) == ("Verzenden", "Importeer uit Shop")
    assert i18n.translator("en")("Connect {name}", name="Amazon") == "Connect Amazon"
    # Messages from core without a translation stay as they are, braces included.
    assert t("No order {7}.") == "No order {7}."


@pytest.mark.parametrize(
    ("cookie", "header", "chosen"),
    [
        (None, None, "en"),
        (None, "nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        (None, "nl-BE", "nl"),
        (None, "de-DE,de;q=0.9,en;q=0.4,nl;q=0.3", "en"),
        (None, "fr, nl;q=0.5, en;q=0.2", "nl"),
        (None, "en;q=0, nl;q=0.1", "nl"),
        (None, "nl;q=bogus, en", "en"),
        ("en", "nl-NL", "en"),
        ("nl", "en-GB", "nl"),
        ("xx", "nl", "nl"),
    ],
)
def test_language_choice(cookie: str | None, header: str | None, chosen: str) -> None:
    assert i18n.choose(cookie, header) == chosen


def test_amazon_offers_known_marketplaces_with_country_names() -> None:
    marketplace = read_manifest(connectors.amazon).connect.field("marketplace")
    assert marketplace is not None
    offered = marketplace.choices
    assert offered[0] == "NL" and {"NL", "DE", "FR", "IT", "ES", "UK", "BE", "PL", "SE"} <= set(offered)
    assert set(offered) <= set(MARKETPLACES) and set(offered) <= set(COUNTRIES)


# Messages by code (core.contract.errors.MESSAGES): connectors' and core's texts, in Dutch with their parameters kept


def test_every_message_code_has_a_dutch_template_with_the_same_parameters() -> None:
    assert set(i18n.CODED_DUTCH) == set(MESSAGES)
    for code, english in MESSAGES.items():
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", i18n.CODED_DUTCH[code])), code


def test_a_catalogued_text_reads_back_to_its_code_even_when_the_shops_words_quote_another() -> None:
    literals = [re.sub(r"\{\w+\}", "Z", template) for template in MESSAGES.values()]
    for code, template in MESSAGES.items():
        names = re.findall(r"\{(\w+)\}", template)
        for quoted in literals:
            params = {name: {"shop": "bol.com", "place": "Seller Central"}.get(name, "12") for name in names}
            if "reason" in params:
                params["reason"] = f"the shop said: {quoted}"
            assert read_message(message_text(code, params)) == (code, params), (code, quoted)
    assert read_message("Something else entirely.") is None


def test_a_coded_error_keeps_its_code_and_parameters() -> None:
    err = ConnectorRejected.coded("tracking_rejected", {"shop": "bol.com", "reason": "Track and trace is invalid."})
    assert err.message == "bol.com rejected the tracking code: Track and trace is invalid."
    assert (err.message_code, err.params) == ("tracking_rejected", {"shop": "bol.com", "reason": "Track and trace is invalid."})


@pytest.mark.parametrize(
    ("said", "dutch"),
    [
        # Amazon's own messages today, recognised by their shape (connectors/amazon/errors.py, auth.py, shipping.py)
        ("The authorisation was declined or cancelled in Seller Central; click Connect to try again.",
         "De toestemming is geweigerd of geannuleerd in Seller Central; klik op Koppelen om het opnieuw te proberen."),
        ("Amazon rejected the tracking code: InvalidInput: carrierCode is invalid (GLS)",
         "Amazon weigerde de trackingcode: InvalidInput: carrierCode is invalid (GLS)"),
        ("Amazon is not answering properly right now; the hub will try again.",
         "Amazon antwoordt nu niet goed; de hub probeert het later opnieuw."),
        ("Amazon refused this connection's access (Unauthorized). Reconnect Amazon under Settings > Integrations.",
         "Amazon weigerde de toegang van deze koppeling (Unauthorized). Koppel Amazon opnieuw onder Instellingen › Alle integraties."),
        # core's own
        ("The authorisation link has expired or was used already: start connecting again.",
         "De toestemmingslink is verlopen of al gebruikt: begin opnieuw met Koppelen."),
        ("Connection 7 became disabled during the import; it stopped.",
         "Koppeling 7 werd uitgeschakeld tijdens de import; de import is gestopt."),
        ("The shop did not confirm this parcel within 48 hours; Retry looks it up at the shop again.",
         "De shop bevestigde dit pakket niet binnen 48 uur; met Opnieuw proberen zoekt de hub het opnieuw op bij de shop."),
    ],
)
def test_messages_a_merchant_reads_are_dutch_on_dutch_pages(said: str, dutch: str) -> None:
    assert i18n.translator("nl")(said) == dutch
    assert i18n.translator("en")(said) == said
