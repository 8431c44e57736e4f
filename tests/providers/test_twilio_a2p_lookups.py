"""The gateway's lookups: what an earlier attempt may have created is found again by its name
(or, for a brand, by its profile) before anything is created a second time."""

import time

import pytest

from smsplatform.providers.twilio import TwilioGateway, main_twilio
from tests.providers.test_twilio_gateway import build_customer_profile, build_trust_product


@pytest.fixture
def subaccount(twilio_sandbox):
    created = main_twilio().create_subaccount(f"lookups {time.monotonic_ns()}")
    return TwilioGateway(created.sid, created.auth_token)


def test_bundles_end_users_documents_and_assignments_are_found_again(subaccount):
    profile, info = build_customer_profile(subaccount)
    subaccount.create_customer_profile("Someone else's profile")
    assert [p.sid for p in subaccount.find_customer_profiles("Acme Boutique")] == [profile.sid]
    assert subaccount.find_customer_profiles("nobody") == []
    assert info.sid in {e.sid for e in subaccount.list_end_users()}
    documents = subaccount.list_supporting_documents()
    assert [d.type for d in documents] == ["customer_profile_address"]
    assigned = {a.object_sid for a in subaccount.list_customer_profile_assignments(profile.sid)}
    assert info.sid in assigned and documents[0].sid in assigned

    product = build_trust_product(subaccount, profile)
    assert [p.sid for p in subaccount.find_trust_products("Acme A2P")] == [product.sid]
    assert profile.sid in {
        a.object_sid for a in subaccount.list_trust_product_assignments(product.sid)
    }


def test_an_address_is_found_by_name_and_corrected(subaccount):
    address = subaccount.create_address(
        customer_name="Acme",
        street="1 Market St",
        city="San Francisco",
        region="CA",
        postal_code="94105",
        friendly_name="registration 7 address",
    )
    assert [a.sid for a in subaccount.find_addresses("registration 7 address")] == [address.sid]
    corrected = subaccount.update_address(address.sid, street="2 Market St", postal_code="94106")
    assert (corrected.street, corrected.postal_code, corrected.city) == (
        "2 Market St",
        "94106",
        "San Francisco",
    )


def test_brands_services_campaign_numbers_are_listed(subaccount):
    profile, _ = build_customer_profile(subaccount)
    product = build_trust_product(subaccount, profile)
    brand = subaccount.create_brand_registration(
        customer_profile_sid=profile.sid, a2p_profile_sid=product.sid
    )
    listed = subaccount.list_brand_registrations()
    assert [(b.sid, b.customer_profile_bundle_sid) for b in listed] == [(brand.sid, profile.sid)]
    service = subaccount.create_messaging_service("registration 7")
    assert [s.sid for s in subaccount.list_messaging_services()] == [service.sid]
    assert subaccount.list_a2p_campaigns(service.sid) == []
    number = subaccount.buy_phone_number(area_code="512")
    assert [n.sid for n in subaccount.find_incoming_numbers(number.phone_number)] == [number.sid]
    subaccount.add_number_to_messaging_service(service.sid, number.sid)
    assert [n.sid for n in subaccount.list_service_phone_numbers(service.sid)] == [number.sid]
