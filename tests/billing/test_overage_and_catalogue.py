"""Overage reported to Stripe's meter (aggregated per organization and hour, counted once) and
the catalogue sync (a second run creates nothing)."""

import datetime as dt

import pytest
from django.utils import timezone

from billing import allowance
from billing.catalogue import sync_catalogue
from billing.models import AllowancePeriod, BillingAccount, OverageReport, Plan, UsageRecord
from billing.overage import report_overage
from tests.billing.conftest import put_on_plan


def sdk_posts(stripe_sandbox, after: int) -> list[dict]:
    entries = stripe_sandbox.control("GET", f"journal?after={after}")["entries"]
    return [entry for entry in entries if entry["method"] == "POST"]


def journal_mark(stripe_sandbox) -> int:
    return stripe_sandbox.control("GET", "journal?after=0")["last"]


def test_syncing_the_catalogue_twice_creates_nothing_the_second_time(stripe_sandbox, db):
    first = sync_catalogue()
    ids = dict(Plan.objects.values_list("code", "stripe_price_id"))
    mark = journal_mark(stripe_sandbox)

    second = sync_catalogue()

    assert second.created == []
    assert len(second.found) == len(first.created) + len(first.found)
    assert sdk_posts(stripe_sandbox, mark) == []
    assert dict(Plan.objects.values_list("code", "stripe_price_id")) == ids
    accelerator = Plan.objects.get(code="accelerator")
    assert accelerator.stripe_setup_price_id and accelerator.stripe_overage_price_id
    assert not Plan.objects.get(code="standard").stripe_setup_price_id


def test_a_changed_price_gets_a_new_stripe_price_under_the_same_lookup_key(
    catalogue, stripe_gateway
):
    old_price = catalogue["standard"].stripe_price_id
    Plan.objects.filter(code="standard").update(monthly_price_cents=17500)
    sync_catalogue()
    new_price = Plan.objects.get(code="standard").stripe_price_id
    assert new_price != old_price
    assert (
        stripe_gateway.price_by_lookup_key("textwise_standard_monthly").unit_amount_cents == 17500
    )
    Plan.objects.filter(code="standard").update(monthly_price_cents=15000)
    sync_catalogue()  # back to the original price for the other tests


@pytest.fixture
def billed_acme(acme, catalogue, stripe_gateway):
    """acme on Standard with 1,000 messages, billed per message past them, with a real Stripe
    customer to report to."""
    import uuid

    customer = stripe_gateway.create_customer(
        email="owner@acme.test", idempotency_key=f"overage-test:{uuid.uuid4().hex}"
    )
    account = put_on_plan(acme, catalogue["standard"], messages=1000, overage="billed")
    BillingAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer.id)
    allowance.period_row(acme)
    return acme, customer


def meter_total(stripe_gateway, customer_id, start):
    meter = next(m for m in stripe_gateway.list_meters() if m.event_name == "textwise_messages")
    return stripe_gateway.meter_usage_total(
        meter.id, customer_id=customer_id, start=start, end=timezone.now() + dt.timedelta(hours=2)
    )


def sent_earlier(organization, messages, *, ago):
    """A batch the pipeline recorded ``ago`` (the ledger takes the time it is given)."""
    UsageRecord.objects.create(
        organization=organization, messages=messages, recorded_at=timezone.now() - ago
    )


def test_overage_is_reported_once_per_hour_and_counted_once(billed_acme, stripe_gateway):
    acme, customer = billed_acme
    period = AllowancePeriod.objects.get(organization=acme)
    # Batches placed by the hour, so the test means the same at any minute of the clock.
    into_this_hour = timezone.now() - timezone.now().replace(minute=0, second=0, microsecond=0)
    for _ in range(5):  # 1,250 messages three hours ago: 250 past the allowance
        sent_earlier(
            acme, 250, ago=dt.timedelta(hours=3) + into_this_hour - dt.timedelta(minutes=1)
        )
    sent_earlier(acme, 40, ago=dt.timedelta(minutes=30) + into_this_hour)  # the last full hour
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)

    assert report_overage(now=an_hour_ago) == 1  # one aggregated event, not five
    assert report_overage(now=an_hour_ago) == 0  # a second run in the same hour: nothing new
    report = OverageReport.objects.get(organization=acme)
    assert report.messages == 250 and report.sent_at is not None
    assert meter_total(stripe_gateway, customer.id, period.starts_at) == 250

    assert report_overage() == 1  # the next hour brings the 40 sent since
    assert meter_total(stripe_gateway, customer.id, period.starts_at) == 290


def test_a_report_retried_after_stripe_failed_is_counted_once(
    billed_acme, stripe_gateway, stripe_sandbox
):
    acme, customer = billed_acme
    period = AllowancePeriod.objects.get(organization=acme)
    sent_earlier(acme, 1100, ago=dt.timedelta(hours=2))
    stripe_sandbox.fault(status=500, count=1, path="/v1/billing/meter_events")

    with pytest.raises(Exception):  # noqa: B017 - the task retries on any gateway error
        report_overage()
    assert OverageReport.objects.get(organization=acme).sent_at is None

    assert report_overage() == 1  # the same report, same identifier
    report = OverageReport.objects.get(organization=acme)
    assert (report.messages, report.sent_at is not None) == (100, True)
    assert meter_total(stripe_gateway, customer.id, period.starts_at) == 100
    # Stripe itself keeps one event per identifier: sending it yet again changes nothing.
    stripe_gateway.create_meter_event(
        event_name="textwise_messages", stripe_customer_id=customer.id, value=100,
        identifier=report.identifier, timestamp=report.through - dt.timedelta(seconds=1),
    )  # fmt: skip
    assert meter_total(stripe_gateway, customer.id, period.starts_at) == 100


def test_blocked_organizations_report_no_overage(acme, catalogue):
    put_on_plan(acme, catalogue["standard"], messages=10)
    allowance.period_row(acme)
    sent_earlier(acme, 500, ago=dt.timedelta(hours=2))
    assert report_overage() == 0
    assert not OverageReport.objects.exists()
