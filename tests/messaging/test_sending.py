"""The dispatcher against the Twilio sandbox, in this process: every recipient texted exactly
once whatever the provider does, outcomes recorded in plain words. (The real worker, callbacks
and crashes are in test_pipeline_live.py.)"""

import itertools

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from a2p.models import PhoneNumber
from billing import services as billing_services
from billing.models import AllowancePeriod, UsageRecord
from messaging import campaigns, dispatch, policy, services
from messaging.models import Campaign, CampaignRun, ConsentEvent, Contact, Message
from organizations.models import Organization
from smsplatform.providers.twilio import twilio_for
from tests.a2p.factories import registered_number

_numbers = itertools.count(2000)


@pytest.fixture
def sending(in_acme, twilio_sandbox, settings):
    """acme on a plan, with a number bought from Twilio (the sandbox), sending fast."""
    settings.DEFAULT_MESSAGES_PER_SECOND = 1000
    billing_services.comp_organization(in_acme, reason="tests")
    bought = twilio_for(in_acme).buy_phone_number(area_code="305")
    registered_number(
        in_acme, bought.phone_number, messaging_service_sid="", messages_per_second=1000
    )
    twilio_sandbox.from_number = bought.phone_number
    return twilio_sandbox


@pytest.fixture(autouse=True)
def _daytime(monkeypatch):
    """Quiet hours are decided at the moment of sending: run these tests' clock from noon in
    New York (it keeps moving, so retry backoffs elapse as they would)."""
    import datetime as dt

    real_now = timezone.now
    offset = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC) - real_now()
    monkeypatch.setattr(dispatch.timezone, "now", lambda: real_now() + offset)


def contacts(*phones, tag):
    consent = services.Consent(method=ConsentEvent.Method.MANUAL, source="test")
    return [
        services.create_contact(phone=p, first_name=f"P{i}", tags=[tag], consent=consent)
        for i, p in enumerate(phones)
    ]


def fresh(n):
    return [f"+1305555{next(_numbers):04d}" for _ in range(n)]


def run_for(tag, body="Hi {first_name}, sale today!"):
    campaign = Campaign.objects.create(name=tag, body=body, tags=[tag], status="sending")
    run = CampaignRun.objects.create(campaign=campaign, occurrence=timezone.now(), body=body)
    dispatch.materialize_run(run)
    return run


def at_sandbox(sandbox, phone):
    return sandbox.messages(to=phone)


def test_each_recipient_gets_one_rendered_text_and_the_run_completes(sending):
    people = contacts(*fresh(5), tag="once")
    run = run_for("once")

    outcome = dispatch.dispatch_run(run.pk)
    run.refresh_from_db()
    assert outcome == "done", run.paused_reason

    for person in people:
        (sent,) = at_sandbox(sending, person.phone)
        assert (
            sent["body"]
            == f"Acme Boutique: Hi {person.first_name}, sale today!\nReply STOP to opt out."
        )
        assert sent["from"] == sending.from_number
    messages = Message.objects.filter(run=run)
    assert {m.status for m in messages} == {Message.Status.QUEUED}
    assert all(m.sid and m.sid.startswith("SM") for m in messages)
    run.refresh_from_db()
    assert run.status == CampaignRun.Status.COMPLETED
    organization = connection.tenant
    assert (
        UsageRecord.objects.get(organization=organization, reference=f"run:{run.pk}").messages == 5
    )
    assert all(
        c.first_messaged_at and c.last_campaign_at
        for c in Contact.objects.filter(tags__contains=["once"])
    )


def test_recipient_errors_are_recorded_in_plain_words_and_never_retried(sending):
    invalid, opted_out, landline = "+15005550001", "+15005550004", "+15005550009"
    fine = fresh(1)[0]
    contacts(invalid, opted_out, landline, fine, tag="errs")
    run = run_for("errs")

    dispatch.dispatch_run(run.pk)

    outcome = {m.to_phone: m for m in Message.objects.filter(run=run)}
    assert outcome[fine].status == Message.Status.QUEUED
    for phone, code in [(invalid, 21211), (opted_out, 21610), (landline, 21614)]:
        assert (outcome[phone].status, outcome[phone].error_code) == (Message.Status.FAILED, code)
        assert outcome[phone].error_reason and "Twilio" not in outcome[phone].error_reason[:6]
    gone = Contact.objects.get(phone=opted_out)
    assert gone.status == Contact.Status.UNSUBSCRIBED
    assert gone.consent_events.first().method == ConsentEvent.Method.CARRIER
    assert len(at_sandbox(sending, fine)) == 1


def test_a_storm_of_429s_never_sends_anyone_twice(sending, settings):
    settings.TWILIO_SEND_CONCURRENCY = 20
    people = contacts(*fresh(40), tag="storm")
    run = run_for("storm")

    with sending.knobs_set(max_concurrency=2, latency=0.05):
        outcome = dispatch.dispatch_run(run.pk)

    assert outcome == "done"
    for person in people:
        assert len(at_sandbox(sending, person.phone)) == 1
    assert Message.objects.filter(run=run, status=Message.Status.QUEUED).count() == 40


def test_ambiguous_answers_are_reconciled_with_twilio_not_resent(sending):
    people = contacts(*fresh(20), tag="ambiguous")
    run = run_for("ambiguous")

    # Half the sends are carried out by Twilio and then answered with a 500 anyway.
    with sending.knobs_set(ambiguous_error_rate=0.5):
        dispatch.dispatch_run(run.pk)
    unknown = Message.objects.filter(run=run, status=Message.Status.SENDING).count()
    assert unknown > 0  # left for reconciliation, not retried blindly

    reconciled = dispatch.reconcile_stale_claims(
        run.pk, twilio_for(connection.tenant), older_than_seconds=-1
    )
    dispatch.dispatch_run(run.pk)

    assert reconciled == unknown
    for person in people:
        assert len(at_sandbox(sending, person.phone)) == 1
    messages = Message.objects.filter(run=run)
    assert {m.status for m in messages} == {Message.Status.QUEUED}
    assert len({m.sid for m in messages}) == 20


def test_refused_requests_are_sent_again_exactly_once(sending):
    people = contacts(*fresh(20), tag="refused")
    run = run_for("refused")

    # Half the sends are refused with a 500 before Twilio does anything.
    with sending.knobs_set(error_rate=0.5):
        dispatch.dispatch_run(run.pk)
    dispatch.reconcile_stale_claims(run.pk, twilio_for(connection.tenant), older_than_seconds=-1)
    outcome = dispatch.dispatch_run(run.pk)
    run.refresh_from_db()
    assert outcome == "done", run.paused_reason

    for person in people:
        assert len(at_sandbox(sending, person.phone)) == 1


@pytest.fixture
def slow_sending(in_acme, twilio_sandbox):
    """acme on a plan, its number registered for 5 texts a second: a batch is 2 s of sending."""
    billing_services.comp_organization(in_acme, reason="tests")
    bought = twilio_for(in_acme).buy_phone_number(area_code="305")
    registered_number(in_acme, bought.phone_number, messaging_service_sid="", messages_per_second=5)
    twilio_sandbox.from_number = bought.phone_number
    return twilio_sandbox


def stop_during_the_second_claim(monkeypatch, stop):
    """The customer clicks "Pause" (or "Cancel") while batch 1 is being sent and batch 2 is
    being claimed behind it. Returns the claims' sizes."""
    claims = []
    claim = dispatch.claim_batch

    def claim_and_stop(run, now, limit, **options):
        claims.append(limit)
        if len(claims) == 2:
            stop(run)
        return claim(run, now, limit, **options)

    monkeypatch.setattr(dispatch, "claim_batch", claim_and_stop)
    return claims


def reserved_messages():
    period = AllowancePeriod.objects.filter(organization=connection.tenant)
    return period.values_list("reserved", flat=True).first() or 0


def test_a_pause_stops_the_sending_within_a_round_trip(slow_sending, monkeypatch):
    """At 5 texts a second, two batches (20 texts) were claimed when the customer paused: only
    what had started before the dispatcher saw the pause (a look every half second) went out.
    The rest waits, unclaimed, and its messages are back in the allowance."""
    people = contacts(*fresh(25), tag="slow")
    run = run_for("slow")
    reserved_before = reserved_messages()

    def pause(run):
        CampaignRun.objects.filter(pk=run.pk).update(status=CampaignRun.Status.PAUSED)

    real_claim = dispatch.claim_batch
    claims = stop_during_the_second_claim(monkeypatch, pause)
    assert dispatch.dispatch_run(run.pk) == "paused"

    assert claims == [10, 10]
    sent = sum(len(at_sandbox(slow_sending, p.phone)) for p in people)
    assert 1 <= sent < 10  # before: both batches, 20 texts
    statuses = dict(run.messages.values_list("status").annotate(n=Count("id")))
    assert statuses == {Message.Status.QUEUED: sent, Message.Status.PENDING: 25 - sent}
    assert not run.messages.filter(status=Message.Status.PENDING, attempts__gt=0).exists()
    assert reserved_messages() - reserved_before == sent

    # Resumed, the rest goes out: everyone texted once.
    CampaignRun.objects.filter(pk=run.pk).update(status=CampaignRun.Status.SENDING)
    monkeypatch.setattr(dispatch, "claim_batch", real_claim)
    assert dispatch.dispatch_run(run.pk) == "done"
    assert [len(at_sandbox(slow_sending, p.phone)) for p in people] == [1] * 25


def test_an_organization_paused_while_batches_are_queued_sends_no_more(slow_sending, monkeypatch):
    """A carrier's verdict (error 30034 on a text already sent) or support stops the whole
    organization while two batches are claimed: what has not started is not sent into it."""
    people = contacts(*fresh(25), tag="org-paused")
    run = run_for("org-paused")
    reason = "Your number is not registered with the carriers (error 30034)."
    stop_during_the_second_claim(
        monkeypatch, lambda run: policy.pause_organization_sending(connection.tenant, reason)
    )

    assert dispatch.dispatch_run(run.pk) == "paused"

    sent = sum(len(at_sandbox(slow_sending, p.phone)) for p in people)
    assert sent < 10
    run.refresh_from_db()
    assert (run.status, run.paused_reason) == (CampaignRun.Status.PAUSED, reason)
    statuses = dict(run.messages.values_list("status").annotate(n=Count("id")))
    assert statuses == {Message.Status.QUEUED: sent, Message.Status.PENDING: 25 - sent}


def test_a_cancel_stops_the_sending_and_cancels_what_had_not_started(slow_sending, monkeypatch):
    people = contacts(*fresh(25), tag="canceled")
    run = run_for("canceled")
    stop_during_the_second_claim(monkeypatch, lambda run: campaigns.cancel_campaign(run.campaign))

    dispatch.dispatch_run(run.pk)

    sent = sum(len(at_sandbox(slow_sending, p.phone)) for p in people)
    assert sent < 10
    statuses = dict(run.messages.values_list("status").annotate(n=Count("id")))
    assert statuses == {Message.Status.QUEUED: sent, Message.Status.CANCELED: 25 - sent}


def test_an_account_level_error_pauses_the_organizations_sending(sending):
    PhoneNumber.objects.filter(phone_number=sending.from_number).update(
        phone_number="+15005550007"  # Twilio's magic "not your number": 21606
    )
    contacts(*fresh(3), tag="blocked")
    run = run_for("blocked")

    dispatch.dispatch_run(run.pk)

    organization = Organization.objects.get(pk=connection.tenant.pk)
    assert organization.sending_paused_at is not None
    assert "does not belong" in organization.sending_paused_reason
    run.refresh_from_db()
    assert run.status == CampaignRun.Status.PAUSED
    assert run.paused_reason == organization.sending_paused_reason
    assert Message.objects.filter(run=run, status=Message.Status.PENDING).count() == 3


def test_without_a_registered_number_a_run_pauses_with_the_reason(in_acme, twilio_sandbox):
    contacts(*fresh(2), tag="unregistered")
    run = run_for("unregistered")

    assert dispatch.dispatch_run(run.pk) == "paused"

    run.refresh_from_db()
    assert "Register your business" in run.paused_reason
    assert Message.objects.filter(run=run, status=Message.Status.PENDING).count() == 2
    assert not Message.objects.filter(run=run).exclude(status=Message.Status.PENDING).exists()


def test_the_allowance_is_checked_at_the_moment_of_sending(sending):
    from billing import allowance

    people = contacts(*fresh(5), tag="allowance")
    run = run_for("allowance", body="Hi {first_name}, sale today! Reply STOP to opt out.")
    allowance.reserve(connection.tenant, 1)  # opens this period's allowance row
    period = AllowancePeriod.objects.get(organization=connection.tenant)
    period.reserved = period.allowance + period.extra_messages - 3  # three messages left
    period.save()

    assert dispatch.dispatch_run(run.pk) == "paused"

    sent = [p for p in people if at_sandbox(sending, p.phone)]
    assert len(sent) == 3
    run.refresh_from_db()
    assert "used all 5,000 messages" in run.paused_reason
    assert Message.objects.filter(run=run, status=Message.Status.PENDING).count() == 2
    period.refresh_from_db()
    assert period.reserved == period.allowance + period.extra_messages


def test_messages_the_carrier_refuses_go_back_into_the_allowance(sending):
    from billing import allowance

    contacts("+15005550001", "+15005550009", *fresh(1), tag="refunds")
    run = run_for("refunds", body="Hello {first_name}. Reply STOP to opt out.")
    allowance.reserve(connection.tenant, 1)
    before = AllowancePeriod.objects.get(organization=connection.tenant).reserved

    dispatch.dispatch_run(run.pk)

    after = AllowancePeriod.objects.get(organization=connection.tenant).reserved
    assert after - before == 1  # only the accepted one is still counted


def test_keyword_replies_go_out_and_are_counted_even_without_a_plan(in_acme, twilio_sandbox):
    from messaging.delivery import deliver
    from messaging.inbound import receive_inbound_text

    bought = twilio_for(in_acme).buy_phone_number(area_code="305")
    PhoneNumber.objects.create(organization=in_acme, phone_number=bought.phone_number)
    (person,) = contacts(*fresh(1), tag="stop")

    result = receive_inbound_text(
        sid="SM" + "c" * 32, from_phone=person.phone, to_phone=bought.phone_number, body="STOP"
    )
    (reply,) = result.replies
    deliver(reply.pk)

    (sent,) = twilio_sandbox.messages(to=person.phone)
    assert "no more messages" in sent["body"]
    reply.refresh_from_db()
    assert reply.status == Message.Status.QUEUED and reply.segments == 1
    assert UsageRecord.objects.get(reference=f"message:{reply.pk}").messages == 1


def test_a_single_text_whose_callback_came_first_ends_at_the_reported_status(
    in_acme, twilio_sandbox, monkeypatch
):
    """A reply or test text, sent on its own: Twilio's "delivered" can reach us before the API's
    answer does. Once the SID is written, the message must not stay "queued"."""
    from messaging.delivery import deliver
    from messaging.status_callbacks import record_status_callback
    from smsplatform.providers.twilio import TwilioGateway

    send = TwilioGateway.send_messages

    def callback_before_answer(self, messages, **options):
        results = send(self, messages, **options)
        for result in results:
            record_status_callback({"MessageSid": result.sid, "MessageStatus": "delivered"})
        return results

    monkeypatch.setattr(TwilioGateway, "send_messages", callback_before_answer)
    bought = twilio_for(in_acme).buy_phone_number(area_code="305")
    (person,) = contacts(*fresh(1), tag="single")
    message = Message.objects.create(
        direction="out", kind="conversation", contact=person, to_phone=person.phone,
        from_phone=bought.phone_number, body="Your order is ready",
    )  # fmt: skip

    returned = deliver(message.pk)

    message.refresh_from_db()
    assert message.sid and message.status == Message.Status.DELIVERED
    assert returned.status == Message.Status.DELIVERED


def test_callbacks_that_arrive_before_the_sid_is_written_are_applied_after_it(in_acme):
    """Twilio can call back within milliseconds of accepting a text, while the dispatcher's
    transaction writing the SID is still open: the callback finds no message, only its event is
    stored, and it must still be applied once the SID lands."""
    from messaging.models import MessageStatusEvent
    from messaging.status_callbacks import apply_pending_status_events, record_status_callback

    sid, failed_sid = "SM" + "d" * 32, "SM" + "e" * 32
    for message_sid, statuses in [(sid, ["sent", "delivered"]), (failed_sid, ["undelivered"])]:
        for status in statuses:
            record_status_callback(
                {"MessageSid": message_sid, "MessageStatus": status,
                 **({"ErrorCode": "30003"} if status == "undelivered" else {})}
            )  # fmt: skip
    assert MessageStatusEvent.objects.count() == 3
    for message_sid in (sid, failed_sid):  # the dispatcher's SID write, after the callbacks
        Message.objects.create(
            direction="out", kind="campaign", to_phone=fresh(1)[0], from_phone="+13055550100",
            body="Hi", status=Message.Status.QUEUED, sid=message_sid,
        )  # fmt: skip

    assert apply_pending_status_events([sid, failed_sid]) == 2

    assert Message.objects.get(sid=sid).status == Message.Status.DELIVERED
    failed = Message.objects.get(sid=failed_sid)
    assert (failed.status, failed.error_code) == (Message.Status.UNDELIVERED, 30003)
    assert apply_pending_status_events([sid, failed_sid]) == 0  # nothing moves twice


def test_a_batch_of_early_callbacks_is_applied_in_a_few_statements(in_acme):
    """When callbacks keep pace with sending, most of a batch's callbacks come before its SIDs
    are written: applying them costs a statement per status reached, not one per message."""
    from django.test.utils import CaptureQueriesContext

    from messaging.status_callbacks import apply_pending_status_events, record_status_callback

    sids = [f"SM{i:032x}" for i in range(60)]
    for index, sid in enumerate(sids):
        for status in ["sent", "delivered"] if index % 3 else ["sent"]:
            record_status_callback({"MessageSid": sid, "MessageStatus": status})
    Message.objects.bulk_create(
        Message(direction="out", kind="campaign", to_phone=phone, from_phone="+13055550100",
                body="Hi", status=Message.Status.QUEUED, sid=sid)
        for sid, phone in zip(sids, fresh(len(sids)), strict=True)
    )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        assert apply_pending_status_events(sids) == 60
    assert len(queries) <= 3  # the events, then one update per status reached
    statuses = dict(Message.objects.filter(sid__in=sids).values_list("sid", "status"))
    assert [statuses[sid] for sid in sids[:4]] == ["sent", "delivered", "delivered", "sent"]


def test_a_message_whose_callbacks_came_first_is_recorded_at_its_furthest_status(in_acme):
    """Twilio called back ("sent", then "delivered") before the dispatcher wrote the SID: the
    dispatcher writes the message once, delivered, instead of "queued" and then again."""
    from messaging.status_callbacks import record_status_callback
    from smsplatform.providers.twilio_records import SendResult

    contacts(*fresh(1), tag="early")
    run = run_for("early")
    Message.objects.filter(run=run).update(status=Message.Status.SENDING)  # claimed
    message = Message.objects.get(run=run)
    sid = "SM" + "f" * 32
    for status in ("sent", "delivered"):
        record_status_callback({"MessageSid": sid, "MessageStatus": status})

    accepted = SendResult(key=str(message.pk), sid=sid, status="queued", num_segments=1)
    dispatch.record_outcomes(run, {message.pk: message}, [accepted])

    message.refresh_from_db()
    assert (message.sid, message.status) == (sid, Message.Status.DELIVERED)
    assert message.status_changed_at == message.sent_at  # one write, not "queued" then later


def watchdog_of(run):
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.filter(name=dispatch.watchdog_name(run)).first()


def test_a_stopped_runs_watchdog_goes_and_a_resume_arms_it_again(
    sending, monkeypatch, django_capture_on_commit_callbacks
):
    """The watchdog re-fires a sending run every 30 s. Once the run is paused (or canceled, or
    done) with no claim left to reconcile, its next firing removes it instead of opening a
    sending session for nothing, every 30 s, for as long as the run stays stopped."""
    contacts(*fresh(3), tag="watched")
    run = run_for("watched")
    dispatch.ensure_watchdog(run)
    campaigns.pause_campaign(run.campaign)

    def no_session(*args, **kwargs):
        raise AssertionError("a stopped run opened a sending session")

    gateway_class = type(twilio_for(connection.tenant))
    real_session = gateway_class.sending_session
    monkeypatch.setattr(gateway_class, "sending_session", no_session)
    assert dispatch.dispatch_run(run.pk) == CampaignRun.Status.PAUSED
    assert watchdog_of(run) is None
    monkeypatch.setattr(gateway_class, "sending_session", real_session)

    with django_capture_on_commit_callbacks() as resumed:
        campaigns.resume_campaign(Campaign.objects.get(pk=run.campaign_id))
    assert watchdog_of(run) is not None and watchdog_of(run).enabled
    assert len(resumed) == 1  # and a dispatch right away


def test_a_crashed_claim_of_a_canceled_run_not_sent_is_canceled_not_put_back(sending):
    """A dispatcher that died with rows claimed, then the customer canceled: rows Twilio never
    got are canceled, not left pending (and counted as waiting) in a run that will never send."""
    people = contacts(*fresh(2), tag="crash-cancel")
    run = run_for("crash-cancel")
    claimed = dispatch.claim_batch(run, timezone.now())  # the claimer is gone (no token)
    assert len(claimed) == 2
    campaigns.cancel_campaign(run.campaign)

    dispatch.reconcile_stale_claims(run.pk, twilio_for(connection.tenant), older_than_seconds=-1)

    assert set(run.messages.values_list("status", flat=True)) == {Message.Status.CANCELED}
    assert all(not at_sandbox(sending, p.phone) for p in people)
