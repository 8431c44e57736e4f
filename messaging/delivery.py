"""Sending one queued message through the Twilio gateway, exactly once.

The row is claimed (pending → sending) and committed before the provider is called; a second
run of the task finds it no longer pending and does nothing. A provider answer that leaves the
outcome unknown (timeout after sending) keeps the row in "sending" for reconciliation rather
than risking a second text.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from messaging import policy
from messaging.encoding import text_cost
from messaging.models import Message
from messaging.status_callbacks import apply_pending_status_events


class TransientSendFailure(Exception):
    """The provider did not take the message but may later: the task retries."""


def deliver(message_id: int) -> Message | None:
    from smsplatform.providers import errors
    from smsplatform.providers.twilio import OutgoingSMS, main_twilio, twilio_for

    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=Message.Status.PENDING)
            .first()
        )
        if message is None:
            return None
        if not message.from_phone:
            return _finish(message, Message.Status.FAILED, reason="No sending number yet")
        message.status = Message.Status.SENDING
        message.save(update_fields=["status"])

    sms = OutgoingSMS(
        key=str(message.pk),
        to=message.to_phone,
        body=message.body,
        from_number=message.from_phone,
        media_urls=tuple(message.media_urls),
        status_callback=policy.status_callback_url(),
    )
    # The platform's own number belongs to the main account; everything else to the
    # organization's (sub)account.
    if message.from_phone == settings.TWILIO_PLATFORM_NUMBER:
        gateway = main_twilio()
    else:
        gateway = twilio_for(connection.tenant)
    (result,) = gateway.send_messages([sms], concurrency=1)
    error = result.error
    if error is None:
        # Counted like any text, but never refused for the allowance: a STOP confirmation or a
        # HELP answer must go out whatever the plan.
        segments = policy.MMS_MESSAGES if message.media_urls else text_cost(message.body).segments
        Message.objects.filter(pk=message.pk).update(segments=segments)
        policy.record_usage(connection.tenant, segments, reference=f"message:{message.pk}")
        return _finish(message, Message.Status.QUEUED, sid=result.sid)
    if isinstance(error, errors.RetryableError):
        Message.objects.filter(pk=message.pk).update(status=Message.Status.PENDING)
        raise TransientSendFailure(str(error))
    if isinstance(error, errors.AmbiguousOutcome):
        # Left in "sending": reconciliation looks the message up before any resend.
        return message
    return _finish(
        message, Message.Status.FAILED, code=error.code, reason=error.plain_reason or str(error)
    )


def _finish(message, status, *, sid=None, code=None, reason=""):
    now = timezone.now()
    message.status, message.sid, message.error_code = status, sid, code
    message.error_reason, message.status_changed_at = reason[:255], now
    if sid:
        message.sent_at = now
    message.save(
        update_fields=[
            "status",
            "sid",
            "error_code",
            "error_reason",
            "status_changed_at",
            "sent_at",
        ]
    )
    if sid and apply_pending_status_events([sid]):
        # Twilio called back before the SID was ours: the message is already further along.
        message.refresh_from_db(
            fields=["status", "status_changed_at", "error_code", "error_reason"]
        )
    return message
