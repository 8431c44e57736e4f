"""Emails to an organization's owners about billing: the allowance at 80% and 100% (once per
period each) and a failed payment (once per episode)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing.models import AllowancePeriod, BillingAccount
from organizations.models import Membership
from organizations.roles import Role


def _owner_emails(organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role=Role.OWNER)
        .order_by("created_at")
        .values_list("user__email", flat=True)
    )


def _billing_url(organization) -> str:
    return organization.url + reverse("billing", urlconf=settings.ROOT_URLCONF)


def _send(organization, subject: str, template: str, context: dict) -> int:
    recipients = _owner_emails(organization)
    if not recipients:
        return 0
    body = render_to_string(
        template,
        {"organization": organization, "billing_url": _billing_url(organization), **context},
    )
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def send_allowance_warning(period_id: int, threshold: int) -> bool:
    """Email the owners that ``threshold``% of the period's allowance is used; at most once
    per period and threshold (the flag is claimed with a conditional update before sending)."""
    field = f"emailed_{threshold}_at"
    claimed = AllowancePeriod.objects.filter(pk=period_id, **{f"{field}__isnull": True}).update(
        **{field: timezone.now()}
    )
    if not claimed:
        return False
    period = AllowancePeriod.objects.select_related("organization").get(pk=period_id)
    account = BillingAccount.objects.select_related("plan").get(organization=period.organization)
    if threshold >= 100:
        subject = f"{period.organization.name}: you have used all your messages this period"
    else:
        subject = f"{period.organization.name}: {threshold}% of this period's messages used"
    _send(
        period.organization,
        subject,
        "billing/email/allowance_warning.txt",
        {"period": period, "threshold": threshold, "account": account},
    )
    return True


def send_payment_failed(organization_id: int) -> bool:
    account = (
        BillingAccount.objects.select_related("organization")
        .filter(organization_id=organization_id)
        .exclude(payment_failed_at=None)
        .first()
    )
    if account is None:
        return False
    _send(
        account.organization,
        f"{account.organization.name}: your payment failed",
        "billing/email/payment_failed.txt",
        {"account": account},
    )
    return True
