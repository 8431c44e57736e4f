"""Event Streams in the Twilio sandbox: a subaccount's webhook sink and subscription receive the
A2P brand and campaign events, as a JSON array of CloudEvents signed like Twilio's JSON webhooks
(the URL carries the body's SHA-256, X-Twilio-Signature signs the URL)."""

import json

import pytest
from twilio.request_validator import RequestValidator

from smsplatform.providers.twilio import TwilioGateway, main_twilio
from tests.providers.test_twilio_gateway import (
    BUSINESS,
    CAMPAIGN,
    build_customer_profile,
    build_trust_product,
)
from tests.sandboxes.test_twilio_sandbox import Receiver
from tests.twilio_sandbox import wait_until

BRAND = "com.twilio.messaging.compliance.brand-registration."
CAMPAIGN_EVENTS = "com.twilio.messaging.compliance.campaign-registration."


@pytest.fixture
def subaccount(twilio_sandbox):
    created = main_twilio().create_subaccount("event streams tests")
    return TwilioGateway(created.sid, created.auth_token)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def subscribe(gateway, receiver, types):
    sink = gateway.create_event_sink("A2P events", receiver.url + "/events/")
    assert sink.sid.startswith("DG") and sink.status == "active"
    assert sink.sink_configuration["destination"] == receiver.url + "/events/"
    subscription = gateway.create_event_subscription("A2P", sink.sid, types)
    assert subscription.sink_sid == sink.sid
    assert [s.sid for s in gateway.list_event_subscriptions(sink.sid)] == [subscription.sid]
    assert [s.sid for s in gateway.list_event_sinks()] == [sink.sid]
    return sink


def events_of(receiver, count):
    requests = receiver.wait_for(count)
    return [event for request in requests for event in json.loads(request["body"])]


def test_brand_and_campaign_verdicts_reach_the_sink_signed(subaccount, receiver):
    subscribe(
        subaccount,
        receiver,
        [BRAND + "brand-registered", CAMPAIGN_EVENTS + "campaign-approved"],
    )
    profile, _ = build_customer_profile(subaccount)
    subaccount.submit_customer_profile(profile.sid)
    product = build_trust_product(subaccount, profile)
    subaccount.submit_trust_product(product.sid)
    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    (registered,) = events_of(receiver, 1)
    assert registered["type"] == BRAND + "brand-registered"
    assert registered["specversion"] == "1.0"
    assert registered["data"]["brandsid"] == brand.sid
    assert registered["data"]["brandstatus"] == "registered"

    service = subaccount.create_messaging_service("events")
    campaign = subaccount.create_a2p_campaign(service.sid, brand_sid=brand.sid, **CAMPAIGN)
    events = events_of(receiver, 2)
    # Only the subscribed types arrive: no "submitted" event, no "vetted-verified".
    assert [e["type"] for e in events] == [
        BRAND + "brand-registered",
        CAMPAIGN_EVENTS + "campaign-approved",
    ]
    assert events[1]["data"]["campaignsid"] == campaign.sid
    assert events[1]["data"]["messagingservicesid"] == service.sid

    delivery = receiver.requests[1]
    assert delivery["headers"]["Content-Type"] == "application/json"
    assert "bodySHA256=" in delivery["path"]
    url = receiver.url + delivery["path"]
    validator = RequestValidator(subaccount.auth_token)
    assert validator.validate(url, delivery["body"], delivery["headers"]["X-Twilio-Signature"])
    assert not validator.validate(
        url, delivery["body"] + " ", delivery["headers"]["X-Twilio-Signature"]
    )


def test_a_failed_brand_sends_its_errors(subaccount, receiver):
    subscribe(subaccount, receiver, [BRAND + "brand-failure"])
    profile, _ = build_customer_profile(
        subaccount,
        business={
            **BUSINESS,
            "business_registration_number": "000000000",
        },
    )
    subaccount.submit_customer_profile(profile.sid)
    product = build_trust_product(subaccount, profile)
    subaccount.submit_trust_product(product.sid)
    subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    (failure,) = events_of(receiver, 1)
    assert failure["data"]["brandstatus"] == "registration_failed"
    assert [e["registrationerrorcode"] for e in failure["data"]["brandregistrationerrors"]] == [
        30795
    ]


def test_another_accounts_sink_gets_nothing(subaccount, receiver, twilio_sandbox):
    other = TwilioGateway(**_credentials(main_twilio().create_subaccount("someone else")))
    subscribe(other, receiver, [BRAND + "brand-failure"])
    profile = subaccount.create_customer_profile("no profile data")
    product = subaccount.create_trust_product("no product data")
    subaccount.submit_customer_profile(profile.sid)
    subaccount.submit_trust_product(product.sid)
    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    wait_until(
        lambda: subaccount.fetch_brand_registration(brand.sid).status == "FAILED", timeout=10
    )
    assert receiver.requests == []


def _credentials(subaccount):
    return {"account_sid": subaccount.sid, "auth_token": subaccount.auth_token}
