"""Single outbound texts outside campaigns (keyword replies, confirmations): a Message row is
written first, in the caller's transaction, and sent by a task once that transaction commits, so
a rolled-back request never texts anyone and a retried task never texts twice."""

from django.db import transaction

from messaging.models import Contact, Message


def queue_message(
    *,
    contact: Contact | None,
    to_phone: str,
    from_phone: str,
    body: str,
    kind: str,
    media_urls=(),
) -> Message:
    from messaging.tasks import send_message

    message = Message.objects.create(
        direction=Message.Direction.OUTBOUND,
        kind=kind,
        contact=contact,
        to_phone=to_phone,
        from_phone=from_phone,
        body=body,
        media_urls=list(media_urls),
        status=Message.Status.PENDING,
    )
    transaction.on_commit(lambda: send_message.delay(message.pk))
    return message
