"""An organization's A2P 10DLC registration and its phone numbers (public schema: inbound texts
and Twilio callbacks arrive with no tenant attached and are routed through these rows)."""

from django.db import models
from django.utils import timezone as django_timezone


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
    # Twilio signs this account's webhooks with it, and we authenticate as the account with it.
    auth_token = models.CharField(max_length=64)
    friendly_name = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name"]

    def __str__(self):
        return f"{self.account_sid} ({self.organization})"
