"""What the simulator holds per seller and order, independent of how the API renders it.

An ``Order`` keeps only what searching needs (times, status, who fulfils it, marketplace,
programs). Its ``Detail`` (items, recipient, buyer, windows, packages) is generated from the seed
when it is read and kept only once something changes it, so a world of 100,000 orders costs
little memory and starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# FulfillmentStatus values of the 2026-01-01 model.
PENDING = "PENDING"
UNSHIPPED = "UNSHIPPED"
PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
SHIPPED = "SHIPPED"
CANCELLED = "CANCELLED"
STATUSES = ("PENDING_AVAILABILITY", PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED,
            "UNFULFILLABLE")
MERCHANT = "MERCHANT"
AMAZON = "AMAZON"


# Carrier codes confirmShipment accepts: a part of Amazon's CarrierCode list (contract §5.3; the
# authoritative list lives in Seller Central). "Other" needs carrierName.
CARRIER_CODES = frozenset({
    "USPS", "UPS", "UPSMI", "FedEx", "DHL", "DHL eCommerce", "Fastway", "GLS", "GO!",
    "Hermes Logistik Gruppe", "Hermes", "Royal Mail", "Parcelforce", "City Link", "TNT", "Target",
    "SagawaExpress", "NipponExpress", "YamatoTransport", "DPD", "La Poste", "Colissimo",
    "Chronopost", "Poste Italiane", "SDA", "BRT", "SEUR", "Correos", "PostNL", "Deutsche Post",
    "Bpost", "InPost", "PostNord", "Australia Post", "Canada Post", "Other",
})


@dataclass(slots=True)
class Seller:
    """A selling partner: its id, store name and the marketplaces it sells in."""

    seller_id: str
    store_name: str
    marketplaces: tuple[str, ...]  # marketplace codes (NL, DE, ...)


@dataclass(slots=True)
class Item:
    """One order line."""

    order_item_id: str
    asin: str
    sku: str
    title: str
    quantity: int
    unit_price: str  # decimal string in the order's currency
    transparency: bool = False


@dataclass(slots=True)
class Package:
    """One confirmed parcel of an order."""

    package_reference_id: str
    carrier_code: str
    carrier_name: str | None
    tracking_number: str
    ship_time: int
    created_time: int
    items: dict[str, int]  # orderItemId -> quantity
    shipping_method: str | None = None
    ship_from_supply_source_id: str | None = None
    transparency_codes: dict[str, list[str]] = field(default_factory=dict)
    status: str = "SHIPPED"
    #: Who made it: ``api`` (a confirmShipment call) or ``seller_central`` (the merchant, or another
    #: carrier's tool, outside the hub: seeded packages and the admin API's).
    origin: str = "api"

    @property
    def carrier(self) -> str:
        """The carrier as getOrder shows it: the name for ``Other``, else the code."""
        return self.carrier_name if self.carrier_code == "Other" and self.carrier_name else self.carrier_code


@dataclass(slots=True)
class Detail:
    """Everything about an order besides what searching needs."""

    items: list[Item]
    address: dict[str, str]  # CustomerAddress fields
    buyer: dict[str, str]  # Buyer fields
    currency: str
    shipping_price: str
    service_level: str
    ship_by: tuple[int, int]
    deliver_by: tuple[int, int]
    seller_order_id: str | None = None
    packages: dict[str, Package] = field(default_factory=dict)
    cancel_reason: str | None = None

    def shipped(self, item_id: str, *, excluding: str | None = None) -> int:
        """Units of ``item_id`` in packages, leaving out the package ``excluding``."""
        return sum(
            package.items.get(item_id, 0)
            for ref, package in self.packages.items()
            if ref != excluding
        )


@dataclass(slots=True)
class Order:
    """An order's searchable core; ``detail`` is set once the order has been changed."""

    order_id: str
    seller_id: str
    marketplace: str  # marketplace code
    created: int  # epoch seconds
    updated: int  # epoch seconds
    status: str
    fulfilled_by: str
    programs: tuple[str, ...]
    detail: Detail | None = None
    #: False: its ``salesChannel`` names no marketplace (as some of Amazon's orders come).
    shows_marketplace: bool = True
