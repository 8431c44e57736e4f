"""Every call of the Twilio gateway, against the session's Twilio sandbox (a real HTTP server
speaking Twilio's wire format; each request is also checked against Twilio's specs)."""

import time
from datetime import UTC, datetime

import pytest
from django.conf import settings

from smsplatform.providers.errors import (
    AccountBlockedError,
    PermanentRecipientError,
    ProviderAuthError,
    ProviderRequestError,
)
from smsplatform.providers.twilio import (
    A2P_TRUST_PRODUCT_POLICY_SID,
    SECONDARY_CUSTOMER_PROFILE_POLICY_SID,
    OutgoingSMS,
    TwilioGateway,
    main_twilio,
)
from tests.twilio_sandbox import wait_until

BUSINESS = {
    "business_name": "Acme Boutique LLC",
    "business_identity": "direct_customer",
    "business_type": "Limited Liability Corporation",
    "business_industry": "RETAIL",
    "business_registration_identifier": "EIN",
    "business_registration_number": "12-3456789",
    "business_regions_of_operation": "USA_AND_CANADA",
    "website_url": "https://acme.example.com",
}
REPRESENTATIVE = {
    "first_name": "Ada",
    "last_name": "Owner",
    "email": "ada@acme.example.com",
    "phone_number": "+14155550123",
    "business_title": "Owner",
    "job_position": "CEO",
}
CAMPAIGN = {
    "usecase": "MARKETING",
    "description": "Weekly offers and new arrivals for customers who signed up at the till.",
    "message_flow": "Customers opt in on the sign-up form at the shop's till and website.",
    "message_samples": [
        "Acme: new spring dresses are in! Reply STOP to opt out.",
        "Acme: 20% off this weekend only. Reply STOP to opt out.",
    ],
    "has_embedded_links": False,
    "has_embedded_phone": False,
}


@pytest.fixture
def main(twilio_sandbox):
    return main_twilio()


@pytest.fixture
def subaccount(main):
    created = main.create_subaccount(f"test {time.monotonic_ns()}")
    return TwilioGateway(created.sid, created.auth_token)


@pytest.fixture
def sender(subaccount):
    return subaccount.buy_phone_number(area_code="415")


def test_main_account_creates_and_finds_subaccounts(main):
    created = main.create_subaccount("org 42 (gateway-test)")
    assert created.sid.startswith("AC") and len(created.sid) == 34
    assert created.owner_account_sid == settings.TWILIO_ACCOUNT_SID
    assert created.status == "active"
    assert [found.sid for found in main.find_subaccounts("org 42 (gateway-test)")] == [created.sid]
    assert main.find_subaccounts("org 43 (nobody)") == []


def test_send_fetch_and_list_a_message(subaccount, sender):
    callback = "https://hooks.example.com/status"
    sent = subaccount.send_message(
        OutgoingSMS(
            key=1,
            to="+14155550100",
            body="Hello from Acme",
            from_number=sender.phone_number,
            status_callback=callback,
            validity_period=3600,
        )
    )
    assert sent.sid.startswith("SM")
    assert sent.status == "queued"
    assert (sent.to, sent.from_number, sent.num_segments) == (
        "+14155550100",
        sender.phone_number,
        1,
    )
    delivered = wait_until(
        lambda: (m := subaccount.fetch_message(sent.sid)).status == "delivered" and m,
        message="delivery",
    )
    assert delivered.date_sent is not None
    assert delivered.price is not None
    listed = subaccount.list_messages(to="+14155550100")
    assert [m.sid for m in listed] == [sent.sid]
    today = datetime.now(UTC)
    assert [m.sid for m in subaccount.list_messages(date_sent=today, to="+14155550100")] == [
        sent.sid
    ]
    assert subaccount.list_messages(from_number="+19999999999") == []


def test_media_urls_go_out_as_repeated_fields(subaccount, sender, twilio_sandbox):
    sent = subaccount.send_message(
        OutgoingSMS(
            key=2,
            to="+14155550101",
            body="Look!",
            from_number=sender.phone_number,
            media_urls=["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"],
        )
    )
    assert sent.sid.startswith("MM")
    assert sent.num_media == 2


def test_a_message_through_a_messaging_service_is_accepted_and_gets_a_sender(subaccount, sender):
    service = subaccount.create_messaging_service("Acme marketing")
    subaccount.add_number_to_messaging_service(service.sid, sender.sid)
    sent = subaccount.send_message(
        OutgoingSMS(key=3, to="+14155550102", body="Hi", messaging_service_sid=service.sid)
    )
    assert sent.status == "accepted"
    assert sent.from_number is None and sent.num_segments == 0  # no sender chosen yet
    done = wait_until(lambda: (m := subaccount.fetch_message(sent.sid)).status == "delivered" and m)
    assert done.from_number == sender.phone_number
    assert done.messaging_service_sid == service.sid


@pytest.mark.parametrize(
    ("to", "code", "error_class"),
    [
        ("+15005550001", 21211, PermanentRecipientError),
        ("+15005550004", 21610, PermanentRecipientError),
        ("+15005550009", 21614, PermanentRecipientError),
        ("not-a-number", 21211, PermanentRecipientError),
    ],
)
def test_twilio_magic_recipients_raise_classified_errors(subaccount, sender, to, code, error_class):
    with pytest.raises(error_class) as caught:
        subaccount.send_message(
            OutgoingSMS(key=4, to=to, body="x", from_number=sender.phone_number)
        )
    assert caught.value.code == code
    assert caught.value.plain_reason


def test_a_sender_the_account_does_not_own_blocks_the_account(subaccount):
    with pytest.raises(AccountBlockedError) as caught:
        subaccount.send_message(
            OutgoingSMS(key=5, to="+14155550100", body="x", from_number="+14155559999")
        )
    assert caught.value.code == 21606


def test_wrong_credentials_are_an_auth_error(twilio_sandbox):
    stranger = TwilioGateway(settings.TWILIO_ACCOUNT_SID, "wrong-token")
    with pytest.raises(ProviderAuthError) as caught:
        stranger.fetch_message("SM" + "0" * 32)
    assert caught.value.code == 20003


def test_a_subaccount_cannot_read_another_subaccounts_messages(main, subaccount, sender):
    sent = subaccount.send_message(
        OutgoingSMS(key=6, to="+14155550103", body="private", from_number=sender.phone_number)
    )
    other = main.create_subaccount("another org")
    with pytest.raises(ProviderRequestError) as caught:
        TwilioGateway(other.sid, other.auth_token).fetch_message(sent.sid)
    assert caught.value.code == 20404


def test_phone_numbers_search_buy_and_point_at_our_webhook(subaccount):
    found = subaccount.search_available_numbers(area_code=212, limit=5)
    assert len(found) == 5
    assert all(n.phone_number.startswith("+1212") and n.capabilities["sms"] for n in found)
    assert found[0].region == "NY"
    assert [n.region for n in subaccount.search_available_numbers(in_region="TX", limit=2)] == [
        "TX",
        "TX",
    ]
    bought = subaccount.buy_phone_number(phone_number=found[0].phone_number, friendly_name="Shop")
    assert bought.sid.startswith("PN") and bought.phone_number == found[0].phone_number
    # A bought number is no longer offered.
    assert found[0].phone_number not in [
        n.phone_number for n in subaccount.search_available_numbers(area_code=212, limit=5)
    ]
    updated = subaccount.update_phone_number(bought.sid, sms_url="https://hooks.example.com/in")
    assert updated.sms_url == "https://hooks.example.com/in"
    assert updated.friendly_name == "Shop"


def test_buying_a_taken_number_or_an_empty_area_code_fails_clearly(subaccount, sender):
    with pytest.raises(ProviderRequestError) as caught:
        subaccount.buy_phone_number(phone_number=sender.phone_number)
    assert caught.value.code == 21422
    with pytest.raises(ProviderRequestError) as caught:
        subaccount.buy_phone_number(area_code="533")
    assert caught.value.code == 21452


def test_messaging_service_create_fetch_update(subaccount):
    service = subaccount.create_messaging_service(
        "Acme",
        inbound_request_url="https://hooks.example.com/inbound",
        status_callback="https://hooks.example.com/status",
        use_inbound_webhook_on_number=False,
        validity_period=14400,
        usecase="marketing",
    )
    assert service.sid.startswith("MG")
    assert service.validity_period == 14400
    assert service.us_app_to_person_registered is False
    fetched = subaccount.fetch_messaging_service(service.sid)
    assert fetched == service
    updated = subaccount.update_messaging_service(service.sid, friendly_name="Acme promos")
    assert updated.friendly_name == "Acme promos"
    assert updated.inbound_request_url == "https://hooks.example.com/inbound"


def test_a_number_belongs_to_one_messaging_service_only(subaccount, sender):
    first = subaccount.create_messaging_service("first")
    second = subaccount.create_messaging_service("second")
    pooled = subaccount.add_number_to_messaging_service(first.sid, sender.sid)
    assert (pooled.service_sid, pooled.phone_number) == (first.sid, sender.phone_number)
    with pytest.raises(ProviderRequestError) as caught:
        subaccount.add_number_to_messaging_service(second.sid, sender.sid)
    assert caught.value.code == 21712


def build_customer_profile(gateway, *, business=None, primary=True):
    """Twilio's ISV onboarding steps 1.1-1.10 (twilio-a2p.md)."""
    profile = gateway.create_customer_profile("Acme Boutique")
    assert profile.status == "draft"
    assert profile.email == settings.TWILIO_NOTIFICATION_EMAIL
    assert profile.policy_sid == SECONDARY_CUSTOMER_PROFILE_POLICY_SID
    info = gateway.create_end_user(
        "Acme business information",
        "customer_profile_business_information",
        business or BUSINESS,
    )
    gateway.assign_to_customer_profile(profile.sid, info.sid)
    rep = gateway.create_end_user("Ada", "authorized_representative_1", REPRESENTATIVE)
    gateway.assign_to_customer_profile(profile.sid, rep.sid)
    address = gateway.create_address(
        customer_name="Acme Boutique LLC",
        street="1 Market St",
        city="San Francisco",
        region="CA",
        postal_code="94105",
    )
    document = gateway.create_supporting_document(
        "Acme address", "customer_profile_address", {"address_sids": address.sid}
    )
    assert document.status == "DRAFT"
    gateway.assign_to_customer_profile(profile.sid, document.sid)
    if primary:
        gateway.assign_to_customer_profile(profile.sid, settings.TWILIO_ISV_PRIMARY_PROFILE_SID)
    return profile, info


def build_trust_product(gateway, profile):
    product = gateway.create_trust_product("Acme A2P")
    assert product.policy_sid == A2P_TRUST_PRODUCT_POLICY_SID
    info = gateway.create_end_user(
        "Acme messaging profile",
        "us_a2p_messaging_profile_information",
        {"company_type": "private"},
    )
    gateway.assign_to_trust_product(product.sid, info.sid)
    gateway.assign_to_trust_product(product.sid, profile.sid)
    return product


def approved(fetch, status="twilio-approved", field="status"):
    return wait_until(lambda: (r := fetch()) and getattr(r, field) == status and r, timeout=15)


def test_a2p_onboarding_from_profile_to_verified_campaign(subaccount, sender):
    profile, _ = build_customer_profile(subaccount)
    evaluation = subaccount.evaluate_customer_profile(profile.sid)
    assert evaluation.compliant, evaluation.results
    assert evaluation.sid.startswith("EL")
    submitted = subaccount.submit_customer_profile(profile.sid)
    assert submitted.status == "pending-review"

    product = build_trust_product(subaccount, profile)
    assert subaccount.evaluate_trust_product(product.sid).compliant
    assert subaccount.submit_trust_product(product.sid).status == "pending-review"

    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    assert brand.sid.startswith("BN") and brand.status == "PENDING"
    assert approved(lambda: subaccount.fetch_customer_profile(profile.sid)).valid_until
    approved(lambda: subaccount.fetch_trust_product(product.sid))
    brand = approved(lambda: subaccount.fetch_brand_registration(brand.sid), "APPROVED")
    assert brand.identity_status == "VERIFIED"
    assert brand.tcr_id

    service = subaccount.create_messaging_service("Acme A2P")
    usecases = subaccount.list_a2p_usecases(service.sid, brand.sid)
    assert "MARKETING" in {u.code for u in usecases}
    campaign = subaccount.create_a2p_campaign(
        service.sid,
        brand_sid=brand.sid,
        opt_in_keywords=["START"],
        opt_out_keywords=["STOP", "END"],
        help_keywords=["HELP"],
        opt_out_message="You are unsubscribed from Acme. No more messages will be sent.",
        **CAMPAIGN,
    )
    assert campaign.sid.startswith("QE")
    assert campaign.campaign_status == "IN_PROGRESS"
    assert campaign.opt_out_keywords == ["STOP", "END"]
    verified = approved(
        lambda: subaccount.fetch_a2p_campaign(service.sid, campaign.sid),
        "VERIFIED",
        field="campaign_status",
    )
    assert verified.campaign_id and verified.rate_limits["att"]["mps"] > 0
    assert subaccount.fetch_messaging_service(service.sid).us_app_to_person_registered
    subaccount.add_number_to_messaging_service(service.sid, sender.sid)


def test_an_incomplete_profile_evaluates_noncompliant_with_reasons(subaccount):
    profile = subaccount.create_customer_profile("Half done")
    info = subaccount.create_end_user(
        "Acme", "customer_profile_business_information", {**BUSINESS, "website_url": ""}
    )
    subaccount.assign_to_customer_profile(profile.sid, info.sid)
    evaluation = subaccount.evaluate_customer_profile(profile.sid)
    assert not evaluation.compliant
    failed = {r["requirement_name"]: r for r in evaluation.results if not r["passed"]}
    assert set(failed) == {
        "business_info",
        "authorized_representative_1",
        "business_address_info",
        "isv_primary_profile",
    }
    assert failed["business_info"]["invalid"][0]["object_field"] == "website_url"
    assert failed["authorized_representative_1"]["error_code"] == 22214
    # Submitted anyway, Twilio's review rejects it with the same reasons.
    subaccount.submit_customer_profile(profile.sid)
    rejected = approved(lambda: subaccount.fetch_customer_profile(profile.sid), "twilio-rejected")
    assert {e["code"] for e in rejected.errors} >= {22214, 22215}


def test_an_invalid_ein_fails_the_brand_until_fixed_and_resubmitted(subaccount):
    profile, info = build_customer_profile(
        subaccount, business={**BUSINESS, "business_registration_number": "00-0000000"}
    )
    subaccount.submit_customer_profile(profile.sid)
    product = build_trust_product(subaccount, profile)
    subaccount.submit_trust_product(product.sid)
    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    with pytest.raises(ProviderRequestError) as caught:
        subaccount.resubmit_brand_registration(brand.sid)  # not FAILED yet
    assert caught.value.code == 21725
    failed = approved(lambda: subaccount.fetch_brand_registration(brand.sid), "FAILED")
    assert [e["code"] for e in failed.errors] == [30795]
    service = subaccount.create_messaging_service("too early")
    with pytest.raises(ProviderRequestError):  # campaigns need an approved brand
        subaccount.create_a2p_campaign(service.sid, brand_sid=brand.sid, **CAMPAIGN)

    subaccount.update_end_user(info.sid, attributes={**BUSINESS})
    assert subaccount.resubmit_brand_registration(brand.sid).status == "PENDING"
    assert approved(lambda: subaccount.fetch_brand_registration(brand.sid), "APPROVED").errors == []


def test_a_rejected_campaign_is_edited_and_verified(subaccount):
    profile, _ = build_customer_profile(subaccount)
    subaccount.submit_customer_profile(profile.sid)
    product = build_trust_product(subaccount, profile)
    subaccount.submit_trust_product(product.sid)
    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid, skip_automatic_sec_vet=True
    )
    approved(lambda: subaccount.fetch_brand_registration(brand.sid), "APPROVED")
    service = subaccount.create_messaging_service("Acme")
    campaign = subaccount.create_a2p_campaign(
        service.sid,
        brand_sid=brand.sid,
        **{**CAMPAIGN, "description": CAMPAIGN["description"] + " SANDBOX-FAIL-30899"},
    )
    failed = approved(
        lambda: subaccount.fetch_a2p_campaign(service.sid, campaign.sid),
        "FAILED",
        "campaign_status",
    )
    assert failed.errors[0]["code"] == 30899
    edited = subaccount.update_a2p_campaign(
        service.sid,
        campaign.sid,
        description=CAMPAIGN["description"],
        message_flow=CAMPAIGN["message_flow"],
        message_samples=CAMPAIGN["message_samples"],
        has_embedded_links=False,
        has_embedded_phone=False,
        age_gated=False,
        direct_lending=False,
    )
    assert edited.campaign_status == "IN_PROGRESS"
    approved(
        lambda: subaccount.fetch_a2p_campaign(service.sid, campaign.sid),
        "VERIFIED",
        "campaign_status",
    )
