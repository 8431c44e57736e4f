"""The form refuses what Twilio or the carriers would reject, with a sentence that says what to
do, so that a registration is rarely rejected."""

import pytest

from a2p.forms import RegistrationForm
from tests.a2p.helpers import ANSWERS


def errors_of(**changes):
    data = {key: value for key, value in {**ANSWERS, **changes}.items() if value is not None}
    form = RegistrationForm(data, business_names=["Acme Boutique"])
    form.is_valid()
    return {field: " ".join(messages) for field, messages in form.errors.items()}


def test_the_valid_answers_pass_and_are_normalised():
    form = RegistrationForm(ANSWERS, business_names=["Acme Boutique"])
    assert form.is_valid(), form.errors
    cleaned = form.cleaned_data
    assert cleaned["rep_phone"] == "+15125550143"
    assert cleaned["registration_number"] == "12-3456789"
    assert cleaned["samples"] == [ANSWERS["sample_1"], ANSWERS["sample_2"]]
    assert cleaned["social_profiles"] == ["https://instagram.com/acmeboutique"]


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"registration_number": "12-345678"}, "registration_number", "nine digits"),
        ({"registration_number": "12-34567890"}, "registration_number", "nine digits"),
        ({"rep_phone": "555-01"}, "rep_phone", "area code"),
        ({"state": "Texass"}, "state", "two-letter"),
        ({"postal_code": "7870"}, "postal_code", "five digits"),
        ({"website": "not a site"}, "website", "valid URL"),
        ({"social_profiles": "instagram"}, "social_profiles", "not a web address"),
        ({"description": "Too short to say anything."}, "description", "40 to 4,096"),
        ({"description": "x" * 4097}, "description", "40 to 4,096"),
        ({"message_flow": "Sign up online."}, "message_flow", "40 to 2,048"),
        ({"message_flow": "x" * 2049}, "message_flow", "40 to 2,048"),
        ({"sample_2": ""}, "sample_2", "at least two"),
        ({"sample_3": "Acme: hi"}, "sample_3", "20 to 1024"),
        ({"sample_3": "Acme Boutique " + "x" * 1020}, "sample_3", "20 to 1024"),
        ({"privacy_policy_url": ""}, "privacy_policy_url", "required"),
        ({"terms_url": ""}, "terms_url", "required"),
        ({"regions": []}, "regions", "required"),
        ({"company_type": "public"}, "stock_exchange", "stock exchange"),
        ({"company_type": "public"}, "stock_ticker", "ticker"),
        ({"company_type": "public"}, "brand_contact_email", "confirms the registration"),
        ({"industry": "GOVERNMENT"}, "industry", "non-profits and government"),
    ],
)
def test_what_twilio_would_reject_is_refused_with_a_reason(changes, field, says):
    assert says in errors_of(**changes).get(field, ""), errors_of(**changes)


def test_samples_must_name_the_business_and_say_how_to_stop():
    problems = errors_of(
        sample_1="Our spring collection is in! Come and see it.",
        sample_2="20% off everything this weekend only, in store.",
    )
    assert "business name" in problems["sample_1"]
    assert "Reply STOP" in problems["sample_1"]


def test_links_and_phone_numbers_in_samples_must_be_declared():
    linked = errors_of(sample_3="Acme Boutique: shop at https://acme.example.com now. STOP to end.")
    assert "contain a link" in linked["has_links"]
    assert "has_links" not in errors_of(
        sample_3="Acme Boutique: shop at https://acme.example.com now. STOP to end.",
        has_links="on",
    )
    called = errors_of(sample_3="Acme Boutique: call us at (512) 555-0199. Reply STOP to end.")
    assert "phone number" in called["has_phone_numbers"]


def test_a_public_company_gives_its_listing_and_others_drop_it():
    public = RegistrationForm(
        {**ANSWERS, "company_type": "public", "stock_exchange": "NASDAQ", "stock_ticker": "acme",
         "brand_contact_email": "ir@acme.example.com"},
        business_names=["Acme Boutique"],
    )  # fmt: skip
    assert public.is_valid(), public.errors
    assert public.cleaned_data["stock_ticker"] == "ACME"
    private = RegistrationForm(
        {**ANSWERS, "stock_exchange": "NASDAQ", "stock_ticker": "ACME"},
        business_names=["Acme Boutique"],
    )
    assert private.is_valid() and private.cleaned_data["stock_ticker"] == ""


@pytest.mark.parametrize(
    ("company_type", "industry"), [("non_profit", "NOT_FOR_PROFIT"), ("government", "GOVERNMENT")]
)
def test_non_profits_and_government_are_registered_as_twilio_asks(company_type, industry):
    form = RegistrationForm({**ANSWERS, "company_type": company_type}, business_names=[])
    assert form.is_valid(), form.errors
    assert form.cleaned_data["business_type"] == "Non-profit Corporation"
    assert form.cleaned_data["industry"] == industry


def test_a_state_may_be_written_out():
    form = RegistrationForm({**ANSWERS, "state": "new york"}, business_names=[])
    assert form.is_valid(), form.errors
    assert form.cleaned_data["state"] == "NY"


def test_a_canadian_postal_code_is_checked_as_canadian():
    assert "postal_code" not in errors_of(country="CA", state="ON", postal_code="K1A 0B1")
    assert "K1A 0B1" in errors_of(country="CA", state="ON", postal_code="78701")["postal_code"]


def test_the_keyword_replies_are_checked_too(acme, in_acme, users):
    from messaging import services as messaging_services
    from tests.conftest import workspace_client

    settings_row = messaging_services.compliance_settings()
    settings_row.help_reply = "Help? " + "Call us any time. " * 20
    settings_row.save()
    client = workspace_client(acme, users["acme_owner"])
    response = client.post("/registration/details/", {**ANSWERS, "action": "submit"})
    assert response.status_code == 400
    assert b"Your help reply has" in response.content and b"Compliance settings" in response.content
