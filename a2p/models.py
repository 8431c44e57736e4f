"""A2P 10DLC registration and phone numbers (public schema: Twilio's callbacks arrive with no
tenant attached, and support staff see every organization)."""

from django.db import models
from django.utils import timezone as django_timezone

from organizations.models import Organization


class TwilioAccount(models.Model):
    """The Twilio subaccount an organization sends from (the ISV norm: one per organization, so
    its numbers, registrations, limits and bills stay apart). Without one, the organization
    uses the platform's main account (smsplatform.providers.twilio.twilio_for)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="twilio_account"
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
