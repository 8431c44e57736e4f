"""Twilio's message status callbacks: stored as received (MessageStatusEvent, append-only) and
applied to our messages, whose statuses only ever move forward."""

import json
import re
from collections import defaultdict
from contextlib import nullcontext

from django.db import connection, transaction
from django.db.models.functions import Now

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
    apply_status(message_sid, status, error_code, payload=_as_received(params))


def _as_received(params) -> dict:
    if hasattr(params, "lists"):
        return {key: values[0] if len(values) == 1 else values for key, values in params.lists()}
    return dict(params)


# Thousands of callbacks a second arrive during a campaign (two per message), each its own web
# request: storing the event and moving the message forward is one statement, run on its own
# (a single statement is atomic), not four round trips (BEGIN, INSERT, UPDATE, COMMIT).
_STORE_EVENT = """
    WITH stored AS (
        INSERT INTO messaging_messagestatusevent
            (message_sid, status, error_code, payload, received_at)
        VALUES (%(sid)s, %(twilio_status)s, %(error_code)s, %(payload)s::jsonb, now())
        ON CONFLICT (message_sid, status) DO NOTHING
    )
"""


# The statuses a message may move forward to each status from; and the statuses that carry an
# error (with a reason, and sometimes consequences beyond the one text).
EARLIER = {status: [e for e in S if _rank(e) < _rank(status)] for status in S}
FAILURES = (S.UNDELIVERED, S.FAILED)


def _move_forward_sql(status) -> str:
    """The UPDATE for one target status, written once from our own constants: an array
    parameter, and error parameters on statuses that have none, cost every callback their
    encoding."""
    errors = ""
    if status in FAILURES:
        errors = ", error_code = %(error_code)s, error_reason = %(reason)s"
    earlier = ", ".join(f"'{e.value}'" for e in EARLIER[status])
    return f"""
    UPDATE messaging_message
       SET status = '{status.value}', status_changed_at = now(){errors}
     WHERE sid = %(sid)s AND status IN ({earlier})
"""  # noqa: S608 - interpolates only the model's own constants


_MOVE_FORWARD = {status: _move_forward_sql(status) for status in set(OURS.values())}


def apply_status(
    message_sid: str, twilio_status: str, error_code: int | None, *, payload: dict | None = None
) -> bool:
    """Move our message forward to the status Twilio reports; never backwards (a late "sent"
    after "delivered" changes nothing). With ``payload``, the callback is stored as received in
    the same statement. Returns whether the message changed."""
    new = OURS.get(twilio_status)
    if new is None:
        if payload is not None:
            event = MessageStatusEvent(
                message_sid=message_sid,
                status=twilio_status,
                error_code=error_code,
                payload=payload,
            )
            MessageStatusEvent.objects.bulk_create([event], ignore_conflicts=True)
        return False
    params = {"sid": message_sid}
    error = None
    if new in FAILURES:
        error = twilio_error(error_code) if error_code else None
        reason = error.plain_reason if error else "The carrier could not deliver it."
        params.update(error_code=error_code, reason=reason[:255])
    move_forward = _MOVE_FORWARD[new]
    sql = move_forward
    if payload is not None:
        sql = _STORE_EVENT + move_forward
        params.update(
            twilio_status=twilio_status, error_code=error_code, payload=json.dumps(payload)
        )
    updated = _move_forward(sql, params, message_sid, error)
    if not updated and payload is not None:
        # The message may be one whose SID the dispatcher was committing while the statement
        # above ran: its snapshot came too early to see the SID, and the dispatcher may have
        # read the stored events before this one was committed. Now that it is, a new
        # statement sees any SID committed since: whichever of the two looks last finds what
        # the other wrote (see apply_pending_status_events).
        updated = _move_forward(move_forward, params, message_sid, error)
    return bool(updated)


def _move_forward(sql, params, message_sid, error) -> int:
    # What a failure means beyond the one text must happen with it, or not at all.
    with transaction.atomic() if error is not None else nullcontext():
        with connection.prepared_cursor() as cursor:
            cursor.execute(sql, params)
            updated = cursor.rowcount
        if updated and error is not None:
            _consequences(message_sid, error)
    return updated


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


def early_statuses(message_sids) -> dict:
    """The furthest status stored callbacks already report for each of these messages, where
    that needs nothing beyond the status itself (failures, with their reasons and consequences,
    are left to apply_pending_status_events): the dispatcher writes it with the SID, so a
    message is not rewritten once for "queued" and again for its callbacks."""
    return {
        sid: OURS[event.status]
        for sid, event in _furthest_events(message_sids).items()
        if OURS[event.status] not in FAILURES
    }


def apply_pending_status_events(message_sids, *, written=None) -> int:
    """Callbacks that arrived before we had written their message's SID (Twilio can call back
    within milliseconds of accepting a message): apply them now. Whoever commits SIDs (a batch
    sent, a single text sent, a claim reconciled) calls this *after* the commit, which closes
    the gap with the callback's second look (apply_status): a callback that found no message
    looks again once its event is committed. Either that look comes after our commit (and finds
    the SID), or before it, and then its event was committed before our commit, so this read
    finds it.

    Only the most advanced callback per message matters (statuses move forward). When callbacks
    keep pace with sending, that is most messages of a batch: one statement per status reached,
    not one per message; only failures, whose consequences are per message, go one by one.
    ``written`` (SID → status): statuses the caller has just written itself, not applied again.
    Returns how many changed."""
    written = written or {}
    reached = defaultdict(list)
    changed = 0
    for event in _furthest_events(message_sids).values():
        ours = OURS[event.status]
        if written.get(event.message_sid) == ours:
            continue
        if ours in FAILURES:
            changed += apply_status(event.message_sid, event.status, event.error_code)
        else:
            reached[ours].append(event.message_sid)
    for ours, sids in reached.items():
        changed += Message.objects.filter(sid__in=sids, status__in=EARLIER[ours]).update(
            status=ours, status_changed_at=Now()
        )
    return changed


def _furthest_events(message_sids) -> dict:
    """The most advanced stored callback (of a status we know) per message SID."""
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
    return furthest
