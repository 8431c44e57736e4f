"""Billing state in the public schema: the plan catalogue, each organization's billing account
(its Stripe customer and subscription as last read from Stripe), the allowance of each billing
period, the usage ledger the sending pipeline writes, received Stripe events, invoices and the
overage reported to Stripe.

Rows that belong to an organization are read through functions that take the organization
(billing.selectors, billing.allowance, billing.usage), never looked up by id from a request.
"""

from django.db import models
from django.utils import timezone as django_timezone

from organizations.models import Organization


class Plan(models.Model):
    """One plan of the catalogue, edited by operators in the admin. Prices are integer cents;
    the Stripe ids are filled in by ``manage.py sync_stripe_catalogue`` (or the first checkout)."""

    code = models.SlugField(max_length=40, unique=True, help_text="e.g. accelerator (never change)")
    name = models.CharField(max_length=80)
    summary = models.CharField(max_length=200, blank=True)
    features = models.TextField(
        blank=True, help_text="One feature per line, shown on the plans page"
    )
    monthly_price_cents = models.PositiveIntegerField()
    setup_fee_cents = models.PositiveIntegerField(default=0, help_text="Charged once, at checkout")
    monthly_messages = models.PositiveIntegerField(help_text="The allowance of messages per month")
    overage_cents_per_message = models.PositiveIntegerField(
        help_text="Price of each message past the allowance, for organizations billed per message"
    )
    recommended = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the plans page")
    is_active = models.BooleanField(default=True, help_text="Offered to customers")
    stripe_price_id = models.CharField(max_length=100, blank=True)
    stripe_setup_price_id = models.CharField(max_length=100, blank=True)
    stripe_overage_price_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["position", "monthly_price_cents", "code"]

    def __str__(self):
        return self.name

    @property
    def feature_list(self) -> list[str]:
        return [line.strip() for line in self.features.splitlines() if line.strip()]

    @property
    def first_payment_cents(self) -> int:
        return self.monthly_price_cents + self.setup_fee_cents


class BillingAccount(models.Model):
    """An organization's billing: its plan, its Stripe customer and subscription as Stripe last
    reported them, its dunning state and its overage setting. Created on first need."""

    class Overage(models.TextChoices):
        BLOCKED = "blocked", "Stop sending at the allowance"
        BILLED = "billed", "Keep sending, billed per message"

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="billing_account"
    )
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT)
    overage = models.CharField(max_length=16, choices=Overage.choices, default=Overage.BLOCKED)
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    # Stripe's status verbatim: active, past_due, unpaid, canceled, incomplete, ... ("" = none).
    subscription_status = models.CharField(max_length=32, blank=True)
    subscription_created_at = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Dunning: set when a payment fails, cleared when the subscription is paid up again.
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    grace_until = models.DateTimeField(null=True, blank=True)
    # An operator's gift: the plan with no Stripe subscription (demo, partners, goodwill).
    comped_at = models.DateTimeField(null=True, blank=True)
    comp_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name"]

    def __str__(self):
        return f"Billing of {self.organization}"

    @property
    def is_comped(self) -> bool:
        return self.comped_at is not None

    @property
    def overage_billed(self) -> bool:
        """Billed per message only works with a Stripe subscription to bill it on."""
        return self.overage == self.Overage.BILLED and bool(self.stripe_subscription_id)


class AllowancePeriod(models.Model):
    """The allowance of one billing period and the messages reserved against it.

    ``reserved`` moves once per batch (billing.allowance.reserve / release), never per message,
    under this row's lock, so concurrent workers can never grant more than ``allowance +
    extra_messages`` between them. The usage ledger (UsageRecord) stays the record of what was
    actually accepted; a periodic true-up brings ``reserved`` back to it when idle."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="allowance_periods"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    allowance = models.PositiveIntegerField()
    extra_messages = models.PositiveIntegerField(default=0, help_text="Granted by an operator")
    reserved = models.PositiveIntegerField(default=0)
    warned_80_at = models.DateTimeField(null=True, blank=True)
    warned_100_at = models.DateTimeField(null=True, blank=True)
    emailed_80_at = models.DateTimeField(null=True, blank=True)
    emailed_100_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "starts_at"], name="one_allowance_per_period"
            )
        ]

    def __str__(self):
        return f"{self.organization_id}: {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"

    @property
    def limit(self) -> int:
        return self.allowance + self.extra_messages

    @property
    def remaining(self) -> int:
        return max(self.limit - self.reserved, 0)


class StripeEvent(models.Model):
    """Every verified Stripe event, stored once (unique id) before it is handled, so a
    duplicate delivery does nothing and the operator console shows each organization's log."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(help_text="When Stripe created the event")
    received_at = models.DateTimeField(default=django_timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload = models.JSONField()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created"], name="stripe_event_org"),
            models.Index(
                fields=["received_at"],
                name="stripe_event_pending",
                condition=models.Q(processed_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class CheckoutSession(models.Model):
    """A Checkout the organization started: the success page finds it by id (scoped to the
    organization) and the webhook fulfils it once."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT)
    stripe_session_id = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=django_timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.stripe_session_id


class InvoiceRecord(models.Model):
    """A copy of a Stripe invoice, kept from the invoice events so the billing page lists
    invoices without calling Stripe."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)
    total_cents = models.IntegerField()
    currency = models.CharField(max_length=3, default="usd")
    created = models.DateTimeField()
    hosted_invoice_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["organization", "-created"], name="invoice_org_created")]

    def __str__(self):
        return self.number or self.stripe_invoice_id


class OverageReport(models.Model):
    """Messages past the allowance reported to Stripe's meter: one aggregated event per
    organization and hour. The row is written before the call, so a retry sends the same value
    under the same ``identifier`` and Stripe counts it once."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    period_starts_at = models.DateTimeField()
    through = models.DateTimeField(help_text="Usage up to this moment is included")
    messages = models.PositiveIntegerField()
    identifier = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=django_timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-through"]
        indexes = [models.Index(fields=["organization", "period_starts_at"], name="overage_org")]

    def __str__(self):
        return self.identifier


class BillingOrganization(Organization):
    """Organizations seen from billing, for the operator console (every organization appears,
    with or without a billing account)."""

    class Meta:
        proxy = True
        verbose_name = "organization billing"
        verbose_name_plural = "organization billing"


class UsageRecord(models.Model):
    """Append-only ledger of messages accepted for sending: one row per dispatched batch, never
    one per message and never a counter updated in place, so writes don't contend and period
    totals are an indexed sum."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="usage_records"
    )
    recorded_at = models.DateTimeField(default=django_timezone.now)
    messages = models.PositiveIntegerField()
    reference = models.CharField(max_length=80, blank=True, help_text="e.g. run:42")

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["organization", "recorded_at"], name="usage_org_time")]

    def __str__(self):
        return (
            f"{self.organization_id}: {self.messages} messages at {self.recorded_at:%Y-%m-%d %H:%M}"
        )
