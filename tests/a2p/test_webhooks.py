"""Twilio's webhooks about a registration: signed ones are kept in its history and make it read
the verdict from Twilio; forged ones, or ones signed for another organization, are refused and
store nothing."""

import hashlib
import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from a2p import engine, tasks
from a2p.models import Registration, RegistrationEvent, TwilioAccount
from a2p.services import ensure_twilio_subaccount, refresh_queued_key
from a2p.throttle import shared_redis
from a2p.webhooks import event_streams_url, trusthub_callback_url
from tests.a2p.helpers import drive, submitted

Status = Registration.Status
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client(db):
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def registration(acme, users, twilio_sandbox):
    """acme's registration, waiting for the brand's review."""
    registration = submitted(acme, users["acme_owner"])
    return drive(registration, until=lambda r: r.status == Status.IN_REVIEW)


def signed_form(url, params, token):
    return RequestValidator(token).compute_signature(url, params)


def post_trusthub(client, organization, params, token=None):
    url = trusthub_callback_url(organization)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signed_form(url, params, token)} if token else {}
    return client.post(url, urlencode(params), content_type=FORM, **headers)


def post_events(client, organization, events, token, *, tamper=False):
    body = json.dumps(events)
    url = (
        f"{event_streams_url(organization)}?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    )
    signature = RequestValidator(token).compute_signature(url, {})
    if tamper:
        body = body.replace("registered", "registration_failed")
    return client.post(
        url, body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature
    )


def brand_event(registration, kind="brand-registered"):
    return {
        "specversion": "1.0",
        "type": f"com.twilio.messaging.compliance.brand-registration.{kind}",
        "id": "EZ" + "1" * 32,
        "data": {
            "accountsid": registration.account_sid,
            "brandsid": registration.brand_sid,
            "brandstatus": "registered",
        },
    }


def webhooks_of(registration):
    return RegistrationEvent.objects.filter(registration=registration, kind="webhook")


def test_a_signed_trusthub_callback_is_kept_and_reads_the_verdict(
    client, registration, django_capture_on_commit_callbacks
):
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    params = {
        "AccountSid": registration.account_sid,
        "BundleSid": registration.customer_profile_sid,
        "Status": "twilio-approved",
    }
    with django_capture_on_commit_callbacks() as refreshes:
        response = post_trusthub(client, registration.organization, params, token)
    assert response.status_code == 204
    (kept,) = webhooks_of(registration)
    assert kept.data["BundleSid"] == registration.customer_profile_sid
    assert len(refreshes) == 1  # refresh_registration, enqueued on commit


def test_a_signed_event_is_kept_and_the_registration_moves_on_what_twilio_says(
    client, registration, django_capture_on_commit_callbacks
):
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    with django_capture_on_commit_callbacks() as refreshes:
        response = post_events(
            client, registration.organization, [brand_event(registration)], token
        )
    assert response.status_code == 204
    (kept,) = webhooks_of(registration)
    assert kept.data["brandsid"] == registration.brand_sid
    assert len(refreshes) == 1
    # The task reads the brand from Twilio (approved by now in the sandbox) and moves on.
    drive(registration, until=lambda r: r.brand_status == "APPROVED")


def test_forged_webhooks_are_refused_and_store_nothing(client, registration, acme):
    token = TwilioAccount.objects.get(organization=acme).auth_token
    params = {"AccountSid": registration.account_sid, "BundleSid": "BU" + "0" * 32,
              "Status": "twilio-rejected"}  # fmt: skip
    forged = [
        post_trusthub(client, acme, params, "not-the-token"),
        post_trusthub(client, acme, params),  # no signature at all
        post_events(client, acme, [brand_event(registration)], "not-the-token"),
        post_events(client, acme, [brand_event(registration)], token, tamper=True),
        client.post(event_streams_url(acme), "[]", content_type="application/json"),
    ]
    assert [response.status_code for response in forged] == [403] * 5
    assert not webhooks_of(registration).exists()
    registration.refresh_from_db()
    assert registration.status == Status.IN_REVIEW


def test_a_webhook_signed_for_another_organization_is_refused(client, registration, globex):
    ensure_twilio_subaccount(globex)
    globex_token = TwilioAccount.objects.get(organization=globex).auth_token
    response = post_events(client, registration.organization, [brand_event(registration)],
                           globex_token)  # fmt: skip
    assert response.status_code == 403
    assert not webhooks_of(registration).exists()


def test_a_signed_body_that_is_not_events_is_refused_without_storing(client, registration):
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    response = post_events(client, registration.organization, {"not": "a list"}, token)
    assert response.status_code == 400
    assert not webhooks_of(registration).exists()


def test_a_late_webhook_cannot_undo_what_twilio_says(client, registration):
    """An old "failure" event arriving after the brand was approved changes nothing: the
    registration reads the brand from Twilio, not from the event."""
    registration = drive(registration, until=lambda r: r.brand_status == "APPROVED")
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    stale = brand_event(registration, "brand-failure")
    stale["data"]["brandstatus"] = "registration_failed"
    assert post_events(client, registration.organization, [stale], token).status_code == 204
    engine.refresh(registration.pk, source="webhook")
    registration.refresh_from_db()
    assert registration.brand_status == "APPROVED" and registration.rejection == []


def test_a_trusthub_callback_by_get_is_taken_too(client, registration):
    """Twilio has been seen calling TrustHub callbacks with GET (twilio-a2p.md §1.1)."""
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    query = urlencode({"AccountSid": registration.account_sid, "Status": "in-review",
                       "BundleSid": registration.trust_product_sid})  # fmt: skip
    url = f"{trusthub_callback_url(registration.organization)}?{query}"
    signature = RequestValidator(token).compute_signature(url, {})
    assert client.get(url, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    assert webhooks_of(registration).get().data["BundleSid"] == registration.trust_product_sid
    assert client.get(url, HTTP_X_TWILIO_SIGNATURE="forged").status_code == 403
    assert webhooks_of(registration).count() == 1


def test_a_burst_of_webhooks_queues_one_refresh(
    client, registration, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.refresh_registration, "delay", lambda *args: queued.append(args))
    shared_redis().delete(refresh_queued_key(registration.pk))
    token = TwilioAccount.objects.get(organization=registration.organization).auth_token
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            post_events(client, registration.organization, [brand_event(registration)], token)
    assert webhooks_of(registration).count() == 3  # every one kept
    assert queued == [(registration.pk, "webhook")]  # one read of Twilio's verdicts
    shared_redis().delete(refresh_queued_key(registration.pk))
