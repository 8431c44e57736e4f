"""A status callback that races the dispatcher's write of the message's SID is still applied.

Twilio can call back within milliseconds of accepting a message, while the dispatcher's
transaction that stores the SID is still open. The interleaving that used to lose the status:
the callback's statement takes its snapshot before the dispatcher commits (so it cannot see the
SID), and stores its event only after the dispatcher has looked for early events."""

import threading
import time
import uuid

import pytest
from django.db import connection, connections
from django_tenants.utils import tenant_context

from messaging.models import Message, MessageStatusEvent
from messaging.status_callbacks import apply_pending_status_events, apply_status


@pytest.fixture
def sending_message(committed_acme):
    acme = committed_acme
    with tenant_context(acme):
        message = Message.objects.create(
            direction="out", kind="campaign", to_phone="+13055550100", status="sending"
        )
    yield message
    with tenant_context(acme):
        MessageStatusEvent.objects.filter(message_sid=message.sid).delete()
        Message.objects.filter(pk=message.pk).delete()


def _wait_until_waiting_on_a_lock(pid):
    other = connections.create_connection("default")
    try:
        for _ in range(100):
            with other.cursor() as cursor:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone()[0] == "Lock":
                    return
            time.sleep(0.05)
        raise AssertionError("the callback never waited")
    finally:
        other.close()


def test_a_callback_straddling_the_dispatchers_commit_is_applied(committed_acme, sending_message):
    acme = committed_acme
    sid = "SM" + uuid.uuid4().hex
    schema = connection.ops.quote_name(acme.schema_name)
    # Another callback for the same (message, status), not yet committed, holds the event's
    # unique key: ours takes its snapshot, then waits on it.
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {schema}.messaging_messagestatusevent "  # noqa: S608 - a quoted name
            "(message_sid, status, payload, received_at) VALUES (%s, 'delivered', '{}', now())",
            [sid],
        )
    callback_pid, failures = [], []

    def callback():
        try:
            with tenant_context(acme):
                connection.ensure_connection()
                callback_pid.append(connection.connection.info.backend_pid)
                apply_status(sid, "delivered", None, payload={"MessageSid": sid})
        except Exception as exc:  # handed to the test
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=callback)
    thread.start()
    try:
        while not callback_pid and thread.is_alive():
            time.sleep(0.01)
        _wait_until_waiting_on_a_lock(callback_pid[0])
        # The dispatcher commits the SID, then looks for callbacks that came first: none yet.
        with tenant_context(acme):
            Message.objects.filter(pk=sending_message.pk).update(sid=sid, status="queued")
            apply_pending_status_events([sid])
    finally:
        blocker.rollback()  # the other callback goes away; ours goes on with its old snapshot
        blocker.close()
        thread.join(timeout=10)
    assert not failures
    with tenant_context(acme):
        sending_message.refresh_from_db()
    assert sending_message.status == "delivered"
