"""Billing in a real browser against the live server, Celery worker and Stripe sandbox: a new
owner pays for Accelerator on Stripe's Checkout page and the success page waits for Stripe's
webhook before it says the plan is active; then the billing portal's plan change and
cancellation come back to the app."""

import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

from billing.models import BillingAccount
from organizations.models import Organization
from tests.e2e.pages import fill_sign_up_form


@pytest.fixture
def new_owner(page, live_server_url, committed):
    """A business that just signed up (in the browser, so the owner is signed in there)."""
    slug = f"bill-{uuid.uuid4().hex[:8]}"
    port = live_server_url.rsplit(":", 1)[1]
    page.goto(live_server_url + "/")
    fill_sign_up_form(
        page,
        business_name="Rosa's Flowers",
        slug=slug,
        email=f"rosa+{slug}@example.com",
        password="roses-are-red-2026",
    )
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(f"http://{slug}.localhost:{port}/")
    return f"http://{slug}.localhost:{port}", Organization.objects.get(slug=slug)


def account_of(organization):
    return BillingAccount.objects.filter(organization=organization).first()


def test_checkout_waits_for_the_webhook_then_the_portal_changes_and_cancels_the_plan(
    page, new_owner, live_server_url, celery_worker, stripe_sandbox, stripe_webhooks
):
    workspace, organization = new_owner
    expect(page.locator("[data-test=billing-banner]")).to_contain_text("Choose a plan")

    # Plans: Accelerator first and recommended.
    page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    page.get_by_role("link", name="See the plans").click()
    plans = page.locator("article.plan")
    expect(plans.first).to_contain_text("Accelerator")
    expect(plans.first).to_contain_text("Recommended")
    page.get_by_role("button", name="Choose Accelerator").click()

    # Stripe's hosted Checkout: the onboarding fee once, then the monthly price.
    expect(page.get_by_text("$597.00 once")).to_be_visible()
    page.get_by_role("button", name="Pay $747.00").click()

    # Back on the platform. Stripe's events are held back (they reach the test's receiver):
    # the page must wait, whatever the redirect said.
    page.wait_for_url(f"{workspace}/billing/checkout-done/?session_id=*")
    expect(page.get_by_text("waiting for its confirmation")).to_be_visible()
    stripe_sandbox.wait_for_webhooks()
    time.sleep(1.5)  # two polls of the page
    expect(page.locator("[data-test=plan-active]")).to_be_hidden()
    assert account_of(organization) is None or not account_of(organization).plan_id

    # Stripe's webhooks arrive at the platform; the page sees the plan start by itself.
    for hook in stripe_webhooks.received:
        response = requests.post(
            f"{live_server_url}/webhooks/stripe/",
            data=hook.body,
            headers={"Content-Type": "application/json",
                     "Stripe-Signature": hook.headers["Stripe-Signature"]},
            timeout=10,
        )  # fmt: skip
        assert response.status_code == 200
    expect(page.locator("[data-test=plan-active]")).to_contain_text(
        "Your Accelerator plan is active", timeout=20_000
    )
    assert account_of(organization).subscription_status == "active"

    # From now on Stripe calls the platform directly.
    stripe_sandbox.configure(webhook_url=f"{live_server_url}/webhooks/stripe/")
    page.get_by_role("link", name="Go to Billing").click()
    expect(page.locator("[data-test=plan-name]")).to_have_text("Accelerator")
    expect(page.get_by_text("Renews on")).to_be_visible()
    expect(page.locator("[data-test=invoices]")).to_contain_text("$747")

    # The billing portal: switch to Standard, come back, see it.
    page.get_by_role("button", name="Manage payment").click()
    page.get_by_role("button", name="Switch to Textwise (Standard): $150.00 / month").click()
    expect(page.get_by_role("status")).to_have_text("Your plan is now Textwise (Standard).")
    page.get_by_role("link", name="Return to Textwise").click()
    page.wait_for_url(f"{workspace}/billing/")
    reload_until(page, "[data-test=plan-name]", "Standard")

    # Cancel in the portal: the app says the subscription ended and sending stops.
    page.get_by_role("button", name="Manage payment").click()
    page.get_by_role("button", name="Cancel now").click()
    expect(page.get_by_role("status")).to_have_text("Your plan has been canceled.")
    page.get_by_role("link", name="Return to Textwise").click()
    reload_until(page, "[data-test=sending-block]", "Your subscription ended")
    assert account_of(organization).subscription_status == "canceled"


def reload_until(page, selector, text, timeout=20.0):
    """The billing page is not live: reload it until the webhook's change shows."""
    deadline = time.monotonic() + timeout
    while True:
        locator = page.locator(selector)
        if locator.count() and text in locator.first.inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed {text!r}")
        time.sleep(0.5)
        page.reload()
