"""A registration as a customer lives it, against the Twilio sandbox: the form, Twilio's
reviews, a rejection explained and corrected, the number, and the end of the block on texting
subscribers. Every Twilio request is contract-checked by the autouse fixture."""

import pytest

from a2p import selectors
from a2p.models import PhoneNumber, Registration
from organizations.models import AuditLog
from smsplatform.providers.twilio import twilio_for
from tests.a2p.helpers import ANSWERS, drive, waiting_for_number
from tests.conftest import workspace_client

Stage = Registration.Stage
Status = Registration.Status


@pytest.fixture
def owner_client(acme, users):
    return workspace_client(acme, users["acme_owner"])


def post_form(client, *, action="submit", **changes):
    data = {**ANSWERS, **changes, "action": action}
    return client.post("/registration/details/", {k: v for k, v in data.items() if v is not None})


def registration_of(organization) -> Registration:
    return Registration.objects.get(organization=organization)


def complete(registration) -> bool:
    return registration.is_complete


def brands_of(registration) -> list:
    """The brands at Twilio made for this registration (tests share acme's subaccount)."""
    return [
        brand
        for brand in twilio_for(registration.organization).list_brand_registrations()
        if brand.customer_profile_bundle_sid == registration.customer_profile_sid
    ]


def test_from_the_form_to_an_approved_number(acme, owner_client, twilio_sandbox):
    assert "Register your business" in selectors.registration_block(acme)

    response = post_form(owner_client)
    assert response.status_code == 302 and response["Location"] == "/registration/"
    registration = registration_of(acme)
    assert (registration.stage, registration.status) == (Stage.CUSTOMER_PROFILE, Status.WORKING)
    assert registration.details["rep_phone"] == "+15125550143"  # E.164
    assert registration.details["registration_number"] == "12-3456789"
    assert "not complete yet" in selectors.registration_block(acme)

    registration = drive(registration, until=waiting_for_number)
    page = owner_client.get("/registration/")
    assert b"Approved! Now choose your number" in page.content
    assert "choose your phone number" in selectors.registration_block(acme)

    found = owner_client.get("/registration/number/", {"area_code": "512"})
    numbers = [n.phone_number for n in found.context["numbers"]]
    assert numbers and all(n.startswith("+1512") for n in numbers)
    chosen = owner_client.post("/registration/number/", {"phone_number": numbers[0]})
    assert chosen.status_code == 302

    registration = drive(registration, until=complete)
    number = PhoneNumber.objects.get(organization=acme)
    assert number.phone_number == numbers[0] == registration.chosen_phone_number
    assert number.messaging_service_sid == registration.messaging_service_sid
    assert selectors.registration_block(acme) is None
    assert selectors.messages_per_second(acme) == 225.0  # Standard brand, score 80
    assert selectors.number_owner(numbers[0]).organization == acme

    # What Twilio holds, in the organization's own subaccount: one of each.
    gateway = twilio_for(acme)
    assert gateway.account_sid == registration.account_sid != twilio_sandbox.address.account_sid
    service = gateway.fetch_messaging_service(registration.messaging_service_sid)
    assert service.inbound_request_url.endswith("/webhooks/twilio/inbound/")
    assert service.status_callback.endswith(f"/webhooks/twilio/status/{acme.pk}/")
    assert service.us_app_to_person_registered
    assert [n.phone_number for n in gateway.list_service_phone_numbers(service.sid)] == [
        number.phone_number
    ]
    assert [brand.sid for brand in brands_of(registration)] == [registration.brand_sid]
    assert len(gateway.find_customer_profiles(f"Textwise registration {registration.pk} "
                                              "business profile")) == 1  # fmt: skip
    done = owner_client.get("/registration/")
    assert number.phone_number.encode() in done.content
    assert (
        AuditLog.objects.filter(
            organization=acme,
            action__in=["a2p.registration_submitted", "a2p.registration_completed"],
        ).count()
        == 2
    )
    history = list(registration.events.values_list("kind", flat=True))
    assert history.count("transition") >= 7 and "verdict" in history


def test_an_invalid_ein_is_explained_fixed_and_resubmitted(acme, owner_client, twilio_sandbox):
    post_form(owner_client, registration_number="00-0000000")
    registration = drive(
        registration_of(acme), until=lambda r: r.status == Status.WAITING_ON_CUSTOMER
    )
    assert registration.stage == Stage.BRAND and registration.brand_status == "FAILED"
    assert [r["code"] for r in registration.rejection] == [30795]

    page = owner_client.get("/registration/")
    assert b"does not match IRS records" in page.content  # the plain reason
    assert b"Check your EIN and your legal business name" in page.content  # what to change
    assert b"Business registration number" in page.content  # the field to look at
    assert b"Change your answers and resubmit" in page.content
    form = owner_client.get("/registration/details/")
    assert form.context["form"].initial["registration_number"] == "00-0000000"
    assert b"Resubmit" in form.content

    response = post_form(owner_client, registration_number="12-3456789")
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == Status.WORKING and registration.rejection == []
    registration = drive(registration, until=waiting_for_number)
    assert registration.brand_status == "APPROVED"
    # The same brand, resubmitted: not a second one.
    assert [brand.sid for brand in brands_of(registration)] == [registration.brand_sid]
    business = twilio_for(acme).fetch_customer_profile(registration.customer_profile_sid)
    assert business.status == "twilio-approved"
    messages = list(registration.events.values_list("message", flat=True))
    assert "Resubmitted the brand for review." in messages


def test_a_rejected_campaign_is_corrected_and_approved(acme, owner_client, twilio_sandbox):
    description = ANSWERS["description"] + " SANDBOX-FAIL-30899"
    post_form(owner_client, description=description, brand_type="low_volume_standard")
    registration = drive(
        registration_of(acme), until=lambda r: r.status == Status.WAITING_ON_CUSTOMER
    )
    assert registration.stage == Stage.CAMPAIGN
    assert [r["code"] for r in registration.rejection] == [30899]
    assert b"The carriers rejected the campaign" in owner_client.get("/registration/").content

    post_form(owner_client, brand_type="low_volume_standard")
    registration = drive(registration, until=waiting_for_number)
    assert registration.campaign_status == "VERIFIED"
    campaigns = twilio_for(acme).list_a2p_campaigns(registration.messaging_service_sid)
    assert [c.sid for c in campaigns] == [registration.campaign_sid]
    assert "SANDBOX-FAIL" not in campaigns[0].description
    assert registration.messages_per_second == 12.0  # Low-Volume Standard: no vetting, score 0


def test_a_number_picked_near_the_business(acme, owner_client, twilio_sandbox):
    post_form(owner_client)  # Austin, TX
    registration = drive(registration_of(acme), until=waiting_for_number)
    owner_client.post("/registration/number/", {"action": "auto"})
    registration = drive(registration, until=complete)
    assert registration.chosen_phone_number.startswith("+1512")


def test_a_number_taken_meanwhile_is_chosen_again(acme, owner_client, twilio_sandbox):
    post_form(owner_client)
    registration = drive(registration_of(acme), until=waiting_for_number)
    owner_client.post("/registration/number/", {"phone_number": "+15005550000"})  # unavailable
    registration = drive(registration, until=lambda r: r.status != Status.WORKING)
    assert waiting_for_number(registration) and registration.chosen_phone_number == ""
    assert "no longer available" in registration.events.last().message
    assert (
        b"Use this number"
        in owner_client.get("/registration/number/", {"area_code": "415"}).content
    )
    owner_client.post("/registration/number/", {"action": "auto"})
    assert drive(registration, until=complete).phone_number_sid


def test_progress_is_saved_between_visits(acme, owner_client):
    first = owner_client.get("/registration/details/")
    assert first.status_code == 200
    response = owner_client.post(
        "/registration/details/",
        {"action": "save", "legal_name": "Acme Boutique LLC", "city": "Austin",
         "regions": ["USA_AND_CANADA", "EUROPE"], "rep_phone": "not finished"},
    )  # fmt: skip
    assert response.status_code == 302
    again = owner_client.get("/registration/details/")
    initial = again.context["form"].initial
    assert (initial["city"], initial["rep_phone"]) == ("Austin", "not finished")
    assert initial["regions"] == ["USA_AND_CANADA", "EUROPE"]
    registration = registration_of(acme)
    assert registration.status == Status.DRAFT and registration.details == {}


def test_the_form_starts_from_the_sign_up_page(acme, owner_client):
    initial = owner_client.get("/registration/details/").context["form"].initial
    assert initial["legal_name"] == acme.name
    assert "/join/" in initial["message_flow"]
    assert "Reply HELP for help and STOP to cancel" in initial["message_flow"]  # the disclosure
    assert acme.name in initial["sample_1"] and "STOP" in initial["sample_1"]


def test_the_status_page_follows_the_registration(acme, owner_client, twilio_sandbox):
    post_form(owner_client)
    before = owner_client.get("/registration/status.json").json()
    registration = drive(registration_of(acme), until=lambda r: r.status == Status.IN_REVIEW)
    after = owner_client.get("/registration/status.json").json()
    assert before["version"] != after["version"]
    states = {s["stage"]: s["state"] for s in after["stages"]}
    assert states["customer_profile"] in ("review", "done")
    assert states["brand"] == "review" and states["campaign"] == "waiting"
    page = owner_client.get("/registration/")
    assert b"Usual wait" in page.content
    assert registration.stage == Stage.BRAND
