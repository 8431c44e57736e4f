import datetime as dt

from django.contrib import admin
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from a2p.models import PhoneNumber, PhoneNumberDailyStats


def _sum_since(field, since):
    rows = (
        PhoneNumberDailyStats.objects.filter(phone_number=OuterRef("pk"), day__gte=since)
        .values("phone_number")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    """Every organization's numbers with their delivery health, from the daily rollup."""

    list_display = [
        "phone_number", "organization", "is_active", "sent_today", "sent_this_month",
        "delivery_rate_30_days", "messaging_service_sid",
    ]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["phone_number", "organization__name", "organization__slug", "twilio_sid"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]

    def get_queryset(self, request):
        today = timezone.now().date()
        month_start = today.replace(day=1)
        since = today - dt.timedelta(days=30)
        return (
            super()
            .get_queryset(request)
            .annotate(
                today_sent=_sum_since("sent", today),
                month_sent=_sum_since("sent", month_start),
                recent_delivered=_sum_since("delivered", since),
                recent_failed=_sum_since("failed", since),
            )
        )

    @admin.display(description="Today", ordering="today_sent")
    def sent_today(self, obj):
        return obj.today_sent

    @admin.display(description="This month", ordering="month_sent")
    def sent_this_month(self, obj):
        return obj.month_sent

    @admin.display(description="Delivered (30 days)")
    def delivery_rate_30_days(self, obj):
        finished = obj.recent_delivered + obj.recent_failed
        return f"{100 * obj.recent_delivered / finished:.1f}%" if finished else "—"
