"""Stripe events: verified and stored once by the webhook view (``receive``), handled by a
Celery task (``process``).

Stripe may deliver an event twice, out of order, or as two events for one change. So each event
is stored under its unique id (a repeat stores nothing and enqueues nothing), and no handler
trusts the snapshot in the event: each re-reads the subscription or invoice from Stripe through
the gateway and applies what Stripe says *now*. Handling the same event twice, or an older
event after a newer one, therefore ends in the same state.
"""

import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services
from billing.models import BillingAccount, StripeEvent
from organizations.models import Organization
from smsplatform.providers.stripe import Invoice, gateway

logger = logging.getLogger(__name__)

HANDLED_TYPES = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)


def receive(payload: bytes, signature: str | None) -> StripeEvent | None:
    """Verify and store a webhook once; returns the new event, or None for a repeat. Events of
    the types we act on are handled by a task after commit; the others are kept for the log.
    Raises InvalidWebhookError (nothing stored) when forged, tampered or stale."""
    event = gateway().verify_webhook(payload, signature)
    handled = event.type in HANDLED_TYPES
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                event_id=event.id,
                type=event.type,
                object_id=str(event.object.get("id", ""))[:100],
                created=event.created,
                payload=json.loads(payload),  # as sent (the SDK's dict has Decimals)
                organization=None if handled else _organization(customer_id=_customer(event)),
                processed_at=None if handled else timezone.now(),
            )
    except IntegrityError:
        return None  # delivered before
    if handled:
        from billing.tasks import process_stripe_event

        transaction.on_commit(lambda: process_stripe_event.delay(stored.pk))
    return stored


def _customer(event) -> str | None:
    customer = event.object.get("customer")
    if event.object.get("object") == "customer":
        customer = event.object.get("id")
    return customer if isinstance(customer, str) else None


def process(event_pk: int) -> bool:
    """Handle a stored event once; returns False if it was already handled. Errors propagate
    (the task retries) with the event left unprocessed and the error noted."""
    failure = None
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update(skip_locked=True).filter(pk=event_pk).first()
        if event is None or event.processed_at is not None:
            return False
        event.attempts += 1
        try:
            with transaction.atomic():
                event.organization = HANDLERS[event.type](event.payload["data"]["object"])
        except Exception as error:
            failure = error
            event.error = f"{type(error).__name__}: {error}"[:2000]
        else:
            event.processed_at = timezone.now()
            event.error = ""
        event.save(update_fields=["organization", "processed_at", "attempts", "error"])
    if failure is not None:
        raise failure
    return True


# --- Finding the organization ------------------------------------------------------------------


def _organization(*, customer_id=None, metadata=None, reference=None) -> Organization | None:
    """The organization an object belongs to: by our Stripe customer id first, then the
    org_id we put in metadata and client_reference_id."""
    if customer_id:
        account = (
            BillingAccount.objects.select_related("organization")
            .filter(stripe_customer_id=customer_id)
            .first()
        )
        if account is not None:
            return account.organization
    for candidate in ((metadata or {}).get("org_id"), reference):
        if candidate and str(candidate).isdigit():
            organization = Organization.objects.filter(pk=int(candidate)).first()
            if organization is not None and organization.is_customer:
                return organization
    return None


# --- Handlers: each takes the event's object and returns its organization (or None) ----------


def _checkout_completed(session: dict):
    organization = _organization(
        customer_id=session.get("customer"),
        metadata=session.get("metadata"),
        reference=session.get("client_reference_id"),
    )
    if organization is None or session.get("mode") != "subscription":
        return organization
    current = gateway().retrieve_checkout_session(session["id"])
    if current.status != "complete" or current.subscription is None:
        return organization
    services.apply_subscription(organization, current.subscription)
    services.mark_checkout_completed(organization, current.id)
    return organization


def _subscription_changed(subscription: dict):
    organization = _organization(
        customer_id=subscription.get("customer"), metadata=subscription.get("metadata")
    )
    if organization is not None:
        services.apply_subscription(
            organization, gateway().retrieve_subscription(subscription["id"])
        )
    return organization


def _invoice_changed(invoice: dict):
    snapshot = Invoice.from_dict(invoice)
    organization = _organization(
        customer_id=snapshot.customer_id,
        metadata=(invoice.get("subscription_details") or {}).get("metadata"),
    )
    if organization is None:
        return None
    current = gateway().retrieve_invoice(snapshot.id)
    services.record_invoice(organization, current)
    if current.subscription_id:
        subscription = gateway().retrieve_subscription(current.subscription_id)
        services.apply_subscription(organization, subscription)
    if current.status == "open" and current.attempt_count > 0:
        services.record_payment_failed(organization, current)
    return organization


HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_changed,
    "invoice.payment_failed": _invoice_changed,
}
