"""A run's live numbers, counted from its message rows through the (run, status) index: no
counter row is ever updated in place (DESIGN §4.7). Cached for a second, so any number of open
campaign pages cost one set of queries per second."""

import datetime as dt

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone

from messaging.models import CampaignRun, Contact, Message

S = Message.Status
GROUPS = {
    "waiting": (S.PENDING, S.SENDING),
    "sent": (S.QUEUED, S.SENT),
    "delivered": (S.DELIVERED,),
    "not_delivered": (S.UNDELIVERED, S.FAILED),
    "skipped": (S.SKIPPED,),
    "canceled": (S.CANCELED,),
}
CACHE_SECONDS = 1
# A minute of the deliveries chart is final once it is over by this much (a delivery is dated
# when its statement starts, a moment before it commits): kept, never counted again.
SETTLED_AFTER = dt.timedelta(seconds=10)
TIMELINE_CACHE_SECONDS = 3600


def run_stats(run: CampaignRun) -> dict:
    key = f"run-stats:{run.pk}"
    stats = cache.get(key)
    if stats is None:
        stats = _compute(run)
        cache.set(key, stats, CACHE_SECONDS)
    return stats


def _compute(run: CampaignRun) -> dict:
    by_status = dict(
        Message.objects.filter(run=run).values_list("status").annotate(n=Count("id")).order_by()
    )
    counts = {
        group: sum(by_status.get(s, 0) for s in statuses) for group, statuses in GROUPS.items()
    }
    reasons = list(
        Message.objects.filter(run=run, status__in=GROUPS["not_delivered"] + GROUPS["skipped"])
        .values("error_reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:6]
    )
    since = run.started_at or run.created_at
    recipients = Contact.objects.filter(messages__run=run)
    opted_out = recipients.filter(
        status=Contact.Status.UNSUBSCRIBED, status_changed_at__gte=since
    ).count()
    replied = recipients.filter(last_replied_at__gte=since).count()
    timeline = [
        {"minute": minute.isoformat(), "delivered": n}
        for minute, n in sorted(_deliveries_by_minute(run).items())
    ]
    return {
        "run": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "paused_reason": run.paused_reason,
        "recipients": run.recipients or 0,
        **counts,
        "reasons": [{"reason": r["error_reason"] or "Unknown", "count": r["n"]} for r in reasons],
        "opted_out": opted_out,
        "replied": replied,
        "timeline": timeline,
    }


def _deliveries_by_minute(run: CampaignRun) -> dict:
    """Deliveries per minute. Counting them all every second read every delivered row of the
    run (50 ms a second at 100,000): settled minutes are kept, and only deliveries since then
    are counted, a range of the (run, status, status_changed_at) index. Delivered is final, so
    a settled minute never changes."""
    key = f"run-timeline:{run.pk}"
    settled = cache.get(key) or {"until": None, "minutes": {}}
    delivered = Message.objects.filter(run=run, status=S.DELIVERED)
    if settled["until"] is not None:
        delivered = delivered.filter(status_changed_at__gte=settled["until"])
    recent = (
        delivered.annotate(minute=TruncMinute("status_changed_at"))
        .values_list("minute")
        .annotate(n=Count("id"))
        .order_by()
    )
    minutes = {**settled["minutes"], **dict(recent)}
    until = (timezone.now() - SETTLED_AFTER).replace(second=0, microsecond=0)
    if settled["until"] is not None:
        until = max(until, settled["until"])
    kept = {minute: n for minute, n in minutes.items() if minute < until}
    cache.set(key, {"until": until, "minutes": kept}, TIMELINE_CACHE_SECONDS)
    return minutes
