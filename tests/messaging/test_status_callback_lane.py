"""Status callbacks as the web server serves them: smsplatform.wsgi.application answers them in its
own lane (smsplatform.callback_lane), with the same answers as the Django view and the same
guards; everything else still goes to Django."""

import uuid
from urllib.parse import urlencode

import pytest
from django.db import connection, connections
from django.test import RequestFactory
from django_tenants.utils import tenant_context
from twilio.request_validator import RequestValidator

from messaging.models import Message, MessageStatusEvent
from smsplatform.wsgi import application
from tests.messaging.test_status_webhook import MAIN_TOKEN, callback, path_for

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def queued_message(committed_acme, main_account):
    """A message of acme's that Twilio has queued."""
    sid = "SM" + uuid.uuid4().hex
    with tenant_context(committed_acme):
        message = Message.objects.create(
            direction="out", kind="campaign", to_phone="+13055550100", sid=sid, status="queued"
        )
    yield message
    with tenant_context(committed_acme):
        Message.objects.filter(pk=message.pk).delete()
        MessageStatusEvent.objects.filter(message_sid=sid).delete()


def call(path, params, *, host="localhost", method="post", token=MAIN_TOKEN, signed=None):
    signature = RequestValidator(token).compute_signature(
        f"http://{host}{path}", params if signed is None else signed
    )
    request = getattr(RequestFactory(), method)(
        path,
        data=urlencode(params),
        content_type=FORM,
        HTTP_HOST=host,
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    body = b"".join(application(request.environ, start_response))
    return answer["status"], body


def state_of(acme, message):
    with tenant_context(acme):
        message.refresh_from_db()
        events = list(
            MessageStatusEvent.objects.filter(message_sid=message.sid).values_list(
                "status", flat=True
            )
        )
    return message.status, sorted(events)


def signed_callback(message, status, **extra):
    return {**callback(status, **extra), "MessageSid": message.sid, "SmsSid": message.sid}


def test_a_signed_callback_is_stored_and_applied_once(committed_acme, queued_message):
    path = path_for(committed_acme.pk)
    assert call(path, signed_callback(queued_message, "sent"))[0] == 204
    assert call(path, signed_callback(queued_message, "delivered"))[0] == 204
    assert call(path, signed_callback(queued_message, "delivered"))[0] == 204
    assert call(path, signed_callback(queued_message, "sent"))[0] == 204  # late: no going back
    assert state_of(committed_acme, queued_message) == ("delivered", ["delivered", "sent"])


def test_forged_and_malformed_callbacks_get_the_views_answers(committed_acme, queued_message):
    path = path_for(committed_acme.pk)
    forged = call(path, signed_callback(queued_message, "delivered"), token="someone-else")
    assert forged == (403, b"Invalid Twilio signature")
    tampered = signed_callback(queued_message, "delivered")
    assert call(path, {**tampered, "MessageStatus": "failed"}, signed=tampered)[0] == 403
    status, body = call(path, {**callback("delivered"), "MessageSid": "", "SmsSid": ""})
    assert status == 400 and b"no message sid" in body
    assert call(path_for(987654), signed_callback(queued_message, "delivered"))[0] == 403
    assert state_of(committed_acme, queued_message) == ("queued", [])


def test_other_requests_still_go_to_django(committed_acme, queued_message):
    path = path_for(committed_acme.pk)
    # The callback URL is the public site's: on a workspace host it does not exist.
    workspace = call(path, signed_callback(queued_message, "delivered"), host="acme.localhost")
    assert workspace[0] == 404
    assert call(path, signed_callback(queued_message, "delivered"), host="evil.example")[0] == 404
    assert call(path, {}, method="get")[0] == 405
    assert state_of(committed_acme, queued_message) == ("queued", [])


def test_a_connection_dropped_between_callbacks_is_replaced(committed_acme, queued_message):
    path = path_for(committed_acme.pk)
    assert call(path, signed_callback(queued_message, "sent"))[0] == 204
    backend = connection.connection.info.backend_pid
    # PostgreSQL drops the persistent connection (a restart, an idle timeout, an operator).
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
    assert call(path, signed_callback(queued_message, "delivered"))[0] == 204
    assert connection.connection.info.backend_pid != backend
    assert state_of(committed_acme, queued_message) == ("delivered", ["delivered", "sent"])
