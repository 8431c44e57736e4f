"""The operator console: each organization's billing at a glance, and the actions support
takes (grant messages, extend the grace period, comp), each written to the audit log."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from billing import allowance, selectors
from billing.models import BillingAccount, StripeEvent
from billing.usage import record_usage
from organizations.models import AuditLog
from tests.billing.conftest import put_on_plan

CHANGELIST = "/admin/billing/billingorganization/"


@pytest.fixture
def staff_client(users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["staff"])
    return client


def act(client, action, organizations, **form):
    return client.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [o.pk for o in organizations],
            "apply": "1",
            **form,
        },
        follow=True,
    )


def test_the_console_lists_plan_status_usage_and_stripe_ids(staff_client, acme, globex, standard):
    put_on_plan(acme, standard)
    allowance.period_row(acme)
    record_usage(acme, 321, reference="run:1")
    page = staff_client.get(CHANGELIST)
    rows = {o.slug: o for o in page.context["cl"].result_list}
    assert set(rows) == {"acme", "globex"}
    assert rows["acme"].usage == 321
    text = page.content.decode()
    assert "Standard" in text and "cus_test" in text and "sub_test" in text
    assert "Choose a plan" in text  # globex cannot send yet, and says why

    StripeEvent.objects.create(
        event_id="evt_1", type="invoice.paid", created=timezone.now(), payload={},
        organization=acme, processed_at=timezone.now(),
    )  # fmt: skip
    detail = staff_client.get(f"{CHANGELIST}{acme.pk}/change/").content.decode()
    assert "evt_1" in detail and "invoice.paid" in detail


def test_granting_extra_messages_lets_a_blocked_organization_send_and_is_audited(
    staff_client, acme, standard, users
):
    put_on_plan(acme, standard, messages=100)
    allowance.reserve(acme, 100)
    assert selectors.sending_block(acme) is not None

    page = act(staff_client, "grant_extra_messages", [acme], messages=500, reason="Goodwill")

    assert "500 messages granted; this period&#x27;s limit is 600." in page.content.decode()
    assert selectors.sending_block(acme) is None
    entry = AuditLog.objects.get(organization=acme, action="billing.messages_granted")
    assert entry.actor == users["staff"]
    assert entry.data["messages"] == 500 and entry.data["reason"] == "Goodwill"


def test_extending_the_grace_period_restores_sending_and_is_audited(
    staff_client, acme, standard, users
):
    account = put_on_plan(acme, standard, status="past_due")
    BillingAccount.objects.filter(pk=account.pk).update(
        payment_failed_at=timezone.now() - dt.timedelta(days=9),
        grace_until=timezone.now() - dt.timedelta(days=2),
    )
    assert "grace period is over" in selectors.sending_block(acme)

    act(staff_client, "extend_grace_period", [acme], days=3, reason="Card on its way")

    assert selectors.sending_block(acme) is None
    account.refresh_from_db()
    assert account.grace_until > timezone.now() + dt.timedelta(days=2, hours=23)
    entry = AuditLog.objects.get(organization=acme, action="billing.grace_extended")
    assert (entry.actor, entry.data["days"]) == (users["staff"], 3)


def test_comping_an_organization_lets_it_send_and_is_audited_once(
    staff_client, globex, accelerator, users
):
    act(staff_client, "comp_organization", [globex], plan=accelerator.pk, reason="Partner")
    act(staff_client, "comp_organization", [globex], plan=accelerator.pk, reason="Partner")

    assert selectors.sending_block(globex) is None
    assert allowance.reserve(globex, 6000) == accelerator.monthly_messages
    assert AuditLog.objects.filter(organization=globex, action="billing.comped").count() == 1
    act(staff_client, "end_comp", [globex])
    assert selectors.sending_block(globex).startswith("Choose a plan")
    assert AuditLog.objects.filter(organization=globex, action="billing.comp_ended").count() == 1


def test_an_action_that_cannot_apply_says_why(staff_client, globex):
    page = act(staff_client, "extend_grace_period", [globex], days=3, reason="x")
    assert "Globex Shop has no failed payment to give grace for." in page.content.decode()
    assert not AuditLog.objects.filter(action="billing.grace_extended").exists()


def test_customers_cannot_reach_the_console(acme, users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["acme_owner"])
    assert client.get(CHANGELIST).status_code == 302  # to the admin's sign-in
