"""The operator's console: every registration with its stage and status, the lists that need
attention, the full history, and actions (retry a step, resubmit a brand, hold, release), each
audited."""

import datetime as dt
import html

import pytest
from django.test import Client
from django.utils import timezone

from a2p import engine, services
from a2p.models import Registration, RegistrationEvent
from organizations.models import AuditLog, Organization
from organizations.services import create_organization
from smsplatform.providers.twilio import TwilioGateway
from tests.a2p.helpers import checked_details, drive, submitted
from tests.conftest import workspace_client

Stage = Registration.Stage
Status = Registration.Status
URL = "/admin/a2p/registration/"


@pytest.fixture
def staff_client(users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["staff"])
    return client


def listed(page) -> set[str]:
    return {obj.organization.slug for obj in page.context["cl"].result_list}


def organization(slug, users) -> Organization:
    return create_organization(name=slug.title(), slug=slug, owner=users["outsider"])


def act(client, action, registrations, **extra):
    return client.post(
        URL,
        {"action": action, "_selected_action": [r.pk for r in registrations], **extra},
        follow=True,
    )


def test_the_lists_that_need_attention(staff_client, users, acme, globex):
    old = timezone.now() - dt.timedelta(days=3)
    Registration.objects.create(organization=acme, stage=Stage.BRAND, status=Status.IN_REVIEW,
                                status_changed_at=old)  # fmt: skip
    Registration.objects.create(organization=globex, stage=Stage.CAMPAIGN,
                                status=Status.IN_REVIEW)  # fmt: skip
    Registration.objects.create(organization=organization("failing", users),
                                stage=Stage.CUSTOMER_PROFILE, status=Status.FAILED,
                                status_changed_at=old)  # fmt: skip
    Registration.objects.create(organization=organization("waiting", users),
                                stage=Stage.BRAND, status=Status.WAITING_ON_CUSTOMER,
                                status_changed_at=old)  # fmt: skip
    assert listed(staff_client.get(URL)) == {"acme", "globex", "failing", "waiting"}
    assert listed(staff_client.get(URL, {"attention": "stuck"})) == {"acme"}
    assert listed(staff_client.get(URL, {"attention": "failed"})) == {"failing"}
    assert listed(staff_client.get(URL, {"attention": "customer"})) == {"waiting"}
    page = staff_client.get(URL)
    assert b"Brand" in page.content and b"In review" in page.content


def test_the_full_history_is_on_the_registration(staff_client, acme, users, twilio_sandbox):
    registration = drive(
        submitted(acme, users["acme_owner"]), until=lambda r: r.status == Status.IN_REVIEW
    )
    page = staff_client.get(f"{URL}{registration.pk}/change/")
    assert page.status_code == 200
    shown = page.content.decode()
    for event in registration.events.all():
        assert html.escape(event.message) in shown
    assert registration.brand_sid.encode() in page.content
    assert staff_client.get(f"{URL}add/").status_code == 403


def test_retrying_a_failed_step_starts_it_again_and_is_audited(
    staff_client, acme, users, django_capture_on_commit_callbacks
):
    registration = Registration.objects.create(
        organization=acme, details=checked_details(), stage=Stage.CUSTOMER_PROFILE,
        status=Status.FAILED, failure_step="customer_profile", failure_code=20001,
        attempts=8,
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as enqueued:
        act(staff_client, "retry_step", [registration])
    registration.refresh_from_db()
    assert registration.status == Status.WORKING and registration.attempts == 0
    assert len(enqueued) == 1  # advance_registration
    assert AuditLog.objects.filter(
        organization=acme, action="a2p.registration_retried", actor=users["staff"]
    ).exists()
    event = registration.events.get(kind="operator")
    assert event.actor == users["staff"] and "subaccount" in event.message


def test_resubmitting_a_failed_brand(staff_client, acme, users, twilio_sandbox):
    registration = drive(
        submitted(acme, users["acme_owner"], registration_number="000000000"),
        until=lambda r: r.status == Status.WAITING_ON_CUSTOMER,
    )
    refused = act(staff_client, "resubmit_brand", [Registration.objects.get(organization=acme)])
    assert b"Brands resubmitted: 1" in refused.content
    registration.refresh_from_db()
    assert registration.pending_corrections == ["brand"]
    engine.advance(registration.pk)  # what the enqueued task does
    registration.refresh_from_db()
    assert registration.brand_status == "PENDING" and registration.status == Status.IN_REVIEW
    assert "Resubmitted the brand for review." in registration.events.values_list(
        "message", flat=True
    )
    assert AuditLog.objects.filter(organization=acme, action="a2p.brand_resubmitted").exists()
    again = act(staff_client, "resubmit_brand", [registration])
    assert b"Only a failed brand can be resubmitted" in again.content


def test_a_held_registration_is_left_alone_until_released(
    staff_client, acme, users, twilio_sandbox
):
    registration = submitted(acme, users["acme_owner"])
    missing_reason = act(staff_client, "hold_for_review", [registration])
    assert b"Give a reason" in missing_reason.content
    act(staff_client, "hold_for_review", [registration], reason="EIN looks odd")
    registration.refresh_from_db()
    assert registration.status == Status.ON_HOLD and registration.hold_reason == "EIN looks odd"
    assert engine.advance(registration.pk) == Status.ON_HOLD
    assert engine.refresh(registration.pk, source="poll") == Status.ON_HOLD
    registration.refresh_from_db()
    assert registration.completed_steps == []  # nothing was sent to Twilio
    status_page = workspace_client(acme, users["acme_owner"]).get("/registration/")
    assert b"Our team is checking your registration by hand" in status_page.content

    act(staff_client, "release_hold", [registration])
    registration.refresh_from_db()
    assert registration.status == Status.WORKING and registration.hold_reason == ""
    actions = set(AuditLog.objects.filter(organization=acme).values_list("action", flat=True))
    assert {"a2p.registration_held", "a2p.registration_released"} <= actions
    kinds = RegistrationEvent.objects.filter(registration=registration, kind="operator")
    assert kinds.count() == 2


def test_the_history_cannot_be_rewritten(acme):
    registration = Registration.objects.create(organization=acme)
    event = engine.record_event(registration, RegistrationEvent.Kind.OPERATOR, "note")
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        RegistrationEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError):
        RegistrationEvent.objects.filter(pk=event.pk).update(message="changed")


def test_a_hold_during_a_running_step_stops_the_engine_after_it(acme, users, twilio_sandbox,
                                                                 monkeypatch):  # fmt: skip
    registration = submitted(acme, users["acme_owner"])
    real = TwilioGateway.create_trust_product

    def operator_holds_meanwhile(self, *args, **kwargs):
        services.hold_for_review(registration, actor=users["staff"], reason="looks odd")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TwilioGateway, "create_trust_product", operator_holds_meanwhile)
    assert engine.advance(registration.pk) == Status.ON_HOLD
    registration.refresh_from_db()
    assert registration.status == Status.ON_HOLD and registration.hold_reason == "looks odd"
    assert registration.trust_product_sid  # the step in flight finished and was kept...
    assert registration.brand_sid == ""  # ...and nothing after it was sent
