"""A2P registration in a real browser, end to end: the owner fills the form, the real Celery
worker carries the registration through the Twilio sandbox, whose signed TrustHub callbacks and
Event Streams deliveries reach the real web server; the status page follows on its own until
the owner picks a number, and the registration is complete."""

import uuid

from a2p.models import PhoneNumber, Registration
from organizations.models import User
from organizations.services import create_organization
from tests.conftest import PASSWORD

FILL = {
    "Legal business name": "Rosa's Flowers LLC",
    "Business registration number": "12-3456789",
    "Website": "https://rosas-flowers.example.com",
    "Street address": "100 Congress Ave",
    "City": "Austin",
    "State or province": "TX",
    "ZIP or postal code": "78701",
    "First name": "Rosa",
    "Last name": "Diaz",
    "Email": "rosa@rosas-flowers.example.com",
    "Mobile phone": "(512) 555-0143",
    "Job title": "Owner",
    "Privacy policy address": "https://rosas-flowers.example.com/privacy",
    "Terms and conditions address": "https://rosas-flowers.example.com/terms",
}


def test_an_owner_registers_and_gets_a_number(
    live_server_url, celery_worker, twilio_sandbox, committed, page
):
    slug = f"reg-{uuid.uuid4().hex[:8]}"
    owner = User.objects.create_user(email=f"rosa@{slug}.test", password=PASSWORD)
    organization = create_organization(name="Rosa's Flowers", slug=slug, owner=owner)
    port = live_server_url.rsplit(":", 1)[1]
    workspace = f"http://{slug}.localhost:{port}"

    page.goto(f"{workspace}/registration/")
    page.get_by_label("Email", exact=True).fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Register your business for texting").wait_for()
    # Pre-filled from the organization's sign-up page.
    assert "/join/" in page.get_by_label("How people sign up").input_value()

    page.get_by_label("Business type").select_option("Limited Liability Corporation")
    page.get_by_label("Industry").select_option("RETAIL")
    for label, value in FILL.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_text("Standard: for larger lists").click()
    page.get_by_role("button", name="Submit for registration").click()

    page.get_by_role("heading", name="Carrier registration").wait_for()
    # Nobody reloads: the page follows the registration through Twilio's reviews.
    page.get_by_text("Approved! Now choose your number").wait_for(timeout=60_000)
    page.get_by_role("link", name="Choose your number").click()
    page.get_by_role("button", name="Pick a number near my business").click()
    page.get_by_text("You are registered").wait_for(timeout=60_000)
    shown = page.locator("[data-test=registered-number]").inner_text()

    registration = Registration.objects.get(organization=organization)
    assert registration.is_complete and registration.chosen_phone_number == shown
    assert shown.startswith("+1512")  # near the business, in Austin
    assert registration.brand_score == 80 and registration.messages_per_second == 225.0
    number = PhoneNumber.objects.get(phone_number=shown)
    assert number.organization == organization and number.is_active
    # The verdicts came by webhook: the live server received and kept them.
    kinds = set(registration.events.filter(kind="webhook").values_list("message", flat=True))
    assert "Event: brand-registered." in kinds and "Event: campaign-approved." in kinds
