"""Twilio's status callbacks: accepted only with a valid signature for the organization's
account, stored once per (message, status) in the organization's own schema, refused (403,
nothing stored) when forged or tampered with."""

from urllib.parse import urlencode

import pytest
import requests
from django.db import connections
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context
from twilio.request_validator import RequestValidator

from a2p.models import TwilioAccount
from messaging.models import MessageStatusEvent
from messaging.webhooks import status_callback_url
from smsplatform.providers.twilio import OutgoingSMS, main_twilio
from tests.twilio_sandbox import wait_until

MAIN_SID = "AC" + "1" * 32
MAIN_TOKEN = "main-token-0123456789abcdef012345"
MESSAGE_SID = "SM" + "ab" * 16


def callback(status="delivered", **extra):
    return {
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": MAIN_SID,
        "From": "+14155550199",
        "To": "+14155550100",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def path_for(organization_id):
    return reverse(
        "twilio_status_callback",
        urlconf="smsplatform.urls_public",
        kwargs={"organization_id": organization_id},
    )


def post(path, params, *, token=MAIN_TOKEN, signed_params=None):
    signature = RequestValidator(token).compute_signature(
        f"http://localhost{path}", signed_params if signed_params is not None else params
    )
    return Client(HTTP_HOST="localhost").post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def events_of(organization):
    with schema_context(organization.schema_name):
        return list(MessageStatusEvent.objects.values_list("message_sid", "status", "error_code"))


def test_a_signed_callback_is_stored_in_the_organizations_schema(acme, globex, main_account):
    response = post(path_for(acme.pk), callback("undelivered", ErrorCode="30003"))
    assert response.status_code == 204
    assert events_of(acme) == [(MESSAGE_SID, "undelivered", 30003)]
    assert events_of(globex) == []
    with schema_context(acme.schema_name):
        event = MessageStatusEvent.objects.get()
    assert event.payload["To"] == "+14155550100" and event.payload["ApiVersion"] == "2010-04-01"


def test_the_same_callback_twice_is_stored_once_and_order_does_not_matter(acme, main_account):
    for status in ("delivered", "sent", "delivered"):
        assert post(path_for(acme.pk), callback(status)).status_code == 204
    assert sorted(events_of(acme)) == [
        (MESSAGE_SID, "delivered", None),
        (MESSAGE_SID, "sent", None),
    ]


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: post(p, callback("failed"), signed_params=callback("delivered")),  # tampered
        lambda p: post(p, callback(), token="someone-elses-token-0123456789ab"),  # wrong key
        lambda p: Client(HTTP_HOST="localhost").post(p, callback()),  # unsigned
    ],
)
def test_forged_callbacks_are_refused_and_store_nothing(acme, main_account, forge):
    assert forge(path_for(acme.pk)).status_code == 403
    assert events_of(acme) == []


def test_a_callback_signed_for_one_organization_cannot_be_replayed_to_another(
    acme, globex, main_account
):
    params = callback()
    signature = RequestValidator(MAIN_TOKEN).compute_signature(
        f"http://localhost{path_for(acme.pk)}", params
    )
    response = Client(HTTP_HOST="localhost").post(
        path_for(globex.pk),
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403
    assert events_of(globex) == []


def test_unknown_or_non_customer_organizations_answer_like_a_forgery(db, main_account):
    from organizations.models import Organization

    template = Organization.objects.get(kind=Organization.Kind.TEMPLATE)
    for organization_id in (999_999, template.pk):
        assert post(path_for(organization_id), callback()).status_code == 403


def test_an_organization_with_a_subaccount_verifies_with_its_token(globex, main_account):
    sub_sid, sub_token = "AC" + "2" * 32, "sub-token-0123456789abcdef0123456"
    TwilioAccount.objects.create(organization=globex, account_sid=sub_sid, auth_token=sub_token)
    from_subaccount = callback(AccountSid=sub_sid)
    assert post(path_for(globex.pk), from_subaccount, token=sub_token).status_code == 204
    # The main account's token does not sign for the subaccount...
    assert post(path_for(globex.pk), from_subaccount, token=MAIN_TOKEN).status_code == 403
    # ...but messages sent from the main account before the subaccount existed still verify.
    assert post(path_for(globex.pk), callback("sent"), token=MAIN_TOKEN).status_code == 204
    # Another Twilio account's callbacks have no business here.
    stranger = callback(AccountSid="AC" + "3" * 32)
    assert post(path_for(globex.pk), stranger, token=sub_token).status_code == 403
    assert len(events_of(globex)) == 2


def test_a_genuine_callback_without_a_message_or_known_status_is_a_bad_request(acme, main_account):
    response = post(path_for(acme.pk), callback("teleported"))
    assert response.status_code == 400
    assert events_of(acme) == []


def test_only_post_is_accepted(acme, main_account):
    assert Client(HTTP_HOST="localhost").get(path_for(acme.pk)).status_code == 405


def test_the_status_callback_url_is_on_the_public_site(acme, settings):
    settings.TWILIO_WEBHOOK_BASE_URL = "https://hooks.textwise.example"
    assert status_callback_url(acme) == (
        f"https://hooks.textwise.example/webhooks/twilio/status/{acme.pk}/"
    )


@pytest.mark.live
def test_sandbox_callbacks_reach_the_live_platform_and_tampered_ones_are_refused(
    committed, world, twilio_sandbox, live_server_url
):
    from organizations.models import Organization

    acme = Organization.objects.get(pk=world.acme_id)
    url = f"{live_server_url}{path_for(acme.pk)}"
    sent_after = twilio_sandbox.last_callback_seq()
    message = main_twilio().send_message(
        OutgoingSMS(
            key=1, to="+14155550188", body="Hi", from_number="+15005550006", status_callback=url
        )
    )
    try:
        with schema_context(acme.schema_name):
            stored = wait_until(
                lambda: (
                    sorted(
                        MessageStatusEvent.objects.filter(message_sid=message.sid).values_list(
                            "status", flat=True
                        )
                    )
                    == ["delivered", "sent"]
                ),
                message="both callbacks stored",
            )
        assert stored
        delivered = next(
            c
            for c in twilio_sandbox.callbacks(after=sent_after)
            if c["params"]["MessageStatus"] == "delivered"
        )
        assert delivered["status"] == 204  # what the platform answered the sandbox

        def replay(params):
            return requests.post(
                delivered["url"],
                data=params,
                headers={"X-Twilio-Signature": delivered["signature"]},
                timeout=10,
            )

        assert replay(delivered["params"]).status_code == 204  # a genuine duplicate: idempotent
        tampered = {**delivered["params"], "MessageStatus": "failed", "ErrorCode": "30007"}
        assert replay(tampered).status_code == 403
        with schema_context(acme.schema_name):
            statuses = sorted(
                MessageStatusEvent.objects.filter(message_sid=message.sid).values_list(
                    "status", flat=True
                )
            )
        assert statuses == ["delivered", "sent"]  # nothing stored for the tampered one
    finally:
        with schema_context(acme.schema_name):
            MessageStatusEvent.objects.filter(message_sid=message.sid).delete()
        # After the browser tests, Playwright's loop keeps running in this thread and Django
        # keys connections by context: close this test's, or the test database cannot be dropped.
        connections.close_all()
