"""Single texts (keyword replies, confirmations, inbox replies) go out exactly once even when
their task is lost with the broker's queue, runs out of retries, or dies mid-request
(messaging.delivery.sweep_unsent, run every two minutes by messaging.tasks.sweep_unsent_texts)."""

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import UsageRecord
from messaging.delivery import GAVE_UP_REASON, deliver, sweep_unsent
from messaging.models import Message
from smsplatform.providers.twilio import OutgoingSMS, twilio_for

S = Message.Status
BODY = "Acme: you're unsubscribed and will get no more messages."
_numbers = itertools.count(1)


@pytest.fixture
def sender(in_acme, twilio_sandbox):
    return twilio_for(in_acme).buy_phone_number(area_code="305").phone_number


def single(sender, *, created_ago=None, **fields):
    message = Message.objects.create(
        direction="out", kind="auto_reply", to_phone=f"+1305556{next(_numbers):04d}",
        from_phone=sender, body=BODY, **fields,
    )  # fmt: skip
    if created_ago is not None:
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - created_ago)
    return message


def ago(**delta):
    return timezone.now() - dt.timedelta(**delta)


def sent_to(twilio_sandbox, message):
    return twilio_sandbox.messages(to=message.to_phone)


def test_a_text_whose_task_was_lost_goes_out_once(sender, twilio_sandbox):
    lost = single(sender, created_ago=dt.timedelta(minutes=3))  # its task never ran
    just_queued = single(sender)  # its task may still be on its way

    first_sweep, second_sweep = sweep_unsent(), sweep_unsent()
    assert first_sweep == second_sweep == [lost.pk]
    for message_id in first_sweep + second_sweep:  # two tasks queued, one text
        deliver(message_id)

    assert len(sent_to(twilio_sandbox, lost)) == 1
    lost.refresh_from_db()
    assert lost.status == S.QUEUED and lost.sid
    assert sent_to(twilio_sandbox, just_queued) == []


def test_a_text_is_swept_once_its_retries_are_over_not_while_they_last(sender):
    retries_over = single(sender, attempts=8, status_changed_at=ago(minutes=31))
    retrying = single(sender, attempts=2, status_changed_at=ago(minutes=5))
    retrying.created_at = ago(hours=2)
    retrying.save(update_fields=["created_at"])

    assert sweep_unsent() == [retries_over.pk]


def test_a_text_left_sending_is_adopted_if_it_went_out_and_sent_if_not(
    in_acme, sender, twilio_sandbox
):
    # Claimed before claims were timed: only its creation says how old it is.
    went_out = single(sender, status=S.SENDING, created_ago=dt.timedelta(minutes=11))
    never_sent = single(sender, status=S.SENDING, attempts=1, claimed_at=ago(minutes=11))
    in_flight = single(sender, status=S.SENDING, attempts=1, claimed_at=ago(minutes=1))
    # What the worker had sent before it died, without recording it:
    (result,) = twilio_for(in_acme).send_messages(
        [OutgoingSMS(key="dead", to=went_out.to_phone, body=BODY, from_number=sender)],
        concurrency=1,
    )

    assert sweep_unsent() == [never_sent.pk]
    deliver(never_sent.pk)

    went_out.refresh_from_db()
    assert went_out.status == S.QUEUED and went_out.sid == result.sid
    assert UsageRecord.objects.get(reference=f"message:{went_out.pk}").messages == 1
    assert len(sent_to(twilio_sandbox, went_out)) == 1
    assert len(sent_to(twilio_sandbox, never_sent)) == 1
    in_flight.refresh_from_db()
    assert in_flight.status == S.SENDING  # its request may still be answered


def test_a_text_that_could_not_go_out_for_a_day_fails_with_a_reason(sender, twilio_sandbox):
    stale = single(sender, attempts=8, created_ago=dt.timedelta(days=1, minutes=1))

    assert sweep_unsent() == []

    stale.refresh_from_db()
    assert (stale.status, stale.error_reason) == (S.FAILED, GAVE_UP_REASON)
    assert sent_to(twilio_sandbox, stale) == []


def test_the_periodic_task_queues_each_organizations_overdue_texts(sender, monkeypatch):
    from messaging import tasks

    queued = []
    monkeypatch.setattr(
        tasks.send_message, "delay", lambda pk: queued.append((connection.schema_name, pk))
    )
    lost = single(sender, created_ago=dt.timedelta(minutes=3))
    schema = connection.schema_name

    assert tasks.sweep_unsent_texts() == 1

    assert queued == [(schema, lost.pk)]
    assert connection.schema_name == schema
