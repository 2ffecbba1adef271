"""Deterministic sellers and orders: the same seed gives the same world, relative to the clock.

The mix is what a European merchant sees: merchant- and Amazon-fulfilled orders in every status,
Prime, Easy Ship and Ship+ (a minority), business orders with company names, one to four lines
of one to three units, addresses with diacritics, second and third address lines, pickup points,
a share shipped to a neighbouring country, seller order ids, ship-by and deliver-by windows.

Orders are generated in two steps so that 100,000 of them start in well under a second:
``generate_orders`` draws only the searchable core; ``make_detail`` draws the rest from a random
generator seeded by (seed, order id) whenever it is needed, always with the same result.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .marketplace import MARKETPLACES
from .records import (
    AMAZON,
    CANCELLED,
    CARRIER_CODES,
    MERCHANT,
    PARTIALLY_SHIPPED,
    PENDING,
    SHIPPED,
    UNSHIPPED,
    Detail,
    Item,
    Order,
    Package,
    Seller,
)

T = TypeVar("T")

DAY = 86_400
HISTORY_DAYS = 10

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

STORE_NAMES = (
    "Müller Haushaltswaren", "Van Dijk Fietsen", "Nuñez Hogar", "Łódź Elektronika",
    "Ørsted Design", "São Bento Casa", "Dupont & Fils", "Rossi Cucina", "Brightwell Outdoor",
    "Svensson Sport", "Öztürk Tekstil", "Kowalczyk Zabawki",
)


@dataclass(frozen=True)
class Country:
    """Names and places to draw an address from."""

    code: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str, str], ...]  # city, postal code, state or region
    street_format: str  # how street and number combine
    phone_prefix: str
    phone_digits: int
    line2: tuple[str, ...]
    companies: tuple[str, ...]
    pickup_points: tuple[str, ...]
    email_domain: str


COUNTRIES: dict[str, Country] = {c.code: c for c in (
    Country(
        "DE",
        ("Jürgen", "Anna", "Lukas", "Sophie", "Mehmet", "Käthe", "Jörg", "Lena", "Björn", "Zoë"),
        ("Müller", "Schröder", "Weiß", "Groß", "Köhler", "Becker", "Öztürk", "Schäfer", "Nuñez"),
        ("Hauptstraße", "Königsallee", "Schloßstraße", "Bahnhofstraße", "Am Mühlbach", "Lindenweg"),
        (("Berlin", "10115", "Berlin"), ("München", "80331", "Bayern"),
         ("Köln", "50667", "Nordrhein-Westfalen"), ("Düsseldorf", "40213", "Nordrhein-Westfalen"),
         ("Nürnberg", "90402", "Bayern"), ("Lübeck", "23552", "Schleswig-Holstein"),
         ("Görlitz", "02826", "Sachsen")),
        "{street} {number}", "+49 15", 9,
        ("2. OG links", "Hinterhaus", "Aufgang B", "bei Schäfer"),
        ("Müller & Söhne GmbH", "Bäckerei Groß KG", "Weiß Logistik GmbH"),
        ("Packstation 112", "DHL Paketshop Kiosk Özdemir", "Hermes PaketShop Lotto Köhler"),
        "amazon.de",
    ),
    Country(
        "NL",
        ("Daan", "Sanne", "Joëlle", "Bram", "Femke", "Thijs", "Anoek", "Sem"),
        ("de Vries", "van Dijk", "Jansen", "Bakker", "van den Berg", "Visser", "Smit", "Müller"),
        ("Keizersgracht", "Stationsweg", "Kerkstraat", "Dorpsstraat", "Oude Gracht", "Molenweg"),
        (("Amsterdam", "1015 CJ", "Noord-Holland"), ("Rotterdam", "3011 AD", "Zuid-Holland"),
         ("Utrecht", "3511 LX", "Utrecht"), ("Den Haag", "2511 BT", "Zuid-Holland"),
         ("Groningen", "9711 LM", "Groningen"), ("Eindhoven", "5611 AZ", "Noord-Brabant")),
        "{street} {number}", "+31 6 ", 8,
        ("2e verdieping", "Huis B", "t.a.v. inkoop"),
        ("Van der Berg B.V.", "Visser Techniek V.O.F.", "Bakker Groothandel B.V."),
        ("PostNL Punt Primera", "DHL ServicePoint Albert Heijn"),
        "amazon.nl",
    ),
    Country(
        "FR",
        ("Élodie", "François", "Chloé", "Jérôme", "Inès", "Gaëlle", "Loïc", "Hélène"),
        ("Dupont", "Lefèvre", "Moreau", "Girard", "Bénard", "Rousseau", "Mercier"),
        ("rue de la République", "avenue des Champs-Élysées", "boulevard Saint-Germain",
         "rue du Faubourg", "place de l'Église"),
        (("Paris", "75008", "Île-de-France"), ("Lyon", "69002", "Auvergne-Rhône-Alpes"),
         ("Orléans", "45000", "Centre-Val de Loire"), ("Besançon", "25000", "Bourgogne-Franche-Comté"),
         ("Nîmes", "30000", "Occitanie")),
        "{number} {street}", "+33 6 ", 8,
        ("Bâtiment C", "Escalier 2, 3e étage", "Résidence Les Tilleuls"),
        ("Dupont SARL", "Boulangerie Lefèvre SAS", "Mercier & Associés"),
        ("Relais Colis Tabac de la Gare", "Point Relais Épicerie Moreau"),
        "amazon.fr",
    ),
    Country(
        "IT",
        ("Giulia", "Niccolò", "Francesca", "Lucà", "Chiara", "Matteo", "Ilaria"),
        ("Rossi", "Bianchi", "Esposito", "Colombo", "Ricci", "De Luca", "Mancini"),
        ("Via Roma", "Corso Vittorio Emanuele II", "Via Garibaldi", "Piazza del Duomo"),
        (("Milano", "20121", "MI"), ("Roma", "00184", "RM"), ("Napoli", "80134", "NA"),
         ("Forlì", "47121", "FC"), ("Cantù", "22063", "CO")),
        "{street}, {number}", "+39 3", 9,
        ("Scala B, interno 7", "Piano 3"),
        ("Rossi S.r.l.", "Colombo & Figli S.p.A."),
        ("Punto Poste Tabaccheria Ricci",),
        "amazon.it",
    ),
    Country(
        "ES",
        ("José", "María", "Íñigo", "Lucía", "Andrés", "Begoña", "Martín"),
        ("Nuñez", "García", "Fernández", "López", "Martínez", "Sánchez", "Muñoz", "Peña"),
        ("Calle Mayor", "Avenida de la Constitución", "Calle de Alcalá", "Paseo de Gràcia"),
        (("Madrid", "28013", "Madrid"), ("Barcelona", "08007", "Barcelona"),
         ("A Coruña", "15001", "A Coruña"), ("Logroño", "26001", "La Rioja"),
         ("Málaga", "29015", "Málaga")),
        "{street}, {number}", "+34 6", 8,
        ("3º Izq.", "Portal 2, 1ºB", "Escalera A"),
        ("Nuñez Hermanos S.L.", "Muñoz y Peña S.A."),
        ("Correos Citypaq Estación", "Punto Pack Librería López"),
        "amazon.es",
    ),
    Country(
        "GB",
        ("Oliver", "Amelia", "Siobhán", "Harry", "Chloë", "Rhys", "Isla"),
        ("Smith", "Jones", "O'Brien", "Williams", "Brightwell", "Taylor", "Ó Briain"),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"),
        (("London", "SW1A 1AA", "Greater London"), ("Manchester", "M1 1AE", "Greater Manchester"),
         ("Cardiff", "CF10 1EP", "South Glamorgan"), ("Edinburgh", "EH1 1YZ", "Midlothian"),
         ("Bristol", "BS1 4DJ", "Bristol")),
        "{number} {street}", "+44 7", 9,
        ("Flat 4", "Unit 12, Riverside Industrial Estate", "The Old Rectory"),
        ("Brightwell & Co Ltd", "Taylor Hardware Ltd"),
        ("Amazon Locker - Holborn", "InPost Locker Tesco Extra"),
        "amazon.co.uk",
    ),
    Country(
        "BE",
        ("Lotte", "Wout", "Amélie", "Noël", "Maëlle", "Jens"),
        ("Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Van Damme"),
        ("Grote Markt", "Rue Neuve", "Meir", "Chaussée de Louvain"),
        (("Brussel", "1000", "Brussel"), ("Antwerpen", "2000", "Antwerpen"),
         ("Liège", "4000", "Liège"), ("Gent", "9000", "Oost-Vlaanderen")),
        "{street} {number}", "+32 4", 8,
        ("Bus 3", "Boîte 12"),
        ("Peeters BV", "Dubois SRL"),
        ("bpost Pakketpunt Carrefour",),
        "amazon.com.be",
    ),
    Country(
        "PL",
        ("Łukasz", "Agnieszka", "Paweł", "Małgorzata", "Zbigniew", "Józefa"),
        ("Kowalczyk", "Wiśniewski", "Wójcik", "Dąbrowska", "Żak", "Nowak"),
        ("ul. Piotrkowska", "ul. Marszałkowska", "ul. Świętokrzyska", "al. Jerozolimskie"),
        (("Łódź", "90-001", "łódzkie"), ("Warszawa", "00-001", "mazowieckie"),
         ("Kraków", "30-001", "małopolskie"), ("Gdańsk", "80-001", "pomorskie"),
         ("Wrocław", "50-001", "dolnośląskie")),
        "{street} {number}", "+48 5", 8,
        ("m. 14", "lok. 3"),
        ("Łódzkie Meble Sp. z o.o.", "Wiśniewski i Syn S.A."),
        ("Paczkomat InPost ŁOD01M",),
        "amazon.pl",
    ),
    Country(
        "SE",
        ("Åsa", "Björn", "Märta", "Örjan", "Linnéa", "Nils"),
        ("Svensson", "Andersson", "Öberg", "Åkesson", "Lindqvist"),
        ("Drottninggatan", "Storgatan", "Kungsgatan", "Östra Hamngatan"),
        (("Stockholm", "111 22", "Stockholms län"), ("Göteborg", "411 03", "Västra Götaland"),
         ("Malmö", "211 20", "Skåne"), ("Västerås", "722 15", "Västmanland")),
        "{street} {number}", "+46 70 ", 7,
        ("Lgh 1102", "c/o Öberg"),
        ("Svensson AB", "Åkesson Bygg AB"),
        ("PostNord Ombud ICA Nära",),
        "amazon.se",
    ),
    Country(
        "IE",
        ("Aoife", "Seán", "Niamh", "Pádraig", "Siobhán"),
        ("Ó Briain", "Murphy", "Kelly", "Ní Bhriain", "O'Sullivan"),
        ("Main Street", "Grafton Street", "Patrick Street", "Shop Street"),
        (("Dublin", "D02 X285", "Co. Dublin"), ("Cork", "T12 W8CV", "Co. Cork"),
         ("Galway", "H91 E2K3", "Co. Galway")),
        "{number} {street}", "+353 87 ", 7,
        ("Apartment 6", "The Mews"),
        ("Murphy & Kelly Ltd",),
        ("An Post Parcel Locker",),
        "amazon.ie",
    ),
    Country(
        "TR",
        ("Ayşe", "Mehmet", "Çağrı", "Gülşen", "İlker", "Şule"),
        ("Öztürk", "Yılmaz", "Kaya", "Şahin", "Çelik", "Doğan"),
        ("İstiklal Caddesi", "Atatürk Bulvarı", "Bağdat Caddesi"),
        (("İstanbul", "34430", "İstanbul"), ("Ankara", "06420", "Ankara"),
         ("İzmir", "35210", "İzmir")),
        "{street} No:{number}", "+90 5", 9,
        ("Daire 5", "Kat 3"),
        ("Öztürk Tekstil A.Ş.",),
        ("PTT Kargo Şubesi",),
        "amazon.com.tr",
    ),
    Country(
        "AT",
        ("Götz", "Theresa", "Maximilian", "Jürgen", "Veronika"),
        ("Gruber", "Huber", "Bauer", "Wagner", "Pöschl"),
        ("Mariahilfer Straße", "Getreidegasse", "Herrengasse"),
        (("Wien", "1070", "Wien"), ("Salzburg", "5020", "Salzburg"), ("Graz", "8010", "Steiermark")),
        "{street} {number}", "+43 664 ", 7,
        ("Stiege 2, Tür 14",),
        ("Gruber & Huber OG",),
        ("Post Partner Trafik Bauer",),
        "amazon.de",
    ),
    Country(
        "DK",
        ("Søren", "Mette", "Anders", "Kirsten", "Bjørn"),
        ("Ørsted", "Jørgensen", "Hansen", "Sørensen", "Nielsen"),
        ("Strøget", "Nørregade", "Vesterbrogade", "Østergade"),
        (("København", "1050", "Hovedstaden"), ("Århus", "8000", "Midtjylland"),
         ("Ålborg", "9000", "Nordjylland")),
        "{street} {number}", "+45 ", 8,
        ("2. th.", "st. tv."),
        ("Ørsted Design ApS",),
        ("PostNord Pakkeshop Netto",),
        "amazon.de",
    ),
    Country(
        "PT",
        ("João", "Inês", "Gonçalo", "Conceição", "Tomás"),
        ("Gonçalves", "Simões", "Conceição", "Araújo", "Magalhães"),
        ("Rua Augusta", "Avenida da Liberdade", "Rua de Santa Catarina"),
        (("Lisboa", "1100-053", "Lisboa"), ("Porto", "4000-322", "Porto"),
         ("São João da Madeira", "3700-121", "Aveiro"), ("São Mamede de Infesta", "4465-001", "Porto")),
        "{street}, {number}", "+351 91 ", 7,
        ("3º Esq.", "R/C Dto."),
        ("São Bento Lda.",),
        ("CTT Ponto de Recolha Papelaria",),
        "amazon.es",
    ),
)}

# Where cross-border orders of a marketplace ship to.
NEIGHBOURS = {
    "DE": ("AT", "DK", "NL", "PL"), "NL": ("BE", "DE"), "FR": ("BE",), "IT": ("AT",),
    "ES": ("PT",), "UK": ("IE",), "BE": ("NL", "FR"), "PL": ("DE",), "SE": ("DK",), "IE": ("GB",),
    "TR": ("DE",),
}

# Title, price in EUR.
PRODUCTS = (
    ("Kaffeemühle aus Edelstahl, manuell", "34.99"), ("Crème-brûlée-Set mit Flambierbrenner", "27.50"),
    ("Fietsverlichting LED set, oplaadbaar", "19.95"), ("Słuchawki bezprzewodowe z etui", "49.00"),
    ("Trinkflasche 1 l, BPA-frei", "12.99"), ("Bolsa térmica para almuerzo", "15.49"),
    ("Yoga mat, non-slip, 6 mm", "24.90"), ("Lámpara de escritorio LED regulable", "39.99"),
    ("Cafetière à piston 1 l", "22.00"), ("Zaino da trekking 30 l", "59.90"),
    ("Nordic-walking-Stöcke, Carbon", "44.95"), ("Bordspel: Kolonisten van Catan", "42.99"),
    ("Handduk i bomull, 4-pack", "29.00"), ("USB-C-Ladekabel 2 m, geflochten", "9.99"),
    ("Kerzenset Duft Zimt & Orange", "14.50"), ("Puzzle 1000 Teile Bodensee", "17.99"),
)
PRICE_FACTOR = {"EUR": 1.0, "GBP": 0.86, "PLN": 4.3, "SEK": 11.5, "TRY": 36.0}

CARRIERS_BY_COUNTRY = {
    "DE": ("DHL", "DPD", "GLS", "Hermes Logistik Gruppe", "Deutsche Post"),
    "NL": ("PostNL", "DHL", "GLS", "DPD"),
    "UK": ("Royal Mail", "DPD", "UPS", "Parcelforce"),
    "FR": ("Colissimo", "Chronopost", "GLS", "DPD"),
    "IT": ("BRT", "GLS", "Poste Italiane", "SDA"),
    "ES": ("SEUR", "Correos", "GLS", "DHL"),
}
DEFAULT_CARRIERS = ("DHL", "GLS", "DPD", "UPS")


class Draw(random.Random):
    """``random.Random`` with cheaper draws for the hot paths of seeding."""

    def pick(self, options: Sequence[T]) -> T:
        """One of ``options``."""
        return options[int(self.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, both included."""
        return low + int(self.random() * (high - low + 1))

    def digits(self, count: int) -> str:
        """``count`` decimal digits (count <= 15)."""
        return f"{int(self.random() * 10**count):0{count}d}"


def seller_id(rng: random.Random) -> str:
    """An Amazon-shaped selling partner id: ``A`` and 13 upper-case letters or digits."""
    return "A" + "".join(rng.choice(_ID_CHARS) for _ in range(13))


def generate_sellers(seed: int, count: int, marketplaces: list[str]) -> list[Seller]:
    """``count`` sellers; the first sells in every marketplace, the others in most of them."""
    rng = random.Random(f"{seed}:sellers")
    sellers = []
    seen: set[str] = set()
    for index in range(count):
        sid = seller_id(rng)
        while sid in seen:
            sid = seller_id(rng)
        seen.add(sid)
        name = STORE_NAMES[index % len(STORE_NAMES)]
        if index >= len(STORE_NAMES):
            name = f"{name} {index // len(STORE_NAMES) + 1}"
        codes = list(marketplaces)
        if index > 0 and len(codes) > 2 and rng.random() < 0.5:
            codes.pop(rng.randrange(1, len(codes)))
        sellers.append(Seller(sid, name, tuple(codes)))
    return sellers


def generate_orders(
    seed: int, seller: Seller, count: int, now: int, taken: set[str] | dict[str, Order]
) -> Iterator[Order]:
    """The searchable core of ``count`` orders of ``seller``, spread over the last ten days."""
    rng = Draw(f"{seed}:orders:{seller.seller_id}")
    rand = rng.random
    # The seller's first marketplace takes 60 % of its orders, the others share the rest.
    markets = seller.marketplaces
    others = markets[1:]
    for _ in range(count):
        r = rand()
        market = markets[0] if r < 0.6 or not others else others[int((r - 0.6) / 0.4 * len(others))]
        afn = rand() < 0.25
        r = rand()
        if afn:
            status = PENDING if r < 0.05 else UNSHIPPED if r < 0.12 else SHIPPED if r < 0.94 else CANCELLED
        else:
            status = (PENDING if r < 0.08 else UNSHIPPED if r < 0.45 else PARTIALLY_SHIPPED if r < 0.52
                      else SHIPPED if r < 0.90 else CANCELLED)
        age = rand() * HISTORY_DAYS * DAY
        if status == PENDING:
            age = min(age, rand() * DAY)
        created = int(now - age)
        updated = created + int(rand() * min(age, 2 * DAY))
        programs: list[str] = []
        r = rand()
        if afn:
            if r < 0.6:
                programs.append("PRIME")
        else:
            if r < 0.25:
                programs.append("PRIME")
            elif r < 0.33:
                programs.append("AMAZON_EASY_SHIP")
            elif r < 0.38:
                programs.append("FBM_SHIP_PLUS")
        if rand() < 0.08:
            programs.append("AMAZON_BUSINESS")
        order_id = _order_id(rng)
        while order_id in taken:
            order_id = _order_id(rng)
        yield Order(order_id, seller.seller_id, market, created, updated, status,
                    AMAZON if afn else MERCHANT, tuple(programs))


_ORDER_PREFIXES = ("028", "171", "302", "303", "304", "305", "306", "403", "404", "405", "407")


def _order_id(rng: Draw) -> str:
    return f"{rng.pick(_ORDER_PREFIXES)}-{rng.digits(7)}-{rng.digits(7)}"


def make_detail(seed: int, order: Order) -> Detail:
    """The order's items, recipient, buyer, windows and seeded packages; same input, same result."""
    rng = Draw(f"{seed}:{order.order_id}")
    rand = rng.random
    market = MARKETPLACES[order.marketplace]
    currency = market.currency
    factor = PRICE_FACTOR.get(currency, 1.0)
    r = rand()
    count = 1 if r < 0.55 else 2 if r < 0.8 else 3 if r < 0.92 else 4
    items = []
    chosen: list[int] = []
    while len(chosen) < count:
        product_index = int(rand() * len(PRODUCTS))
        if product_index in chosen:
            continue
        chosen.append(product_index)
        r = rand()
        items.append(Item(
            str(rng.between(10**13, 10**14 - 1)),
            _ASINS[product_index],
            f"SKU-{product_index + 1:03d}-{market.code}",
            PRODUCTS[product_index][0],
            1 if r < 0.7 else 2 if r < 0.9 else 3,
            _price(product_index, currency),
            rand() < 0.05,
        ))
    if order.status == PARTIALLY_SHIPPED and len(items) == 1 and items[0].quantity == 1:
        items[0].quantity = 2

    country_code = "GB" if market.code == "UK" else market.code
    if rand() < 0.12 and market.code in NEIGHBOURS:
        country_code = rng.pick(NEIGHBOURS[market.code])
    address, buyer = _people(rng, COUNTRIES[country_code], market.code, order)

    service = _service_level(rng, order.programs)
    ship_latest = _end_of_day(order.created + DAY * (1 if service in ("NEXT_DAY", "SAME_DAY") else rng.between(1, 3)))
    deliver_earliest = _end_of_day(ship_latest + 1) - DAY + 1
    deliver_latest = _end_of_day(ship_latest + DAY * (1 if service in ("NEXT_DAY", "SAME_DAY") else rng.between(2, 5)))

    detail = Detail(
        items=items,
        address=address,
        buyer=buyer,
        currency=currency,
        shipping_price=f"{(0 if 'PRIME' in order.programs else 3.99) * factor:.2f}",
        service_level=service,
        ship_by=(order.created, ship_latest),
        deliver_by=(deliver_earliest, deliver_latest),
        seller_order_id=f"SO-{rng.between(10**6, 10**7 - 1)}" if rand() < 0.6 else None,
    )
    if order.status == CANCELLED:
        detail.cancel_reason = rng.pick(("BUYER_CANCELLED", "NO_INVENTORY", "SHIPPING_ADDRESS_UNDELIVERABLE"))
    if order.fulfilled_by == MERCHANT and order.status in (SHIPPED, PARTIALLY_SHIPPED):
        _seed_packages(rng, order, detail, market.code)
    return detail


def _people(rng: Draw, country: Country, market_code: str, order: Order) -> tuple[dict[str, str], dict[str, str]]:
    name = f"{rng.pick(country.first_names)} {rng.pick(country.last_names)}"
    city, postal, region = rng.pick(country.cities)
    address = {
        "name": name,
        "addressLine1": country.street_format.format(street=rng.pick(country.streets), number=rng.between(1, 180)),
        "city": city,
        "postalCode": postal,
        "countryCode": country.code,
        "phone": country.phone_prefix + rng.digits(country.phone_digits),
        "addressType": "RESIDENTIAL",
    }
    if region:
        address["stateOrRegion"] = region
    business = "AMAZON_BUSINESS" in order.programs
    r = rng.random()
    company = None
    if business or r < 0.12:
        company = rng.pick(country.companies)
        address["companyName"] = company
        address["addressType"] = "COMMERCIAL"
    elif r < 0.15:
        address["companyName"] = rng.pick(country.pickup_points)
        address["addressType"] = "PICKUP_POINT"
    r = rng.random()
    if r < 0.3:
        address["addressLine2"] = rng.pick(country.line2)
        if r < 0.05:
            address["addressLine3"] = f"c/o {rng.pick(country.first_names)} {rng.pick(country.last_names)}"
    buyer_name = name if rng.random() < 0.85 else f"{rng.pick(country.first_names)} {rng.pick(country.last_names)}"
    tld = MARKETPLACES[market_code].domain.removeprefix("www.amazon.")
    buyer = {
        "buyerName": buyer_name,
        "buyerEmail": f"{rng.getrandbits(64):016x}@marketplace.amazon.{tld}",
    }
    if business and company:
        buyer["buyerCompanyName"] = company
        if rng.random() < 0.5:
            buyer["buyerPurchaseOrderNumber"] = f"PO-{rng.digits(6)}"
    return address, buyer


def _service_level(rng: Draw, programs: tuple[str, ...]) -> str:
    r = rng.random()
    if "PRIME" in programs:
        return "NEXT_DAY" if r < 0.5 else "SECOND_DAY" if r < 0.8 else "SAME_DAY" if r < 0.85 else "STANDARD"
    return "STANDARD" if r < 0.75 else "EXPEDITED" if r < 0.9 else "FREE_ECONOMY" if r < 0.97 else "PRIORITY"


def _seed_packages(rng: Draw, order: Order, detail: Detail, market_code: str) -> None:
    carriers = CARRIERS_BY_COUNTRY.get(market_code, DEFAULT_CARRIERS)
    units = [(item.order_item_id, q) for item in detail.items for q in range(item.quantity)]
    if order.status == PARTIALLY_SHIPPED:
        units = units[: rng.between(1, len(units) - 1)]
    parcels = 1 if len(units) == 1 or rng.random() < 0.7 else 2
    span = max(order.updated - order.created, 1)
    for number in range(1, parcels + 1):
        share = units[number - 1 :: parcels]
        contents: dict[str, int] = {}
        for item_id, _ in share:
            contents[item_id] = contents.get(item_id, 0) + 1
        code = rng.pick(carriers)
        known = code in CARRIER_CODES
        shipped_at = order.created + int(span * (0.5 + 0.5 * rng.random()))
        detail.packages[str(number)] = Package(
            package_reference_id=str(number),
            carrier_code=code if known else "Other",
            carrier_name=None if known else code,
            tracking_number=rng.digits(12),
            ship_time=shipped_at,
            created_time=shipped_at,
            items=contents,
            shipping_method="Standard",
            status="DELIVERED" if order.updated - shipped_at > 2 * DAY else "IN_TRANSIT",
            origin="seller_central",
        )


def _asin(index: int) -> str:
    rng = random.Random(f"asin:{index}")
    return "B0" + "".join(rng.choice(_ID_CHARS) for _ in range(8))


_ASINS = tuple(_asin(index) for index in range(len(PRODUCTS)))


@functools.cache
def _price(product_index: int, currency: str) -> str:
    return f"{float(PRODUCTS[product_index][1]) * PRICE_FACTOR.get(currency, 1.0):.2f}"


def _end_of_day(seconds: int) -> int:
    return seconds - seconds % DAY + DAY - 1

