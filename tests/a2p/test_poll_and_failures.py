"""When no webhook comes, the periodic poll reads Twilio's verdicts; when a call fails, the
failure is kept (step, Twilio's code and message, whether it may be retried) and transient ones
are retried with backoff."""

import datetime as dt
import time

from django.utils import timezone

from a2p import engine, services
from a2p.models import Registration
from smsplatform.providers.errors import ProviderRequestError, RetryableError
from smsplatform.providers.twilio import TwilioGateway
from tests.a2p.helpers import checked_details, drive, submitted

Status = Registration.Status
Stage = Registration.Stage


def in_brand_review(organization, user):
    registration = submitted(organization, user)
    return drive(registration, until=lambda r: r.status == Status.IN_REVIEW)


def test_the_poll_moves_a_registration_whose_webhooks_never_came(acme, users, twilio_sandbox):
    # In this test process no webhook can reach the platform: only the poll can tell.
    registration = in_brand_review(acme, users["acme_owner"])
    assert registration.next_poll_at > timezone.now()
    time.sleep(1.0)  # the sandbox's reviews are done by now
    assert services.poll_due_registrations() == 0  # not due yet: nothing read
    registration.refresh_from_db()
    assert registration.brand_status != "APPROVED"

    Registration.objects.filter(pk=registration.pk).update(next_poll_at=timezone.now())
    assert services.poll_due_registrations() == 1
    registration.refresh_from_db()
    assert registration.brand_status == "APPROVED" and registration.status == Status.WORKING
    assert registration.customer_profile_status == "twilio-approved"
    verdicts = registration.events.filter(kind="verdict").values_list("data__source", flat=True)
    assert set(verdicts) == {"poll"}


def test_the_poll_restarts_a_retry_whose_task_was_lost(
    acme, users, twilio_sandbox, django_capture_on_commit_callbacks
):
    registration = submitted(acme, users["acme_owner"])
    Registration.objects.filter(pk=registration.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks() as enqueued:
        assert services.poll_due_registrations() == 1
    assert len(enqueued) == 1  # advance_registration, again


def test_a_transient_failure_is_kept_and_retried_with_backoff(
    acme, users, twilio_sandbox, monkeypatch
):
    registration = submitted(acme, users["acme_owner"])
    real = TwilioGateway.create_trust_product

    def busy(self, *args, **kwargs):
        raise RetryableError(
            "Too Many Requests", code=20429, http_status=429, plain_reason="Twilio is busy."
        )

    monkeypatch.setattr(TwilioGateway, "create_trust_product", busy)
    before = timezone.now()
    assert engine.advance(registration.pk) == Status.WORKING
    registration.refresh_from_db()
    assert (registration.failure_step, registration.failure_code) == ("trust_product", 20429)
    assert registration.failure_retryable and registration.attempts == 1
    first_wait = registration.next_attempt_at - before
    assert dt.timedelta(seconds=10) < first_wait < dt.timedelta(seconds=40)  # ~30 s, jittered
    assert engine.advance(registration.pk) == "later"  # not before its time

    Registration.objects.filter(pk=registration.pk).update(next_attempt_at=timezone.now())
    engine.advance(registration.pk)
    registration.refresh_from_db()
    second_wait = registration.next_attempt_at - timezone.now()
    assert registration.attempts == 2 and second_wait > dt.timedelta(seconds=25)  # doubled

    monkeypatch.setattr(TwilioGateway, "create_trust_product", real)
    registration = drive(registration, until=lambda r: r.status == Status.IN_REVIEW)
    assert registration.failure_step == "" and registration.attempts == 0
    assert registration.trust_product_sid


def test_transient_failures_give_up_after_the_last_attempt(
    acme, users, twilio_sandbox, monkeypatch, settings
):
    settings.A2P_MAX_ATTEMPTS = 2
    registration = submitted(acme, users["acme_owner"])

    def down(self, *args, **kwargs):
        raise RetryableError("Service Unavailable", http_status=503)

    monkeypatch.setattr(TwilioGateway, "create_customer_profile", down)
    engine.advance(registration.pk)
    Registration.objects.filter(pk=registration.pk).update(next_attempt_at=None)
    engine.advance(registration.pk)
    registration.refresh_from_db()
    assert registration.status == Status.FAILED and registration.failure_retryable


def test_a_refused_call_fails_the_registration_with_twilios_reason(
    acme, users, twilio_sandbox, monkeypatch
):
    registration = submitted(acme, users["acme_owner"])

    def refused(self, *args, **kwargs):
        raise ProviderRequestError(
            "Invalid parameter Email", code=20001, http_status=400, plain_reason="Twilio refused."
        )

    monkeypatch.setattr(TwilioGateway, "create_customer_profile", refused)
    assert engine.advance(registration.pk) == Status.FAILED
    registration.refresh_from_db()
    assert registration.failure_step == "customer_profile"
    assert registration.failure_code == 20001
    assert registration.failure_message == "Invalid parameter Email"
    assert registration.failure_retryable is False
    event = registration.events.filter(kind="failure").get()
    assert event.data["retryable"] is False and event.data["code"] == 20001


def test_a_long_run_hands_over_to_a_fresh_task(acme, users, twilio_sandbox):
    """No registration holds a worker for long while others wait for their slots."""
    registration = submitted(acme, users["acme_owner"])
    assert engine.advance(registration.pk, time_budget=0.05) == "continue"
    registration.refresh_from_db()
    assert 0 < len(registration.completed_steps) < len(engine.STEPS)
    assert registration.status == Status.WORKING
    assert engine.advance(registration.pk) == Status.IN_REVIEW  # the next task carries on


def test_a_campaign_twilio_refuses_at_creation_waits_on_the_customer(acme, users, twilio_sandbox):
    """E.g. a use case this brand may not register (30900): the customer changes it and
    resubmits; the campaign is tried again."""
    owner = users["acme_owner"]
    registration = submitted(acme, owner)
    details = {**registration.details, "use_case": "POLITICAL"}
    Registration.objects.filter(pk=registration.pk).update(details=details)
    registration = drive(registration, until=lambda r: r.status == Status.WAITING_ON_CUSTOMER)
    assert registration.stage == Stage.CAMPAIGN and registration.campaign_sid == ""
    assert [r["code"] for r in registration.rejection] == [30900]

    services.resubmit_registration(acme, checked_details(), actor=owner)
    registration = drive(registration, until=lambda r: r.campaign_status == "VERIFIED")
    assert registration.campaign_sid
