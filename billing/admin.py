"""The operator console for billing: the plan catalogue, each organization's billing (plan,
status, usage this period, Stripe ids, event log) and the actions support takes (grant extra
messages, extend the grace period, comp), each a service call written to the audit log."""

from django import forms
from django.contrib import admin, messages
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils import timezone

from billing import selectors, services
from billing.models import (
    AllowancePeriod,
    BillingOrganization,
    InvoiceRecord,
    Plan,
    StripeEvent,
    UsageRecord,
)
from organizations.models import AuditLog


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "monthly_price_cents",
        "setup_fee_cents",
        "monthly_messages",
        "overage_cents_per_message",
        "recommended",
        "is_active",
        "stripe_price_id",
    ]
    list_editable = ["monthly_messages", "overage_cents_per_message", "recommended", "is_active"]
    readonly_fields = ["stripe_price_id", "stripe_setup_price_id", "stripe_overage_price_id"]

    def get_readonly_fields(self, request, obj=None):
        # The code ties Stripe's prices (lookup keys) to the plan: fixed once created.
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AllowancePeriodInline(ReadOnlyInline):
    model = AllowancePeriod
    fields = [
        *("starts_at", "ends_at", "allowance", "extra_messages", "reserved"),
        *("warned_80_at", "warned_100_at"),
    ]
    readonly_fields = fields
    max_num = 0


class StripeEventInline(ReadOnlyInline):
    model = StripeEvent
    fk_name = "organization"
    verbose_name_plural = "Stripe event log"
    fields = ["created", "type", "event_id", "object_id", "processed_at", "attempts", "error"]
    readonly_fields = fields
    ordering = ["-created"]


class BillingAuditInline(ReadOnlyInline):
    model = AuditLog
    fk_name = "organization"
    verbose_name_plural = "Billing audit log"
    fields = ["created_at", "action", "actor", "target", "data"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(action__startswith="billing.")


class InvoiceInline(ReadOnlyInline):
    model = InvoiceRecord
    fk_name = "organization"
    fields = ["created", "number", "status", "total_cents", "hosted_invoice_url"]
    readonly_fields = fields


class GrantForm(forms.Form):
    messages = forms.IntegerField(min_value=1, max_value=1_000_000, label="Extra messages")
    reason = forms.CharField(max_length=200)


class GraceForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=60, label="Extra days of grace")
    reason = forms.CharField(max_length=200)


class CompForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(is_active=True))
    reason = forms.CharField(max_length=200)


def _account_field(attribute: str, description: str):
    """A column showing one attribute of the organization's billing account (if it has one)."""

    @admin.display(description=description)
    def show(self, obj):
        account = getattr(obj, "billing_account", None)
        value = getattr(account, attribute, None)
        return value() if callable(value) else value

    return show


@admin.register(BillingOrganization)
class BillingOrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "plan",
        "subscription",
        "sending",
        "usage_this_period",
        "stripe_customer",
        "stripe_subscription",
    ]
    list_filter = ["billing_account__plan", "billing_account__subscription_status"]
    search_fields = [
        "name",
        "slug",
        "billing_account__stripe_customer_id",
        "billing_account__stripe_subscription_id",
    ]
    fields = [
        *("name", "slug", "plan", "subscription", "sending", "usage_this_period"),
        *("stripe_customer", "stripe_subscription", "overage", "renewal", "grace", "comp"),
    ]
    readonly_fields = fields
    inlines = [AllowancePeriodInline, InvoiceInline, StripeEventInline, BillingAuditInline]
    actions = ["grant_extra_messages", "extend_grace_period", "comp_organization", "end_comp"]

    def get_queryset(self, request):
        latest_start = (
            AllowancePeriod.objects.filter(
                organization=OuterRef(OuterRef("pk")), starts_at__lte=timezone.now()
            )
            .order_by("-starts_at")
            .values("starts_at")[:1]
        )
        usage = (
            UsageRecord.objects.filter(
                organization=OuterRef("pk"), recorded_at__gte=Subquery(latest_start)
            )
            .values("organization")
            .annotate(total=Sum("messages"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .customers()
            .select_related("billing_account__plan")
            .annotate(usage=Coalesce(Subquery(usage, output_field=IntegerField()), 0))
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only page; changes go through the actions

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def _account(self, obj):
        return getattr(obj, "billing_account", None)

    @admin.display(description="Plan")
    def plan(self, obj):
        account = self._account(obj)
        return account.plan.name if account and account.plan else "—"

    @admin.display(description="Subscription")
    def subscription(self, obj):
        account = self._account(obj)
        if account is None:
            return "none"
        if account.is_comped:
            return "comped"
        return account.subscription_status or "none"

    @admin.display(description="Sending")
    def sending(self, obj):
        return selectors.sending_block(obj, account=self._account(obj)) or "allowed"

    @admin.display(description="Messages this period", ordering="usage")
    def usage_this_period(self, obj):
        return obj.usage

    stripe_customer = _account_field("stripe_customer_id", "Stripe customer")
    stripe_subscription = _account_field("stripe_subscription_id", "Stripe subscription")
    overage = _account_field("get_overage_display", "Past the allowance")
    renewal = _account_field("current_period_end", "Period ends")
    grace = _account_field("grace_until", "Grace until")

    @admin.display(description="Comped")
    def comp(self, obj):
        account = self._account(obj)
        return (
            f"{account.comped_at:%Y-%m-%d}: {account.comp_reason}"
            if account and account.is_comped
            else "no"
        )

    # --- Actions: a form first, then the service, once per organization ------------------

    def _with_form(self, request, queryset, form_class, title, apply):
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                for organization in queryset:
                    try:
                        note = apply(organization, form.cleaned_data)
                    except services.BillingError as error:
                        self.message_user(request, f"{organization}: {error}", messages.ERROR)
                    else:
                        self.message_user(request, f"{organization}: {note}", messages.SUCCESS)
                return None
        else:
            form = form_class()
        return TemplateResponse(
            request,
            "admin/billing/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "organizations": queryset,
                "action": request.POST.get("action"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Grant extra messages this period")
    def grant_extra_messages(self, request, queryset):
        def apply(organization, data):
            limit = services.grant_extra_messages(
                organization, data["messages"], actor=request.user, reason=data["reason"]
            )
            return f"{data['messages']:,} messages granted; this period's limit is {limit:,}."

        return self._with_form(request, queryset, GrantForm, "Grant extra messages", apply)

    @admin.action(description="Extend the grace period after a failed payment")
    def extend_grace_period(self, request, queryset):
        def apply(organization, data):
            account = services.extend_grace_period(
                organization, data["days"], actor=request.user, reason=data["reason"]
            )
            return f"sending allowed until {account.grace_until:%Y-%m-%d %H:%M} UTC."

        return self._with_form(request, queryset, GraceForm, "Extend the grace period", apply)

    @admin.action(description="Comp (give a plan free of charge)")
    def comp_organization(self, request, queryset):
        def apply(organization, data):
            comped = services.comp_organization(
                organization, data["plan"], actor=request.user, reason=data["reason"]
            )
            return "comped." if comped else "was already comped."

        return self._with_form(request, queryset, CompForm, "Comp organizations", apply)

    @admin.action(description="End the comp")
    def end_comp(self, request, queryset):
        for organization in queryset:
            ended = services.end_comp(organization, actor=request.user)
            self.message_user(
                request, f"{organization}: {'comp ended' if ended else 'not comped'}."
            )


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["created", "type", "event_id", "organization", "processed_at", "attempts"]
    list_filter = ["type", "processed_at"]
    search_fields = ["event_id", "object_id", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = [field.name for field in StripeEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
