"""Stripe's webhook at POST /webhooks/stripe/, fed with the real signed events of the Stripe
sandbox: checkout activates the plan only through the webhook; duplicated, reordered, forged
and tampered deliveries; a failed payment through grace, block and recovery."""

import datetime as dt
import json
import time
import uuid

import pytest
import stripe
from django.core import mail
from django.utils import timezone

from billing import allowance, selectors, services
from billing.models import BillingAccount, CheckoutSession, InvoiceRecord, StripeEvent
from organizations.models import AuditLog
from tests.conftest import workspace_client
from tests.stripe_sandbox import ReceivedWebhook


@pytest.fixture
def paid_checkout(acme, catalogue, stripe_sandbox, stripe_webhooks):
    """acme paid for Accelerator on Stripe's Checkout page; the webhooks have been sent to the
    receiver but not yet to the platform."""
    services.start_checkout(acme, catalogue["accelerator"])
    session = CheckoutSession.objects.get(organization=acme)
    stripe_sandbox.complete_checkout(session.stripe_session_id)
    stripe_sandbox.wait_for_webhooks()
    return session


def event_types(hooks):
    return [json.loads(hook.body)["type"] for hook in hooks]


def test_checkout_activates_the_plan_only_when_stripes_webhook_arrives(
    acme, users, paid_checkout, stripe_webhooks, deliver
):
    owner = workspace_client(acme, users["acme_owner"])
    status_url = f"/billing/checkout-status/?session_id={paid_checkout.stripe_session_id}"

    # The customer is back from Stripe (the redirect), but nothing is active yet.
    page = owner.get(f"/billing/checkout-done/?session_id={paid_checkout.stripe_session_id}")
    assert "waiting for its confirmation" in page.content.decode()
    assert owner.get(status_url).json() == {"active": False, "plan": "Accelerator"}
    assert selectors.sending_block(acme).startswith("Choose a plan")

    assert set(deliver(stripe_webhooks.received)) == {200}

    assert owner.get(status_url).json() == {"active": True, "plan": "Accelerator"}
    assert selectors.sending_block(acme) is None
    account = BillingAccount.objects.get(organization=acme)
    assert (account.plan.code, account.subscription_status) == ("accelerator", "active")
    first_invoice = InvoiceRecord.objects.get(organization=acme)
    assert (first_invoice.total_cents, first_invoice.status) == (74_700, "paid")
    billing_page = owner.get("/billing/").content.decode()
    assert "Accelerator" in billing_page and "Renews on" in billing_page
    assert "$747" in billing_page


def test_a_duplicated_delivery_is_stored_and_handled_once(
    acme, paid_checkout, stripe_webhooks, deliver
):
    hooks = stripe_webhooks.received
    assert set(deliver(hooks + hooks)) == {200}

    delivered = {json.loads(hook.body)["id"] for hook in hooks}
    assert set(StripeEvent.objects.values_list("event_id", flat=True)) == delivered
    assert StripeEvent.objects.filter(organization=acme).count() == len(delivered)
    assert all(event.processed_at for event in StripeEvent.objects.all())
    changes = AuditLog.objects.filter(organization=acme, action="billing.subscription_changed")
    assert changes.count() == 1


def test_subscription_deleted_arriving_before_the_earlier_events_leaves_it_canceled(
    acme, paid_checkout, stripe_gateway, stripe_sandbox, stripe_webhooks, deliver
):
    subscription_id = stripe_gateway.retrieve_checkout_session(
        paid_checkout.stripe_session_id
    ).subscription_id
    stripe_gateway.cancel_subscription(subscription_id, at_period_end=True)
    stripe_gateway.cancel_subscription(subscription_id, at_period_end=False)
    stripe_sandbox.wait_for_webhooks()
    hooks = list(reversed(stripe_webhooks.received))
    assert event_types(hooks)[0] == "customer.subscription.deleted"
    assert "customer.subscription.updated" in event_types(hooks)

    deliver(hooks)

    account = BillingAccount.objects.get(organization=acme)
    assert account.subscription_status == "canceled"
    assert selectors.sending_block(acme).startswith("Your subscription ended on")


def signed(body: bytes, secret: str, timestamp=None) -> ReceivedWebhook:
    header = stripe.WebhookSignature._compute_signature(
        f"{timestamp or int(time.time())}.{body.decode()}", secret
    )
    return ReceivedWebhook(
        body, {"Stripe-Signature": f"t={timestamp or int(time.time())},v1={header}"}
    )


def test_forged_and_tampered_webhooks_are_refused_and_store_nothing(
    acme, paid_checkout, stripe_webhooks, deliver, stripe_sandbox
):
    genuine = next(
        hook
        for hook in stripe_webhooks.received
        if json.loads(hook.body)["type"] == "checkout.session.completed"
    )
    tampered_body = genuine.body.replace(b'"client_reference_id": "', b'"client_reference_id": "9')
    assert tampered_body != genuine.body
    forged_event = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "customer.subscription.deleted",
            "created": int(time.time()),
            "data": {"object": {"id": "sub_x", "customer": "cus_x"}},
        }
    ).encode()

    statuses = deliver(
        [
            ReceivedWebhook(tampered_body, genuine.headers),  # body changed after signing
            signed(forged_event, "whsec_not_the_real_secret"),  # signed with another secret
            ReceivedWebhook(forged_event, {}),  # no signature at all
            signed(genuine.body, stripe_sandbox.webhook_secret, timestamp=int(time.time()) - 600),
        ]
    )

    assert statuses == [400, 400, 400, 400]
    assert StripeEvent.objects.count() == 0
    assert not BillingAccount.objects.filter(organization=acme).exclude(stripe_subscription_id="")


def test_a_failed_payment_keeps_sending_through_the_grace_period_then_blocks_until_paid(
    acme, users, paid_checkout, stripe_gateway, stripe_sandbox, stripe_webhooks, deliver
):
    deliver(stripe_webhooks.received)
    account = BillingAccount.objects.get(organization=acme)
    stripe_webhooks.received.clear()

    # The renewal is declined.
    stripe_sandbox.fail_next_payment(account.stripe_customer_id)
    stripe_sandbox.advance(account.stripe_subscription_id)
    stripe_sandbox.wait_for_webhooks()
    assert "invoice.payment_failed" in event_types(stripe_webhooks.received)
    deliver(stripe_webhooks.received)

    account.refresh_from_db()
    assert account.subscription_status == "past_due"
    assert account.grace_until - account.payment_failed_at == dt.timedelta(days=7)
    assert selectors.sending_block(acme) is None  # still in the grace period
    assert [m.subject for m in mail.outbox] == ["Acme Boutique: your payment failed"]
    owner = workspace_client(acme, users["acme_owner"])
    assert "Your last payment failed" in owner.get("/billing/").content.decode()
    assert "Update your payment method on the Billing page by" in owner.get("/").content.decode()

    # The grace period runs out.
    BillingAccount.objects.filter(pk=account.pk).update(
        payment_failed_at=timezone.now() - dt.timedelta(days=8),
        grace_until=timezone.now() - dt.timedelta(days=1),
    )
    assert "grace period is over" in selectors.sending_block(acme)
    assert "grace period is over" in owner.get("/billing/").content.decode()
    assert allowance.reserve(acme, 500) == 0  # even a pipeline that forgot to ask

    # The customer pays (e.g. a new card in the portal charges the open invoice).
    stripe_webhooks.received.clear()
    open_invoice = stripe_gateway.retrieve_subscription(
        account.stripe_subscription_id
    ).latest_invoice_id
    stripe_gateway.pay_invoice(open_invoice, idempotency_key=f"retry:{open_invoice}")
    stripe_sandbox.wait_for_webhooks()
    deliver(stripe_webhooks.received)

    account.refresh_from_db()
    assert (account.subscription_status, account.payment_failed_at) == ("active", None)
    assert selectors.sending_block(acme) is None
    assert len(mail.outbox) == 1  # one email for the episode


def test_the_owner_switches_plan_cancels_and_keeps_it_from_the_billing_page(
    acme, acme_client, paid_checkout, stripe_gateway, stripe_webhooks, deliver
):
    deliver(stripe_webhooks.received)

    page = acme_client.post("/billing/plan/", {"plan": "standard"}, follow=True).content.decode()
    assert "You are now on Standard." in page
    account = BillingAccount.objects.get(organization=acme)
    assert account.plan.code == "standard"
    assert stripe_gateway.retrieve_subscription(
        account.stripe_subscription_id
    ).plan_item.price.id == (account.plan.stripe_price_id)

    page = acme_client.post("/billing/cancel/", follow=True).content.decode()
    assert "Your plan ends on" in page
    assert selectors.sending_block(acme) is None  # paid until the end of the period
    page = acme_client.post("/billing/resume/", follow=True).content.decode()
    assert "Renews on" in page
    actions = list(
        AuditLog.objects.filter(organization=acme, action__startswith="billing.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    for action in ("billing.plan_changed", "billing.cancel_requested", "billing.cancel_withdrawn"):
        assert action in actions
