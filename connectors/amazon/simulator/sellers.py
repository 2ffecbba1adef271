"""Sellers API v1 ``getMarketplaceParticipations``: the marketplaces the seller sells in."""

from __future__ import annotations

from aiohttp import web

from .answers import json_response
from .gateway import operation
from .marketplace import MARKETPLACES
from .state import STATE


@operation("getMarketplaceParticipations")
async def marketplace_participations(request: web.Request, seller_id: str) -> web.Response:
    """``GET /sellers/v1/marketplaceParticipations`` in the model's shape (``payload`` list)."""
    seller = request.app[STATE].seller(seller_id)
    payload = []
    for code in seller.marketplaces:
        market = MARKETPLACES[code]
        payload.append({
            "marketplace": {
                "id": market.marketplace_id,
                "countryCode": market.country_code,
                "name": market.name,
                "defaultCurrencyCode": market.currency,
                "defaultLanguageCode": market.language,
                "domainName": market.domain,
            },
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
            "storeName": seller.store_name,
        })
    return json_response({"payload": payload})
