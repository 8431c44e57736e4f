"""The Stripe sandbox's hosted pages in a real browser: a customer pays or declines on Checkout,
then changes plan and cancels in the billing portal. The shop's pages are played by the local
receiver (tests/stripe_sandbox.py); the platform's own billing pages come with billing."""

import json
import re
import uuid

import pytest
from playwright.sync_api import expect


def key(label):
    return f"{label}:{uuid.uuid4().hex}"


@pytest.fixture
def plans(stripe_gateway):
    product = stripe_gateway.create_product(name="Textwise", idempotency_key=key("product"))

    def price(amount, nickname, interval="month"):
        return stripe_gateway.create_price(
            product_id=product.id,
            unit_amount_cents=amount,
            recurring_interval=interval,
            nickname=nickname,
            idempotency_key=key("price"),
        )

    return {
        "accelerator": price(15000, "Accelerator"),
        "standard": price(15000, "Standard"),
        "setup_fee": price(59700, "Accelerator onboarding", interval=None),
    }


@pytest.fixture
def customer(stripe_gateway):
    return stripe_gateway.create_customer(
        email="owner@acme.test", name="Acme Boutique", idempotency_key=key("customer")
    )


@pytest.fixture
def accelerator_checkout(stripe_gateway, plans, customer, stripe_webhooks):
    return stripe_gateway.create_checkout_session(
        customer_id=customer.id,
        price_id=plans["accelerator"].id,
        setup_fee_price_id=plans["setup_fee"].id,
        client_reference_id="acme",
        success_url=f"{stripe_webhooks.url}/billing/done?session={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{stripe_webhooks.url}/billing/plans",
        idempotency_key=key("checkout"),
    )


def test_paying_on_checkout_starts_the_subscription(
    page, stripe_gateway, stripe_sandbox, accelerator_checkout, stripe_webhooks
):
    page.goto(accelerator_checkout.url)
    expect(page.get_by_text("Textwise (Accelerator onboarding)")).to_be_visible()
    expect(page.get_by_text("$597.00 once")).to_be_visible()
    expect(page.get_by_text("Then $150.00 / month.")).to_be_visible()
    expect(page.locator("tr.total")).to_contain_text("$747.00")

    page.get_by_role("button", name="Pay $747.00").click()

    expect(page).to_have_url(
        f"{stripe_webhooks.url}/billing/done?session={accelerator_checkout.id}"
    )
    session = stripe_gateway.retrieve_checkout_session(accelerator_checkout.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.subscription.status == "active"
    stripe_sandbox.wait_for_webhooks()
    events = [
        stripe_gateway.verify_webhook(hook.body, hook.headers["Stripe-Signature"])
        for hook in stripe_webhooks.received
    ]
    completed = [event for event in events if event.type == "checkout.session.completed"]
    assert [event.object["id"] for event in completed] == [accelerator_checkout.id]


def test_a_declined_card_stays_on_checkout_with_the_reason(
    page, stripe_gateway, accelerator_checkout, customer
):
    page.goto(accelerator_checkout.url)
    page.get_by_label("Card number").fill("4000 0000 0000 9995")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()

    expect(page.get_by_role("alert")).to_have_text("Your card has insufficient funds.")
    session = stripe_gateway.retrieve_checkout_session(accelerator_checkout.id)
    assert (session.status, session.subscription_id) == ("open", None)
    assert stripe_gateway.list_subscriptions(customer.id) == []


def test_declining_returns_to_the_shop_without_a_subscription(
    page, stripe_gateway, accelerator_checkout, customer, stripe_webhooks
):
    page.goto(accelerator_checkout.url)
    page.get_by_role("button", name="Decline").click()

    expect(page).to_have_url(f"{stripe_webhooks.url}/billing/plans")
    session = stripe_gateway.retrieve_checkout_session(accelerator_checkout.id)
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert stripe_gateway.list_subscriptions(customer.id) == []


def test_the_portal_changes_plan_then_cancels(
    page, stripe_gateway, stripe_sandbox, plans, customer, accelerator_checkout, stripe_webhooks
):
    stripe_sandbox.complete_checkout(accelerator_checkout.id)
    subscription_id = stripe_gateway.retrieve_checkout_session(
        accelerator_checkout.id
    ).subscription_id
    portal = stripe_gateway.create_portal_session(
        customer_id=customer.id,
        return_url=f"{stripe_webhooks.url}/billing",
        idempotency_key=key("portal"),
    )
    page.goto(portal.url)
    expect(page.get_by_text("Textwise (Accelerator): $150.00 / month", exact=True)).to_be_visible()

    page.get_by_role("button", name="Switch to Textwise (Standard): $150.00 / month").click()
    expect(page.get_by_role("status")).to_have_text("Your plan is now Textwise (Standard).")
    subscription = stripe_gateway.retrieve_subscription(subscription_id)
    assert subscription.price_ids == (plans["standard"].id,)

    page.get_by_role("button", name="Cancel at end of period").click()
    expect(page.get_by_role("status")).to_contain_text("Your plan will be canceled on")
    subscription = stripe_gateway.retrieve_subscription(subscription_id)
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)

    page.get_by_role("button", name="Cancel now").click()
    expect(page.get_by_role("status")).to_have_text("Your plan has been canceled.")
    expect(page.get_by_text("No active subscription.")).to_be_visible()
    assert stripe_gateway.retrieve_subscription(subscription_id).status == "canceled"

    page.get_by_role("link", name="Return to Textwise").click()
    expect(page).to_have_url(f"{stripe_webhooks.url}/billing")
    stripe_sandbox.wait_for_webhooks()
    types = [json.loads(hook.body)["type"] for hook in stripe_webhooks.received]
    assert types.count("customer.subscription.updated") >= 2
    assert types[-1] == "customer.subscription.deleted"
