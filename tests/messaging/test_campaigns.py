"""Campaign audiences, schedules and state changes, and the dispatcher's decisions at the moment
of sending (everything up to the provider call, which tests/messaging/test_sending.py covers)."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing import services as billing_services
from messaging import campaigns, dispatch, services
from messaging.models import Campaign, CampaignRun, ContactList, Message, Segment
from tests.a2p.factories import registered_number
from tests.messaging.conftest import new_phone

NY = ZoneInfo("America/New_York")
PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
TEN = dt.time(10)
WEEKLY_AT_TEN = {"schedule": "recurring", "local_time": TEN, "repeat": "weekly"}
MONTHLY_AT_TEN = {"schedule": "recurring", "local_time": TEN, "repeat": "monthly"}


@pytest.fixture
def number(acme):
    """acme able to send: on a plan, with a number."""
    billing_services.comp_organization(acme, reason="tests")
    return registered_number(acme, "+13055550100")


def campaign(**fields):
    data = {"name": "Spring sale", "body": "Hi {first_name|there}, 20% off today!", **fields}
    lists = data.pop("lists", [])
    created = Campaign.objects.create(**data)
    created.lists.set(lists)
    return created


# --- audience ---------------------------------------------------------------------------------


def test_audience_is_lists_segments_tags_minus_exclusions_subscribed_only(make_contact):
    in_list = make_contact(first_name="A")
    tagged = make_contact(first_name="B", tags=["vip"])
    both = make_contact(first_name="C", tags=["vip"])
    excluded = make_contact(first_name="D", tags=["vip", "staff"])
    unsubscribed = make_contact(first_name="E", tags=["vip"], subscribed=False)
    spring = ContactList.objects.create(name="Spring")
    services.add_to_list(spring, services.Contact.objects.filter(pk__in=[in_list.pk, both.pk]))
    c = campaign(lists=[spring], tags=["vip"], exclude_tags=["staff"])

    recipients = set(campaigns.audience(c).values_list("first_name", flat=True))

    assert recipients == {"A", "B", "C"}
    summary = campaigns.summarize_audience(campaigns.AudienceSpec.of(c), c.body)
    assert (summary.matching, summary.recipients, summary.not_subscribed) == (4, 3, 1)
    assert summary.messages_each == 1 and summary.messages_total == 3
    assert unsubscribed.pk and excluded.pk and tagged.pk


def test_segments_and_send_to_all(make_contact):
    make_contact(first_name="Rosa")
    make_contact(first_name="Ben")
    make_contact(first_name="Gone", subscribed=False)
    rosas = Segment.objects.create(
        name="Rosas",
        rules={"conditions": [{"field": "first_name", "op": "equals", "value": "rosa"}]},
    )
    by_segment = campaign()
    by_segment.segments.set([rosas])
    assert list(campaigns.audience(by_segment).values_list("first_name", flat=True)) == ["Rosa"]
    everyone = campaign(send_to_all=True, exclude_tags=[])
    assert campaigns.audience(everyone).count() == 2


def test_mms_costs_three_messages_each(make_contact):
    make_contact(tags=["vip"])
    spec = campaigns.AudienceSpec(tags=("vip",))
    assert campaigns.summarize_audience(spec, "Hi", has_media=True).messages_total == 3


# --- validation and schedules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"body": "  "}, "body", "Write the message"),
        ({"body": "Hi {frist_name}"}, "body", "Unknown merge field: {frist_name}"),
        ({"body": "x" * 1601}, "body", "Too long"),
        ({"schedule": "later"}, "send_at", "Choose when"),
        ({"schedule": "later", "send_at": PAST}, "send_at", "has passed"),
        ({"schedule": "recurring"}, "local_time", "time of day"),
        ({**WEEKLY_AT_TEN, "repeat_weekday": None}, "repeat_weekday", "day of the week"),
        ({**MONTHLY_AT_TEN, "repeat_day": 31}, "repeat_day", "1 to 28"),
        ({"schedule": "local", "local_time": TEN}, "local_date", "Choose the date"),
    ],
)  # fmt: skip
def test_campaigns_that_cannot_be_sent_say_why(in_acme, fields, field, message):
    c = campaign(**fields)
    with pytest.raises(ValidationError) as excinfo:
        campaigns.schedule_campaign(c)
    assert message in " ".join(excinfo.value.message_dict[field])
    c.refresh_from_db()
    assert c.status == Campaign.Status.DRAFT and not PeriodicTask.objects.exists()


def test_a_one_off_schedule_is_a_clocked_beat_task_carrying_the_tenant(in_acme):
    when = timezone.now() + dt.timedelta(hours=2)
    c = campaign(schedule="later", send_at=when)

    assert campaigns.schedule_campaign(c) is None

    c.refresh_from_db()
    task = PeriodicTask.objects.get(pk=c.periodic_task_id)
    assert (task.task, task.one_off, task.clocked.clocked_time) == (
        "messaging.tasks.fire_campaign", True, when
    )  # fmt: skip
    assert json.loads(task.headers) == {"_schema_name": "acme"}
    assert json.loads(task.kwargs) == {"campaign_id": c.pk}
    assert c.status == Campaign.Status.SCHEDULED


def test_a_recurring_schedule_is_a_crontab_in_the_organizations_zone(in_acme):
    c = campaign(schedule="recurring", repeat="weekly", repeat_weekday=0, local_time=dt.time(9, 30))
    campaigns.schedule_campaign(c)
    crontab = PeriodicTask.objects.get(pk=Campaign.objects.get(pk=c.pk).periodic_task_id).crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month) == (
        "30", "9", "1", "*"
    )  # fmt: skip
    assert str(crontab.timezone) == "America/New_York"


def test_recurrence_slots_are_deterministic(in_acme):
    c = campaign(schedule="recurring", repeat="monthly", repeat_day=15, local_time=dt.time(9, 0))
    now = dt.datetime(2026, 6, 20, 12, 0, tzinfo=NY)
    assert campaigns.latest_recurrence(c, now) == dt.datetime(2026, 6, 15, 9, 0, tzinfo=NY)
    assert campaigns.next_recurrence(c, now) == dt.datetime(2026, 7, 15, 9, 0, tzinfo=NY)
    daily = campaign(schedule="recurring", repeat="daily", local_time=dt.time(9, 0))
    early = dt.datetime(2026, 6, 20, 8, 59, tzinfo=NY)
    assert campaigns.latest_recurrence(daily, early) == dt.datetime(2026, 6, 19, 9, 0, tzinfo=NY)


def test_a_schedule_firing_twice_starts_one_run(in_acme):
    c = campaign(schedule="recurring", repeat="daily", local_time=dt.time(9, 0))
    campaigns.schedule_campaign(c)
    now = dt.datetime(2026, 6, 20, 9, 0, 5, tzinfo=NY)
    first = campaigns.fire_scheduled(c.pk, now)
    again = campaigns.fire_scheduled(c.pk, now + dt.timedelta(seconds=40))
    assert first.pk == again.pk and CampaignRun.objects.count() == 1
    tomorrow = campaigns.fire_scheduled(c.pk, now + dt.timedelta(days=1))
    assert tomorrow.pk != first.pk


def test_send_now_starts_a_run_with_a_copy_of_the_text(in_acme):
    c = campaign()
    run = campaigns.schedule_campaign(c)
    c.body = "Changed after sending"
    c.save()
    run.refresh_from_db()
    assert run.body == "Hi {first_name|there}, 20% off today!"
    with pytest.raises(ValidationError, match="can't be sent"):
        campaigns.schedule_campaign(Campaign.objects.get(pk=c.pk))


def test_pause_resume_cancel(in_acme):
    c = campaign(schedule="later", send_at=timezone.now() + dt.timedelta(days=1))
    campaigns.schedule_campaign(c)
    campaigns.pause_campaign(c)
    assert c.status == Campaign.Status.PAUSED
    assert PeriodicTask.objects.get(pk=c.periodic_task_id).enabled is False
    campaigns.resume_campaign(c)
    assert c.status == Campaign.Status.SCHEDULED
    assert PeriodicTask.objects.get(pk=c.periodic_task_id).enabled is True
    campaigns.cancel_campaign(c)
    assert c.status == Campaign.Status.CANCELED and not PeriodicTask.objects.exists()
    with pytest.raises(ValidationError, match="already finished"):
        campaigns.cancel_campaign(c)


# --- materialising and claiming ---------------------------------------------------------------


@pytest.fixture
def started_run(make_contact, number):
    def start(contacts, **fields):
        c = campaign(tags=["sale"], **fields)
        for contact in contacts:
            services.add_tag(services.Contact.objects.filter(pk=contact.pk), "sale")
        run = CampaignRun.objects.create(
            campaign=c, occurrence=timezone.now(), body=c.body,
            per_recipient_time=c.schedule == Campaign.Schedule.LOCAL,
        )  # fmt: skip
        dispatch.materialize_run(run)
        return run

    return start


def test_materialising_writes_one_message_per_subscribed_recipient_once(make_contact, started_run):
    people = [make_contact() for _ in range(5)]
    services.record_opt_out(people[0], services.Consent(method="keyword", source="stop"))

    run = started_run(people)
    again = dispatch.materialize_run(run)

    messages = Message.objects.filter(run=run)
    assert messages.count() == again == run.recipients == 4
    assert set(messages.values_list("to_phone", flat=True)) == {p.phone for p in people[1:]}
    assert set(messages.values_list("status", flat=True)) == {"pending"}
    assert set(messages.values_list("from_phone", flat=True)) == {"+13055550100"}


def test_local_time_campaigns_wait_for_each_recipients_own_time(make_contact, started_run):
    eastern = make_contact(timezone_name="America/New_York")
    pacific = make_contact(timezone_name="America/Los_Angeles")
    run = started_run(
        [eastern, pacific], schedule="local", local_date=dt.date(2026, 7, 1), local_time=dt.time(10)
    )
    send_after = dict(Message.objects.filter(run=run).values_list("contact_id", "send_after"))
    assert send_after[eastern.pk] == dt.datetime(2026, 7, 1, 14, 0, tzinfo=dt.UTC)
    assert send_after[pacific.pk] == dt.datetime(2026, 7, 1, 17, 0, tzinfo=dt.UTC)


def at_noon_in_new_york():
    return dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)


def test_claiming_renders_each_text_and_adds_the_first_message_disclosure(
    make_contact, started_run
):
    new = make_contact(first_name="Rosa")
    seasoned = make_contact(first_name="")
    services.Contact.objects.filter(pk=seasoned.pk).update(first_messaged_at=timezone.now())
    run = started_run([new, seasoned])

    claimed = {c.message.contact_id: c for c in dispatch.claim_batch(run, at_noon_in_new_york())}

    assert claimed[new.pk].body == "Acme Boutique: Hi Rosa, 20% off today!\nReply STOP to opt out."
    assert claimed[seasoned.pk].body == "Hi there, 20% off today!"
    rows = Message.objects.filter(run=run)
    assert set(rows.values_list("status", flat=True)) == {"sending"}
    assert all(m.claimed_at and m.attempts == 1 and m.segments == 1 for m in rows)


def test_consent_is_checked_again_at_the_moment_of_sending(make_contact, started_run):
    stays, leaves = make_contact(), make_contact()
    run = started_run([stays, leaves])
    services.record_opt_out(leaves, services.Consent(method="keyword", source="stop"))

    claimed = dispatch.claim_batch(run, at_noon_in_new_york())

    assert [c.message.contact_id for c in claimed] == [stays.pk]
    skipped = Message.objects.get(run=run, contact=leaves)
    assert (skipped.status, skipped.error_reason) == ("skipped", "Unsubscribed before it was sent")


def test_quiet_hours_hold_messages_until_the_window_opens(make_contact, started_run):
    florida = make_contact("+13055550160")  # 8pm rule
    new_york = make_contact("+12125550161")
    run = started_run([florida, new_york])
    evening = dt.datetime(2026, 6, 16, 0, 30, tzinfo=dt.UTC)  # 8:30 pm in both

    claimed = dispatch.claim_batch(run, evening)

    assert [c.message.contact_id for c in claimed] == [new_york.pk]
    held = Message.objects.get(run=run, contact=florida)
    assert held.status == "pending"
    assert held.send_after == dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)  # 8 am next day
    assert dispatch.claim_batch(run, evening) == []  # not due before then


def test_an_organizations_narrower_window_is_honoured(make_contact, started_run):
    settings_row = services.compliance_settings()
    settings_row.quiet_hours_start, settings_row.quiet_hours_end = dt.time(10), dt.time(18)
    settings_row.save()
    run = started_run([make_contact("+12125550162")])
    assert dispatch.claim_batch(run, dt.datetime(2026, 6, 15, 13, 30, tzinfo=dt.UTC)) == []  # 9:30


def test_two_dispatchers_never_claim_the_same_rows(make_contact, started_run):
    run = started_run([make_contact() for _ in range(6)])
    first = dispatch.claim_batch(run, at_noon_in_new_york(), limit=4)
    second = dispatch.claim_batch(run, at_noon_in_new_york(), limit=4)
    ids = [c.message.pk for c in first] + [c.message.pk for c in second]
    assert len(ids) == len(set(ids)) == 6


def test_canceling_cancels_what_has_not_been_sent(make_contact, started_run):
    run = started_run([make_contact() for _ in range(3)])
    campaign_ = run.campaign
    campaign_.status = Campaign.Status.SENDING
    campaign_.save()
    dispatch.claim_batch(run, at_noon_in_new_york(), limit=1)

    assert campaigns.cancel_campaign(campaign_) == 2
    statuses = sorted(Message.objects.filter(run=run).values_list("status", flat=True))
    assert statuses == ["canceled", "canceled", "sending"]
    assert new_phone()
