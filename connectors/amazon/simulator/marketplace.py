"""Amazon marketplaces the simulator knows: ids, names, currencies, Seller Central hosts.

Ids are Amazon's (developer docs, "Marketplace IDs"); the simulator serves every marketplace from
one base URL, so the Seller Central host is informative only.
"""

from __future__ import annotations

from typing import NamedTuple


class Marketplace(NamedTuple):
    """One Amazon marketplace."""

    code: str  # the code the hub and the CLI use (UK, not GB)
    marketplace_id: str
    country_code: str  # ISO 3166-1, as getMarketplaceParticipations returns it
    name: str
    currency: str
    language: str
    domain: str
    seller_central: str


MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        Marketplace("NL", "A1805IZSGTT6HS", "NL", "Amazon.nl", "EUR", "nl_NL", "www.amazon.nl",
                    "https://sellercentral.amazon.nl"),
        Marketplace("DE", "A1PA6795UKMFR9", "DE", "Amazon.de", "EUR", "de_DE", "www.amazon.de",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("FR", "A13V1IB3VIYZZH", "FR", "Amazon.fr", "EUR", "fr_FR", "www.amazon.fr",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("IT", "APJ6JRA9NG5V4", "IT", "Amazon.it", "EUR", "it_IT", "www.amazon.it",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("ES", "A1RKKUPIHCS9HS", "ES", "Amazon.es", "EUR", "es_ES", "www.amazon.es",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("UK", "A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "GBP", "en_GB", "www.amazon.co.uk",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("BE", "AMEN7PMS3EDWL", "BE", "Amazon.com.be", "EUR", "fr_BE", "www.amazon.com.be",
                    "https://sellercentral.amazon.com.be"),
        Marketplace("PL", "A1C3SOZRARQ6R3", "PL", "Amazon.pl", "PLN", "pl_PL", "www.amazon.pl",
                    "https://sellercentral.amazon.pl"),
        Marketplace("SE", "A2NODRKZP88ZB9", "SE", "Amazon.se", "SEK", "sv_SE", "www.amazon.se",
                    "https://sellercentral.amazon.se"),
        Marketplace("IE", "A28R8C7NBKEWEA", "IE", "Amazon.ie", "EUR", "en_IE", "www.amazon.ie",
                    "https://sellercentral-europe.amazon.com"),
        Marketplace("TR", "A33AVAJ2PDY3EV", "TR", "Amazon.com.tr", "TRY", "tr_TR", "www.amazon.com.tr",
                    "https://sellercentral.amazon.com.tr"),
    )
}

BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES.values()}

# Ids Amazon has outside the EU table: accepted as syntactically known in filters.
OTHER_MARKETPLACE_IDS = frozenset({
    "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC", "A19VAU5U5O7RUS",
    "A39IBJ37TRP1C6", "A1VC38T7YXB528", "ARBP9OOSHTCHU", "A17E79C6D8DWNP", "A2VIGQ35RCS4UG",
    "A21TJRUUN4KGV", "AE08WJ6YKNBMC",
})


def marketplace(code_or_id: str) -> Marketplace:
    """The marketplace for a code (``NL``, ``GB`` as ``UK``) or an Amazon marketplace id."""
    key = code_or_id.strip()
    upper = key.upper()
    if upper == "GB":
        upper = "UK"
    if upper in MARKETPLACES:
        return MARKETPLACES[upper]
    if key in BY_ID:
        return BY_ID[key]
    raise KeyError(f"unknown marketplace {code_or_id!r}; known: {', '.join(MARKETPLACES)}")
