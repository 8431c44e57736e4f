"""Billing state in the public schema. Starts with the usage ledger the sending pipeline writes;
plans and subscriptions build on it."""

from django.db import models
from django.utils import timezone as django_timezone


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
