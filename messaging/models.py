"""Per-organization data (each organization's own schema)."""

from django.db import models
from django.utils import timezone as django_timezone


# --- Twilio status callbacks ------------------------------------------------------------------
class MessageStatusEvent(models.Model):
    """One status callback Twilio sent about one of our messages, kept as received
    (append-only). Callbacks can arrive twice, late or out of order; one row per (message,
    status) makes storing them idempotent, and whoever applies them to messages decides which
    status wins (statuses only move forward)."""

    message_sid = models.CharField(max_length=34)
    status = models.CharField(max_length=20)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(help_text="Every field of the callback, as received.")
    received_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message_sid", "status"], name="one_status_event_per_message_status"
            )
        ]
        indexes = [models.Index(fields=["received_at"])]

    def __str__(self):
        return f"{self.message_sid} {self.status}"
