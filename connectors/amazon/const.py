"""Amazon's fixed facts: marketplaces and regions, production endpoints, usage plans, LWA error codes.

Sources are in ../shared/reference/spapi-contract.md (§1.2 Seller Central, §2.1 endpoints, §2.2
marketplace ids, §2.5 usage plans, §1.5 LWA errors). Everything an operator may need to point
elsewhere is a default of ``AmazonSettings``, not a constant used directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta


class Region(str, enum.Enum):
    """An SP-API region: one refresh token per seller and region."""

    NA = "NA"
    EU = "EU"
    FE = "FE"


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace: its country, id, region and production Seller Central."""

    country: str
    id: str
    region: Region
    seller_central: str


_EUROPE = "https://sellercentral-europe.amazon.com"

# IE, SA, EG and ZA are not in Amazon's 2021 table; their Seller Central hosts follow the
# country-domain pattern and are unverified (an operator can override them in settings).
MARKETPLACES: dict[str, Marketplace] = {
    m.country: m
    for m in (
        Marketplace("NL", "A1805IZSGTT6HS", Region.EU, "https://sellercentral.amazon.nl"),
        Marketplace("DE", "A1PA6795UKMFR9", Region.EU, _EUROPE),
        Marketplace("FR", "A13V1IB3VIYZZH", Region.EU, _EUROPE),
        Marketplace("IT", "APJ6JRA9NG5V4", Region.EU, _EUROPE),
        Marketplace("ES", "A1RKKUPIHCS9HS", Region.EU, _EUROPE),
        Marketplace("UK", "A1F83G8C2ARO7P", Region.EU, _EUROPE),
        Marketplace("BE", "AMEN7PMS3EDWL", Region.EU, "https://sellercentral.amazon.com.be"),
        Marketplace("PL", "A1C3SOZRARQ6R3", Region.EU, "https://sellercentral.amazon.pl"),
        Marketplace("SE", "A2NODRKZP88ZB9", Region.EU, "https://sellercentral.amazon.se"),
        Marketplace("IE", "A28R8C7NBKEWEA", Region.EU, "https://sellercentral.amazon.ie"),
        Marketplace("TR", "A33AVAJ2PDY3EV", Region.EU, "https://sellercentral.amazon.com.tr"),
        Marketplace("EG", "ARBP9OOSHTCHU", Region.EU, "https://sellercentral.amazon.eg"),
        Marketplace("SA", "A17E79C6D8DWNP", Region.EU, "https://sellercentral.amazon.sa"),
        Marketplace("AE", "A2VIGQ35RCS4UG", Region.EU, "https://sellercentral.amazon.ae"),
        Marketplace("IN", "A21TJRUUN4KGV", Region.EU, "https://sellercentral.amazon.in"),
        Marketplace("ZA", "AE08WJ6YKNBMC", Region.EU, "https://sellercentral.amazon.co.za"),
        Marketplace("US", "ATVPDKIKX0DER", Region.NA, "https://sellercentral.amazon.com"),
        Marketplace("CA", "A2EUQ1WTGCTBG2", Region.NA, "https://sellercentral.amazon.ca"),
        Marketplace("MX", "A1AM78C64UM0Y8", Region.NA, "https://sellercentral.amazon.com.mx"),
        Marketplace("BR", "A2Q3Y263D00KWC", Region.NA, "https://sellercentral.amazon.com.br"),
        Marketplace("SG", "A19VAU5U5O7RUS", Region.FE, "https://sellercentral.amazon.sg"),
        Marketplace("AU", "A39IBJ37TRP1C6", Region.FE, "https://sellercentral.amazon.com.au"),
        Marketplace("JP", "A1VC38T7YXB528", Region.FE, "https://sellercentral.amazon.co.jp"),
    )
}
MARKETPLACES_BY_ID: dict[str, Marketplace] = {m.id: m for m in MARKETPLACES.values()}

#: The marketplaces a merchant can pick at Connect and keep in a connection's settings: the
#: ``choices`` of the manifest's ``marketplace`` field (a test checks they agree), which core
#: holds ``settings.marketplaces`` to. A new connection imports from those of them the seller
#: sells in.
OFFERED_MARKETPLACES = ("NL", "DE", "FR", "IT", "ES", "UK", "BE", "PL", "SE", "IE")

# Amazon calls the United Kingdom "UK" in its tables and "GB" (ISO 3166) in addresses.
COUNTRY_ALIASES = {"GB": "UK"}

SP_API_ENDPOINTS: dict[Region, str] = {
    Region.NA: "https://sellingpartnerapi-na.amazon.com",
    Region.EU: "https://sellingpartnerapi-eu.amazon.com",
    Region.FE: "https://sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
LWA_TOKEN_PATH = "/auth/o2/token"
CONSENT_PATH = "/apps/authorize/consent"


def find_marketplace(value: str) -> Marketplace | None:
    """The marketplace for a country code (NL, GB/UK, ...) or a marketplace id, if known."""
    key = value.strip()
    upper = key.upper()
    upper = COUNTRY_ALIASES.get(upper, upper)
    return MARKETPLACES.get(upper) or MARKETPLACES_BY_ID.get(key)


@dataclass(frozen=True)
class UsagePlan:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: int


SEARCH_ORDERS = "searchOrders"
GET_ORDER = "getOrder"
CONFIRM_SHIPMENT = "confirmShipment"
GET_MARKETPLACE_PARTICIPATIONS = "getMarketplaceParticipations"

#: Default usage plans from the models; ``x-amzn-RateLimit-Limit`` overrides the rate per seller.
USAGE_PLANS: dict[str, UsagePlan] = {
    SEARCH_ORDERS: UsagePlan(rate=0.0056, burst=20),
    GET_ORDER: UsagePlan(rate=0.5, burst=30),
    CONFIRM_SHIPMENT: UsagePlan(rate=2.0, burst=10),
    GET_MARKETPLACE_PARTICIPATIONS: UsagePlan(rate=0.016, burst=15),
}

#: Seconds (at most a tenth of a token) a paced call waits beyond the bucket's exact refill time.
PACING_MARGIN = 0.25

PATHS: dict[str, str] = {
    SEARCH_ORDERS: "/orders/2026-01-01/orders",
    GET_ORDER: "/orders/2026-01-01/orders/{orderId}",
    CONFIRM_SHIPMENT: "/orders/v0/orders/{orderId}/shipmentConfirmation",
    GET_MARKETPLACE_PARTICIPATIONS: "/sellers/v1/marketplaceParticipations",
}

#: The keys of a connection's stored credentials.
CREDENTIAL_REFRESH_TOKEN = "refresh_token"
CREDENTIAL_REGION = "region"

RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
REQUEST_ID_HEADER = "x-amzn-RequestId"

#: LWA error codes (Amazon's Python sample ``LwaExceptionErrorCode``); only two are worth a retry.
LWA_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_grant",
        "invalid_request",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "unauthorized_client",
        "invalid_client",
    }
)
LWA_RETRYABLE = frozenset({"server_error", "temporarily_unavailable"})

#: Refresh an access token this long before Amazon says it expires.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
#: ``lastUpdatedBefore`` must be at least two minutes before now; the margin adds some clock skew.
UPDATED_BEFORE_MARGIN = timedelta(minutes=2, seconds=30)

# searchOrders vocabulary.
INCLUDED_DATA = ("RECIPIENT", "FULFILLMENT", "PACKAGES")
OPEN_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED")
#: Incremental runs also ask for the terminal statuses, so that an order cancelled or shipped
#: elsewhere after its import is updated in the hub.
TRACKED_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED")

PROGRAM_EASY_SHIP = "AMAZON_EASY_SHIP"
PROGRAM_SHIP_PLUS = "FBM_SHIP_PLUS"
PROGRAM_PRIME = "PRIME"
ALIAS_SELLER_ORDER_ID = "SELLER_ORDER_ID"
CARRIER_OTHER = "Other"
