"""Hub API v2: everything a connector may import, in one module.

A connector package imports from here and nowhere else in ``core`` or ``hub`` (import-linter
checks it in CI); what stands behind these names may move. Its tests use the contract kit,
``core.testing``. The hooks are specified, with a docstring each, in ``core.hookspecs``; the
walk-through is docs/hooks.md and docs/writing-a-connector.md.

    from core.hubapi import ConnectorContext, ImportPage, hookimpl

    @hookimpl
    async def check_connection(context: ConnectorContext) -> None:
        ...
"""

from __future__ import annotations

from core.context import ConnectorContext, ConnectorSetup, utc_now
from core.coordination import Coordination, Slot
from core.demo import DemoShop
from core.errors import (
    MESSAGES,
    ConfigError,
    ConnectorAuthFailed,
    ConnectorError,
    ConnectorNotReady,
    ConnectorRejected,
    EventRejected,
    HubError,
    InvalidInput,
    RateLimited,
    TransientError,
    error_for_status,
    message_text,
)
from core.hookspecs import HUB_API_VERSION, hookimpl
from core.logs import register_secret
from core.metrics import SHOP_CALLS
from core.models import (
    AcceptedParcel,
    Address,
    AuthCallback,
    AuthCredentials,
    Authorization,
    AuthRedirect,
    AuthStart,
    Connection,
    ConnectionSettings,
    ConnectionState,
    Cursor,
    EventMeaning,
    ImportPage,
    Label,
    Money,
    Order,
    OrderItem,
    OrderStatus,
    Parcel,
    ParcelItem,
    ParcelOutcome,
    ShopEvent,
    SkippedOrder,
    TimeWindow,
    UtcDatetime,
)

__all__ = [
    "HUB_API_VERSION",
    "MESSAGES",
    "SHOP_CALLS",
    "AcceptedParcel",
    "Address",
    "AuthCallback",
    "AuthCredentials",
    "AuthRedirect",
    "AuthStart",
    "Authorization",
    "ConfigError",
    "Connection",
    "ConnectionSettings",
    "ConnectionState",
    "ConnectorAuthFailed",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorNotReady",
    "ConnectorRejected",
    "ConnectorSetup",
    "Coordination",
    "Cursor",
    "DemoShop",
    "EventMeaning",
    "EventRejected",
    "HubError",
    "ImportPage",
    "InvalidInput",
    "Label",
    "Money",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Parcel",
    "ParcelItem",
    "ParcelOutcome",
    "RateLimited",
    "ShopEvent",
    "SkippedOrder",
    "Slot",
    "TimeWindow",
    "TransientError",
    "UtcDatetime",
    "error_for_status",
    "utc_now",
    "hookimpl",
    "message_text",
    "register_secret",
]
