"""Subscriptions: create, list, read, replace, delete, test; validation as bol.com does (https only)."""

from __future__ import annotations

import pytest

from tests.connectors.bol.simulator.conftest import BolApi

HOOK = "https://hub.example.com/bol/events/abc"


async def subscribe(api: BolApi, url: str = HOOK, resources=("PROCESS_STATUS", "ORDER"), **extra) -> dict:
    answer = await api.call("post-push-notification-subscription",
                            json={"resources": list(resources), "url": url, "subscriptionType": "WEBHOOK"} | extra)
    assert answer.status == 202, answer.body
    return answer.body


async def test_a_subscription_exists_once_its_status_settles(api: BolApi):
    status = await subscribe(api)
    assert (status["eventType"], status["status"]) == ("CREATE_SUBSCRIPTION", "PENDING")
    subscription_id = status["entityId"]
    assert (await api.call("get-push-notification-subscriptions")).body == {"subscriptions": []}
    await api.settle()
    listed = (await api.call("get-push-notification-subscriptions")).body["subscriptions"]
    assert listed == [{"id": subscription_id, "resources": ["PROCESS_STATUS", "ORDER"], "url": HOOK,
                       "subscriptionType": "WEBHOOK", "enabled": True}]
    one = await api.call("get-push-notification-subscription", path={"subscription-id": subscription_id})
    assert one.body == listed[0]


async def test_replace_and_delete(api: BolApi):
    subscription_id = (await subscribe(api))["entityId"]
    await api.settle()
    path = {"subscription-id": subscription_id}
    answer = await api.call("put-push-notification-subscription", path=path,
                            json={"resources": ["SHIPMENT"], "url": HOOK + "/2", "subscriptionType": "WEBHOOK",
                                  "enabled": False})
    assert (answer.status, answer.body["eventType"]) == (202, "UPDATE_SUBSCRIPTION")
    await api.settle()
    one = (await api.call("get-push-notification-subscription", path=path)).body
    assert (one["resources"], one["url"], one["enabled"]) == (["SHIPMENT"], HOOK + "/2", False)
    answer = await api.call("delete-push-notification-subscription", path=path)
    assert (answer.status, answer.body["eventType"]) == (202, "DELETE_SUBSCRIPTION")
    await api.settle()
    assert (await api.call("get-push-notification-subscription", path=path)).status == 404


async def test_changing_an_unknown_subscription_fails(api: BolApi):
    answer = await api.call("delete-push-notification-subscription", path={"subscription-id": "777"})
    await api.settle()
    status = (await api.status(answer.body["processStatusId"])).body
    assert (status["status"], status["errorMessage"]) == ("FAILURE", "Subscription 777 does not exist.")


@pytest.mark.parametrize(("body", "names"), [
    ({"resources": [], "url": HOOK, "subscriptionType": "WEBHOOK"}, {"resources"}),
    ({"resources": ["ORDERS"], "url": HOOK, "subscriptionType": "WEBHOOK"}, {"resources[0]"}),
    ({"resources": ["ORDER"], "url": "http://hub.example.com/x", "subscriptionType": "WEBHOOK"}, {"url"}),
    ({"resources": ["ORDER"], "url": "", "subscriptionType": "WEBHOOK"}, {"url"}),
    ({"resources": ["ORDER"], "url": HOOK, "subscriptionType": "EMAIL"}, {"subscriptionType"}),
    ({"resources": ["ORDER"], "url": "queue", "subscriptionType": "AWS_SQS"}, {"identity"}),
    ({"url": HOOK}, {"resources", "subscriptionType"}),
])
async def test_malformed_subscriptions_are_400(api: BolApi, body, names):
    answer = await api.call("post-push-notification-subscription", json=body)
    assert (answer.status, answer.violations) == (400, names)


async def test_loopback_http_is_taken_unless_https_only(start_simulator, session):
    sim = await start_simulator()
    await subscribe(BolApi(session, sim), url="http://127.0.0.1:9/events")
    strict = await start_simulator(https_only=True)
    answer = await BolApi(session, strict).call(
        "post-push-notification-subscription",
        json={"resources": ["ORDER"], "url": "http://127.0.0.1:9/events", "subscriptionType": "WEBHOOK"})
    assert (answer.status, answer.body["violations"][0]["reason"]) == (400, "Only https URLs are supported.")


async def test_queues_are_stored_but_get_no_messages(api: BolApi):
    await subscribe(api, url="projects/p/topics/bol", resources=("ORDER",), subscriptionType="GCP_PUBSUB")
    await api.settle()
    api.sim.state.emit(api.retailer_id, "ORDER", "ORDER_CREATED", "1")
    assert api.sim.state.deliveries == []


async def test_subscriptions_are_per_retailer(start_simulator, session):
    sim = await start_simulator(retailers=2)
    first, second = BolApi(session, sim), BolApi(session, sim, "1055480")
    subscription_id = (await subscribe(first))["entityId"]
    await first.settle()
    assert (await second.call("get-push-notification-subscriptions")).body == {"subscriptions": []}
    answer = await second.call("get-push-notification-subscription", path={"subscription-id": subscription_id})
    assert answer.status == 404
