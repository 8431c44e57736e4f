"""Billing domain functions: what customers do (checkout, plan change, cancel, overage setting,
the billing portal), what Stripe tells us (applying a subscription or an invoice, from
billing.webhooks) and what operators do (grant messages, extend the grace period, comp).
Every change that matters is written to the audit log."""

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing import allowance
from billing.catalogue import ensure_catalogue, sync_catalogue
from billing.entitlement import LIVE_STATUSES, has_plan
from billing.models import BillingAccount, CheckoutSession, InvoiceRecord, Plan
from organizations.models import Membership
from organizations.roles import Role
from organizations.services import record_audit
from smsplatform.providers.errors import ProviderRequestError
from smsplatform.providers.stripe import (
    CHECKOUT_SESSION_ID_PLACEHOLDER,
    Invoice,
    Subscription,
    gateway,
)


class BillingError(Exception):
    """A billing action that cannot be done; ``str(error)`` is for the customer."""


def account_for_update(organization) -> BillingAccount:
    """The organization's billing account, created if needed, locked for this transaction."""
    BillingAccount.objects.get_or_create(organization=organization)
    return (
        BillingAccount.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(organization=organization)
    )


def _tenant_url(organization, name: str) -> str:
    return organization.url + reverse(name, urlconf=settings.ROOT_URLCONF)


def _owner_email(organization) -> str | None:
    owner = (
        Membership.objects.filter(organization=organization, role=Role.OWNER)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return owner.user.email if owner else None


def has_live_subscription(account: BillingAccount | None) -> bool:
    return account is not None and account.subscription_status in LIVE_STATUSES


# --- The customer's side ---------------------------------------------------------------------


def ensure_customer(organization) -> str:
    """The organization's Stripe customer id, created once (a deterministic key: a retried
    request or a double click makes one customer)."""
    account, _ = BillingAccount.objects.get_or_create(organization=organization)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = gateway().create_customer(
        email=_owner_email(organization),
        name=organization.name,
        metadata={"org_id": str(organization.pk), "slug": organization.slug},
        idempotency_key=f"customer:{organization.pk}:{organization.created_at:%Y%m%d%H%M%S}",
    )
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id
    )
    account.refresh_from_db()
    return account.stripe_customer_id


def start_checkout(organization, plan: Plan, *, actor=None) -> str:
    """A Stripe Checkout page for ``plan``: the monthly price, the setup fee once, and the
    metered overage item. Returns its URL. Nothing is activated here: the plan starts when
    Stripe's webhook says the checkout completed."""
    if not plan.is_active:
        raise BillingError("This plan is no longer offered.")
    account = BillingAccount.objects.filter(organization=organization).first()
    if has_live_subscription(account):
        raise BillingError("You already have a plan. Change it on the Billing page.")
    plan = ensure_catalogue(plan)
    customer_id = ensure_customer(organization)
    done = _tenant_url(organization, "billing_checkout_done")
    try:
        session = _create_checkout_session(organization, plan, customer_id, done)
    except ProviderRequestError as error:
        if error.code != "resource_missing":
            raise
        # The catalogue was removed in Stripe (a reset sandbox): sync it again, once.
        sync_catalogue()
        plan.refresh_from_db()
        session = _create_checkout_session(organization, plan, customer_id, done)
    CheckoutSession.objects.create(
        organization=organization, plan=plan, stripe_session_id=session.id
    )
    record_audit(
        "billing.checkout_started",
        organization=organization,
        actor=actor,
        target=plan.code,
        data={"session": session.id},
    )
    return session.url


def _create_checkout_session(organization, plan, customer_id, done_url):
    return gateway().create_checkout_session(
        customer_id=customer_id,
        price_id=plan.stripe_price_id,
        setup_fee_price_id=plan.stripe_setup_price_id or None,
        metered_price_id=plan.stripe_overage_price_id or None,
        client_reference_id=str(organization.pk),
        subscription_metadata={"org_id": str(organization.pk), "plan": plan.code},
        metadata={"org_id": str(organization.pk), "plan": plan.code},
        success_url=f"{done_url}?session_id={CHECKOUT_SESSION_ID_PLACEHOLDER}",
        cancel_url=_tenant_url(organization, "billing_plans"),
        # One session per click: a customer who comes back later gets a fresh page.
        idempotency_key=f"checkout:{organization.pk}:{uuid.uuid4().hex}",
    )


def portal_url(organization) -> str:
    """The Stripe billing portal (card, invoices, plan change, cancel), returning to the
    billing page."""
    account = BillingAccount.objects.filter(organization=organization).first()
    if account is None or not account.stripe_customer_id:
        raise BillingError("Choose a plan first; payment details come with it.")
    session = gateway().create_portal_session(
        customer_id=account.stripe_customer_id,
        return_url=_tenant_url(organization, "billing"),
        idempotency_key=f"portal:{organization.pk}:{uuid.uuid4().hex}",
    )
    return session.url


def change_plan(organization, plan: Plan, *, actor=None) -> BillingAccount:
    """Upgrade or downgrade the live subscription to ``plan`` (from the next invoice; a
    pending cancellation is withdrawn)."""
    account = BillingAccount.objects.select_related("plan").filter(organization=organization)
    account = account.first()
    if not has_live_subscription(account):
        raise BillingError("There is no subscription to change. Choose a plan first.")
    if account.plan_id == plan.pk:
        raise BillingError(f"You are already on {plan.name}.")
    if not plan.is_active:
        raise BillingError("This plan is no longer offered.")
    plan = ensure_catalogue(plan)
    previous = account.plan.code if account.plan else ""
    subscription = gateway().change_subscription_price(
        account.stripe_subscription_id,
        new_price_id=plan.stripe_price_id,
        idempotency_key=f"plan-change:{account.stripe_subscription_id}:{uuid.uuid4().hex}",
    )
    account = apply_subscription(organization, subscription)
    record_audit(
        "billing.plan_changed",
        organization=organization,
        actor=actor,
        target=plan.code,
        data={"from": previous, "to": plan.code},
    )
    return account


def cancel_subscription(organization, *, actor=None) -> BillingAccount:
    """Cancel at the end of the paid period: sending goes on until then."""
    account = BillingAccount.objects.filter(organization=organization).first()
    if not has_live_subscription(account):
        raise BillingError("There is no subscription to cancel.")
    subscription = gateway().cancel_subscription(account.stripe_subscription_id, at_period_end=True)
    account = apply_subscription(organization, subscription)
    record_audit("billing.cancel_requested", organization=organization, actor=actor)
    return account


def resume_subscription(organization, *, actor=None) -> BillingAccount:
    account = BillingAccount.objects.filter(organization=organization).first()
    if not has_live_subscription(account) or not account.cancel_at_period_end:
        raise BillingError("Your plan is not set to end.")
    subscription = gateway().resume_subscription(account.stripe_subscription_id)
    account = apply_subscription(organization, subscription)
    record_audit("billing.cancel_withdrawn", organization=organization, actor=actor)
    return account


def set_overage(organization, overage: str, *, actor=None) -> BillingAccount:
    """What happens past the allowance: stop sending, or keep sending billed per message."""
    if overage not in BillingAccount.Overage.values:
        raise BillingError("Unknown overage setting.")
    with transaction.atomic():
        account = account_for_update(organization)
        if overage == BillingAccount.Overage.BILLED and not account.stripe_subscription_id:
            raise BillingError("Billing per message needs a paid subscription.")
        previous, account.overage = account.overage, overage
        account.save(update_fields=["overage", "updated_at"])
        record_audit(
            "billing.overage_changed",
            organization=organization,
            actor=actor,
            data={"from": previous, "to": overage},
        )
    return account


# --- What Stripe tells us --------------------------------------------------------------------


def plan_for_subscription(subscription: Subscription) -> Plan | None:
    """The plan of the subscription's per-period price: by its id, or by the plan code the
    catalogue sync put on it (an archived older price of the plan). Not the subscription's
    metadata: that keeps the plan it was bought with, whatever the portal changed since."""
    item = subscription.plan_item
    if item is None:
        return None
    plan = Plan.objects.filter(stripe_price_id=item.price.id).first()
    if plan is None and item.price.metadata.get("plan"):
        plan = Plan.objects.filter(code=item.price.metadata["plan"]).first()
    return plan


def apply_subscription(organization, subscription: Subscription) -> BillingAccount:
    """Make the account reflect ``subscription`` as Stripe has it now. Idempotent and safe in
    any order: callers pass a subscription freshly read from Stripe, and a subscription older
    than the account's current one is ignored (an old canceled one must not end a new one)."""
    with transaction.atomic():
        account = account_for_update(organization)
        current = account.stripe_subscription_id
        if current and current != subscription.id:
            incoming_is_newer = (
                account.subscription_created_at is None
                or subscription.created >= account.subscription_created_at
            )
            if not incoming_is_newer:
                return account
        before = (account.plan_id, account.subscription_status)
        plan = plan_for_subscription(subscription)
        if plan is not None:
            account.plan = plan
        account.stripe_customer_id = account.stripe_customer_id or subscription.customer_id
        account.stripe_subscription_id = subscription.id
        account.subscription_status = subscription.status
        account.subscription_created_at = subscription.created
        account.current_period_start = subscription.current_period_start
        account.current_period_end = subscription.current_period_end
        account.cancel_at_period_end = subscription.cancel_at_period_end
        account.ended_at = subscription.ended_at
        if subscription.status in ("active", "trialing"):
            account.payment_failed_at = account.grace_until = None
        elif subscription.status in ("past_due", "unpaid") and account.payment_failed_at is None:
            _start_grace(organization, account, subscription.latest_invoice_id or subscription.id)
        account.save()
        if has_plan(account):
            allowance.apply_plan_allowance(organization, account)
        after = (account.plan_id, account.subscription_status)
        if before != after:
            record_audit(
                "billing.subscription_changed",
                organization=organization,
                target=subscription.id,
                data={
                    "plan": account.plan.code if account.plan else None,
                    "status": subscription.status,
                    "previous_status": before[1],
                },
            )
    return account


def _start_grace(organization, account: BillingAccount, reference: str) -> None:
    """A payment failed: sending goes on for the grace period, and the owner is told once per
    episode (the email goes after commit)."""
    account.payment_failed_at = timezone.now()
    account.grace_until = account.payment_failed_at + dt.timedelta(
        days=settings.BILLING_GRACE_PERIOD_DAYS
    )
    record_audit(
        "billing.payment_failed",
        organization=organization,
        target=reference,
        data={"grace_until": account.grace_until.isoformat()},
    )
    from billing.tasks import send_payment_failed_email

    transaction.on_commit(lambda: send_payment_failed_email.delay(organization.pk))


def record_payment_failed(organization, invoice: Invoice) -> bool:
    """An invoice is still unpaid after an attempt: start the grace period unless one is
    running. Returns whether this started a new episode."""
    with transaction.atomic():
        account = account_for_update(organization)
        if account.payment_failed_at is not None or invoice.paid:
            return False
        _start_grace(organization, account, invoice.id)
        account.save(update_fields=["payment_failed_at", "grace_until", "updated_at"])
    return True


def record_invoice(organization, invoice: Invoice) -> InvoiceRecord:
    record, _ = InvoiceRecord.objects.update_or_create(
        stripe_invoice_id=invoice.id,
        defaults={
            "organization": organization,
            "number": invoice.number or "",
            "status": invoice.status or "",
            "total_cents": invoice.total_cents,
            "currency": invoice.currency,
            "created": invoice.created,
            "hosted_invoice_url": invoice.hosted_invoice_url or "",
        },
    )
    return record


def mark_checkout_completed(organization, session_id: str) -> None:
    CheckoutSession.objects.filter(
        organization=organization, stripe_session_id=session_id, completed_at=None
    ).update(completed_at=timezone.now())


# --- The operator's side (admin actions) -----------------------------------------------------


def grant_extra_messages(organization, messages: int, *, actor, reason: str = "") -> int:
    """Add messages to this period's allowance. Returns the new limit."""
    if messages <= 0:
        raise BillingError("Grant a positive number of messages.")
    try:
        period = allowance.grant_extra_messages(organization, messages)
    except ValueError as error:
        raise BillingError(str(error)) from error
    record_audit(
        "billing.messages_granted",
        organization=organization,
        actor=actor,
        data={"messages": messages, "period_start": period.starts_at.isoformat(), "reason": reason},
    )
    return period.limit


def extend_grace_period(organization, days: int, *, actor, reason: str = "") -> BillingAccount:
    """Give a customer whose payment failed more days before sending stops."""
    if days <= 0:
        raise BillingError("Extend by a positive number of days.")
    with transaction.atomic():
        account = account_for_update(organization)
        if account.payment_failed_at is None:
            raise BillingError(f"{organization.name} has no failed payment to give grace for.")
        base = max(account.grace_until or timezone.now(), timezone.now())
        account.grace_until = base + dt.timedelta(days=days)
        account.save(update_fields=["grace_until", "updated_at"])
        record_audit(
            "billing.grace_extended",
            organization=organization,
            actor=actor,
            data={"days": days, "grace_until": account.grace_until.isoformat(), "reason": reason},
        )
    return account


def comp_organization(organization, plan: Plan | None = None, *, actor=None, reason="") -> bool:
    """Give the organization a plan free of charge (no Stripe subscription needed). Idempotent:
    returns False if it was already comped."""
    plan = plan or Plan.objects.filter(is_active=True).order_by("-recommended", "position").first()
    with transaction.atomic():
        account = account_for_update(organization)
        if account.is_comped:
            return False
        account.comped_at = timezone.now()
        account.comp_reason = reason[:200]
        if account.plan_id is None or not has_live_subscription(account):
            account.plan = plan
        account.save()
        record_audit(
            "billing.comped",
            organization=organization,
            actor=actor,
            target=account.plan.code,
            data={"reason": reason},
        )
    return True


def end_comp(organization, *, actor=None) -> bool:
    with transaction.atomic():
        account = account_for_update(organization)
        if not account.is_comped:
            return False
        account.comped_at = None
        account.comp_reason = ""
        if not has_live_subscription(account):
            account.plan = None
        account.save()
        record_audit("billing.comp_ended", organization=organization, actor=actor)
    return True
