"""Push-notification subscriptions: ``/retailer/subscriptions`` and the signature keys.

``POST`` takes a ``SubscriptionRequest`` (``resources`` from bol.com's list, ``url``,
``subscriptionType`` WEBHOOK, GCP_PUBSUB or AWS_SQS, ``enabled`` default true, ``identity`` an IAM
role ARN required for AWS_SQS). A WEBHOOK URL must be https, as at bol.com; unlike bol.com the
simulator also takes ``http://`` URLs on a loopback host (127.0.0.1, localhost, ::1) unless
``https_only`` is set, so tests and the demo receive webhooks. Shape errors are 400. The change is
accepted (202, ``CREATE_SUBSCRIPTION``; the new subscription's id is the status's ``entityId``) and
takes effect when the status settles. ``PUT /{id}`` replaces a subscription the same way
(``UPDATE_SUBSCRIPTION``; ``enabled: true`` re-enables one bol.com disabled), ``DELETE /{id}``
removes it (``DELETE_SUBSCRIPTION``), ``POST /test/{id}`` sends it a ``TEST`` message
(``SEND_SUBSCRIPTION_TST_MSG``); for an id the caller does not have these end in FAILURE.
``GET`` lists them and ``GET /{id}`` shows one (404 when unknown).

Only WEBHOOK subscriptions receive messages; GCP_PUBSUB and AWS_SQS ones are stored and listed.
The events the simulator sends (bol.com's names for ORDER are unverified, these are its choice):

- ``ORDER``: ``ORDER_CREATED`` when an order arrives (admin API), ``ORDER_ITEM_CANCELLATION_REQUEST``
  when a customer asks to cancel an item; ``resourceId`` is the order id;
- ``PROCESS_STATUS``: ``SUCCESS``, ``FAILURE`` or ``TIMEOUT`` when any process status of the
  retailer settles (a new subscription hears of its own ``CREATE_SUBSCRIPTION`` too);
  ``resourceId`` is the process status id;
- ``SHIPMENT``: ``UPDATE_TRANSPORT_EVENT`` when a transporter reports (admin API); ``resourceId`` is
  the shipment id;
- ``TEST``: ``TEST`` for the test endpoint; ``resourceId`` is the subscription id.

``GET /retailer/subscriptions/signature-keys`` publishes the public keys (see ``webhooks``).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from yarl import URL

from .gateway import Call, operation, read_json
from .problems import bad_request, enum_reason, json_answer, not_found
from .process_status import render_process_status
from .records import RESOURCES, SUBSCRIPTION_TYPES, Subscription
from .state import STATE, SubscriptionPlan

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")


@operation("get-push-notification-subscriptions")
async def list_subscriptions(request: web.Request, call: Call) -> web.Response:
    """The retailer's subscriptions."""
    found = request.app[STATE].subscriptions_of(call.retailer_id)
    return json_answer({"subscriptions": [render_subscription(s) for s in found]}, media_type=call.media_type)


@operation("post-push-notification-subscription", body=True)
async def create_subscription(request: web.Request, call: Call) -> web.Response:
    """Accept a new subscription."""
    state = request.app[STATE]
    plan = subscription_plan(await read_json(request), https_only=state.config.https_only)
    status = state.accept_subscription(call.retailer_id, plan, call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


@operation("get-push-notification-subscription")
async def get_subscription(request: web.Request, call: Call) -> web.Response:
    """One subscription."""
    subscription_id = request.match_info["subscription_id"]
    try:
        subscription = request.app[STATE].subscription(subscription_id, call.retailer_id)
    except KeyError:
        raise not_found(f"Subscription with id {subscription_id} could not be found.") from None
    return json_answer(render_subscription(subscription), media_type=call.media_type)


@operation("put-push-notification-subscription", body=True)
async def update_subscription(request: web.Request, call: Call) -> web.Response:
    """Accept a replacement of a subscription."""
    state = request.app[STATE]
    plan = subscription_plan(await read_json(request), https_only=state.config.https_only)
    status = state.accept_subscription_update(call.retailer_id, request.match_info["subscription_id"], plan,
                                              call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


@operation("delete-push-notification-subscription")
async def delete_subscription(request: web.Request, call: Call) -> web.Response:
    """Accept the removal of a subscription."""
    status = request.app[STATE].accept_subscription_delete(call.retailer_id, request.match_info["subscription_id"],
                                                           call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


@operation("post-test-push-notification")
async def test_subscription(request: web.Request, call: Call) -> web.Response:
    """Accept sending a TEST message to a subscription."""
    status = request.app[STATE].accept_test_message(call.retailer_id, request.match_info["subscription_id"],
                                                    call.forced_outcome)
    return json_answer(render_process_status(status, call.base_url), 202, media_type=call.media_type)


@operation("get-subscription-keys")
async def signature_keys(request: web.Request, call: Call) -> web.Response:
    """The public keys that verify the ``Signature`` header of pushed messages."""
    return json_answer({"signatureKeys": request.app[STATE].keys.published()}, media_type=call.media_type)


def subscription_plan(body: Any, *, https_only: bool) -> SubscriptionPlan:
    """Check a SubscriptionRequest (400 listing every violation) and read it."""
    if not isinstance(body, dict):
        raise bad_request(("body", "must be a SubscriptionRequest object"))
    problems: list[tuple[str, str]] = []
    resources = body.get("resources")
    if not isinstance(resources, list) or not resources:
        problems.append(("resources", "must contain at least one resource"))
        resources = []
    for index, resource in enumerate(resources):
        if resource not in RESOURCES:
            problems.append((f"resources[{index}]", enum_reason(str(resource), RESOURCES)))
    kind = body.get("subscriptionType")
    if kind not in SUBSCRIPTION_TYPES:
        problems.append(("subscriptionType", enum_reason(str(kind), SUBSCRIPTION_TYPES)))
    url = body.get("url")
    if not isinstance(url, str) or not url:
        problems.append(("url", "must not be blank"))
    elif kind == "WEBHOOK":
        reason = webhook_url_problem(url, https_only)
        if reason:
            problems.append(("url", reason))
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        problems.append(("enabled", "must be true or false"))
    identity = body.get("identity")
    if identity is not None and not isinstance(identity, str):
        problems.append(("identity", "must be a string"))
    if kind == "AWS_SQS" and not (isinstance(identity, str) and _ARN.match(identity)):
        problems.append(("identity", "An IAM role ARN is required for subscriptionType AWS_SQS."))
    if problems:
        raise bad_request(*problems)
    return SubscriptionPlan(tuple(dict.fromkeys(resources)), str(url), str(kind), enabled is not False, identity)


def webhook_url_problem(url: str, https_only: bool) -> str | None:
    """Why a webhook URL is refused, or None."""
    try:
        parsed = URL(url)
    except ValueError:
        return "must be a valid URL"
    if not parsed.is_absolute() or not parsed.host:
        return "must be an absolute URL"
    if parsed.scheme == "https":
        return None
    if parsed.scheme == "http" and not https_only and parsed.host in LOOPBACK_HOSTS:
        return None
    return "Only https URLs are supported."


def render_subscription(subscription: Subscription) -> dict[str, Any]:
    """A ``SubscriptionResponse``."""
    body: dict[str, Any] = {
        "id": subscription.subscription_id,
        "resources": list(subscription.resources),
        "url": subscription.url,
        "subscriptionType": subscription.subscription_type,
        "enabled": subscription.enabled,
    }
    if subscription.identity is not None:
        body["identity"] = subscription.identity
    return body
