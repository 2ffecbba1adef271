"""Example Shop's REST API, as the hooks use it, with every failure mapped to a hub error.

All calls go through the hub's HTTP session (``context.http``), carry the connection's API key
as a bearer token, and end in one of the errors the hub acts on: a 401 ``ConnectorAuthFailed``
(the merchant reconnects), a 429 ``RateLimited``, a 5xx or no answer ``ConnectorNotReady`` (the
hub retries), any other 4xx ``ConnectorRejected``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import SecretStr

from core.hubapi import ConfigError, ConnectorContext, ConnectorError, ConnectorNotReady, error_for_status
from exampleshop.settings import ExampleShopSettings

_MESSAGES = {
    401: "Example Shop refused the API key: create a new key in your shop (Settings > API) and reconnect.",
    403: "The API key lacks a right the hub needs (Orders read, Shipments write): create a key with both.",
    429: "Example Shop asked the hub to slow down; it retries shortly.",
}


class ShopClient:
    """One connection's view of the shop's API."""

    def __init__(self, context: ConnectorContext, api_key: SecretStr | None = None) -> None:
        self._http = context.http
        self._settings = settings_of(context)
        key = api_key if api_key is not None else context.credentials.get("api_key")
        self._api_key = key.get_secret_value() if key is not None else ""

    async def account(self) -> dict[str, Any]:
        """The shop account the key belongs to: ``{"id": ..., "name": ...}``."""
        return await self._call("GET", "/v1/account")

    async def orders(self, updated_after: datetime, updated_before: datetime, after: str | None) -> dict[str, Any]:
        """One page of the orders updated in (updated_after, updated_before], oldest first.

        ``after`` is the shop's own position token from the page before (``next``); the shop pages
        by (updated_at, id), so an order changing mid-run cannot shift the pages.
        """
        params = {
            "updated_after": updated_after.isoformat(),
            "updated_before": updated_before.isoformat(),
            "limit": str(self._settings.page_size),
        }
        if after:
            params["after"] = after
        return await self._call("GET", "/v1/orders", params=params)

    async def put_shipment(self, order_id: str, reference: str, shipment: dict[str, Any]) -> None:
        """Create or replace the shipment ``reference`` of an order: a repeat edits, never adds."""
        await self._call("PUT", f"/v1/orders/{order_id}/shipments/{reference}", json=shipment)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self._settings.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=self._settings.request_timeout)
        try:
            async with self._http.request(method, url, headers=headers, timeout=timeout, **kwargs) as response:
                if response.status >= 400:
                    raise _error(response.status, f"{method} {path}", await response.text(), response.headers)
                return await response.json() if response.status != 204 else None
        except (TimeoutError, aiohttp.ClientError) as err:
            raise ConnectorNotReady(
                "Example Shop did not answer; the hub will retry.", detail=f"{method} {path}: {type(err).__name__}"
            ) from err


def settings_of(context: ConnectorContext) -> ExampleShopSettings:
    """The connector's settings from a hook's context."""
    if not isinstance(context.settings, ExampleShopSettings):
        raise ConfigError(
            "The Example Shop connector received no Example Shop settings: its manifest must name "
            "exampleshop.settings:ExampleShopSettings."
        )
    return context.settings


def _error(status: int, call: str, body: str, headers: Any) -> ConnectorError:
    message = _MESSAGES.get(status) or (
        "Example Shop is not answering properly; the hub will retry."
        if status >= 500
        else f"Example Shop rejected the request: {_reason(body) or status}."
    )
    retry_after = headers.get("Retry-After")
    return error_for_status(
        status,
        message,
        detail=f"{call}: {status} {body[:300]}",
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _reason(body: str) -> str | None:
    """The shop's own explanation (``{"error": "..."}``), to show the merchant."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return str(answer["error"])[:200] if isinstance(answer, dict) and answer.get("error") else None
