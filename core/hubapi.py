"""Hub API v2: everything a connector may import, in one module.

A connector package imports from here and nowhere else in ``core`` or ``hub`` (import-linter
checks it in CI); what stands behind these names may move. Its tests use the contract kit,
``core.testing``. The hooks are specified, with a docstring each, in ``core.contract.hookspecs``; the
walk-through is docs/hooks.md and docs/writing-a-connector.md.

    from core.hubapi import ConnectorContext, ImportPage, hookimpl

    @hookimpl
    async def check_connection(context: ConnectorContext) -> None:
        ...
"""

from __future__ import annotations

from core.contract.context import ConnectorContext, ConnectorSetup, utc_now
from core.contract.demo import DemoShop
from core.contract.errors import (
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
    shop_error,
)
from core.contract.hookspecs import HUB_API_VERSION, hookimpl
from core.contract.models import (
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
from core.infra.coordination import Coordination, Slot
from core.infra.logs import register_secret
from core.infra.metrics import SHOP_CALLS
from core.infra.shopclient import (
    NETWORK_ERRORS,
    AccessTokens,
    ClientParts,
    Clock,
    Pacer,
    RetryPolicy,
    SystemClock,
    TokenBucket,
    count_call,
    exchange,
    header_number,
    parse_json,
    retry_after_seconds,
    retrying,
)

__all__ = [
    "HUB_API_VERSION",
    "MESSAGES",
    "NETWORK_ERRORS",
    "SHOP_CALLS",
    "AccessTokens",
    "AcceptedParcel",
    "Address",
    "AuthCallback",
    "AuthCredentials",
    "AuthRedirect",
    "AuthStart",
    "Authorization",
    "ClientParts",
    "Clock",
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
    "Pacer",
    "Parcel",
    "ParcelItem",
    "ParcelOutcome",
    "RateLimited",
    "RetryPolicy",
    "ShopEvent",
    "SkippedOrder",
    "Slot",
    "SystemClock",
    "TimeWindow",
    "TokenBucket",
    "TransientError",
    "UtcDatetime",
    "count_call",
    "error_for_status",
    "exchange",
    "utc_now",
    "header_number",
    "hookimpl",
    "message_text",
    "parse_json",
    "register_secret",
    "retry_after_seconds",
    "retrying",
    "shop_error",
]
