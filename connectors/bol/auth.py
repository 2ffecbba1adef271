"""Connecting with the client credentials a merchant pastes, checking them, letting go.

The merchant creates a Client ID and secret in the bol.com Seller Dashboard (Instellingen >
Diensten > API instellingen) and pastes both on the Connect form. ``connect`` checks them with
bol.com before core stores anything: a token from the token endpoint, then
``GET /retailer/retailers/current``, whose ``retailerId`` keys the connection. When the hub has an
events URL bol.com may post to, it subscribes to the events the hub uses. bol.com's code flow for
enrolled intermediaries is not implemented (``intermediary_code_flow`` must stay off).
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors.bol import subscription
from connectors.bol.client import BolApi, BolState, connection_api
from connectors.bol.const import CLIENT_ID, CLIENT_SECRET
from connectors.bol.errors import SHOP, WHERE
from connectors.bol.settings import BolSettings
from core.hubapi import (
    AuthCredentials,
    Authorization,
    ConnectorAuthFailed,
    ConnectorContext,
    InvalidInput,
)


async def connect(
    context: ConnectorContext, settings: BolSettings, state: BolState, step: AuthCredentials
) -> Authorization:
    """Check pasted credentials with bol.com and name the retailer account they belong to."""
    fields = {name: value.get_secret_value().strip() for name, value in step.fields.items()}
    for name, label in ((CLIENT_ID, "Client ID"), (CLIENT_SECRET, "Client secret")):
        if not fields.get(name):
            raise InvalidInput.coded("field_missing", {"shop": SHOP, "field": label, "place": WHERE}, field=name)
    api = BolApi(
        settings, context.http, state, client_id=fields[CLIENT_ID], client_secret=fields[CLIENT_SECRET], log=context.log
    )
    retailer = await api.retailer()
    retailer_id = retailer.get("retailerId")
    if retailer_id is None or not str(retailer_id).strip():
        raise ConnectorAuthFailed.coded(
            "account_unnamed", {"shop": SHOP}, detail="RetailerInformationResponse without retailerId"
        )
    known = context.connection.external_account_id
    if known and str(retailer_id) != known:
        raise InvalidInput.coded("other_account", {"shop": SHOP, "found": retailer_id, "known": known}, field=CLIENT_ID)
    done = await subscription.ensure(context, settings, state, api)
    context.log.info("bol.com retailer connected; events: %s", done)
    names = [retailer.get(name) for name in ("displayName", "companyName")]
    return Authorization(
        external_account_id=str(retailer_id),
        credentials={CLIENT_ID: SecretStr(fields[CLIENT_ID]), CLIENT_SECRET: SecretStr(fields[CLIENT_SECRET])},
        display_name=next((str(name) for name in names if isinstance(name, str) and name.strip()), None),
    )


async def check(context: ConnectorContext, settings: BolSettings, state: BolState) -> None:
    """Prove the stored credentials work (a token, the retailer), and that the event subscription is there."""
    api = connection_api(context, settings, state)
    retailer = await api.retailer()
    known = context.connection.external_account_id
    if known and str(retailer.get("retailerId")) != known:
        raise ConnectorAuthFailed.coded(
            "account_changed", {"shop": SHOP, "known": known}, detail=f"retailerId {retailer.get('retailerId')}"
        )
    await subscription.ensure(context, settings, state, api)


async def disconnect(context: ConnectorContext, settings: BolSettings, state: BolState) -> None:
    """Unsubscribe the connection's events URL and forget its token."""
    api = connection_api(context, settings, state)
    try:
        removed = await subscription.remove(context, state, api)
        context.log.info("bol.com events: %d subscription(s) removed", removed)
    finally:
        await api.forget_token()

