"""What the sending pipeline asks the registration: may this organization text its subscribers
(registration_block), and how fast (messages_per_second, from the approved campaign's carrier
limits and the brand score: docs/a2p.md)."""

import pytest

from a2p import rates, selectors
from a2p.models import PhoneNumber, Registration
from messaging import campaigns
from messaging.policy import sending_block, sending_rate
from tests.a2p.factories import registered_number

Stage = Registration.Stage
Status = Registration.Status


def registration(organization, **fields):
    return Registration.objects.create(organization=organization, **fields)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (None, "Register your business with the carriers"),
        ({}, "Register your business with the carriers"),  # a draft
        ({"stage": Stage.BRAND, "status": Status.IN_REVIEW}, "not complete yet (brand: in review)"),
        ({"stage": Stage.CAMPAIGN, "status": Status.WAITING_ON_CUSTOMER,
          "rejection": [{"code": 30899}]}, "needs a change from you"),
        ({"stage": Stage.PHONE_NUMBER, "status": Status.WAITING_ON_CUSTOMER},
         "choose your phone number"),
        ({"stage": Stage.CUSTOMER_PROFILE, "status": Status.FAILED}, "not complete yet"),
    ],
)  # fmt: skip
def test_texts_to_subscribers_wait_for_a_complete_registration(acme, fields, says):
    if fields is not None:
        registration(acme, **fields)
    assert says in selectors.registration_block(acme)
    assert says in sending_block(acme)  # what the dispatcher asks


def test_a_number_alone_is_not_enough(acme):
    PhoneNumber.objects.create(organization=acme, phone_number="+13055550100")
    assert "Register your business" in selectors.registration_block(acme)


def test_a_complete_registration_lifts_the_block(acme, globex):
    from billing import services as billing_services

    registered_number(acme)
    assert selectors.registration_block(acme) is None
    assert "Choose a plan" in sending_block(acme)  # registered, but sending also needs a plan
    billing_services.comp_organization(acme, reason="tests")
    assert sending_block(acme) is None
    assert "Register your business" in selectors.registration_block(globex)


def test_a_complete_registration_whose_number_was_released_blocks_again(acme):
    number = registered_number(acme)
    PhoneNumber.objects.filter(pk=number.pk).update(is_active=False)
    assert "no longer active" in selectors.registration_block(acme)


def test_test_texts_to_ones_own_phone_need_no_registration(acme, in_acme, users):
    owner = users["acme_owner"]
    owner.phone, owner.phone_verified_at = "+13055550177", "2026-01-01T00:00:00Z"
    owner.save()
    message = campaigns.send_test(owner, "Hello {first_name}")
    assert message.to_phone == "+13055550177"
    assert selectors.registration_block(acme) is not None  # subscribers still wait


@pytest.mark.parametrize(
    ("score", "rate_limits", "use_case", "expected"),
    [
        (80, {"att": {"mps": 75}}, "MARKETING", 225.0),
        (60, {"att": {"mps": 40}}, "MARKETING", 120.0),
        (30, {"att": {"mps": 4}}, "MARKETING", 12.0),
        (0, {"att": {"mps": 4}}, "MARKETING", 12.0),  # Low-Volume Standard: not vetted
        (None, None, "MARKETING", 12.0),
        (80, {"att": {"mps": 40}}, "MIXED", 190.0),  # the campaign's AT&T class rules AT&T
        (80, {"att": {"mps": 75}}, "LOW_VOLUME", 3.75),
    ],
)
def test_the_rate_follows_the_brand_score_and_the_campaign(score, rate_limits, use_case, expected):
    rate = rates.segments_per_second(brand_score=score, rate_limits=rate_limits, use_case=use_case)
    assert rate == expected


def test_the_pipeline_gets_the_registrations_rate(acme, globex, settings):
    settings.DEFAULT_MESSAGES_PER_SECOND = 10.0
    assert selectors.messages_per_second(globex) == 10.0  # not registered: the default
    registered_number(acme, messages_per_second=225.0)
    assert selectors.messages_per_second(acme) == 225.0 == sending_rate(acme)
    # Carriers count segments: three-segment texts go a third as fast.
    assert selectors.messages_per_second(acme, segments_per_message=3) == 75.0


def test_an_unfinished_registration_does_not_set_the_rate(acme, settings):
    settings.DEFAULT_MESSAGES_PER_SECOND = 10.0
    registration(acme, stage=Stage.PHONE_NUMBER, status=Status.WAITING_ON_CUSTOMER,
                 messages_per_second=225.0)  # fmt: skip
    assert selectors.messages_per_second(acme) == 10.0


def test_tmobile_daily_caps_by_tier():
    assert rates.tmobile_daily_cap({"tmobile": {"brand_tier": "TOP"}}) == 200_000
    assert rates.tmobile_daily_cap({"tmobile": {"brand_tier": "low"}}) == 2_000
    assert rates.tmobile_daily_cap(None) is None
