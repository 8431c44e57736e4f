"""Each sending number's daily volume and delivery outcomes, recomputed from the messages table
into a2p.PhoneNumberDailyStats (public schema) for the support console."""

import datetime as dt

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from a2p.models import PhoneNumber, PhoneNumberDailyStats
from messaging.models import Message

S = Message.Status


def roll_up(day: dt.date | None = None) -> int:
    """Recompute ``day`` (default: today, UTC) for the current organization's numbers."""
    day = day or timezone.now().date()
    numbers = {
        n.phone_number: n for n in PhoneNumber.objects.filter(organization=connection.tenant)
    }
    if not numbers:
        return 0
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    rows = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            from_phone__in=list(numbers),
            created_at__gte=start,
            created_at__lt=start + dt.timedelta(days=1),
        )
        .exclude(status__in=[S.PENDING, S.SKIPPED, S.CANCELED])
        .values("from_phone")
        .annotate(
            sent=Count("id"),
            delivered=Count("id", filter=Q(status=S.DELIVERED)),
            failed=Count("id", filter=Q(status__in=[S.UNDELIVERED, S.FAILED])),
        )
        .order_by()
    )
    for row in rows:
        PhoneNumberDailyStats.objects.update_or_create(
            phone_number=numbers[row["from_phone"]],
            day=day,
            defaults={k: row[k] for k in ("sent", "delivered", "failed")},
        )
    return len(rows)
