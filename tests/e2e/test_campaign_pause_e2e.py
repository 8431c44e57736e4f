"""A person sends a campaign, pauses it from its page while it is going out, sees that nothing
more goes out, then resumes it: everyone gets the text once."""

import time

import pytest

from tests.conftest import PASSWORD
from tests.e2e.pages import sign_in
from tests.sending import sending_organization, subscribed_contacts

RECIPIENTS = 40


@pytest.fixture(scope="module")
def slow_shop(django_db_setup, django_db_blocker, twilio_sandbox, live_server_url):
    """Registered for 4 texts a second: the campaign takes 10 s, time to pause it."""
    with django_db_blocker.unblock():
        return sending_organization(
            slug="e2e-slow", name="Slow Shoes", owner_email="owner@slowshoes.test",
            password=PASSWORD, site_url=live_server_url, messages_per_second=4,
        )  # fmt: skip


def test_pause_stops_the_sending_and_resume_finishes_it_once_each(
    page, slow_shop, committed, twilio_sandbox, live_server_url, celery_worker, celery_beat,
    sending_worker,
):  # fmt: skip
    sending_worker()
    phones = subscribed_contacts(slow_shop, RECIPIENTS, tag="e2e-pause")
    port = live_server_url.rsplit(":", 1)[1]
    base = f"http://e2e-slow.localhost:{port}"

    def texts_out():
        return sum(len(twilio_sandbox.messages(to=phone)) for phone in phones)

    sign_in(page, f"{base}/campaigns/new/", "owner@slowshoes.test", PASSWORD)
    page.get_by_label("Name").fill("Boot sale")
    page.get_by_label("Message").fill("Boots are 20% off today")
    page.get_by_label("Tags").fill("e2e-pause")
    page.locator("#preview-recipients").filter(has_text=str(RECIPIENTS)).wait_for()
    page.get_by_role("button", name="Send now").click()

    # A few are out, then the person pauses.
    deadline = time.monotonic() + 30
    while texts_out() < 3:
        assert time.monotonic() < deadline, "the campaign did not start sending"
        time.sleep(0.1)
    page.get_by_role("button", name="Pause").click()
    page.get_by_text("Paused. Nothing more goes out until you resume.").wait_for()
    assert page.locator("#campaign-status").inner_text() == "Paused"

    time.sleep(1.5)  # what was already on its way arrives
    out_at_pause = texts_out()
    time.sleep(3)  # 12 more texts at this pace, had it gone on
    assert texts_out() == out_at_pause < RECIPIENTS

    page.get_by_role("button", name="Resume").click()
    page.locator('[data-stat="delivered"]').filter(has_text=str(RECIPIENTS)).wait_for(
        timeout=60_000
    )
    assert [len(twilio_sandbox.messages(to=phone)) for phone in phones] == [1] * RECIPIENTS
