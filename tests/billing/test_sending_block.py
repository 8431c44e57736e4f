"""billing.selectors.sending_block: the reason, in plain words, why an organization may not send
right now."""

import datetime as dt

from django.utils import timezone

from billing import allowance, selectors, services
from billing.models import BillingAccount
from tests.billing.conftest import put_on_plan


def test_no_plan_yet(acme):
    assert selectors.sending_block(acme) == (
        "Choose a plan on the Billing page to start sending messages."
    )


def test_an_active_plan_may_send(acme, standard):
    put_on_plan(acme, standard)
    assert selectors.sending_block(acme) is None


def test_a_subscription_that_ended(acme, standard):
    account = put_on_plan(acme, standard, status="canceled")
    BillingAccount.objects.filter(pk=account.pk).update(ended_at=timezone.now())
    assert selectors.sending_block(acme).startswith("Your subscription ended on ")
    assert "your contacts and campaigns are kept" in selectors.sending_block(acme)


def test_payment_failed_within_then_past_the_grace_period(acme, standard):
    account = put_on_plan(acme, standard, status="past_due")
    now = timezone.now()
    BillingAccount.objects.filter(pk=account.pk).update(
        payment_failed_at=now - dt.timedelta(days=2), grace_until=now + dt.timedelta(days=5)
    )
    assert selectors.sending_block(acme) is None
    BillingAccount.objects.filter(pk=account.pk).update(grace_until=now - dt.timedelta(seconds=1))
    reason = selectors.sending_block(acme)
    assert "last payment failed" in reason and "grace period is over" in reason


def test_allowance_used_up_blocks_only_when_overage_is_blocked(acme, globex, standard):
    put_on_plan(acme, standard, messages=100)
    put_on_plan(globex, standard, messages=100, overage="billed")
    for organization in (acme, globex):
        allowance.reserve(organization, 100)
    assert selectors.sending_block(acme).startswith("You have used all 100 messages")
    assert selectors.sending_block(globex) is None


def test_a_comped_organization_sends_without_a_subscription(acme, accelerator, users):
    assert services.comp_organization(acme, accelerator, actor=users["staff"], reason="Partner")
    assert selectors.sending_block(acme) is None
    assert allowance.reserve(acme, 500) == 500
