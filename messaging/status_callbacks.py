"""Twilio's message status callbacks, stored as received (MessageStatusEvent); the campaign
pipeline applies them to its messages."""

import re

from messaging.models import MessageStatusEvent

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


class InvalidStatusCallback(ValueError):
    """The callback lacks a message sid or a known status."""


def record_status_callback(params) -> None:
    """Store one status callback (form fields, a QueryDict or dict) in the current schema.
    Idempotent: the same (message, status) twice is stored once."""
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


def _as_received(params) -> dict:
    if hasattr(params, "lists"):
        return {key: values[0] if len(values) == 1 else values for key, values in params.lists()}
    return dict(params)
