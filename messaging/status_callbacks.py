"""Twilio's message status callbacks: stored as received (MessageStatusEvent, append-only) and
applied to our messages, whose statuses only ever move forward."""

import re

from django.db import connection, transaction
from django.utils import timezone

from messaging import policy, services
from messaging.models import ConsentEvent, Message, MessageStatusEvent
from smsplatform.providers.errors import AccountBlockedError, twilio_error

# Twilio's message statuses (api v2010 spec, message_enum_status).
MESSAGE_STATUSES = frozenset(
    [
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    ]
)
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")

S = Message.Status
OURS = {
    "accepted": S.QUEUED,
    "scheduled": S.QUEUED,
    "queued": S.QUEUED,
    "sending": S.QUEUED,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.DELIVERED,
    "partially_delivered": S.DELIVERED,
    "undelivered": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.CANCELED,
}
# How far along a message is; the final statuses share the last rank, so the first one to
# arrive stays.
RANK = {S.PENDING: 0, S.SENDING: 1, S.QUEUED: 2, S.SENT: 3}
FINAL_RANK = 4


def _rank(status) -> int:
    return RANK.get(status, FINAL_RANK)


class InvalidStatusCallback(ValueError):
    """The callback lacks a message sid or a known status."""


def record_status_callback(params) -> None:
    """Store one status callback (form fields, a QueryDict or dict) in the current schema and
    apply it to its message. Idempotent: the same (message, status) twice is stored once and
    changes the message once."""
    message_sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    if not _MESSAGE_SID.match(message_sid) or status not in MESSAGE_STATUSES:
        raise InvalidStatusCallback(f"no message sid or unknown status: {message_sid} {status}")
    error_code = params.get("ErrorCode") or None
    if error_code is not None:
        if not error_code.isdigit():
            raise InvalidStatusCallback(f"error code is not a number: {error_code}")
        error_code = int(error_code)
    MessageStatusEvent.objects.bulk_create(
        [
            MessageStatusEvent(
                message_sid=message_sid,
                status=status,
                error_code=error_code,
                payload=_as_received(params),
            )
        ],
        ignore_conflicts=True,
    )
    apply_status(message_sid, status, error_code)


def _as_received(params) -> dict:
    if hasattr(params, "lists"):
        return {key: values[0] if len(values) == 1 else values for key, values in params.lists()}
    return dict(params)


def apply_status(message_sid: str, twilio_status: str, error_code: int | None) -> bool:
    """Move our message forward to the status Twilio reports; never backwards (a late "sent"
    after "delivered" changes nothing). Returns whether the message changed."""
    new = OURS.get(twilio_status)
    if new is None:
        return False
    earlier = [status for status in S if _rank(status) < _rank(new)]
    changes = {"status": new, "status_changed_at": timezone.now()}
    failed = new in (S.UNDELIVERED, S.FAILED)
    error = twilio_error(error_code) if failed and error_code else None
    if failed:
        reason = error.plain_reason if error else "The carrier could not deliver it."
        changes.update(error_code=error_code, error_reason=reason[:255])
    # No savepoint: a failure here fails the callback's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        updated = Message.objects.filter(sid=message_sid, status__in=earlier).update(**changes)
        if updated and error is not None:
            _consequences(message_sid, error)
    return bool(updated)


def _consequences(message_sid: str, error) -> None:
    """What a delivery failure means beyond the one text: 21610 is the person's STOP at the
    carrier; an account-level error (30034: unregistered number) stops the whole organization."""
    if error.code == 21610:
        message = Message.objects.select_related("contact").get(sid=message_sid)
        if message.contact is not None:
            services.record_opt_out(
                message.contact,
                services.Consent(
                    method=ConsentEvent.Method.CARRIER,
                    source=f"Twilio error 21610 on {message_sid}",
                ),
            )
    elif isinstance(error, AccountBlockedError):
        policy.pause_organization_sending(connection.tenant, error.plain_reason)


def apply_pending_status_events(message_sids) -> int:
    """Callbacks that arrived before we had written their message's SID (Twilio can call back
    within milliseconds of accepting a message): apply them now. Only the most advanced one per
    message matters (statuses move forward), so at most one update per message that has any."""
    furthest = {}
    events = MessageStatusEvent.objects.filter(message_sid__in=list(message_sids)).only(
        "message_sid", "status", "error_code", "received_at"
    )
    for event in events:
        ours = OURS.get(event.status)
        if ours is None:
            continue
        best = furthest.get(event.message_sid)
        if best is None or (_rank(ours), event.received_at) > (
            _rank(OURS[best.status]),
            best.received_at,
        ):
            furthest[event.message_sid] = event
    return sum(apply_status(e.message_sid, e.status, e.error_code) for e in furthest.values())
