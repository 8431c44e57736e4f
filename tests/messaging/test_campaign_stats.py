"""The numbers of a run's live page: deliveries per minute for the chart."""

import datetime as dt

import pytest
from django.utils import timezone

from messaging import campaign_stats
from messaging.models import Campaign, CampaignRun, Message

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def delivered(make_contact):
    """A run of eight messages, and a way to mark the next one delivered at a given time."""
    campaign = Campaign.objects.create(name="Spring sale", body="Hi!")
    run = CampaignRun.objects.create(campaign=campaign, occurrence=timezone.now(), body="Hi!")
    pending = Message.objects.bulk_create(
        Message(
            direction=Message.Direction.OUTBOUND,
            kind=Message.Kind.CAMPAIGN,
            contact=contact,
            run=run,
            to_phone=contact.phone,
        )
        for contact in (make_contact() for _ in range(8))
    )

    def at(when):
        message = pending.pop()
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.DELIVERED, status_changed_at=when
        )

    return run, at


def _chart(run):
    return {
        dt.datetime.fromisoformat(point["minute"]): point["delivered"]
        for point in campaign_stats._compute(run)["timeline"]
    }


def test_the_chart_counts_deliveries_per_minute_as_they_come(delivered):
    run, deliver = delivered
    now = timezone.now()
    this_minute = now.replace(second=0, microsecond=0)
    earlier = this_minute - 3 * MINUTE
    deliver(earlier + dt.timedelta(seconds=5))
    deliver(earlier + dt.timedelta(seconds=55))
    deliver(earlier + MINUTE)
    deliver(now)
    assert _chart(run) == {earlier: 2, earlier + MINUTE: 1, this_minute: 1}

    # Counted again each time: settled minutes once, what is new on top of them.
    deliver(now)
    deliver(now)
    assert _chart(run) == {earlier: 2, earlier + MINUTE: 1, this_minute: 3}
    assert _chart(run) == {earlier: 2, earlier + MINUTE: 1, this_minute: 3}


def test_a_minute_just_over_is_counted_again_for_late_deliveries(delivered, monkeypatch):
    run, deliver = delivered
    now = timezone.now().replace(second=1, microsecond=0)
    monkeypatch.setattr(campaign_stats.timezone, "now", lambda: now)
    last_minute = now.replace(second=0) - MINUTE
    deliver(now - dt.timedelta(seconds=2))
    assert _chart(run) == {last_minute: 1}
    # Dated in the minute that just ended, committed after the first count (its statement
    # started before the minute ended): not lost.
    deliver(now - dt.timedelta(seconds=2))
    assert _chart(run) == {last_minute: 2}
