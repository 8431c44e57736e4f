import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from a2p import services
from a2p.models import PhoneNumber, PhoneNumberDailyStats, Registration, RegistrationEvent


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


# --- registrations -------------------------------------------------------------------------

STUCK_AFTER = dt.timedelta(days=2)


class NeedsAttentionFilter(admin.SimpleListFilter):
    """The lists an operator works from."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("stuck", "Stuck for more than two days"),
            ("failed", "Failed"),
            ("customer", "Waiting on the customer"),
            ("held", "On hold"),
        ]

    def queryset(self, request, queryset):
        Status = Registration.Status
        if self.value() == "stuck":
            return queryset.filter(
                status__in=[Status.WORKING, Status.IN_REVIEW],
                status_changed_at__lt=timezone.now() - STUCK_AFTER,
            )
        if self.value() == "failed":
            return queryset.filter(status=Status.FAILED)
        if self.value() == "customer":
            return queryset.filter(status=Status.WAITING_ON_CUSTOMER)
        if self.value() == "held":
            return queryset.filter(status=Status.ON_HOLD)
        return queryset


class RegistrationEventInline(admin.TabularInline):
    """The full history, oldest first; append-only."""

    model = RegistrationEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "stage", "status", "message", "data", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RegistrationActionForm(helpers.ActionForm):
    reason = forms.CharField(
        required=False, label="Reason (for a hold)", widget=forms.TextInput(attrs={"size": 40})
    )


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Every organization's registration: where it stands, its history, and the operator's
    actions (each one audited). Nothing is edited by hand: state moves through a2p.services."""

    list_display = [
        "organization", "stage", "status", "status_changed_at", "brand_status",
        "campaign_status", "failure", "chosen_phone_number",
    ]  # fmt: skip
    list_filter = [NeedsAttentionFilter, "stage", "status"]
    search_fields = [
        "organization__name", "organization__slug", "brand_sid", "campaign_sid",
        "customer_profile_sid", "trust_product_sid", "messaging_service_sid", "account_sid",
    ]  # fmt: skip
    list_select_related = ["organization"]
    date_hierarchy = "status_changed_at"
    inlines = [RegistrationEventInline]
    action_form = RegistrationActionForm
    actions = ["retry_step", "resubmit_brand", "hold_for_review", "release_hold"]
    fieldsets = [
        (None, {"fields": ["organization", "stage", "status", "status_changed_at",
                           "submitted_at", "completed_at", "hold_reason"]}),
        ("Problem", {"fields": ["rejection", "failure_step", "failure_code", "failure_message",
                                "failure_retryable", "attempts", "next_attempt_at"]}),
        ("Twilio verdicts", {"fields": ["customer_profile_status", "trust_product_status",
                                        "brand_status", "brand_identity_status", "brand_score",
                                        "campaign_status", "campaign_rate_limits",
                                        "messages_per_second", "next_poll_at"]}),
        ("Twilio SIDs", {"fields": ["account_sid", "customer_profile_sid",
                                    "business_information_sid", "representative_sid",
                                    "address_sid", "address_document_sid", "trust_product_sid",
                                    "messaging_profile_sid", "brand_sid",
                                    "messaging_service_sid", "campaign_sid", "phone_number_sid",
                                    "chosen_phone_number", "event_sink_sid",
                                    "event_subscription_sid"]}),
        ("Engine", {"fields": ["completed_steps", "creates_sent", "pending_corrections"]}),
        ("Answers", {"classes": ["collapse"], "fields": ["details", "draft"]}),
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Registration._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Failure")
    def failure(self, obj):
        if not obj.failure_step:
            return "—"
        code = f" {obj.failure_code}" if obj.failure_code else ""
        return f"{obj.failure_step}{code}" + ("" if obj.failure_retryable else " (not retryable)")

    def _each(self, request, queryset, action, done: str, **options):
        succeeded = 0
        for registration in queryset.select_related("organization"):
            try:
                action(registration, actor=request.user, **options)
            except services.RegistrationRefused as exc:
                self.message_user(
                    request, f"{registration.organization}: {exc.message}", messages.WARNING
                )
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)

    @admin.action(description="Retry the current step")
    def retry_step(self, request, queryset):
        self._each(request, queryset, services.retry_step, "Retried")

    @admin.action(description="Resubmit the brand (failed brands only)")
    def resubmit_brand(self, request, queryset):
        self._each(request, queryset, services.resubmit_brand, "Brands resubmitted")

    @admin.action(description="Hold for manual review")
    def hold_for_review(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason for the hold.", messages.ERROR)
            return
        self._each(request, queryset, services.hold_for_review, "Held", reason=reason)

    @admin.action(description="Release from manual review")
    def release_hold(self, request, queryset):
        self._each(request, queryset, services.release_hold, "Released")
