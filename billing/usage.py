"""Writing and reading the usage ledger. Always scoped to one organization."""

from django.db.models import Sum

from billing.models import UsageRecord


def record_usage(organization, messages: int, *, reference: str = "") -> None:
    if messages > 0:
        UsageRecord.objects.create(
            organization=organization, messages=messages, reference=reference
        )


def messages_used(organization, start, end) -> int:
    """Messages in [start, end): an indexed sum over a month's batch rows."""
    total = UsageRecord.objects.filter(
        organization=organization, recorded_at__gte=start, recorded_at__lt=end
    ).aggregate(total=Sum("messages"))["total"]
    return total or 0
