"""Messages past the allowance, reported to Stripe's "Messages" meter for organizations billed
per message: one aggregated event per organization per hour, never one per message.

Each run counts the ledger up to the start of the current hour (a complete, unchanging window),
works out the overage of the period so far, subtracts what earlier reports already sent, and
writes the difference as an OverageReport row *before* calling Stripe. The row's identifier
(organization, period, hour) is Stripe's idempotency handle: a retried run sends the same value
under the same identifier, and Stripe counts it once.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import AllowancePeriod, BillingAccount, OverageReport
from billing.usage import messages_used
from smsplatform.providers.stripe import gateway

logger = logging.getLogger(__name__)


def report_overage(now=None) -> int:
    """Report every billed-per-message organization's new overage; returns events sent."""
    now = now or timezone.now()
    through = now.replace(minute=0, second=0, microsecond=0)
    accounts = (
        BillingAccount.objects.filter(overage=BillingAccount.Overage.BILLED)
        .exclude(stripe_subscription_id="")
        .exclude(stripe_customer_id="")
    )
    for account in accounts.select_related("organization"):
        periods = AllowancePeriod.objects.filter(
            organization=account.organization,
            starts_at__lt=through,
            ends_at__gt=through - dt.timedelta(days=1),  # the current one and the one just ended
        )
        for period in periods:
            _record_new_overage(account, period, through)
    return send_pending_reports()


def _record_new_overage(account, period: AllowancePeriod, through) -> OverageReport | None:
    organization = account.organization
    window_end = min(through, period.ends_at)
    used = messages_used(organization, period.starts_at, window_end)
    overage = max(used - period.limit, 0)
    reported = (
        OverageReport.objects.filter(
            organization=organization, period_starts_at=period.starts_at
        ).aggregate(total=Sum("messages"))["total"]
        or 0
    )
    if overage <= reported:
        return None
    # Deterministic for (organization, period, hour): every retry sends the same identifier.
    identifier = f"overage:{organization.pk}:{period.pk}:{window_end:%Y%m%d%H%M}"
    try:
        with transaction.atomic():
            return OverageReport.objects.create(
                organization=organization,
                period_starts_at=period.starts_at,
                through=window_end,
                messages=overage - reported,
                identifier=identifier,
            )
    except IntegrityError:  # this hour was written already (a concurrent or earlier run)
        return None


def send_pending_reports() -> int:
    """Send every report not yet acknowledged by Stripe (same identifier and value as first
    written). Returns how many were sent."""
    sent = 0
    pending = OverageReport.objects.filter(sent_at=None).order_by("through")
    for report in pending.select_related("organization"):
        account = BillingAccount.objects.filter(organization=report.organization).first()
        if account is None or not account.stripe_customer_id:
            continue
        # Stamped inside the period the usage belongs to, so it lands on that invoice.
        timestamp = max(report.through - dt.timedelta(seconds=1), report.period_starts_at)
        timestamp = min(timestamp, timezone.now())
        gateway().create_meter_event(
            event_name=settings.BILLING_METER_EVENT_NAME,
            stripe_customer_id=account.stripe_customer_id,
            value=report.messages,
            identifier=report.identifier,
            timestamp=timestamp,
        )
        OverageReport.objects.filter(pk=report.pk).update(sent_at=timezone.now())
        sent += 1
    return sent
