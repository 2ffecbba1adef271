"""bol.com's fixed facts: hosts, paths, the media type, published rate limits, names on the wire.

Sources are in ../shared/reference/bol-contract.md; values marked there as unverified are marked
here too, and the client adapts to what bol.com's answers say (``X-RateLimit-*``, ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass

API_URL = "https://api.bol.com"
TOKEN_URL = "https://login.bol.com/token"
#: The token endpoint's path when ``endpoint`` puts everything on one host (the simulator).
TOKEN_PATH = "/token"

#: Retailer API v10, both ways (Accept always, Content-Type with a body).
MEDIA_TYPE = "application/vnd.retailer.v10+json"

#: What the merchant pastes, and what the hub stores (core encrypts it).
CLIENT_ID, CLIENT_SECRET = "client_id", "client_secret"

#: The transporter code of GLS in ``TransportInstruction`` (bol.com's list of codes is not an enum).
TRANSPORTER_GLS = "GLS"

#: bol.com pages its lists by 50.
LIST_PAGE_SIZE = 50
#: ``change-interval-minute`` may be at most 60.
MAX_CHANGE_INTERVAL_MINUTES = 60
#: ``POST /shared/process-status`` takes 1 to 1000 ids.
MAX_BULK_PROCESS_STATUSES = 1000

#: Process status states.
PENDING, SUCCESS, FAILURE, TIMEOUT = "PENDING", "SUCCESS", "FAILURE", "TIMEOUT"
CREATE_SHIPMENT = "CREATE_SHIPMENT"

#: Fulfilment: bol.com's order-item fields that decide whether the merchant ships an item.
FBR, FBB = "FBR", "FBB"
RETAILER, BOL = "RETAILER", "BOL"

#: Event resources the hub subscribes to: new or changed orders, settled process statuses.
SUBSCRIBED_RESOURCES = ("ORDER", "PROCESS_STATUS")
RESOURCE_ORDER, RESOURCE_PROCESS_STATUS = "ORDER", "PROCESS_STATUS"
WEBHOOK = "WEBHOOK"
SIGNATURE_HEADER = "signature"

# Operations: (method, path template). The path template is also the pacing key, as bol.com's
# rate limits are per endpoint.
GET_RETAILER = ("GET", "/retailer/retailers/{retailer-id}")
GET_ORDERS = ("GET", "/retailer/orders")
GET_ORDER = ("GET", "/retailer/orders/{order-id}")
POST_SHIPMENT = ("POST", "/retailer/shipments")
GET_SHIPMENTS = ("GET", "/retailer/shipments")
GET_SHIPMENT = ("GET", "/retailer/shipments/{shipment-id}")
PUT_TRANSPORT = ("PUT", "/retailer/transports/{transport-id}")
GET_SUBSCRIPTIONS = ("GET", "/retailer/subscriptions")
POST_SUBSCRIPTION = ("POST", "/retailer/subscriptions")
PUT_SUBSCRIPTION = ("PUT", "/retailer/subscriptions/{subscription-id}")
DELETE_SUBSCRIPTION = ("DELETE", "/retailer/subscriptions/{subscription-id}")
GET_SIGNATURE_KEYS = ("GET", "/retailer/subscriptions/signature-keys")
GET_PROCESS_STATUS = ("GET", "/shared/process-status/{process-status-id}")
GET_PROCESS_STATUSES = ("GET", "/shared/process-status")
POST_PROCESS_STATUSES = ("POST", "/shared/process-status")

Operation = tuple[str, str]

#: Operations that change something at bol.com and take no idempotency key: never repeated after
#: an answer that may have been lost (a 5xx, a timeout, a dropped connection), only after a 429
#: (which bol.com answers before doing anything). The caller finds out what happened instead.
NOT_REPEATABLE: frozenset[Operation] = frozenset({POST_SHIPMENT, POST_SUBSCRIPTION})


@dataclass(frozen=True)
class RateLimit:
    """A bucket of ``capacity`` calls refilled over ``per_seconds``."""

    capacity: int
    per_seconds: float

    @property
    def rate(self) -> float:
        """Calls a second."""
        return self.capacity / self.per_seconds


#: bol.com's published limits per endpoint (GET https://api.bol.com/retailer/public/ratelimits,
#: as copied by third parties); the answers' X-RateLimit-* headers correct them.
RATE_LIMITS: dict[Operation, RateLimit] = {
    GET_ORDERS: RateLimit(25, 60),
    GET_ORDER: RateLimit(25, 1),
    POST_SHIPMENT: RateLimit(25, 1),
    GET_SHIPMENTS: RateLimit(25, 60),
    GET_SHIPMENT: RateLimit(50, 60),
    POST_PROCESS_STATUSES: RateLimit(2, 1),  # unverified
    GET_SIGNATURE_KEYS: RateLimit(10, 3600),  # unverified
}
#: For endpoints bol.com publishes no limit for (unverified ones): a cautious guess.
DEFAULT_RATE_LIMIT = RateLimit(10, 1)

#: Seconds before an access token's expiry when the hub gets a new one (bol.com's last 299 s).
TOKEN_REFRESH_MARGIN = 30.0
