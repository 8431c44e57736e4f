"""Reads of billing state, each scoped to one organization: may it send, what the billing page
and the in-app banner show."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.allowance import period_row
from billing.entitlement import CHOOSE_A_PLAN, day, has_plan, plan_block
from billing.models import AllowancePeriod, BillingAccount, InvoiceRecord, Plan, UsageRecord


def account_for(organization) -> BillingAccount | None:
    return BillingAccount.objects.select_related("plan").filter(organization=organization).first()


def sending_block(organization, *, account=None, period=None) -> str | None:
    """A plain-English reason why the organization may not send right now, or None.

    Asked by the sending pipeline before each batch; two small indexed reads (fewer when the
    caller already has the account or the period row)."""
    account = account or account_for(organization)
    return plan_block(account) or _allowance_block(organization, account, period)


def _allowance_block(organization, account: BillingAccount, period) -> str | None:
    if account.overage_billed:
        return None
    period = period or period_row(organization, account)
    if period is None or period.remaining > 0:
        return None
    return (
        f"You have used all {period.limit:,} messages of your plan this period. Sending "
        f"resumes on {day(period.ends_at)}, or turn on billing per message on the Billing page."
    )


@dataclass(frozen=True)
class Banner:
    level: str  # "warn" or "bad"
    text: str


def banner_for(organization) -> Banner | None:
    """The in-app banner on every workspace page: the allowance at 80% / 100%, a failed
    payment, or sending stopped by billing. One query (account_with_period)."""
    return banner_from(account_with_period(organization))


def account_with_period(organization) -> BillingAccount | None:
    """The account and its plan, with the numbers of its latest allowance period as
    subqueries (period_limit, period_reserved, period_ends_at): one query."""
    latest_period = AllowancePeriod.objects.filter(
        organization=OuterRef("organization"), ends_at__gt=timezone.now()
    ).order_by("-starts_at")[:1]
    return (
        BillingAccount.objects.filter(organization=organization)
        .select_related("plan")
        .annotate(
            period_limit=Subquery(
                latest_period.annotate(limit=F("allowance") + F("extra_messages")).values("limit")
            ),
            period_reserved=Subquery(latest_period.values("reserved")),
            period_ends_at=Subquery(latest_period.values("ends_at")),
        )
        .first()
    )


def banner_from(account: BillingAccount | None) -> Banner | None:
    """The banner for an account read by account_with_period."""
    now = timezone.now()
    if account is None or account.plan_id is None:
        return Banner("warn", CHOOSE_A_PLAN)
    reason = plan_block(account, now)
    if reason:
        return Banner("bad", reason)
    if account.payment_failed_at and not account.is_comped:  # still in the grace period
        return Banner(
            "bad",
            "Your last payment failed. Update your payment method on the Billing page by "
            f"{day(account.grace_until)} to keep sending.",
        )
    limit, used = account.period_limit, account.period_reserved
    if not limit:
        return None
    if used >= limit:
        if account.overage_billed:
            return Banner(
                "warn",
                f"You have used your {limit:,} messages this period; further messages are "
                f"billed at {account.plan.overage_cents_per_message}¢ each.",
            )
        return Banner(
            "bad",
            f"You have used all {limit:,} messages this period. Sending resumes on "
            f"{day(account.period_ends_at)}.",
        )
    if used * 100 >= limit * 80:
        return Banner("warn", f"You have used {used * 100 // limit}% of this period's messages.")
    return None


@dataclass(frozen=True)
class UsageDay:
    day: dt.date
    messages: int
    height_percent: int  # of the busiest day, for the chart

    @property
    def bar_top(self) -> int:
        return 100 - self.height_percent


@dataclass(frozen=True)
class BillingOverview:
    account: BillingAccount | None
    plan: Plan | None
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    allowance: int
    extra_messages: int
    used: int
    days: list[UsageDay]
    invoices: list[InvoiceRecord]
    sending_block: str | None

    @property
    def limit(self) -> int:
        return self.allowance + self.extra_messages

    @property
    def used_percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, self.used * 100 // self.limit)

    @property
    def over_allowance(self) -> int:
        return max(self.used - self.limit, 0)

    @property
    def peakday(self) -> int:
        return max((day.messages for day in self.days), default=0)


def billing_overview(organization) -> BillingOverview:
    """Everything the billing page shows; a fixed handful of queries whatever the usage."""
    account = account_for(organization)
    invoices = list(InvoiceRecord.objects.filter(organization=organization)[:24])
    if not has_plan(account):
        return BillingOverview(
            account, account.plan if account else None, None, None, 0, 0, 0, [], invoices,
            sending_block(organization, account=account),
        )  # fmt: skip
    period = period_row(organization, account)
    days = usage_byday(organization, period.starts_at, period.ends_at)
    return BillingOverview(
        account=account,
        plan=account.plan,
        period_start=period.starts_at,
        period_end=period.ends_at,
        allowance=period.allowance,
        extra_messages=period.extra_messages,
        used=sum(day.messages for day in days),
        days=days,
        invoices=invoices,
        sending_block=sending_block(organization, account=account, period=period),
    )


def usage_byday(organization, start, end) -> list[UsageDay]:
    """Messages per day of [start, end) in the organization's time zone, each day up to today
    listed (with 0 when nothing was sent)."""
    zone = zoneinfo.ZoneInfo(organization.timezone)
    totals = dict(
        UsageRecord.objects.filter(
            organization=organization, recorded_at__gte=start, recorded_at__lt=end
        )
        .annotate(day=TruncDate("recorded_at", tzinfo=zone))
        .values("day")
        .annotate(total=Sum("messages"))
        .values_list("day", "total")
    )
    shown_until = max(start, min(end, timezone.now()))
    first, last = start.astimezone(zone).date(), shown_until.astimezone(zone).date()
    days = [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]
    peak = max(totals.values(), default=0)
    return [
        UsageDay(day, totals.get(day, 0), (totals.get(day, 0) * 100 // peak) if peak else 0)
        for day in days
    ]
