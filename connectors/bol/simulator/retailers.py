"""``GET /retailer/retailers/{retailer-id}``: a retailer's public information; ``current`` is the caller.

The hub keys a bol.com connection by ``retailerId`` from ``/retailer/retailers/current``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .gateway import Call, operation
from .problems import bad_request, json_answer, not_found
from .records import Retailer
from .state import STATE


@operation("get-retailer-information")
async def get_retailer(request: web.Request, call: Call) -> web.Response:
    """The caller's (``current``) or another retailer's information."""
    wanted = request.match_info["retailer_id"]
    if wanted == "current":
        return json_answer(render_retailer(call.retailer), media_type=call.media_type)
    if not wanted.isdigit():
        raise bad_request(("retailer-id", "must be a retailer id or 'current'"))
    retailer = request.app[STATE].retailers.get(wanted)
    if retailer is None:
        raise not_found(f"Retailer with id {wanted} could not be found.")
    return json_answer(render_retailer(retailer), media_type=call.media_type)


def render_retailer(retailer: Retailer) -> dict[str, Any]:
    """A ``RetailerInformationResponse``."""
    return {
        "retailerId": retailer.retailer_id,
        "displayName": retailer.display_name,
        "companyName": retailer.company_name,
        "vatNumber": retailer.vat_number,
        "kvkNumber": retailer.kvk_number,
        "registrationDate": retailer.registration_date,
        "topRetailer": False,
        "ratingMethod": "THREE_MONTHS",
        "retailerRating": {"retailerRating": 9.1, "productInformationRating": 9.6, "deliveryTimeRating": 9.4,
                           "shippingRating": 9.4, "serviceRating": 9.0},
        "retailerReview": {"totalReviewCount": 14, "positiveReviewCount": 13, "neutralReviewCount": 1,
                           "negativeReviewCount": 0},
    }
