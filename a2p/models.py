"""An organization's A2P 10DLC registration and its phone numbers (public schema: inbound texts
and Twilio callbacks arrive with no tenant attached and are routed through these rows)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone as django_timezone
from encrypted_fields.fields import EncryptedCharField


class PhoneNumber(models.Model):
    """A number an organization texts from. Routes inbound texts to the organization."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="phone_numbers"
    )
    phone_number = models.CharField(max_length=20, unique=True, help_text="E.164")
    twilio_sid = models.CharField(max_length=40, blank=True, help_text="PN…")
    messaging_service_sid = models.CharField(max_length=40, blank=True, help_text="MG…")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["organization__name", "phone_number"]
        indexes = [models.Index(fields=["organization", "is_active"], name="number_org_active")]

    def __str__(self):
        return self.phone_number


class PhoneNumberDailyStats(models.Model):
    """A number's volume and delivery outcomes per day, rolled up from the organization's
    messages by a periodic task (recomputed, never incremented per message)."""

    phone_number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="daily")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["phone_number", "day"], name="one_stats_row_per_day")
        ]

    def __str__(self):
        return f"{self.phone_number} {self.day}"


class TwilioAccount(models.Model):
    """The Twilio subaccount an organization sends from (the ISV norm: one per organization, so
    its numbers, registrations, limits and bills stay apart). Without one, the organization
    uses the platform's main account (smsplatform.providers.twilio.twilio_for)."""

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.PROTECT, related_name="twilio_account"
    )
    account_sid = models.CharField(max_length=34, unique=True)
    # Twilio signs this account's webhooks with it, and we authenticate as the account with it:
    # encrypted at rest, so a leaked backup or a read-only SQL session cannot send as anyone.
    auth_token = EncryptedCharField(max_length=64)
    friendly_name = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name"]

    def __str__(self):
        return f"{self.account_sid} ({self.organization})"


class Registration(models.Model):
    """An organization's A2P 10DLC registration: the business details it gave (a draft saved
    between visits), where it stands in Twilio's sequence (stage and status), Twilio's verdicts, and
    every SID Twilio returned, saved the moment it is known. Changed only by a2p.services and
    a2p.engine; each change appends a RegistrationEvent."""

    class Stage(models.TextChoices):
        # In the order they happen (twilio-a2p.md §1).
        DETAILS = "details", "Business details"
        CUSTOMER_PROFILE = "customer_profile", "Business profile"
        TRUST_PRODUCT = "trust_product", "Messaging profile"
        BRAND = "brand", "Brand"
        MESSAGING_SERVICE = "messaging_service", "Messaging service"
        CAMPAIGN = "campaign", "Campaign"
        PHONE_NUMBER = "phone_number", "Phone number"
        COMPLETE = "complete", "Complete"

    class Status(models.TextChoices):
        DRAFT = "draft", "Not submitted yet"
        WORKING = "working", "In progress"
        IN_REVIEW = "in_review", "In review"
        WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on the customer"
        FAILED = "failed", "Failed"
        ON_HOLD = "on_hold", "On hold for manual review"
        COMPLETE = "complete", "Complete"

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.PROTECT, related_name="a2p_registration"
    )
    # The answers as submitted (checked by the form; what Twilio is sent), and the form as
    # last saved while being filled in (as typed, unchecked).
    details = models.JSONField(default=dict, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=24, choices=Stage.choices, default=Stage.DETAILS)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    status_changed_at = models.DateTimeField(default=django_timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=255, blank=True)
    status_before_hold = models.CharField(max_length=24, blank=True)

    # The engine's bookkeeping. A step's name goes into ``creates_sent`` (committed) before its
    # create call leaves, so a retry after a lost answer or a dead worker looks up what that
    # call may have made instead of making a second one.
    completed_steps = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    creates_sent = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    # What the customer or an operator asked to send Twilio again: details, bundles, brand,
    # campaign (see a2p.engine.CORRECTIONS).
    pending_corrections = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed tries of the current step")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)

    # Twilio's SIDs, in the order they are created; all in the organization's subaccount.
    account_sid = models.CharField(max_length=34, blank=True, help_text="AC… (subaccount)")
    event_sink_sid = models.CharField(max_length=34, blank=True, help_text="DG…")
    event_subscription_sid = models.CharField(max_length=34, blank=True, help_text="DF…")
    customer_profile_sid = models.CharField(max_length=34, blank=True, help_text="BU…")
    business_information_sid = models.CharField(max_length=34, blank=True, help_text="IT…")
    representative_sid = models.CharField(max_length=34, blank=True, help_text="IT…")
    address_sid = models.CharField(max_length=34, blank=True, help_text="AD…")
    address_document_sid = models.CharField(max_length=34, blank=True, help_text="RD…")
    trust_product_sid = models.CharField(max_length=34, blank=True, help_text="BU…")
    messaging_profile_sid = models.CharField(max_length=34, blank=True, help_text="IT…")
    brand_sid = models.CharField(max_length=34, blank=True, help_text="BN…")
    messaging_service_sid = models.CharField(max_length=34, blank=True, help_text="MG…")
    campaign_sid = models.CharField(max_length=34, blank=True, help_text="QE…")
    phone_number_sid = models.CharField(max_length=34, blank=True, help_text="PN…")
    chosen_phone_number = models.CharField(max_length=20, blank=True, help_text="E.164")

    # Twilio's verdicts, as last seen (webhook or poll).
    customer_profile_status = models.CharField(max_length=24, blank=True)
    trust_product_status = models.CharField(max_length=24, blank=True)
    brand_status = models.CharField(max_length=24, blank=True)
    brand_identity_status = models.CharField(max_length=24, blank=True)
    brand_score = models.IntegerField(null=True, blank=True)
    campaign_status = models.CharField(max_length=24, blank=True)
    campaign_rate_limits = models.JSONField(null=True, blank=True)
    # Set when the campaign is approved, from its rate limits and the brand score (docs/a2p.md).
    messages_per_second = models.FloatField(null=True, blank=True)

    # What went wrong last. A Twilio rejection (the customer must change something) is kept in
    # ``rejection``; a failed call (ours to retry) in the failure_* fields.
    rejection = models.JSONField(default=list, blank=True)
    failure_step = models.CharField(max_length=40, blank=True)
    failure_code = models.IntegerField(null=True, blank=True)
    failure_message = models.TextField(blank=True)
    failure_retryable = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-status_changed_at"]
        indexes = [
            models.Index(fields=["status", "status_changed_at"], name="registration_status"),
            models.Index(fields=["next_poll_at"], name="registration_poll"),
        ]

    def __str__(self):
        return f"{self.organization} · {self.get_stage_display()} · {self.get_status_display()}"

    @property
    def is_submitted(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def is_complete(self) -> bool:
        return self.stage == self.Stage.COMPLETE


class RegistrationEventQuerySet(models.QuerySet):
    def delete(self):
        raise TypeError("The registration history is append-only")

    def update(self, **kwargs):
        raise TypeError("The registration history is append-only")


class RegistrationEvent(models.Model):
    """One entry of a registration's history: a transition, a Twilio call, a verdict received,
    a failure, a customer's or an operator's action. Append-only."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", "Stage or status changed"
        CALL = "call", "Twilio call"
        VERDICT = "verdict", "Twilio verdict"
        WEBHOOK = "webhook", "Webhook received"
        FAILURE = "failure", "Call failed"
        CUSTOMER = "customer", "Customer action"
        OPERATOR = "operator", "Operator action"

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    stage = models.CharField(max_length=24, choices=Registration.Stage.choices)
    status = models.CharField(max_length=24, choices=Registration.Status.choices)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False, db_index=True)

    objects = RegistrationEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The registration history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The registration history is append-only")
