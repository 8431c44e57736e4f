"""The allowance contract with the sending pipeline: reserve, release, and the boundary when
workers race for the last messages."""

import threading

import pytest
from django.core import mail
from django.db import connection, connections

from billing import allowance
from billing.models import AllowancePeriod, BillingAccount
from billing.usage import record_usage
from organizations.models import Organization
from tests.billing.conftest import put_on_plan


def test_reserve_grants_up_to_the_allowance_then_nothing(acme, standard):
    put_on_plan(acme, standard, messages=1200)
    assert allowance.reserve(acme, 500) == 500
    assert allowance.reserve(acme, 500) == 500
    assert allowance.reserve(acme, 500) == 200
    assert allowance.reserve(acme, 500) == 0


def test_released_messages_can_be_reserved_again(acme, standard):
    put_on_plan(acme, standard, messages=600)
    assert allowance.reserve(acme, 500) == 500
    allowance.release(acme, 200)  # the carrier refused 200 of them
    assert allowance.reserve(acme, 500) == 300


def test_release_never_goes_below_zero(acme, standard):
    put_on_plan(acme, standard, messages=100)
    allowance.release(acme, 50)
    assert allowance.reserve(acme, 500) == 100


@pytest.mark.parametrize("status", ["canceled", "incomplete", "past_due"])
def test_no_plan_or_a_subscription_that_may_not_send_grants_nothing(acme, globex, standard, status):
    assert allowance.reserve(acme, 10) == 0
    put_on_plan(globex, standard, status=status)  # past_due with no grace period running
    assert allowance.reserve(globex, 10) == 0


def test_billed_per_message_grants_everything_and_still_counts(acme, standard):
    put_on_plan(acme, standard, messages=100, overage="billed")
    assert allowance.reserve(acme, 500) == 500
    assert allowance.reserve(acme, 500) == 500
    assert AllowancePeriod.objects.get(organization=acme).reserved == 1000


def test_operator_grant_raises_this_periods_limit(acme, standard):
    put_on_plan(acme, standard, messages=100)
    assert allowance.reserve(acme, 500) == 100
    allowance.grant_extra_messages(acme, 250)
    assert allowance.reserve(acme, 500) == 250


def test_the_renewed_period_starts_with_a_fresh_allowance(acme, standard):
    account = put_on_plan(acme, standard, messages=100)
    assert allowance.reserve(acme, 500) == 100
    BillingAccount.objects.filter(pk=account.pk).update(
        current_period_start=account.current_period_end,
        current_period_end=account.current_period_end + (account.current_period_end
                                                        - account.current_period_start),
    )  # fmt: skip
    assert allowance.reserve(acme, 500) == 100


def test_a_late_renewal_webhook_rolls_the_period_forward_on_the_same_day(acme, standard):
    import datetime as dt

    account = BillingAccount(
        current_period_start=dt.datetime(2026, 1, 31, 10, tzinfo=dt.UTC),
        current_period_end=dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC),
    )
    start, end = allowance.current_period(account, dt.datetime(2026, 3, 5, tzinfo=dt.UTC))
    assert (start, end) == (
        dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 31, 10, tzinfo=dt.UTC),
    )


def test_warnings_at_80_and_100_percent_are_emailed_once_per_period(
    acme, standard, tasks_inline, django_capture_on_commit_callbacks
):
    put_on_plan(acme, standard, messages=1000)
    for batch in (500, 300, 100, 50, 50, 500):
        with django_capture_on_commit_callbacks(execute=True):
            allowance.reserve(acme, batch)
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        "Acme Boutique: 80% of this period's messages used",
        "Acme Boutique: you have used all your messages this period",
    ]
    assert mail.outbox[0].to == ["owner@acme.test"]
    assert "turn on billing per message" in mail.outbox[1].body


def test_true_up_gives_back_a_crashed_workers_reservation(acme, standard):
    import datetime as dt

    from django.utils import timezone

    put_on_plan(acme, standard, messages=1000)
    assert allowance.reserve(acme, 500) == 500  # sent and accepted
    record_usage(acme, 500, reference="run:1")
    assert allowance.reserve(acme, 500) == 500  # the worker died before sending these
    assert allowance.true_up_reservations() == 0  # too recent: a batch may be in flight
    later = timezone.now() + dt.timedelta(minutes=16)
    assert allowance.true_up_reservations(now=later) == 1
    assert allowance.reserve(acme, 1000) == 500


# --- The boundary under concurrency: real concurrent database sessions -----------------------


@pytest.fixture
def acme_on_a_plan_committed(committed, world):
    """acme with an active plan whose current period allows 1,000 messages, committed so that
    other database sessions see it; removed afterwards."""
    from billing.models import Plan

    acme = Organization.objects.get(pk=world.acme_id)
    put_on_plan(acme, Plan.objects.get(code="standard"))
    period = allowance.period_row(acme)
    AllowancePeriod.objects.filter(pk=period.pk).update(allowance=1000)
    yield acme
    AllowancePeriod.objects.filter(organization=acme).delete()
    BillingAccount.objects.filter(organization=acme).delete()


def race(workers: int, reserve_one_batch) -> list[int]:
    """Run ``workers`` threads (each its own database session) released at the same moment,
    each reserving batches until it is refused; returns every grant."""
    barrier = threading.Barrier(workers)
    grants, errors = [], []

    def work():
        try:
            barrier.wait()
            while granted := reserve_one_batch():
                grants.append(granted)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return grants


def test_racing_workers_never_exceed_the_allowance(acme_on_a_plan_committed):
    acme = acme_on_a_plan_committed

    def reserve_one_batch():
        connection.set_schema_to_public()
        return allowance.reserve(acme, 70)

    grants = race(8, reserve_one_batch)

    assert sum(grants) == 1000  # exactly the allowance: tolerance zero
    assert sorted(grants).count(70) == 14 and 20 in grants  # 14 full batches and the last 20
    assert AllowancePeriod.objects.get(organization=acme).reserved == 1000


def test_two_workers_racing_for_the_last_messages_share_them(acme_on_a_plan_committed):
    acme = acme_on_a_plan_committed
    assert allowance.reserve(acme, 990) == 990  # ten messages left

    grants = race(2, lambda: allowance.reserve(acme, 500))

    assert grants == [10]  # one worker got the last ten, the other nothing
    assert AllowancePeriod.objects.get(organization=acme).reserved == 1000
