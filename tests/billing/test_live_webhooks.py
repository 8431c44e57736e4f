"""Stripe calling the live server as it does in production, duplicating every event and
shuffling their order, while a real Celery worker handles them on four threads at once."""

import time
import uuid

import pytest

from billing import selectors, services
from billing.models import BillingAccount, CheckoutSession, Plan, StripeEvent
from organizations import services as organization_services
from organizations.models import User


def all_handled(organization) -> bool:
    pending = StripeEvent.objects.filter(processed_at=None)  # handled ones get their org later
    active = BillingAccount.objects.filter(organization=organization, subscription_status="active")
    return active.exists() and not pending.exists()


@pytest.mark.live
def test_duplicated_and_shuffled_events_activate_the_plan_once(
    committed, live_server_url, celery_worker, stripe_sandbox
):
    slug = f"live-{uuid.uuid4().hex[:8]}"
    owner = User.objects.create_user(email=f"{slug}@example.com", password="not-used-here-2026")
    organization = organization_services.create_organization(
        name="Live Shop", slug=slug, owner=owner
    )
    stripe_sandbox.wait_for_webhooks()
    stripe_sandbox.configure(
        webhook_url=f"{live_server_url}/webhooks/stripe/",
        duplicate_events=True,
        shuffle_events=True,
    )
    try:
        services.start_checkout(organization, Plan.objects.get(code="accelerator"))
        session = CheckoutSession.objects.get(organization=organization)
        stripe_sandbox.complete_checkout(session.stripe_session_id)
        stripe_sandbox.wait_for_webhooks()
        deadline = time.monotonic() + 20
        while not all_handled(organization):
            assert time.monotonic() < deadline, "the events were not all handled"
            time.sleep(0.2)
    finally:
        stripe_sandbox.configure(webhook_url="", duplicate_events=False, shuffle_events=False)

    customer_id = BillingAccount.objects.get(organization=organization).stripe_customer_id
    sent = [
        event
        for event in stripe_sandbox.events()
        if customer_id in (event["data"]["object"].get("customer"), event["data"]["object"]["id"])
    ]
    deliveries = sum(len(event["deliveries"]) for event in sent)
    assert deliveries >= 2 * len(sent)  # every event really came twice
    stored = StripeEvent.objects.filter(organization=organization)
    assert stored.count() == len({event["id"] for event in sent})
    account = BillingAccount.objects.get(organization=organization)
    assert (account.plan.code, account.subscription_status) == ("accelerator", "active")
    assert selectors.sending_block(organization) is None
    assert CheckoutSession.objects.get(organization=organization).completed_at is not None
