"""Registrations for tests: valid answers (checked by the real form), a submitted registration,
and a driver that runs the engine and polls Twilio's verdicts as the tasks would."""

import time

from django.db import connection

from a2p import engine, services
from a2p.forms import RegistrationForm
from a2p.models import Registration

ANSWERS = {
    "legal_name": "Acme Boutique LLC",
    "business_type": "Limited Liability Corporation",
    "industry": "RETAIL",
    "registration_id_type": "EIN",
    "registration_number": "12-3456789",
    "regions": ["USA_AND_CANADA"],
    "website": "https://acme.example.com",
    "social_profiles": "https://instagram.com/acmeboutique",
    "street": "100 Congress Ave",
    "street_secondary": "Suite 2",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
    "country": "US",
    "rep_first_name": "Ada",
    "rep_last_name": "Owner",
    "rep_email": "ada@acme.example.com",
    "rep_phone": "(512) 555-0143",
    "rep_title": "Owner",
    "rep_position": "CEO",
    "company_type": "private",
    "brand_type": "standard",
    "use_case": "MARKETING",
    "description": "Acme Boutique texts subscribers about new arrivals, sales and in-store "
    "events. Only people who signed up get them.",
    "message_flow": "Customers sign up on our web page https://acme.localhost/join/ and confirm "
    "by replying Y to our first text. They can also text JOIN to our number.",
    "sample_1": "Acme Boutique: new spring dresses are in! Reply STOP to opt out.",
    "sample_2": "Acme Boutique: 20% off this weekend only. Reply STOP to opt out.",
    "privacy_policy_url": "https://acme.example.com/privacy",
    "terms_url": "https://acme.example.com/terms",
}
KEYWORD_REPLIES = {
    "opt_in_message": "Acme Boutique: Thanks, you are subscribed! Reply HELP for help, STOP to "
    "opt out.",
    "opt_out_message": "Acme Boutique: You are unsubscribed and will receive no more messages.",
    "help_message": "Acme Boutique: Reply to this number to reach us. Reply STOP to opt out.",
    "opt_in_keywords": ["START"],
    "opt_out_keywords": ["STOP"],
    "help_keywords": ["HELP"],
}


def checked_details(**changes) -> dict:
    """What a submission stores: the form's cleaned data plus the keyword replies."""
    form = RegistrationForm({**ANSWERS, **changes}, business_names=["Acme Boutique"])
    assert form.is_valid(), form.errors
    return {**form.cleaned_data, **KEYWORD_REPLIES}


def submitted(organization, user=None, **changes) -> Registration:
    connection.set_schema_to_public()
    return services.submit_registration(organization, checked_details(**changes), actor=user)


def drive(registration, *, until, timeout=20.0) -> Registration:
    """Run the engine, and poll for verdicts while it waits for reviews, until ``until`` holds
    (what the tasks, webhooks and beat do in production)."""
    deadline = time.monotonic() + timeout
    while True:
        registration.refresh_from_db()
        if until(registration):
            return registration
        if time.monotonic() > deadline:
            raise AssertionError(
                f"registration stuck at {registration.stage}/{registration.status}: "
                f"{list(registration.events.values_list('message', flat=True))[-5:]}"
            )
        if registration.status == Registration.Status.WORKING:
            if registration.next_attempt_at:
                Registration.objects.filter(pk=registration.pk).update(next_attempt_at=None)
            engine.advance(registration.pk)
        else:
            time.sleep(0.1)
            engine.refresh(registration.pk, source="poll")


def waiting_for_number(registration) -> bool:
    return (
        registration.stage == Registration.Stage.PHONE_NUMBER
        and registration.status == Registration.Status.WAITING_ON_CUSTOMER
    )
