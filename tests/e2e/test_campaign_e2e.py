"""A person composes a campaign in the browser, schedules it a minute ahead, watches it go out
and be delivered on the campaign page without reloading, and sees a subscriber's STOP (texted
from the Twilio sandbox) counted there too."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging.models import Contact
from tests.conftest import PASSWORD
from tests.e2e.pages import sign_in
from tests.sending import sending_organization, subscribed_contacts


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker, twilio_sandbox, live_server_url):
    with django_db_blocker.unblock():
        return sending_organization(
            slug="e2e-flowers", name="Flora Flowers", owner_email="owner@flora.test",
            password=PASSWORD, site_url=live_server_url,
        )  # fmt: skip


def test_compose_schedule_watch_it_deliver_and_see_a_stop_reply(
    page, shop, committed, twilio_sandbox, live_server_url, celery_worker, celery_beat,
    sending_worker,
):  # fmt: skip
    sending_worker()
    phones = subscribed_contacts(shop, 3, tag="e2e-spring", first_name="Ana")
    port = live_server_url.rsplit(":", 1)[1]
    base = f"http://e2e-flowers.localhost:{port}"

    sign_in(page, f"{base}/campaigns/new/", "owner@flora.test", PASSWORD)

    page.get_by_label("Name").fill("Spring bouquets")
    page.get_by_label("Message").fill("Hi {first_name|there}! Spring bouquets are in 🌷")
    page.locator("#counter-segments").filter(has_text="1 message").wait_for()
    assert page.locator("#counter-encoding").inner_text() == "Unicode"
    assert "🌷" in page.locator("#counter-unicode").inner_text()
    page.get_by_label("Tags").fill("e2e-spring")
    page.locator("#preview-recipients").filter(has_text="3").wait_for()  # counted live
    page.get_by_label("At a date and time").check()
    in_a_minute = timezone.now().astimezone(zoneinfo.ZoneInfo(shop.timezone)) + dt.timedelta(
        seconds=70
    )
    page.get_by_role("textbox", name="Date and time").fill(in_a_minute.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule").click()

    page.get_by_text("Scheduled.").first.wait_for()
    # No reload from here on: the page follows the campaign by itself.
    delivered = page.locator('[data-stat="delivered"]')
    delivered.filter(has_text="3").wait_for(timeout=150_000)
    assert page.locator("#campaign-status").inner_text() == "Sent"
    for phone in phones:
        (text,) = twilio_sandbox.messages(to=phone)
        assert text["body"].startswith("Flora Flowers: Hi Ana! Spring bouquets are in 🌷")

    twilio_sandbox.inbound(
        From=phones[0], To=twilio_sandbox.messages(to=phones[0])[0]["from"], Body="Stop"
    )
    page.locator('[data-stat="opted_out"]').filter(has_text="1").wait_for(timeout=20_000)

    with tenant_context(shop):
        contact = Contact.objects.get(phone=phones[0])
        assert contact.status == Contact.Status.UNSUBSCRIBED
        event = contact.consent_events.first()
        assert (event.kind, event.method, event.source) == ("opt_out", "keyword", "stop")
