"""A retried step never creates a second brand or profile. A worker that dies between Twilio's
answer and saving the SID, or a create whose answer is lost, leaves the step recorded as sent;
the next run looks up what the first call made and adopts it. Counted at the sandbox."""

import threading

import pytest

from a2p import engine
from a2p.models import Registration
from smsplatform.providers.errors import AmbiguousOutcome
from smsplatform.providers.twilio import TwilioGateway, twilio_for
from tests.a2p.helpers import drive, submitted, waiting_for_number

Status = Registration.Status


class WorkerDied(BaseException):
    """The process is gone: nothing after the call runs, nothing catches it."""


def dies_after(monkeypatch, method_name):
    """The next call of the gateway's ``method_name`` reaches Twilio, then the worker dies."""
    real = getattr(TwilioGateway, method_name)
    calls = []

    def call_then_die(self, *args, **kwargs):
        calls.append(real(self, *args, **kwargs))
        monkeypatch.setattr(TwilioGateway, method_name, real)
        raise WorkerDied(method_name)

    monkeypatch.setattr(TwilioGateway, method_name, call_then_die)
    return calls


def profiles_named(registration):
    name = f"Textwise registration {registration.pk} business profile"
    return twilio_for(registration.organization).find_customer_profiles(name)


def brands_of(registration):
    return [
        brand
        for brand in twilio_for(registration.organization).list_brand_registrations()
        if brand.customer_profile_bundle_sid == registration.customer_profile_sid
    ]


def test_a_worker_dying_after_creating_the_profile_does_not_create_a_second(
    acme, users, twilio_sandbox, monkeypatch
):
    registration = submitted(acme, users["acme_owner"])
    made = dies_after(monkeypatch, "create_customer_profile")
    with pytest.raises(WorkerDied):
        engine.advance(registration.pk)
    registration.refresh_from_db()
    assert registration.customer_profile_sid == ""  # the SID never reached the database
    assert "customer_profile" in registration.creates_sent

    registration = drive(registration, until=waiting_for_number)  # the task, redelivered
    assert [p.sid for p in profiles_named(registration)] == [made[0].sid]
    assert registration.customer_profile_sid == made[0].sid
    assert "adopted it instead of creating another" in " ".join(
        registration.events.values_list("message", flat=True)
    )


def test_a_worker_dying_after_registering_the_brand_does_not_pay_for_a_second(
    acme, users, twilio_sandbox, monkeypatch
):
    registration = submitted(acme, users["acme_owner"])
    made = dies_after(monkeypatch, "create_brand_registration")
    with pytest.raises(WorkerDied):
        engine.advance(registration.pk)
    registration.refresh_from_db()
    assert registration.brand_sid == "" and "brand" in registration.creates_sent

    registration = drive(registration, until=waiting_for_number)
    assert [b.sid for b in brands_of(registration)] == [made[0].sid] == [registration.brand_sid]


def test_a_brand_create_whose_answer_is_lost_is_looked_up_not_repeated(
    acme, users, twilio_sandbox, monkeypatch
):
    registration = submitted(acme, users["acme_owner"])
    real = TwilioGateway.create_brand_registration

    def created_but_timed_out(self, **kwargs):
        real(self, **kwargs)
        raise AmbiguousOutcome("read timeout", plain_reason="Twilio did not answer in time.")

    monkeypatch.setattr(TwilioGateway, "create_brand_registration", created_but_timed_out)
    assert engine.advance(registration.pk) == Status.WORKING  # waits for its retry
    registration.refresh_from_db()
    assert registration.failure_step == "brand" and registration.failure_retryable
    assert registration.next_attempt_at is not None and registration.attempts == 1
    assert brands_of(registration) and not registration.brand_sid
    monkeypatch.setattr(TwilioGateway, "create_brand_registration", real)

    registration = drive(registration, until=waiting_for_number)
    assert [b.sid for b in brands_of(registration)] == [registration.brand_sid]
    assert registration.failure_step == "" and registration.attempts == 0


def test_ambiguous_answers_at_every_step_still_make_one_of_each(acme, users, twilio_sandbox):
    """The sandbox carries out every POST and then answers 500 for a share of them."""
    registration = submitted(acme, users["acme_owner"])
    with twilio_sandbox.knobs_set(ambiguous_error_rate=0.3):
        registration = drive(registration, until=waiting_for_number, timeout=60)
    gateway = twilio_for(acme)
    prefix = f"Textwise registration {registration.pk} "
    assert len(profiles_named(registration)) == 1
    assert len(gateway.find_trust_products(prefix + "A2P messaging profile")) == 1
    assert len(brands_of(registration)) == 1
    assert len(gateway.find_addresses(prefix + "address")) == 1
    end_users = [u for u in gateway.list_end_users() if u.friendly_name.startswith(prefix)]
    assert len(end_users) == 3
    services = [s for s in gateway.list_messaging_services() if s.friendly_name.startswith(prefix)]
    assert len(services) == 1
    assert len(gateway.list_a2p_campaigns(services[0].sid)) == 1
    failures = registration.events.filter(kind="failure").count()
    assert failures > 0  # the sandbox did answer 500s; each was retried


def test_two_engines_never_run_one_registration_at_once(acme, users, twilio_sandbox):
    registration = submitted(acme, users["acme_owner"])
    outcomes = []
    with engine.registration_lock(registration.pk) as locked:
        assert locked
        thread = threading.Thread(target=lambda: outcomes.append(engine.advance(registration.pk)))
        thread.start()
        thread.join()
    assert outcomes == ["busy"]
    registration.refresh_from_db()
    assert registration.completed_steps == []
