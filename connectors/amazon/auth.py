"""Authorising the hub in Seller Central (website workflow), checking and letting go of a connection.

Connect: ``AuthStart`` gives the consent URL of the chosen marketplace's Seller Central; Amazon
sends the browser back to the redirect URI with ``spapi_oauth_code`` and ``selling_partner_id``;
``AuthCallback`` exchanges the code (valid five minutes) at LWA and reads the seller's marketplace
participations. Core signs, checks and consumes ``state``.

Re-authorisation through the Login URI (Amazon asks every 365 days): Amazon opens the app's Login
URI (the hub's ``/connect/login/amazon``) with ``amazon_callback_uri``, ``amazon_state``,
``selling_partner_id`` (the manifest's ``login_account_param``) and, for a draft app,
``version=beta``. Core finds the connection of that seller and calls ``authorize`` with an
``AuthStart`` whose ``options`` are those parameters. The redirect returned goes back to Amazon's
``amazon_callback_uri`` (only a Seller Central address) with ``redirect_uri``, ``amazon_state`` and
``state``; Amazon then calls the redirect URI exactly as after a first consent, so the callback
leg is the same.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import SecretStr

from connectors.amazon.client import ClientState, Lwa, SpApi, connection_api, region_hints, token_key
from connectors.amazon.const import (
    CREDENTIAL_REFRESH_TOKEN,
    CREDENTIAL_REGION,
    MARKETPLACES,
    MARKETPLACES_BY_ID,
    OFFERED_MARKETPLACES,
    Region,
    find_marketplace,
)
from connectors.amazon.settings import AmazonSettings
from core.hubapi import (
    AuthCallback,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorAuthFailed,
    ConnectorContext,
    InvalidInput,
)

#: Options of a Login-URI ``AuthStart`` (the parameters Amazon sent to the Login URI).
LOGIN_CALLBACK_URI, LOGIN_STATE = "amazon_callback_uri", "amazon_state"


def start(context: ConnectorContext, settings: AmazonSettings, step: AuthStart) -> AuthRedirect:
    """Where to send the merchant: the consent page, or back to Amazon for a Login-URI re-authorisation.

    The marketplace is ``options["marketplace"]`` (a country code or a marketplace id), else the
    connection's first marketplace.
    """
    settings.require_app()
    if LOGIN_CALLBACK_URI in step.options:
        return _login_redirect(settings, step)
    known = context.connection.settings.marketplaces
    chosen = step.options.get("marketplace") or (known[0] if known else "")
    marketplace = find_marketplace(chosen) if chosen else None
    if marketplace is None:
        raise InvalidInput(
            f"Choose the Amazon marketplace to connect, one of {', '.join(MARKETPLACES)}"
            + (f" ({chosen!r} is not one)." if chosen else "."),
            field="marketplace",
        )
    query = {"application_id": settings.application_id, "state": step.state, "redirect_uri": step.redirect_uri}
    if settings.draft_app:
        query["version"] = "beta"
    return AuthRedirect(url=f"{settings.consent_url(marketplace)}?{urlencode(query)}")


def _login_redirect(settings: AmazonSettings, step: AuthStart) -> AuthRedirect:
    callback = step.options[LOGIN_CALLBACK_URI]
    amazon_state = step.options.get(LOGIN_STATE, "")
    parts = urlsplit(callback)
    origin = f"{parts.scheme}://{parts.netloc}"
    # Only Seller Central may receive the signed state: anything else would be an open redirect.
    if parts.scheme not in ("https", "http") or origin not in settings.seller_central_origins():
        raise InvalidInput("The amazon_callback_uri is not a Seller Central address: start from Seller Central again.")
    if not amazon_state:
        raise InvalidInput("Amazon's Login URI call lacks amazon_state: start from Seller Central again.")
    query = {"redirect_uri": step.redirect_uri, "amazon_state": amazon_state, "state": step.state}
    if settings.draft_app or step.options.get("version") == "beta":
        query["version"] = "beta"
    return AuthRedirect(url=f"{callback}{'&' if parts.query else '?'}{urlencode(query)}")


async def complete(
    context: ConnectorContext, settings: AmazonSettings, state: ClientState, step: AuthCallback
) -> Authorization:
    """Finish a connect: exchange the code, find the seller's region and marketplaces."""
    params = step.params
    if params.get("error"):
        raise ConnectorAuthFailed(
            "The authorisation was declined or cancelled in Seller Central; click Connect to try again.",
            detail=f"Amazon callback error={params.get('error')}",
        )
    code, seller = params.get("spapi_oauth_code", ""), params.get("selling_partner_id", "")
    if not code or not seller or not seller.isalnum():
        raise InvalidInput(
            "Amazon's answer lacks spapi_oauth_code or selling_partner_id: click Connect to try again."
        )
    grant = await Lwa(settings, context.http, state, context.log).exchange_code(code, step.redirect_uri)
    refresh_token = grant.refresh_token or ""
    await state.tokens.put(token_key(refresh_token), grant.access_token, grant.expires_in)
    region, participations = await _find_region(context, settings, state, refresh_token, seller)
    participating = [entry for entry in participations if _participating(entry)]
    marketplaces, others = offered_marketplaces(participating)
    if others:
        # Participations also list marketplaces the hub does not offer (non-retail ones among them).
        context.log.info("seller also sells in marketplaces the hub does not offer: %s", ", ".join(others))
    store_names = [entry.get("storeName") for entry in participating + participations]
    context.log.info(
        "authorised Amazon seller in region %s, importing from %s", region.value, ", ".join(marketplaces) or "-"
    )
    return Authorization(
        external_account_id=seller,
        credentials={
            CREDENTIAL_REFRESH_TOKEN: SecretStr(refresh_token),
            CREDENTIAL_REGION: SecretStr(region.value),
        },
        marketplaces=marketplaces,
        display_name=next((name for name in store_names if isinstance(name, str) and name), None),
    )


def offered_marketplaces(participating: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The offered marketplaces (country codes, in the offer's order) among a seller's participations, and the ids of the others."""
    ids = [entry["marketplace"].get("id") for entry in participating]
    ids = [value for value in ids if isinstance(value, str) and value]
    countries = {MARKETPLACES_BY_ID[value].country for value in ids if value in MARKETPLACES_BY_ID}
    offered = [code for code in OFFERED_MARKETPLACES if code in countries]
    others = [value for value in ids if value not in MARKETPLACES_BY_ID or MARKETPLACES_BY_ID[value].country not in offered]
    return offered, list(dict.fromkeys(others))


def _participating(entry: dict[str, Any]) -> bool:
    participation, marketplace = entry.get("participation"), entry.get("marketplace")
    return (
        isinstance(participation, dict)
        and participation.get("isParticipating") is True
        and isinstance(marketplace, dict)
    )


async def _find_region(
    context: ConnectorContext, settings: AmazonSettings, state: ClientState, refresh_token: str, seller: str
) -> tuple[Region, list[dict[str, Any]]]:
    """The region whose SP-API accepts the new grant, with the seller's participations there.

    The callback does not say which Seller Central the merchant consented in, and a grant works in
    that region only; so the regions are tried in turn, the likeliest first.
    """
    last: ConnectorAuthFailed | None = None
    # The carrier ships in Europe: EU first when nothing hints otherwise.
    for region in dict.fromkeys([*region_hints(context), Region.EU, Region.NA, Region.FE]):
        api = SpApi(
            settings, context.http, state, refresh_token=refresh_token, region=region, seller=seller, log=context.log
        )
        try:
            return region, await api.marketplace_participations(refresh_on_denied=False)
        except ConnectorAuthFailed as err:
            last = err
    raise ConnectorAuthFailed(
        "Amazon authorised the hub but refuses its calls in every region: check that the app has the "
        "Inventory and Order Tracking and Direct-to-Consumer Delivery roles, then click Connect again.",
        detail=last.detail if last else None,
    ) from last


async def check(context: ConnectorContext, settings: AmazonSettings, state: ClientState) -> None:
    """Prove the credentials work: a token refresh and ``getMarketplaceParticipations``."""
    await connection_api(context, settings, state).marketplace_participations()


async def forget(context: ConnectorContext, state: ClientState) -> None:
    """Drop the connection's cached access token, in every process (Amazon has no call to revoke a grant)."""
    refresh = context.credentials.get(CREDENTIAL_REFRESH_TOKEN)
    if refresh is not None:
        await state.tokens.drop(token_key(refresh.get_secret_value()))

