"""The connection's webhook subscription at bol.com: made on connect, kept enabled, removed on disconnect.

bol.com posts ``ORDER`` and ``PROCESS_STATUS`` events to the connection's events URL, which must be
https (``BolSettings.webhook_url``; the simulator also takes http://127.0.0.1). bol.com disables a
subscription whose deliveries keep failing; imports notice that (every
``subscription_check_minutes``) and enable it again. The subscription is found by its URL, so no
id needs storing. Webhooks only make the hub look sooner: a failure here is logged, never fatal.

bol.com makes a subscription only once its ``CREATE_SUBSCRIPTION`` process settles, so a second
look soon after the first finds none and would ask for another. When a URL was last made sure
of is kept in core's coordination (``subscription:<digest of the URL>``, valid for
``subscription_check_minutes``): the import right after a connect, and every other process, leave
it alone meanwhile (a second subscription all the same, from an older hub, is removed the next time).
"""

from __future__ import annotations

import hashlib
from typing import Any

from connectors.bol.client import BolApi, BolState
from connectors.bol.const import RESOURCE_PROCESS_STATUS, SUBSCRIBED_RESOURCES, WEBHOOK
from connectors.bol.errors import BolRejected
from connectors.bol.settings import BolSettings
from core.hubapi import ConnectorAuthFailed, ConnectorContext, ConnectorError, TransientError


def request(url: str, resources: tuple[str, ...] = SUBSCRIBED_RESOURCES) -> dict[str, Any]:
    """The ``SubscriptionRequest`` for the hub's events URL."""
    return {"resources": list(resources), "url": url, "subscriptionType": WEBHOOK, "enabled": True}


def _checked_key(url: str) -> str:
    return "subscription:" + hashlib.sha256(url.encode()).hexdigest()[:32]


async def _claim(state: BolState, url: str, settings: BolSettings) -> bool:
    """Whether no process made sure of ``url`` within ``subscription_check_minutes``; if so, this one now does."""
    claimed = False

    async def claim() -> tuple[str, float]:
        nonlocal claimed
        claimed = True
        return "checked", settings.subscription_check_minutes * 60

    await state.store.secret(_checked_key(url), claim)
    return claimed


async def ensure(context: ConnectorContext, settings: BolSettings, state: BolState, api: BolApi) -> str:
    """Make sure bol.com posts the hub's events to ``context.events_url``; say what was done (for the log).

    ``ConnectorAuthFailed`` is raised; other failures are logged and reported as not done.
    """
    url = settings.webhook_url(context.events_url)
    if url is None:
        return "polling only (no https events URL)"
    try:
        done = await _ensure(api, url)
    except ConnectorAuthFailed:
        raise
    except ConnectorError as err:
        context.log.warning("bol.com event subscription not made sure of: %s (%s)", err, err.detail)
        return "not made sure of"
    try:
        await state.store.forget(_checked_key(url))
        await _claim(state, url, settings)
    except TransientError as err:
        # The subscription stands; only the mark that spares the next look is missing.
        context.log.warning("bol.com event subscription made sure of, but not marked: %s", err.detail)
    return done


async def _ensure(api: BolApi, url: str) -> str:
    ours = [s for s in await api.subscriptions() if s.get("url") == url and s.get("subscriptionType") == WEBHOOK]
    for extra in ours[1:]:
        # Two ensures while bol.com was still creating the first: one subscription is enough.
        await api.delete_subscription(str(extra.get("id")))
    if ours:
        current = ours[0]
        resources = set(current.get("resources") or [])
        if current.get("enabled") is not False and resources >= set(SUBSCRIBED_RESOURCES):
            return "subscribed"
        wanted = tuple(dict.fromkeys([*SUBSCRIBED_RESOURCES, *sorted(r for r in resources if r != "TEST")]))
        await api.update_subscription(str(current.get("id")), request(url, wanted))
        return "subscription enabled again"
    try:
        await api.create_subscription(request(url))
    except BolRejected:
        # Which resources a webhook may carry is not documented for ORDER: settle for process statuses.
        await api.create_subscription(request(url, (RESOURCE_PROCESS_STATUS,)))
        return "subscribed to process statuses only"
    return "subscribed"


async def ensure_now_and_then(context: ConnectorContext, settings: BolSettings, state: BolState, api: BolApi) -> None:
    """``ensure`` once per ``subscription_check_minutes`` per events URL, among all processes (imports call it)."""
    url = settings.webhook_url(context.events_url)
    try:
        if url is None or not await _claim(state, url, settings):
            return
    except TransientError as err:
        context.log.warning("bol.com event subscription not looked at (the mark could not be read): %s", err.detail)
        return
    done = await ensure(context, settings, state, api)
    context.log.info("bol.com events: %s", done)


async def remove(context: ConnectorContext, state: BolState, api: BolApi) -> int:
    """Delete the subscriptions that post to the connection's events URL; return how many."""
    if not context.events_url:
        return 0
    await state.store.forget(_checked_key(context.events_url))
    removed = 0
    for subscription in await api.subscriptions():
        if subscription.get("url") == context.events_url and subscription.get("id") is not None:
            await api.delete_subscription(str(subscription["id"]))
            removed += 1
    return removed
