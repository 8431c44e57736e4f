"""Sending one queued message through the Twilio gateway, exactly once.

The row is claimed (pending → sending) and committed before the provider is called; a second
run of the task finds it no longer pending and does nothing. A provider answer that leaves the
outcome unknown (timeout after sending) keeps the row in "sending" for reconciliation rather
than risking a second text.

sweep_unsent catches what the task alone cannot: a task lost with the broker's queue (a Redis
restart), a task whose retries ran out, and a row left "sending" by a worker that died
mid-request. A STOP confirmation or a HELP answer is owed exactly once, not at most once.
"""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging import policy
from messaging.encoding import text_cost
from messaging.models import Message
from messaging.status_callbacks import apply_pending_status_events


class TransientSendFailure(Exception):
    """The provider did not take the message but may later: the task retries."""


def deliver(message_id: int) -> Message | None:
    from smsplatform.providers import errors
    from smsplatform.providers.twilio import OutgoingSMS

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
        message.claimed_at = timezone.now()
        message.attempts += 1
        message.save(update_fields=["status", "claimed_at", "attempts"])

    sms = OutgoingSMS(
        key=str(message.pk),
        to=message.to_phone,
        body=message.body,
        from_number=message.from_phone,
        media_urls=tuple(message.media_urls),
        status_callback=policy.status_callback_url(),
    )
    (result,) = _gateway_for(message).send_messages([sms], concurrency=1)
    error = result.error
    if error is None:
        _count(message)
        return _finish(message, Message.Status.QUEUED, sid=result.sid)
    if isinstance(error, errors.RetryableError):
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.PENDING, status_changed_at=timezone.now()
        )
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


def _gateway_for(message):
    """The platform's own number belongs to the main account; every other number to the
    organization's (sub)account."""
    from smsplatform.providers.twilio import main_twilio, twilio_for

    if message.from_phone == settings.TWILIO_PLATFORM_NUMBER:
        return main_twilio()
    return twilio_for(connection.tenant)


def _count(message):
    """Counted like any text, but never refused for the allowance: a STOP confirmation or a HELP
    answer must go out whatever the plan. Idempotent (by reference)."""
    segments = policy.MMS_MESSAGES if message.media_urls else text_cost(message.body).segments
    Message.objects.filter(pk=message.pk).update(segments=segments)
    policy.record_usage(connection.tenant, segments, reference=f"message:{message.pk}")


# --- the sweeper --------------------------------------------------------------------------------

# A task never run: queued that long ago and still untouched (lost with the broker's queue, or
# stuck behind a long backlog; a duplicate task is harmless, the claim sends once).
NEVER_TRIED_AFTER = dt.timedelta(minutes=2)
# A task whose retries ran out: send_message retries for about 21 minutes (8 retries, backoff
# from 5 s, capped at 10 min); while they last, each attempt moves status_changed_at.
RETRIES_OVER_AFTER = dt.timedelta(minutes=30)
# A request left without an answer: the worker died (or the outcome was unknown).
STALE_SENDING_AFTER = dt.timedelta(minutes=10)
# A reply a day late helps nobody: it fails, with the reason shown on the message.
GIVE_UP_AFTER = dt.timedelta(days=1)
GAVE_UP_REASON = "Not sent: Twilio could not take it for a day."
SWEEP_LIMIT = 1000


def sweep_unsent(now=None) -> list[int]:
    """Single texts (not campaigns) of the current organization that are overdue: those left
    "sending" are looked up at Twilio (adopted if they went out, otherwise released); those
    pending for a day fail. Returns the ids to send again (the caller queues send_message)."""
    now = now or timezone.now()
    singles = Message.objects.filter(direction=Message.Direction.OUTBOUND, run__isnull=True)
    stale = now - STALE_SENDING_AFTER
    _reconcile(
        singles.filter(status=Message.Status.SENDING).filter(
            # Rows claimed before claims were timed: their creation stands in.
            Q(claimed_at__lt=stale) | Q(claimed_at__isnull=True, created_at__lt=stale)
        )
    )
    pending = singles.filter(status=Message.Status.PENDING)
    pending.filter(created_at__lt=now - GIVE_UP_AFTER).update(
        status=Message.Status.FAILED, error_reason=GAVE_UP_REASON, status_changed_at=now
    )
    overdue = pending.filter(
        Q(attempts=0, created_at__lt=now - NEVER_TRIED_AFTER)
        | Q(attempts__gt=0, status_changed_at__lt=now - RETRIES_OVER_AFTER)
        # Released by _reconcile just now: it did not go out.
        | Q(attempts__gt=0, status_changed_at__isnull=True)
    )
    return list(overdue.order_by("pk").values_list("pk", flat=True)[:SWEEP_LIMIT])


def _reconcile(stale) -> None:
    from messaging.dispatch import sent_copy

    for message in stale[:SWEEP_LIMIT]:
        message.claimed_at = message.claimed_at or message.created_at
        found = sent_copy(_gateway_for(message), message)
        if found is None:
            # Never reached Twilio: back to pending, to be sent by a new task.
            Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
                status=Message.Status.PENDING, claimed_at=None, status_changed_at=None
            )
            continue
        _count(message)
        _finish(message, Message.Status.QUEUED, sid=found.sid)
