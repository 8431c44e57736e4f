"""The customer's billing pages: what each role may do, isolation between organizations, the
banner, and a fixed number of queries whatever the usage."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import allowance
from billing.models import CheckoutSession, InvoiceRecord
from billing.usage import record_usage
from tests.billing.conftest import put_on_plan
from tests.conftest import workspace_client


def test_the_plans_page_puts_accelerator_first_and_says_what_happens_past_the_allowance(
    acme_client,
):
    page = acme_client.get("/billing/plans/").content.decode()
    assert page.index("Accelerator") < page.index("Standard")
    assert "Recommended" in page
    assert "$150</strong> / month + $597 once for onboarding" in page
    assert "5,000 messages every month" in page
    assert "sending stops until your next month begins" in page
    assert "each extra message costs 3¢" in page
    plans = page[page.index('<main class="content">') :]  # the sidebar's "Segments" are audiences
    for hidden_word in ("credit", "segment"):
        assert hidden_word not in plans.lower()


@pytest.mark.parametrize("role", ["acme_admin", "acme_member"])
def test_only_owners_manage_billing(acme, users, role, standard):
    client = workspace_client(acme, users[role])
    assert client.get("/billing/").status_code == 200  # everyone sees the plan and usage
    for path in ("/billing/checkout/accelerator/", "/billing/portal/", "/billing/cancel/",
                 "/billing/plan/", "/billing/overage/"):  # fmt: skip
        assert client.post(path, {"plan": "standard", "overage": "billed"}).status_code == 403
    assert "Choose Accelerator" not in client.get("/billing/plans/").content.decode()
    assert not CheckoutSession.objects.exists()


def test_another_organizations_billing_is_not_found(acme, globex, users, standard):
    put_on_plan(acme, standard)
    session = CheckoutSession.objects.create(
        organization=acme, plan=standard, stripe_session_id="cs_test_acme"
    )
    globex_owner = workspace_client(globex, users["globex_owner"])
    assert (
        globex_owner.get(
            f"/billing/checkout-done/?session_id={session.stripe_session_id}"
        ).status_code
        == 404
    )
    assert (
        globex_owner.get(
            f"/billing/checkout-status/?session_id={session.stripe_session_id}"
        ).status_code
        == 404
    )
    # acme's owner on globex's domain: not a member there.
    acme_owner_at_globex = workspace_client(globex, users["acme_owner"])
    assert acme_owner_at_globex.get("/billing/").status_code == 404
    assert acme_owner_at_globex.post("/billing/cancel/").status_code == 404


def test_the_billing_page_shows_usage_against_the_allowance_with_a_daily_chart(
    acme, acme_client, standard
):
    put_on_plan(acme, standard, messages=1000)
    record_usage(acme, 420, reference="run:1")
    record_usage(acme, 30, reference="run:2")
    page = acme_client.get("/billing/").content.decode()
    assert "450</strong> of 1,000 messages used" in page
    assert 'aria-valuenow="450"' in page
    assert "<rect" in page and "450 messages</title>" in page
    assert "Renews on" in page
    assert "Manage payment" in page


def test_the_billing_page_takes_the_same_queries_with_more_usage_and_invoices(
    acme, acme_client, standard
):
    put_on_plan(acme, standard)
    acme_client.get("/billing/")  # warm: the period row is created on first use

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert acme_client.get("/billing/").status_code == 200
        return len(captured)

    before = queries()
    for day in range(30):
        record_usage(acme, 500, reference=f"run:{day}")
        InvoiceRecord.objects.create(
            organization=acme, stripe_invoice_id=f"in_{day}", status="paid", total_cents=15000,
            created=acme.created_at,
        )  # fmt: skip
    assert queries() == before
    assert before <= 11  # host, user, membership, 6 of billing, the plans, the banner


def test_the_banner_warns_at_80_percent_and_costs_one_query(acme, acme_client, standard):
    put_on_plan(acme, standard, messages=1000)
    assert allowance.reserve(acme, 700) == 700
    assert "billing-banner" not in acme_client.get("/").content.decode()
    allowance.reserve(acme, 150)
    with CaptureQueriesContext(connection) as captured:
        home = acme_client.get("/").content.decode()
    assert "You have used 85% of this period&#x27;s messages." in home
    assert sum("billing_billingaccount" in q["sql"] for q in captured.captured_queries) == 1
    assert sum("billing_allowanceperiod" in q["sql"] for q in captured.captured_queries) == 1

    allowance.reserve(acme, 500)
    assert "You have used all 1,000 messages this period." in acme_client.get("/").content.decode()


def test_without_a_plan_the_banner_and_billing_page_say_to_choose_one(acme_client):
    assert "Choose a plan" in acme_client.get("/").content.decode()
    assert "No active plan." in acme_client.get("/billing/").content.decode()


def test_owner_turns_on_billing_per_message_and_it_is_audited(acme, acme_client, standard):
    put_on_plan(acme, standard)
    response = acme_client.post("/billing/overage/", {"overage": "billed"}, follow=True)
    assert "each extra message costs 3¢" in response.content.decode()
    assert acme.billing_account.__class__.objects.get(organization=acme).overage == "billed"
    assert acme.audit_log.filter(action="billing.overage_changed").exists()
