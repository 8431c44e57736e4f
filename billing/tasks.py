"""Billing's background work: handling Stripe events, reporting overage, emails, the
reservation true-up. Each task takes ids, calls a domain function and is safe to run twice;
the periodic ones take a lock and skip a run that overlaps the previous one."""

import datetime as dt
import logging
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from billing import allowance, notifications, overage, webhooks
from billing.models import StripeEvent
from smsplatform.providers.errors import AmbiguousOutcome, RetryableError

logger = logging.getLogger(__name__)
# After this many failed attempts an event waits for a person (its error is in the admin).
MAX_EVENT_ATTEMPTS = 20


@contextmanager
def _single_run(name: str, seconds: int):
    """Yields whether this run holds the lock; a run that overlaps the previous one skips."""
    key = f"lock:billing:{name}"
    acquired = cache.add(key, 1, timeout=seconds)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


@shared_task(
    autoretry_for=(RetryableError, AmbiguousOutcome),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=8,
)
def process_stripe_event(event_pk: int) -> bool:
    return webhooks.process(event_pk)


@shared_task
def process_pending_stripe_events() -> int:
    """Re-enqueue events whose handling failed or whose task was lost (e.g. Stripe was
    unreachable longer than the task's retries)."""
    cutoff = timezone.now() - dt.timedelta(minutes=5)
    pending = StripeEvent.objects.filter(
        processed_at=None, received_at__lt=cutoff, attempts__lt=MAX_EVENT_ATTEMPTS
    )
    ids = list(pending.values_list("pk", flat=True)[:500])
    for event_pk in ids:
        process_stripe_event.delay(event_pk)
    return len(ids)


@shared_task(autoretry_for=(RetryableError,), retry_backoff=5, max_retries=5)
def report_overage() -> int:
    with _single_run("report-overage", 3000) as acquired:
        return overage.report_overage() if acquired else 0


@shared_task
def true_up_reservations() -> int:
    with _single_run("true-up", 600) as acquired:
        return allowance.true_up_reservations() if acquired else 0


@shared_task
def send_allowance_warning(period_id: int, threshold: int) -> bool:
    return notifications.send_allowance_warning(period_id, threshold)


@shared_task
def send_payment_failed_email(organization_id: int) -> bool:
    return notifications.send_payment_failed(organization_id)
