"""The fake connector: the hub API v1 over an in-memory ``FakeShop`` (``tests.contract.fake.shop``).

The contract kit's own subject, and core's connector for end-to-end tests: a consent connect,
synchronous confirmations, an "updated after" filter; its sibling ``tests.contract.keyshop`` has
the other shape (pasted credentials, asynchronous confirmations, full scans, signed events). It
stays on manifest ``hub_api = 1`` (connect options passed on as text) and imports only
``core.hubapi``. It is never installed as an entry point; register it yourself::

    import tests.contract.fake as fake
    from tests.contract.fake.shop import open_shop

    runner.register("fake", fake)          # core.infra.hooks.HookRunner
    shop = open_shop("default")            # the shop FakeSettings() points at
    shop.add_order()
    context = ConnectorContext(connection=..., credentials={"api_key": SecretStr("good-key")},
                               settings=fake.FakeSettings(), http=session, log=...)

Behaviour, hook by hook:

- ``authorize``: ``AuthStart`` gives a consent URL carrying ``state`` and ``redirect_uri``;
  ``FakeShop.consent(url)`` plays the merchant and returns the callback parameters; ``AuthCallback``
  exchanges the one-time ``code`` for ``{"api_key": "good-key"}``, account ``fake-<shop name>``.
  An unknown or used code raises ``ConnectorAuthFailed``.
- ``check_connection``: one ``ping`` call.
- ``import_orders``: the orders updated after ``cursor.since`` (a first import: the last
  ``lookback_days``) and at or before the shop's ``now`` when the run started, in (updated_at, id)
  order, ``page_size`` per page, one ``search_orders`` call per page. A page with more to come
  carries ``Cursor(since=<start of the window>, page_token=<the last position and the end of the
  window>)``; the last page ``Cursor(since=<end of the window>)``. A cursor in the future keeps its
  ``since``. Orders with ``skip_reason`` come as ``SkippedOrder``; cancelled ones with status
  ``cancelled``.
- ``on_label_created``: one ``confirm_shipment`` call per parcel (core calls it for the
  connector's own connections only). A transient failure on the first parcel raises (nothing
  was pushed); on a later parcel it gives that parcel ``retry``; a rejection gives ``failed``.
- ``disconnect``: revokes the API key in the shop.

Shop errors map through ``core.contract.errors.error_for_status``: 401 ``ConnectorAuthFailed``, 429
``RateLimited``, 5xx and ``ShopTimeout`` ``ConnectorNotReady``, other 4xx ``ConnectorRejected``.
A connection whose shop is not open answers ``ConnectorNotReady``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import urlencode

from pydantic import SecretStr

from core.hubapi import (
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    ConnectorAuthFailed,
    ConnectorContext,
    ConnectorError,
    ConnectorNotReady,
    Cursor,
    ImportPage,
    InvalidInput,
    Label,
    Order,
    ParcelOutcome,
    SkippedOrder,
    TransientError,
    error_for_status,
    hookimpl,
)
from tests.contract.fake.settings import FakeSettings
from tests.contract.fake.shop import FakeShop, ShopError, ShopTimeout, get_shop
from tests.contract.orders import order_of

#: The id the fake connector is registered under, as in its manifest.
CONNECTOR_ID = "fake"


@hookimpl
async def authorize(
    context: ConnectorContext, step: AuthStart | AuthCallback | AuthCredentials
) -> AuthRedirect | Authorization:
    """Consent URL for the start; a code exchanged for the API key on the callback."""
    settings, shop = _settings(context), _shop(context)
    if isinstance(step, AuthStart):
        query = urlencode({"state": step.state, "redirect_uri": step.redirect_uri, **step.options})
        return AuthRedirect(url=f"https://{shop.name}.fake-shop.invalid/consent?{query}")
    if not isinstance(step, AuthCallback):
        raise InvalidInput("The fake shop connects through its consent page; it takes no pasted credentials.")
    code = step.params.get("code")
    if not code:
        raise InvalidInput("The fake shop sent no code back: start connecting again.")
    try:
        api_key = await shop.exchange_code(code, settings.client_secret.get_secret_value())
    except (ShopError, ShopTimeout) as err:
        if isinstance(err, ShopError) and err.status == 400:
            raise ConnectorAuthFailed("The fake shop refused the consent code: connect again.", detail=str(err)) from err
        raise _core_error(err, "authorize") from err
    context.log.info("authorised by fake shop %s", shop.name)
    return Authorization(
        external_account_id=f"fake-{shop.name}",
        credentials={"api_key": SecretStr(api_key)},
        marketplaces=["NL"],
        display_name=f"Fake shop {shop.name}",
    )


@hookimpl
async def check_connection(context: ConnectorContext) -> None:
    """One ping with the stored API key."""
    shop = _shop(context)
    with _shop_errors("check_connection"):
        await shop.ping(_api_key(context))


@hookimpl
async def import_orders(context: ConnectorContext, cursor: Cursor) -> AsyncIterator[ImportPage]:
    """Pages of orders updated in (cursor.since, shop now], by (updated_at, id)."""
    settings, shop, api_key = _settings(context), _shop(context), _api_key(context)
    since = cursor.since or shop.now - timedelta(days=settings.lookback_days)
    position, until = _read_token(cursor.page_token) if cursor.page_token else (None, max(shop.now, since))
    while True:
        with _shop_errors("import_orders"):
            result = await shop.search_orders(api_key, since, until, position, settings.page_size)
        if result.more:
            last = result.orders[-1]
            position = (last.updated_at, last.id)
            next_cursor = Cursor(since=since, page_token=_token(position, until))
        else:
            next_cursor = Cursor(since=until)
        page = ImportPage(
            orders=[order_of(order) for order in result.orders if not order.skip_reason],
            skipped=[
                SkippedOrder(external_id=order.id, reason=order.skip_reason)
                for order in result.orders
                if order.skip_reason
            ],
            cursor=next_cursor,
        )
        context.log.debug(
            "fake import page with %d orders, %d skipped, more: %s",
            len(page.orders),
            len(page.skipped),
            result.more,
        )
        yield page
        if not result.more:
            return


@hookimpl
async def on_label_created(context: ConnectorContext, order: Order, label: Label) -> list[ParcelOutcome]:
    """One confirm_shipment per parcel."""
    shop, api_key = _shop(context), _api_key(context)
    outcomes = []
    for number, parcel in enumerate(label.parcels):
        items = {item.item_external_id: item.quantity for item in parcel.items}
        try:
            with _shop_errors("on_label_created"):
                await shop.confirm_shipment(
                    api_key, order.external_id, parcel.reference, parcel.tracking_number, label.carrier, items
                )
        except TransientError as err:
            if number == 0:
                raise
            outcomes.append(
                ParcelOutcome(reference=parcel.reference, state="retry", message=err.message, retry_after=err.retry_after)
            )
        except ConnectorAuthFailed:
            raise
        except ConnectorError as err:
            outcomes.append(ParcelOutcome(reference=parcel.reference, state="failed", message=err.message))
        else:
            outcomes.append(ParcelOutcome(reference=parcel.reference, state="confirmed"))
    context.log.debug("pushed %d parcels of a label", len(outcomes))
    return outcomes


@hookimpl
async def disconnect(context: ConnectorContext) -> None:
    """Revoke the API key in the shop."""
    shop = _shop(context)
    with _shop_errors("disconnect"):
        await shop.revoke(_api_key(context))


# helpers --------------------------------------------------------------------------------------


def _settings(context: ConnectorContext) -> FakeSettings:
    return FakeSettings.model_validate(context.settings, from_attributes=True)


def _shop(context: ConnectorContext) -> FakeShop:
    name = _settings(context).shop
    shop = get_shop(name)
    if shop is None:
        raise ConnectorNotReady(
            f"The fake shop {name!r} is not open; the hub will retry.",
            detail="open it with tests.contract.fake.shop.open_shop",
        )
    return shop


def _api_key(context: ConnectorContext) -> str:
    secret = context.credentials.get("api_key")
    return secret.get_secret_value() if secret else ""


_MESSAGES = {
    401: "The fake shop refused the API key: reconnect it under Settings > Integrations.",
    429: "The fake shop throttled the hub; it retries shortly.",
}


def _core_error(err: ShopError | ShopTimeout, hook: str) -> ConnectorError:
    """The core error for a shop error, keeping the shop's answer as the detail."""
    if isinstance(err, ShopTimeout):
        return ConnectorNotReady("The fake shop did not answer in time; the hub will retry.", detail=f"{hook}: {err}")
    message = _MESSAGES.get(err.status) or (
        "The fake shop is not answering; the hub will retry."
        if err.status >= 500
        else f"The fake shop rejected the request: {err.message}."
    )
    return error_for_status(err.status, message, detail=f"{hook}: {err}", retry_after=err.retry_after)


@contextmanager
def _shop_errors(hook: str) -> Iterator[None]:
    try:
        yield
    except (ShopError, ShopTimeout) as err:
        raise _core_error(err, hook) from err


def _token(position: tuple[datetime, str], until: datetime) -> str:
    return json.dumps([position[0].isoformat(), position[1], until.isoformat()])


def _read_token(token: str) -> tuple[tuple[datetime, str], datetime]:
    try:
        updated_at, order_id, until = json.loads(token)
        return (datetime.fromisoformat(updated_at), order_id), datetime.fromisoformat(until)
    except (ValueError, TypeError) as err:
        raise InvalidInput("The stored import position is unreadable; start the import from its last complete run.") from err


__all__ = [
    "CONNECTOR_ID",
    "FakeSettings",
    "authorize",
    "check_connection",
    "disconnect",
    "import_orders",
    "on_label_created",
]
