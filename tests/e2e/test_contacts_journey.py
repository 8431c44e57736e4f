"""The contacts journey of a new shop, in a real browser: import the messy export of the till,
read the report, build a segment from it, then one of those people texts STOP from their phone
(the Twilio sandbox) and the shop sees them unsubscribed, with the evidence."""

import pytest
from django_tenants.utils import tenant_context

from a2p.models import PhoneNumber
from messaging.models import Contact
from tests.conftest import PASSWORD
from tests.e2e.pages import sign_in
from tests.sending import sending_organization
from tests.twilio_sandbox import wait_until

MESSY_CSV = (
    "\ufeffMobile;Name;Tags\r\n"
    "(305) 555-0611;Grace Hopper;vip\r\n"
    "\r\n"
    " 305.555.0612 ; Linus  Pauling ;vip, walk-in\r\n"
    "+1 305 555 0613;Rosa Parks;walk-in\r\n"
    "0000;Nobody;vip\r\n"
    "3055550611;Grace again;vip\r\n"
).encode("utf-8")


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker, twilio_sandbox, live_server_url):
    with django_db_blocker.unblock():
        return sending_organization(
            slug="e2e-books", name="Corner Books", owner_email="owner@books.test",
            password=PASSWORD, site_url=live_server_url,
        )  # fmt: skip


def test_import_segment_then_a_stop_text_unsubscribes_with_evidence(
    page, shop, committed, twilio_sandbox, live_server_url, celery_worker
):
    base = f"http://e2e-books.localhost:{live_server_url.rsplit(':', 1)[1]}"
    sign_in(page, f"{base}/contacts/import/", "owner@books.test", PASSWORD)

    # Import: the headers are recognised, the consent is declared, the report counts each row.
    page.get_by_label("Contact file").set_input_files(
        files=[{"name": "till.csv", "mimeType": "text/csv", "buffer": MESSY_CSV}]
    )
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_text("columns separated by semicolons").wait_for()
    assert page.get_by_label("Mobile").input_value() == "phone"
    page.get_by_label("Everyone in this file agreed to receive marketing text messages").check()
    page.get_by_label("How did they agree?").fill("ticked the box on the till receipt")
    page.get_by_role("button", name="Import contacts").click()
    page.locator("[data-test=import-report]").wait_for(timeout=30_000)
    assert page.locator("[data-test=created]").inner_text() == "3"
    assert page.locator("[data-test=rejected]").inner_text() == "2"
    rejections = page.locator("[data-test=rejections]").inner_text()
    assert "Invalid phone number" in rejections and "Duplicate of an earlier row" in rejections

    # A segment of the VIPs the file tagged, counted live before it is saved.
    page.goto(f"{base}/segments/new/")
    page.get_by_label("Name").fill("Till VIPs")
    page.get_by_label("Field").select_option("tag")
    page.get_by_label("Value").select_option("vip")
    page.get_by_text("2 contacts match").wait_for()
    page.get_by_role("button", name="Save segment").click()
    page.get_by_text("Segment “Till VIPs” saved.").wait_for()

    # The contact list filtered by that segment holds exactly Grace and Linus.
    page.goto(f"{base}/contacts/")
    page.get_by_label("Segment").select_option(label="Till VIPs")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Grace Hopper").wait_for()
    assert page.get_by_role("link", name="Linus Pauling").count() == 1
    assert page.get_by_role("link", name="Rosa Parks").count() == 0

    # Grace texts "Stop." to the shop's number from her phone.
    with tenant_context(shop):
        shop_number = PhoneNumber.objects.get(organization=shop).phone_number
    twilio_sandbox.inbound(From="+13055550611", To=shop_number, Body="Stop.")
    with tenant_context(shop):
        wait_until(
            lambda: Contact.objects.get(phone="+13055550611").status == "unsubscribed",
            timeout=20,
            message="Grace unsubscribed",
        )

    page.get_by_role("link", name="Grace Hopper").click()
    assert page.locator("[data-test=contact-status]").inner_text() == "Unsubscribed"
    history = page.locator("[data-test=consent-history]").inner_text()
    assert "Opted out · Text keyword" in history
    assert "Opted in · Import with declared consent" in history
    assert "ticked the box on the till receipt" in history
    # She gets the shop's confirmation (sent by the worker), once.
    wait_until(lambda: twilio_sandbox.messages(to="+13055550611"), message="the confirmation")
    (confirmation,) = twilio_sandbox.messages(to="+13055550611")
    assert "Corner Books" in confirmation["body"] and "unsubscribed" in confirmation["body"]
