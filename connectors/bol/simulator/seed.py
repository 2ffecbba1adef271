"""Deterministic retailers and orders: the same seed gives the same world, relative to the clock.

Each retailer's orders cycle through the shapes a bol.com merchant sees, so that even a small world
holds every one of them: own-shipped (FBR with distribution party RETAILER) with one or several
items, pickup-point deliveries (``pickupPointName``), FBB (bol.com ships), VVB (FBR with
distribution party BOL and a bol.com label), customer cancellation requests, partly and fully
shipped orders (with their shipments), alphanumeric order ids, Belgian addresses, appointment
deliveries with a phone number, business customers, mixed FBR/FBB orders and items without a
distribution party. Names and streets carry diacritics; e-mails are bol.com's scrambled relay
addresses.

The first retailer also gets the demo environment's orders (contract §8) with their ids, products
and addresses: FBR ``1043946570`` (pickup point), ``1042831430`` (Belgian, item ``6107331383``
3 ordered and 2 shipped), ``A4K8290LP0``, ``B3K8290LP0`` (exact delivery date); FBB
``1042823870``, ``1043965710``; VVB order item ``2095052647`` (order ``1044194990``, the
simulator's id); and the process statuses ``1`` to ``4``. Unlike the static demo, their times are
recent and the FBR items are open, so they can be shipped.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .clock import bol_date
from .config import SimulatorConfig, client_id, client_secret, retailer_id
from .records import (
    BOL,
    FAILURE,
    FBB,
    PENDING,
    SUCCESS,
    TIMEOUT,
    Client,
    Order,
    OrderItem,
    ProcessStatus,
    Retailer,
    Shipment,
    Transport,
)

DAY = 86_400.0
HOUR = 3600.0

SHAPES = (
    "fbr", "fbr", "multi", "pickup", "fbb", "vvb", "cancel_request", "partly_shipped", "alphanumeric",
    "shipped", "mixed", "belgian", "appointment", "no_party", "business",
)

SHOP_NAMES = (
    ("Van Dijk Fietsen", "Van Dijk Fietsen B.V."), ("Zoë's Woonwinkel", "Zoë's Woonwinkel V.O.F."),
    ("Bakker Speelgoed", "Bakker Speelgoed B.V."), ("Café Crème Shop", "Crème Handel B.V."),
    ("De Groene Tuin", "De Groene Tuin V.O.F."), ("Jansen Elektronica", "Jansen Elektronica B.V."),
)
FIRST_NAMES = ("Daan", "Sanne", "Joëlle", "Bram", "Femke", "Thijs", "Anouk", "Sem", "Noël", "Chloë",
               "Renée", "Mehmet", "Fleur", "Ruben", "Inès")
SURNAMES = ("de Vries", "van Dijk", "Jansen", "Bakker", "van den Berg", "Visser", "Smit", "Müller",
            "Öztürk", "de Groot", "van 't Hof", "Dubois", "Peeters", "Claes")
NL_PLACES = (("Amsterdam", "1015CJ"), ("Rotterdam", "3011AD"), ("Utrecht", "3511LX"), ("Den Haag", "2511BT"),
             ("Groningen", "9711LM"), ("Eindhoven", "5611AZ"), ("'s-Hertogenbosch", "5211JK"),
             ("Zwolle", "8011CW"))
BE_PLACES = (("Brussel", "1000", "nl-BE"), ("Antwerpen", "2000", "nl-BE"), ("Gent", "9000", "nl-BE"),
             ("Liège", "4000", "fr-BE"), ("Namur", "5000", "fr-BE"))
STREETS = ("Keizersgracht", "Stationsweg", "Kerkstraat", "Dorpsstraat", "Oudegracht", "Molenweg",
           "Rue de l'Église", "Coöperatiestraat", "Brouwersstraat", "Linnaeusstraat")
PICKUP_POINTS = ("Albert Heijn: UTRECHT", "PostNL Punt: Primera AMSTERDAM", "Jumbo: ROTTERDAM Zuidplein",
                 "bol.com afhaalpunt: Kiosk Gent-Sint-Pieters", "Albert Heijn: EINDHOVEN Woensel")
PRODUCTS = (
    ("Star Wars - The happy family 2", 22.98), ("Philips Hue White Ambiance E27", 34.99),
    ("Fietsbel 'Ding-Dong' messing", 7.49), ("Koffiemolen Café Crème", 49.95),
    ("LEGO Creator Zeilboot", 29.99), ("Tuinslang 25 m, groen", 19.95), ("Crème brûlée-set (4 stuks)", 24.5),
    ("USB-C kabel 2 m", 9.99), ("Kinderboek: De Gruffalo", 14.99), ("Thermosfles 0,5 l", 17.5),
)
COMPANIES = ("Van der Berg B.V.", "Visser Techniek V.O.F.", "Bakker Groothandel B.V.", "Peeters & Zonen BV")


@dataclass
class IdSource:
    """Unique ids for one world: order and order-item ids drawn at random, the rest counted."""

    rng: random.Random
    used: set[str] = field(default_factory=set)
    next_shipment: int = 541_757_635
    next_transport: int = 312_778_947
    next_subscription: int = 1234

    def order_id(self, alphanumeric: bool = False) -> str:
        """A new order id: ten digits, or bol.com's alphanumeric shape (``A2K8290LP8``)."""
        while True:
            if alphanumeric:
                letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
                value = (self.rng.choice(letters) + str(self.rng.randrange(10)) + self.rng.choice(letters)
                         + f"{self.rng.randrange(10_000):04d}" + "LP" + str(self.rng.randrange(10)))
            else:
                value = str(self.rng.randrange(1_000_000_000, 2_000_000_000))
            if value not in self.used:
                self.used.add(value)
                return value

    def order_item_id(self) -> str:
        """A new order-item id: ten digits."""
        while True:
            value = str(self.rng.randrange(2_000_000_000, 9_999_999_999))
            if value not in self.used:
                self.used.add(value)
                return value

    def shipment_id(self) -> str:
        """The next shipment id."""
        self.next_shipment += 1
        return str(self.next_shipment)

    def transport_id(self) -> str:
        """The next transport id."""
        self.next_transport += 1
        return str(self.next_transport)

    def subscription_id(self) -> str:
        """The next subscription id."""
        self.next_subscription += 1
        return str(self.next_subscription)

    def uuid(self) -> str:
        """A random UUID from the seeded generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def generate_retailers(config: SimulatorConfig) -> tuple[list[Retailer], list[Client]]:
    """The retailers and one set of credentials each."""
    retailers, clients = [], []
    for number in range(1, config.retailers + 1):
        display, company = SHOP_NAMES[(number - 1) % len(SHOP_NAMES)]
        if number > len(SHOP_NAMES):
            display = f"{display} {number}"
        rid = retailer_id(number)
        retailers.append(Retailer(
            retailer_id=rid, display_name=display, company_name=company,
            vat_number=f"NL{800_000_000 + number:09d}B01", kvk_number=f"{90_005_413 + number:08d}",
            registration_date=f"20{15 + number % 10:02d}-06-17",
        ))
        clients.append(Client(client_id(number), client_secret(number), rid))
    return retailers, clients


def ean(rng: random.Random) -> str:
    """A random EAN-13 with a valid check digit."""
    digits = [8, 7] + [rng.randrange(10) for _ in range(10)]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def generate_orders(
    seed: int, retailer: Retailer, count: int, now: float, ids: IdSource
) -> tuple[list[Order], list[Shipment]]:
    """``count`` orders of the retailer placed in the three days before ``now``, with their shipments."""
    rng = random.Random(f"{seed}:{retailer.retailer_id}")
    orders, shipments = [], []
    for shape in _shapes(rng, count):
        order, made = _order(rng, shape, retailer.retailer_id, now, ids)
        orders.append(order)
        shipments.extend(made)
    return orders, shipments


def _shapes(rng: random.Random, count: int) -> Iterator[str]:
    made = 0
    while made < count:
        cycle = list(SHAPES)
        rng.shuffle(cycle)
        for shape in cycle[: count - made]:
            made += 1
            yield shape


def make_order(
    rng: random.Random, shape: str, rid: str, now: float, ids: IdSource, placed: float | None = None
) -> tuple[Order, list[Shipment]]:
    """One order of a shape from ``SHAPES``, placed at random in the three days before ``now`` unless given."""
    if shape not in SHAPES:
        raise ValueError(f"unknown order shape {shape!r}; use one of {', '.join(sorted(set(SHAPES)))}")
    return _order(rng, shape, rid, now, ids, placed)


def _order(rng: random.Random, shape: str, rid: str, now: float, ids: IdSource,
           placed: float | None = None) -> tuple[Order, list[Shipment]]:
    if placed is None:
        placed = float(int(now - rng.uniform(10 * 60, 3 * DAY)))
    belgian = shape == "belgian" or rng.random() < 0.1
    details = make_address(rng, belgian, business=shape == "business")
    business = shape == "business"
    billing = _billing(rng, details, business=business) if business or rng.random() < 0.7 else None
    pickup = shape == "pickup"
    if pickup:
        details["pickupPointName"] = rng.choice(PICKUP_POINTS)
    lines = rng.randint(2, 3) if shape in ("multi", "business") else 2 if shape == "mixed" else 1
    items = [make_item(rng, placed, ids) for _ in range(lines)]
    order = Order(ids.order_id(alphanumeric=shape == "alphanumeric" or rng.random() < 0.05), rid, placed,
                  details, billing, items, pickup_point=pickup)
    first = items[0]
    shipments: list[Shipment] = []
    if shape == "fbb":
        for item in items:
            item.method, item.distribution_party = FBB, BOL
    elif shape == "mixed":
        items[1].method, items[1].distribution_party = FBB, BOL
    elif shape == "vvb":
        first.distribution_party = BOL
        first.shipping_label_id = ids.uuid()
    elif shape == "no_party":
        first.distribution_party = None
    elif shape == "cancel_request":
        first.cancellation_request = True
        first.changed = min(now, placed + rng.uniform(60, 6 * HOUR))
    elif shape == "appointment":
        first.time_frame_type = "APPOINTMENT"
        first.exact_delivery_date, first.latest_delivery_date = first.latest_delivery_date, None
        details["deliveryPhoneNumber"] = f"06{rng.randrange(10**8):08d}"
    elif shape == "partly_shipped":
        first.quantity = max(first.quantity, 2) + 1
        shipments.append(_shipped(rng, order, first, 1, now, ids))
    elif shape == "shipped":
        for item in items:
            shipments.append(_shipped(rng, order, item, item.quantity, now, ids))
    if shape == "fbb" and rng.random() < 0.5:
        for item in items:
            shipments.append(_shipped(rng, order, item, item.quantity, now, ids, transporter="TNT"))
    return order, shipments


def make_item(rng: random.Random, placed: float, ids: IdSource) -> OrderItem:
    """An own-shipped (FBR, RETAILER) order item with a drawn product, quantity and dates."""
    title, price = rng.choice(PRODUCTS)
    quantity = rng.choice((1, 1, 1, 2, 3))
    discounts = [("Actie: 2e halve prijs", round(price / 2, 2))] if quantity > 1 and rng.random() < 0.2 else []
    return OrderItem(
        order_item_id=ids.order_item_id(),
        ean=ean(rng),
        title=title,
        quantity=quantity,
        unit_price=price,
        commission=round(price * quantity * 0.12 + 0.99, 2),
        offer_id=ids.uuid(),
        offer_reference=f"REF-{rng.randrange(100_000):05d}" if rng.random() < 0.7 else None,
        changed=placed,
        discounts=discounts,
        latest_delivery_date=bol_date(placed + DAY * rng.choice((1, 1, 2))),
        expiry_date=bol_date(placed + DAY * rng.choice((3, 4, 5))),
        time_frame_type=rng.choice(("REGULAR",) * 8 + ("EVENING", "SUNDAY")),
        additional_services=("PLACEMENT_AND_INSTALLATION",) if rng.random() < 0.03 else (),
    )


def make_address(rng: random.Random, belgian: bool, business: bool) -> dict[str, str]:
    """``ShipmentDetails`` of a drawn Dutch or Belgian customer."""
    first = rng.choice(FIRST_NAMES)
    details = {
        "salutation": rng.choice(("MALE", "FEMALE", "UNKNOWN")),
        "firstName": first,
        "surname": rng.choice(SURNAMES),
        "streetName": rng.choice(STREETS),
        "houseNumber": str(rng.randint(1, 250)),
    }
    if rng.random() < 0.25:
        details["houseNumberExtension"] = rng.choice(("A", "B", "bis", "2hg", "-3"))
    if rng.random() < 0.1:
        details["extraAddressInformation"] = rng.choice(("Achterom", "Appartement 4", "Bel bij de buren"))
    if belgian:
        city, zip_code, language = rng.choice(BE_PLACES)
        details.update(zipCode=zip_code, city=city, countryCode="BE", language=language)
    else:
        city, zip_code = rng.choice(NL_PLACES)
        details.update(zipCode=zip_code, city=city, countryCode="NL", language="nl")
    details["email"] = _relay(rng)
    if business:
        details["company"] = rng.choice(COMPANIES)
    return details


def _billing(rng: random.Random, details: dict[str, str], business: bool) -> dict[str, str]:
    keys = ("salutation", "firstName", "surname", "streetName", "houseNumber", "houseNumberExtension",
            "extraAddressInformation", "zipCode", "city", "countryCode")
    billing = {key: details[key] for key in keys if key in details}
    billing["email"] = _relay(rng)
    if business:
        billing["company"] = details.get("company") or rng.choice(COMPANIES)
        billing["vatNumber"] = f"NL{rng.randrange(10**9):09d}B01"
        billing["kvkNumber"] = f"{rng.randrange(10**8):08d}"
        billing["orderReference"] = f"PO-{rng.randrange(10**5):05d}"
    return billing


def _relay(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(letters) for _ in range(30)) + "@verkopen.bol.com"


def _shipped(rng: random.Random, order: Order, item: OrderItem, units: int, now: float, ids: IdSource,
             transporter: str = "GLS") -> Shipment:
    when = min(now, order.placed + rng.uniform(HOUR, 20 * HOUR))
    item.quantity_shipped += units
    item.changed = max(item.changed, when)
    track = f"{rng.randrange(10**11):011d}" if transporter == "GLS" else f"3SBOL{rng.randrange(10**10):010d}"
    return Shipment(
        shipment_id=ids.shipment_id(), retailer_id=order.retailer_id, order_id=order.order_id, created=when,
        reference=f"own-{rng.randrange(10**6):06d}", items=[(item.order_item_id, units)],
        transport=Transport(ids.transport_id(), transporter, track),
    )


# -- the demo environment's fixtures (contract §8) ---------------------------------------------

_PIETER = {
    "salutation": "MALE", "firstName": "Pieter", "surname": "Post", "streetName": "Skywalkerstraat",
    "houseNumber": "21", "zipCode": "1234AB", "city": "PLATOONDORP", "countryCode": "NL",
    "email": "2puwjjic7wxsbmkj3bc2v6jsj2wimk@verkopen.bol.com", "language": "nl",
}
_HANS_BE = {
    "salutation": "MALE", "firstName": "Hans", "surname": "de Grote", "streetName": "Skywalkerstraat",
    "houseNumber": "199", "houseNumberExtension": "B", "extraAddressInformation": "Apartment",
    "zipCode": "1200", "city": "BRUSSEL", "countryCode": "BE",
    "email": "2mqmu3hefoawq3mqgzxh4hbpkyh2rs@verkopen.bol.com", "language": "nl",
}
_HANS_NL = {
    "salutation": "FEMALE", "firstName": "Hans", "surname": "de Grote", "streetName": "Skywalkerstraat",
    "houseNumber": "199", "zipCode": "1234AB", "city": "PLATOONDORP", "countryCode": "NL",
    "email": "2mqmu3hefoawq3mqgzxh4hbpkyh2rs@verkopen.bol.com", "language": "nl",
}
_BILLING = {
    "salutation": "MALE", "firstName": "Pieter", "surname": "Post", "streetName": "Skywalkerstraat",
    "houseNumber": "21", "houseNumberExtension": "X", "extraAddressInformation": "Extra informatie",
    "zipCode": "1234AB", "city": "PLATOONDORP", "countryCode": "NL",
    "email": "2yldzdi2wjcf5ir4sycq7lufqpytxy@verkopen.bol.com", "company": "Pieter Post",
    "vatNumber": "NL123456789B01", "kvkNumber": "99887766", "orderReference": "Mijn order ref",
}
HAPPY_FAMILY = "Star Wars - The happy family 2"
#: The demo's VVB order item and the shipping label the simulator gives it.
VVB_ORDER_ID = "1044194990"
VVB_ORDER_ITEM_ID = "2095052647"
VVB_SHIPPING_LABEL_ID = "d4c50077-0c19-435f-9bee-1b30b9f4ba1a"
DEMO_ORDER_IDS = ("1043946570", "1042831430", "A4K8290LP0", "B3K8290LP0", "1042823870", "1043965710",
                  VVB_ORDER_ID)


def demo_orders(rid: str, now: float, ids: IdSource) -> tuple[list[Order], list[Shipment]]:
    """The demo environment's orders for the retailer ``rid``, placed in the hours before ``now``."""
    ids.used.update(DEMO_ORDER_IDS)

    def item(item_id: str, ean_code: str, title: str, quantity: int, price: float, placed: float,
             offer: str, reference: str | None, **extra: Any) -> OrderItem:
        ids.used.add(item_id)
        return OrderItem(
            order_item_id=item_id, ean=ean_code, title=title, quantity=quantity, unit_price=price,
            commission=2.22, offer_id=offer, offer_reference=reference, changed=placed,
            latest_delivery_date=bol_date(placed + DAY), expiry_date=bol_date(placed + 3 * DAY), **extra,
        )

    def at(hours: float) -> float:
        return float(int(now - hours * HOUR))

    orders = [
        Order("1043946570", rid, at(5), _PIETER | {"pickupPointName": "Albert Heijn: UTRECHT"}, dict(_BILLING), [
            item("6042823871", "8717418510749", HAPPY_FAMILY, 3, 11.0, at(5),
                 "8f6285e3-de98-c97f-e053-3544090a63b3", "MijnOffer6627"),
        ], pickup_point=True),
        Order("1042831430", rid, at(8), dict(_HANS_BE), dict(_BILLING), [
            item("6107331382", "8712626055143", HAPPY_FAMILY, 1, 22.98, at(8),
                 "8f6283e3-de98-c92f-e053-3598790a63b5", "MijnOffer0021"),
            item("6107331383", "8717418510749", HAPPY_FAMILY, 3, 10.3, at(8),
                 "8f6125e3-de98-c08f-e053-3523590a63b9", "MijnOffer1121"),
        ]),
        Order("A4K8290LP0", rid, at(3), dict(_PIETER), dict(_BILLING), [
            item("2070906705", "8718846038683",
                 "adidas Originals Booklet case Bohemian color for iPhone 7/8 colourful", 1, 34.99, at(3),
                 "8f6283e3-de98-c92f-e053-3598790a63b5", "MijnOffer0021"),
        ]),
        Order("B3K8290LP0", rid, at(2), dict(_HANS_NL), dict(_BILLING), [
            item("2070906706", "8718846038683",
                 "adidas Originals Booklet case Bohemian color for iPhone 7/8 colourful", 1, 34.99, at(2),
                 "8f6283e3-de98-c92f-e053-3598790a63b5", "MijnOffer0021"),
        ]),
        Order("1042823870", rid, at(30), dict(_PIETER), None, [
            item("6107771545", "8785056370398", "Sony PlayStation 4 Pro", 1, 399.0, at(30),
                 "8f6283e3-de98-c92f-e053-3598790a6301", None, method=FBB, distribution_party=BOL),
            item("6107771546", "8785073140359", "Sony DualShock 4 controller", 1, 59.99, at(30),
                 "8f6283e3-de98-c92f-e053-3598790a6302", None, method=FBB, distribution_party=BOL),
        ]),
        Order("1043965710", rid, at(26), dict(_PIETER), None, [
            item("6107989317", "8717418510749", HAPPY_FAMILY, 2, 11.0, at(26),
                 "8f6283e3-de98-c92f-e053-3598790a6303", None, method=FBB, distribution_party=BOL,
                 quantity_cancelled=1),
        ]),
        Order(VVB_ORDER_ID, rid, at(4), dict(_HANS_NL), None, [
            item(VVB_ORDER_ITEM_ID, "8718846038683", "Fietsbel 'Ding-Dong' messing", 1, 7.49, at(4),
                 "8f956bfc-fabe-45b4-b0e1-1b52a0896b74", None, distribution_party=BOL,
                 shipping_label_id=VVB_SHIPPING_LABEL_ID),
        ]),
    ]
    rng = random.Random(f"demo:{rid}")
    by_id = {o.order_id: o for o in orders}
    partly = by_id["1042831430"]
    fbb, fbb_partly = by_id["1042823870"], by_id["1043965710"]
    shipments = [
        _shipped(rng, partly, partly.items[0], 1, now, ids),
        _shipped(rng, partly, partly.items[1], 2, now, ids),
        *(_shipped(rng, fbb, line, 1, now, ids, transporter="TNT") for line in fbb.items),
        _shipped(rng, fbb_partly, fbb_partly.items[0], 1, now, ids, transporter="TNT"),
    ]
    return orders, shipments


#: 2000-01-01T00:00:00+01:00, the demo statuses' createTimestamp.
_DEMO_CREATED = 946_681_200.0


def demo_process_statuses(rid: str) -> list[ProcessStatus]:
    """The demo environment's process statuses ``1`` to ``4``: fixed, never settling or expiring."""
    cases = (("1", "555551", "CREATE_SHIPMENT", PENDING), ("2", "555552", "CANCEL_ORDER", SUCCESS),
             ("3", "555553", "CREATE_INBOUND", TIMEOUT), ("4", "555554", "CHANGE_TRANSPORT", FAILURE))
    return [
        ProcessStatus(
            process_status_id=pid, retailer_id=rid, entity_id=entity, event_type=event,
            description="This is a mocked process status.", created=_DEMO_CREATED, due=None,
            entity_ids=(entity,), status=status, completed=None if status == PENDING else _DEMO_CREATED,
            permanent=True,
        )
        for pid, entity, event, status in cases
    ]
