"""Signed deliveries to webhook subscriptions: events, signatures, retries, disabling, rotation, duplicates."""

from __future__ import annotations

from tests.connectors.bol.simulator.conftest import BolApi, Receiver, admin, gls
from tests.connectors.bol.simulator.signature import verify_header


async def subscribed(api: BolApi, receiver: Receiver, resources=("PROCESS_STATUS", "ORDER", "SHIPMENT")) -> str:
    """A settled webhook subscription to ``receiver``; its id. The receiver starts empty."""
    answer = await api.call("post-push-notification-subscription",
                            json={"resources": list(resources), "url": receiver.url, "subscriptionType": "WEBHOOK"})
    await api.settle()
    if "PROCESS_STATUS" in resources:
        # The new subscription hears of its own creation settling.
        (created,) = await receiver.wait(1)
        assert created.json["event"] | {"metadata": None} == {
            "resource": "PROCESS_STATUS", "type": "SUCCESS", "resourceId": answer.body["processStatusId"],
            "metadata": None, "links": []}
        receiver.received.clear()
    return answer.body["entityId"]


def deliveries(api: BolApi, resource: str = "ORDER") -> list:
    """The simulator's deliveries of one resource."""
    return [d for d in api.sim.state.deliveries if d.resource == resource]


async def keys(api: BolApi) -> list[dict]:
    return (await api.call("get-subscription-keys")).body["signatureKeys"]


async def test_a_settled_shipment_is_pushed_signed(api: BolApi, receiver: Receiver):
    await subscribed(api, receiver)
    accepted = (await api.ship(gls("6042823871"))).body
    await api.settle()
    (message,) = await receiver.wait(1)
    assert message.json == {
        "retailerId": 1055479, "timeStamp": "2026-03-02T13:00:10+01:00",
        "event": {"resource": "PROCESS_STATUS", "type": "SUCCESS", "resourceId": accepted["processStatusId"],
                  "metadata": {}, "links": []},
    }
    assert message.headers["Content-Type"] == "application/json"
    verify_header(await keys(api), message.body, message.headers["Signature"])


async def test_failures_and_timeouts_are_pushed_with_their_type(start_simulator, session, receiver: Receiver):
    sim = await start_simulator(faults="create-shipment:process-timeout:next=1")
    api = BolApi(session, sim)
    await subscribed(api, receiver)
    await api.ship(gls("6042823871"))
    await api.ship(gls("6107331383", quantity=2))  # more than is open: FAILURE
    await api.settle()
    messages = await receiver.wait(2)
    assert sorted(m.json["event"]["type"] for m in messages) == ["FAILURE", "TIMEOUT"]


async def test_new_orders_and_cancellation_requests_are_pushed(api: BolApi, receiver: Receiver, session):
    await subscribed(api, receiver)
    status, order = await admin(session, api.sim, "POST", "/_sim/orders", {"orderId": "A1B2345LP6"})
    assert status == 201
    item_id = order["order"]["orderItems"][0]["orderItemId"]
    await admin(session, api.sim, "PATCH", f"/_sim/order-items/{item_id}", {"cancellationRequest": True})
    messages = await receiver.wait(2)
    events = [m.json["event"] for m in messages]
    assert [(e["resource"], e["type"], e["resourceId"]) for e in events] == [
        ("ORDER", "ORDER_CREATED", "A1B2345LP6"), ("ORDER", "ORDER_ITEM_CANCELLATION_REQUEST", "A1B2345LP6"),
    ]
    assert (await api.order("A1B2345LP6")).body["orderItems"][0]["cancellationRequest"] is True


async def test_transport_events_are_pushed(api: BolApi, receiver: Receiver, session):
    await subscribed(api, receiver)
    shipment_id = next(iter(api.sim.state.shipments))
    status, _ = await admin(session, api.sim, "POST", f"/_sim/shipments/{shipment_id}/transport-events",
                            {"eventCode": "AT_TRANSPORTER"})
    assert status == 200
    (message,) = await receiver.wait(1)
    assert message.json["event"] | {"metadata": None} == {
        "resource": "SHIPMENT", "type": "UPDATE_TRANSPORT_EVENT", "resourceId": shipment_id, "metadata": None,
        "links": []}
    events = (await api.call("get-shipment", path={"shipment-id": shipment_id})).body["transport"]["transportEvents"]
    assert [e["eventCode"] for e in events] == ["AT_TRANSPORTER"]


async def test_only_subscribed_resources_arrive(api: BolApi, receiver: Receiver, session):
    await subscribed(api, receiver, resources=("ORDER",))
    await api.ship(gls("6042823871"))
    await api.settle()
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    (message,) = await receiver.wait(1)
    assert message.json["event"]["resource"] == "ORDER"
    assert [d.resource for d in api.sim.state.deliveries] == ["ORDER"]  # not even its own creation


async def test_the_test_endpoint_sends_a_test_message(api: BolApi, receiver: Receiver):
    subscription_id = await subscribed(api, receiver)
    answer = await api.call("post-test-push-notification", path={"subscription-id": subscription_id})
    assert (answer.status, answer.body["eventType"]) == (202, "SEND_SUBSCRIPTION_TST_MSG")
    await api.settle()
    messages = await receiver.wait(2)  # the TEST message, then the settled status of the request
    test = next(m for m in messages if m.json["event"]["resource"] == "TEST")
    assert (test.json["event"]["type"], test.json["event"]["resourceId"]) == ("TEST", subscription_id)
    verify_header(await keys(api), test.body, test.headers["Signature"])


async def test_failed_deliveries_are_retried_then_the_subscription_is_disabled(start_simulator, session, receiver):
    sim = await start_simulator(delivery_retries=3)
    api = BolApi(session, sim)
    subscription_id = await subscribed(api, receiver)
    receiver.status = 500
    await admin(session, sim, "POST", "/_sim/orders", {})
    await receiver.wait(4)
    await sim.state.wait_for(lambda: not sim.state.subscriptions[subscription_id].enabled)
    assert len({m.body for m in receiver.received}) == 1  # the same message each time
    (delivery,) = deliveries(api)
    assert (delivery.state, [a.status for a in delivery.attempts]) == ("failed", [500] * 4)
    one = (await api.call("get-push-notification-subscription", path={"subscription-id": subscription_id})).body
    assert one["enabled"] is False
    await admin(session, sim, "POST", "/_sim/orders", {})
    assert len(deliveries(api)) == 1  # nothing more goes to a disabled subscription


async def test_re_enabling_a_disabled_subscription_brings_messages_back(api: BolApi, receiver: Receiver, session):
    subscription_id = await subscribed(api, receiver)
    status, body = await admin(session, api.sim, "POST", f"/_sim/subscriptions/{subscription_id}/disable")
    assert (status, body["enabled"], body["disabledReason"]) == (200, False, "disabled by bol.com")
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    assert deliveries(api) == []
    await api.call("put-push-notification-subscription", path={"subscription-id": subscription_id},
                   json={"resources": ["ORDER"], "url": receiver.url, "subscriptionType": "WEBHOOK", "enabled": True})
    await api.settle()
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    (message,) = await receiver.wait(1)
    assert message.json["event"]["type"] == "ORDER_CREATED"


async def test_a_receiver_that_recovers_gets_the_message(api: BolApi, receiver: Receiver, session):
    subscription_id = await subscribed(api, receiver)
    receiver.statuses = [503, 502]
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    await receiver.wait(3)
    state = api.sim.state
    (delivery,) = deliveries(api)
    await state.wait_for(lambda: delivery.state == "delivered")
    assert [a.status for a in delivery.attempts] == [503, 502, 200]
    assert state.subscriptions[subscription_id].enabled


async def test_an_unreachable_url_counts_as_a_failed_attempt(start_simulator, session):
    sim = await start_simulator(delivery_retries=1)
    api = BolApi(session, sim)
    await api.call("post-push-notification-subscription",
                   json={"resources": ["ORDER"], "url": "http://127.0.0.1:9/nothing", "subscriptionType": "WEBHOOK"})
    await api.settle()
    await admin(session, sim, "POST", "/_sim/orders", {})
    delivery = await sim.state.wait_for(lambda: sim.state.deliveries and sim.state.deliveries[0].state == "failed")
    assert delivery
    attempts = sim.state.deliveries[0].attempts
    assert len(attempts) == 2 and all(a.status is None and a.error for a in attempts)


async def test_rotated_keys_sign_from_then_on(api: BolApi, receiver: Receiver, session):
    await subscribed(api, receiver)
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    status, body = await admin(session, api.sim, "POST", "/_sim/signature-keys/rotate", {})
    assert status == 200
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    first, second = await receiver.wait(2)
    published = await keys(api)
    assert [k["id"] for k in published] == ["1", "2"] and body["current"] == "2"
    assert verify_header(published, first.body, first.headers["Signature"]) == "1"
    assert verify_header(published, second.body, second.headers["Signature"]) == "2"
    await admin(session, api.sim, "POST", "/_sim/signature-keys/rotate", {"retireOld": True})
    assert [k["id"] for k in await keys(api)] == ["3"]


async def test_a_redelivery_is_an_exact_duplicate(api: BolApi, receiver: Receiver, session):
    await subscribed(api, receiver)
    await admin(session, api.sim, "POST", "/_sim/orders", {})
    await receiver.wait(1)
    (original,) = deliveries(api)
    status, body = await admin(session, api.sim, "POST", f"/_sim/deliveries/{original.delivery_id}/redeliver")
    assert (status, body["duplicateOf"]) == (201, original.delivery_id)
    first, second = await receiver.wait(2)
    assert (first.body, first.headers["Signature"]) == (second.body, second.headers["Signature"])
