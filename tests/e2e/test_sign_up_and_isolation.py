import re
import time
import uuid

from django_tenants.utils import schema_exists

from organizations.models import Membership, Organization
from tests.conftest import PASSWORD
from tests.e2e.pages import fill_sign_up_form, sign_in


def test_a_visitor_signs_up_and_lands_on_their_new_dashboard(page, live_server_url, committed):
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    port = live_server_url.rsplit(":", 1)[1]

    page.goto(live_server_url + "/")
    fill_sign_up_form(
        page,
        business_name="Rosa's Flowers",
        slug=slug,
        email=f"rosa+{slug}@example.com",
        password="roses-are-red-2026",
    )
    started = time.perf_counter()
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(f"http://{slug}.localhost:{port}/")
    page.get_by_text("Welcome to Rosa's Flowers").wait_for()
    elapsed = time.perf_counter() - started
    print(f"\nsign-up to dashboard: {elapsed * 1000:.0f} ms")

    organization = Organization.objects.get(slug=slug)
    assert schema_exists(organization.schema_name)
    assert (
        Membership.objects.get(organization=organization).user.email == f"rosa+{slug}@example.com"
    )
    # The owner really is signed in there: the team page lists them.
    page.get_by_role("link", name="Team").click()
    page.get_by_text(f"rosa+{slug}@example.com").first.wait_for()


def test_bad_sign_up_shows_the_error_and_keeps_what_was_typed(page, live_server_url, world):
    page.goto(live_server_url + "/")
    fill_sign_up_form(
        page,
        business_name="Acme Copy",
        slug="acme",
        email="copy@example.com",
        password="roses-are-red-2026",
    )
    page.get_by_role("button", name="Create workspace").click()

    page.get_by_text("That address is already taken.").wait_for()
    assert page.get_by_label("Your email").input_value() == "copy@example.com"
    assert page.get_by_label("Business name").input_value() == "Acme Copy"


def test_a_member_of_one_organization_gets_404_on_anothers_dashboard(page, live_server_url, world):
    port = live_server_url.rsplit(":", 1)[1]
    acme_url = f"http://acme.localhost:{port}/"
    globex_url = f"http://globex.localhost:{port}/"

    sign_in(page, acme_url, "member@acme.test", PASSWORD)  # anonymous: sent to the form first
    page.get_by_text("Welcome to Acme Boutique").wait_for()

    response = page.goto(globex_url)

    assert response.status == 404
    assert re.search(r"Page not found", page.content())
    assert "Globex" not in page.content()
    assert page.url == globex_url
