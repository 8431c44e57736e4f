"""Stripe webhooks: the sandbox delivers signed events as Stripe does (duplicated and out of order
when asked) and the gateway accepts exactly the authentic, recent ones."""

import json
import time
import uuid
from collections import Counter

import pytest
import stripe

from smsplatform.providers.errors import InvalidWebhookError
from smsplatform.providers.stripe import Invoice, Subscription


def key(label):
    return f"{label}:{uuid.uuid4().hex}"


@pytest.fixture
def plan(stripe_gateway):
    product = stripe_gateway.create_product(name="Textwise", idempotency_key=key("product"))
    monthly = stripe_gateway.create_price(
        product_id=product.id,
        unit_amount_cents=15000,
        recurring_interval="month",
        nickname="Standard",
        idempotency_key=key("price"),
    )
    setup = stripe_gateway.create_price(
        product_id=product.id, unit_amount_cents=59700, idempotency_key=key("price")
    )
    return monthly, setup


def checkout(gateway, sandbox, plan, customer_id):
    monthly, setup = plan
    session = gateway.create_checkout_session(
        customer_id=customer_id,
        price_id=monthly.id,
        setup_fee_price_id=setup.id,
        client_reference_id="org-1",
        subscription_metadata={"org_id": "1"},
        success_url="http://x.test/ok?s={CHECKOUT_SESSION_ID}",
        cancel_url="http://x.test/no",
        idempotency_key=key("checkout"),
    )
    sandbox.complete_checkout(session.id)
    return session


@pytest.fixture
def customer(stripe_gateway):
    return stripe_gateway.create_customer(email="owner@acme.test", idempotency_key=key("cus"))


def test_a_paid_checkout_delivers_signed_events_the_gateway_verifies(
    stripe_gateway, stripe_sandbox, plan, customer, stripe_webhooks
):
    session = checkout(stripe_gateway, stripe_sandbox, plan, customer.id)
    stripe_sandbox.wait_for_webhooks()
    events = [
        stripe_gateway.verify_webhook(hook.body, hook.headers["Stripe-Signature"])
        for hook in stripe_webhooks.received
    ]
    types = [event.type for event in events]
    for expected in (
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "checkout.session.completed",
    ):
        assert expected in types
    assert all(
        event.id.startswith("evt_") and event.api_version == "2024-04-10" for event in events
    )
    assert all(event.livemode is False for event in events)

    completed = next(event for event in events if event.type == "checkout.session.completed")
    assert completed.object["id"] == session.id
    assert completed.object["client_reference_id"] == "org-1"
    assert completed.object["customer"] == customer.id
    subscription_id = completed.object["subscription"]

    created = next(event for event in events if event.type == "customer.subscription.created")
    subscription = Subscription.from_dict(created.object)
    assert (subscription.id, subscription.status) == (subscription_id, "active")
    assert subscription.metadata == {"org_id": "1"}

    paid = Invoice.from_dict(next(e for e in events if e.type == "invoice.paid").object)
    assert (paid.subscription_id, paid.total_cents, paid.paid) == (subscription_id, 74700, True)


def test_tampered_old_unsigned_and_foreign_webhooks_are_refused(
    stripe_gateway, stripe_sandbox, customer, stripe_webhooks
):
    stripe_gateway.update_customer(customer.id, name="Acme")
    hook = stripe_webhooks.wait_for(1)[0]
    signature = hook.headers["Stripe-Signature"]
    event = stripe_gateway.verify_webhook(hook.body, signature)
    assert event.type == "customer.updated"
    assert event.previous_attributes == {"name": None}

    tampered = hook.body.replace(b'"Acme"', b'"Evil"')
    assert tampered != hook.body
    with pytest.raises(InvalidWebhookError) as raised:
        stripe_gateway.verify_webhook(tampered, signature)
    assert raised.value.code == "invalid_signature"

    for header in (None, "", "t=123"):
        with pytest.raises(InvalidWebhookError):
            stripe_gateway.verify_webhook(hook.body, header)

    with pytest.raises(InvalidWebhookError):
        stripe_gateway.verify_webhook(hook.body, signature, secret="whsec_someone_else")

    old = int(time.time()) - 301
    old_signature = stripe.WebhookSignature.generate_signature_header(
        hook.body.decode(), stripe_sandbox.webhook_secret, timestamp=old
    )
    with pytest.raises(InvalidWebhookError):
        stripe_gateway.verify_webhook(hook.body, old_signature)
    recent = stripe.WebhookSignature.generate_signature_header(
        hook.body.decode(), stripe_sandbox.webhook_secret, timestamp=int(time.time()) - 290
    )
    assert stripe_gateway.verify_webhook(hook.body, recent).id == event.id

    not_json = b"not an event"
    with pytest.raises(InvalidWebhookError) as raised:
        stripe_gateway.verify_webhook(
            not_json,
            stripe.WebhookSignature.generate_signature_header(
                not_json.decode(), stripe_sandbox.webhook_secret
            ),
        )
    assert raised.value.code == "invalid_payload"


def test_events_can_arrive_twice(stripe_gateway, stripe_sandbox, plan, customer, stripe_webhooks):
    stripe_sandbox.configure(duplicate_events=True)
    checkout(stripe_gateway, stripe_sandbox, plan, customer.id)
    stripe_sandbox.wait_for_webhooks()
    ids = Counter(
        stripe_gateway.verify_webhook(hook.body, hook.headers["Stripe-Signature"]).id
        for hook in stripe_webhooks.received
    )
    assert len(ids) >= 6
    assert set(ids.values()) == {2}  # every event, twice, each copy validly signed


def test_events_can_arrive_out_of_order(stripe_gateway, stripe_sandbox, plan, stripe_webhooks):
    def delivered_order():
        stripe_webhooks.received.clear()
        customer = stripe_gateway.create_customer(email="a@b.test", idempotency_key=key("cus"))
        stripe_sandbox.wait_for_webhooks()
        stripe_webhooks.received.clear()
        checkout(stripe_gateway, stripe_sandbox, plan, customer.id)
        stripe_sandbox.wait_for_webhooks()
        return [json.loads(hook.body)["type"] for hook in stripe_webhooks.received]

    in_order = delivered_order()
    assert in_order[-1] == "checkout.session.completed"
    stripe_sandbox.configure(shuffle_events=True)
    # Shuffled batches of seven events: five in a row all in the original order would be
    # a one in 25 million chance.
    orders = [delivered_order() for _ in range(5)]
    assert all(sorted(order) == sorted(in_order) for order in orders)
    assert any(order != in_order for order in orders)


def test_delivery_is_retried_until_the_endpoint_accepts(
    stripe_gateway, stripe_sandbox, customer, stripe_webhooks
):
    stripe_webhooks.status = 500
    stripe_gateway.update_customer(customer.id, name="Retry Me")
    stripe_webhooks.wait_for(2)  # the first try and a retry 0.2 s later
    stripe_webhooks.status = 200
    hooks = stripe_webhooks.wait_for(3)
    ids = {json.loads(hook.body)["id"] for hook in hooks}
    assert len(ids) == 1
    event = stripe_sandbox.events("customer.updated")[-1]
    assert [d["status"] for d in event["deliveries"]][:3] == [500, 500, 200]
    assert event["pending_webhooks"] == 0


def test_renewals_failures_and_cancellation_emit_their_events(
    stripe_gateway, stripe_sandbox, plan, customer, stripe_webhooks
):
    checkout(stripe_gateway, stripe_sandbox, plan, customer.id)
    subscription = stripe_gateway.list_subscriptions(customer.id)[0]
    stripe_sandbox.wait_for_webhooks()
    stripe_webhooks.received.clear()

    stripe_sandbox.fail_next_payment(customer.id)
    stripe_sandbox.advance(subscription.id)
    stripe_sandbox.wait_for_webhooks()
    events = [json.loads(hook.body) for hook in stripe_webhooks.received]
    failed = next(e for e in events if e["type"] == "invoice.payment_failed")
    assert failed["data"]["object"]["billing_reason"] == "subscription_cycle"
    past_due = [
        e
        for e in events
        if e["type"] == "customer.subscription.updated"
        and e["data"]["object"]["status"] == "past_due"
    ]
    assert past_due and past_due[0]["data"]["previous_attributes"]["status"] == "active"

    stripe_webhooks.received.clear()
    stripe_gateway.cancel_subscription(subscription.id, at_period_end=False)
    stripe_sandbox.wait_for_webhooks()
    deleted = [json.loads(hook.body) for hook in stripe_webhooks.received]
    assert [e["type"] for e in deleted] == ["customer.subscription.deleted"]
    assert deleted[0]["data"]["object"]["status"] == "canceled"
    assert deleted[0]["request"]["idempotency_key"] == f"cancel-now:{subscription.id}"
