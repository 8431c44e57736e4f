"""The monthly allowance of messages: which period is current, and reserving messages from it.

How the sending pipeline uses it, once per batch (about 500 messages):

    granted = allowance.reserve(organization, len(batch))   # 0..len(batch)
    ... send the first ``granted`` messages ...
    usage.record_usage(organization, accepted, reference=...)
    allowance.release(organization, granted - accepted)

Concurrency: each period has one AllowancePeriod row. ``reserve`` locks it (SELECT ... FOR
UPDATE), grants ``min(messages, limit - reserved)`` and adds that to ``reserved`` in the same
short transaction, so any number of workers racing for the last messages of an allowance grant
exactly the allowance between them: the tolerance is **zero messages**. The row moves once per
batch, not per message (20 updates for 10,000 messages), so the lock is held for a
millisecond or two a few times a minute: not a hot row. Call it outside a long transaction:
inside one, the lock is held until that transaction ends.

The other direction: a worker that crashes between reserve and release keeps its batch
reserved. ``true_up_reservations`` (every 15 minutes) sets ``reserved`` back to the ledger's
count for any period untouched for ``BILLING_TRUE_UP_IDLE_MINUTES``, when no batch can be in
flight, so a crash costs the customer nothing in the end.
"""

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from billing.entitlement import has_plan, plan_block
from billing.models import AllowancePeriod, BillingAccount
from billing.usage import messages_used

WARNING_THRESHOLDS = (80, 100)


def next_period_end(start: dt.datetime, anchor: dt.datetime) -> dt.datetime:
    """A month after ``start``, on the anchor's day of the month where that month has it
    (Jan 31 -> Feb 28 -> Mar 31), as Stripe bills monthly subscriptions."""
    months = (start.year - anchor.year) * 12 + start.month - anchor.month + 1
    return anchor + relativedelta(months=months)


def current_period(account: BillingAccount | None, now=None) -> tuple[dt.datetime, dt.datetime]:
    """The billing period sending counts against now.

    Stripe's period when we know it; if it is over and the renewal has not reached us yet,
    the following months on the same anchor (a late webhook must not stop sending or reuse
    the old allowance). A comped organization's periods start on the day it was comped; with
    neither, the calendar month (UTC)."""
    now = now or timezone.now()
    start = end = None
    if account is not None and account.current_period_start and account.current_period_end:
        start, end = account.current_period_start, account.current_period_end
        anchor = start
    elif account is not None and account.comped_at:
        anchor = start = account.comped_at
        end = next_period_end(start, anchor)
    if start is None:
        start = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, start + relativedelta(months=1)
    while now >= end:
        start, end = end, next_period_end(end, anchor)
    return start, end


def period_row(organization, account: BillingAccount | None = None, now=None):
    """The organization's AllowancePeriod for the current period, created on first use with
    the plan's allowance; None when it has no plan."""
    if account is None:
        account = (
            BillingAccount.objects.select_related("plan").filter(organization=organization).first()
        )
    if not has_plan(account):
        return None
    start, end = current_period(account, now)
    row = AllowancePeriod.objects.filter(organization=organization, starts_at=start).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return AllowancePeriod.objects.create(
                organization=organization,
                starts_at=start,
                ends_at=end,
                allowance=account.plan.monthly_messages,
            )
    except IntegrityError:  # another worker created it first
        return AllowancePeriod.objects.get(organization=organization, starts_at=start)


def reserve(organization, messages: int) -> int:
    """Reserve up to ``messages`` from the current period's allowance; returns how many are
    granted (0 to ``messages``). Billed per message: everything is granted (and counted)."""
    if messages <= 0:
        return 0
    account = BillingAccount.objects.select_related("plan").filter(organization=organization)
    account = account.first()
    if plan_block(account) is not None:  # the pipeline asks sending_block first; be sure
        return 0
    period = period_row(organization, account)
    now = timezone.now()
    with transaction.atomic():
        row = (
            AllowancePeriod.objects.select_for_update()
            .only("allowance", "extra_messages", "reserved", "warned_80_at", "warned_100_at")
            .get(pk=period.pk)
        )
        granted = messages if account.overage_billed else min(messages, row.remaining)
        if granted == 0:
            return 0
        reserved = row.reserved + granted
        changes = {"reserved": reserved, "updated_at": now}
        crossed = [
            threshold
            for threshold in WARNING_THRESHOLDS
            if getattr(row, f"warned_{threshold}_at") is None
            and reserved * 100 >= row.limit * threshold
        ]
        changes.update({f"warned_{threshold}_at": now for threshold in crossed})
        AllowancePeriod.objects.filter(pk=row.pk).update(**changes)
    for threshold in crossed:  # once per period: the flags were set under the lock
        _warn_on_commit(row.pk, threshold)
    return granted


def release(organization, messages: int) -> None:
    """Give back reserved messages the carrier did not accept (to the current period)."""
    if messages <= 0:
        return
    period = period_row(organization)
    if period is None:
        return
    AllowancePeriod.objects.filter(pk=period.pk).update(
        reserved=Greatest(F("reserved") - messages, 0), updated_at=timezone.now()
    )


def grant_extra_messages(organization, messages: int) -> AllowancePeriod:
    """Raise this period's limit (operator action; see services.grant_extra_messages)."""
    period = period_row(organization)
    if period is None:
        raise ValueError("This organization has no plan, so it has no allowance to add to.")
    AllowancePeriod.objects.filter(pk=period.pk).update(
        extra_messages=F("extra_messages") + messages, updated_at=timezone.now()
    )
    period.refresh_from_db()
    return period


def apply_plan_allowance(organization, account: BillingAccount) -> None:
    """After a plan change: the current period gets the new plan's allowance."""
    period = period_row(organization, account)
    if period is not None and period.allowance != account.plan.monthly_messages:
        AllowancePeriod.objects.filter(pk=period.pk).update(allowance=account.plan.monthly_messages)


def true_up_reservations(now=None) -> int:
    """Set ``reserved`` to the ledger's count on periods idle long enough that no batch can be
    between its reserve and its release (a crashed worker's reservation, a reply recorded
    without a reservation). Returns how many periods changed."""
    now = now or timezone.now()
    idle_since = now - dt.timedelta(minutes=settings.BILLING_TRUE_UP_IDLE_MINUTES)
    changed = 0
    candidates = AllowancePeriod.objects.filter(
        Q(ends_at__gt=now - dt.timedelta(days=2)), updated_at__lt=idle_since
    ).select_related("organization")
    for period in candidates.iterator():
        used = messages_used(period.organization, period.starts_at, period.ends_at)
        if used == period.reserved:
            continue
        # Only if nobody reserved or released meanwhile (updated_at unchanged).
        changed += AllowancePeriod.objects.filter(
            pk=period.pk, updated_at=period.updated_at
        ).update(reserved=used)
    return changed


def _warn_on_commit(period_id: int, threshold: int) -> None:
    from billing.tasks import send_allowance_warning

    transaction.on_commit(lambda: send_allowance_warning.delay(period_id, threshold))
