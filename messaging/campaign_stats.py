"""A run's live numbers, counted from its message rows through the (run, status) index: no
counter row is ever updated in place (DESIGN §4.7). Cached for a second, so any number of open
campaign pages cost one set of queries per second."""

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncMinute

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
        {"minute": row["minute"].isoformat(), "delivered": row["n"]}
        for row in Message.objects.filter(run=run, status=S.DELIVERED)
        .annotate(minute=TruncMinute("status_changed_at"))
        .values("minute")
        .annotate(n=Count("id"))
        .order_by("minute")
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
