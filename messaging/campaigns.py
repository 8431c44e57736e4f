"""Campaigns: who receives them, when, and the changes a person makes (schedule, pause,
resume, cancel, edit). Sending itself is messaging.dispatch."""

import datetime as dt
import json
from dataclasses import dataclass
from functools import reduce
from operator import or_
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging.encoding import text_cost
from messaging.models import Campaign, CampaignRun, Contact, ContactListMembership, CustomField
from messaging.rendering import unknown_merge_fields
from messaging.segments import to_q

SCHEDULE_TASK = "messaging.tasks.fire_campaign"


# --- audience ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceSpec:
    send_to_all: bool = False
    list_ids: tuple = ()
    segment_rules: tuple = ()
    tags: tuple = ()
    exclude_list_ids: tuple = ()
    exclude_segment_rules: tuple = ()
    exclude_tags: tuple = ()

    @classmethod
    def of(cls, campaign: Campaign) -> "AudienceSpec":
        return cls.build(
            send_to_all=campaign.send_to_all,
            lists=campaign.lists.all(),
            segments=campaign.segments.all(),
            tags=campaign.tags,
            exclude_lists=campaign.exclude_lists.all(),
            exclude_segments=campaign.exclude_segments.all(),
            exclude_tags=campaign.exclude_tags,
        )

    @classmethod
    def build(cls, *, send_to_all, lists, segments, tags, exclude_lists, exclude_segments,
              exclude_tags) -> "AudienceSpec":  # fmt: skip
        return cls(
            send_to_all=bool(send_to_all),
            list_ids=tuple(x.pk for x in lists),
            segment_rules=tuple(x.rules for x in segments),
            tags=tuple(tags or ()),
            exclude_list_ids=tuple(x.pk for x in exclude_lists),
            exclude_segment_rules=tuple(x.rules for x in exclude_segments),
            exclude_tags=tuple(exclude_tags or ()),
        )


def audience_q(spec: AudienceSpec) -> Q:
    """Anyone in any of the chosen lists, segments or tags (or everyone), minus exclusions."""
    if spec.send_to_all:
        included = Q()
    else:
        parts = _membership_parts(spec.list_ids, spec.segment_rules, spec.tags)
        if not parts:
            return Q(pk__in=[])
        included = reduce(or_, parts)
    excluded = _membership_parts(
        spec.exclude_list_ids, spec.exclude_segment_rules, spec.exclude_tags
    )
    if excluded:
        included &= ~reduce(or_, excluded)
    return included


def _membership_parts(list_ids, segment_rules, tags) -> list[Q]:
    parts = []
    if list_ids:
        members = ContactListMembership.objects.filter(contact_list_id__in=list_ids)
        parts.append(Q(id__in=members.values("contact_id")))
    parts += [to_q(rules) for rules in segment_rules]
    if tags:
        parts.append(Q(tags__overlap=list(tags)))
    return parts


def audience(campaign: Campaign):
    """The contacts a run of this campaign texts now: subscribed ones only."""
    return Contact.objects.filter(
        audience_q(AudienceSpec.of(campaign)), status=Contact.Status.SUBSCRIBED
    )


@dataclass(frozen=True)
class AudienceSummary:
    matching: int  # everyone the lists, segments and tags name, each once
    recipients: int  # of them, subscribed: who will actually receive it
    messages_each: int  # messages per recipient, before merge fields are filled
    messages_total: int

    @property
    def not_subscribed(self):
        return self.matching - self.recipients


def summarize_audience(
    spec: AudienceSpec, body: str, *, has_media: bool = False
) -> AudienceSummary:
    from messaging.dispatch import MMS_MESSAGES

    matching = Contact.objects.filter(audience_q(spec)).order_by()
    recipients = matching.filter(status=Contact.Status.SUBSCRIBED).count()
    each = MMS_MESSAGES if has_media else text_cost(body).messages
    return AudienceSummary(matching.count(), recipients, each, each * recipients)


# --- validation -------------------------------------------------------------------------------


def validate_campaign(campaign: Campaign) -> None:
    """What must hold before a campaign may be scheduled; raises ValidationError."""
    errors = {}
    if not campaign.body.strip():
        errors["body"] = "Write the message."
    unknown = unknown_merge_fields(campaign.body, CustomField.objects.values_list("key", flat=True))
    if unknown:
        errors["body"] = "Unknown merge field: " + ", ".join("{" + name + "}" for name in unknown)
    if text_cost(campaign.body).segments > 10:
        errors["body"] = "Too long: keep it within 10 messages (about 1,500 characters)."
    now = timezone.now()
    if campaign.schedule == Campaign.Schedule.LATER:
        if campaign.send_at is None:
            errors["send_at"] = "Choose when to send it."
        elif campaign.send_at < now - dt.timedelta(minutes=1):
            errors["send_at"] = "That time has passed."
    needs_time = campaign.schedule in (Campaign.Schedule.LOCAL, Campaign.Schedule.RECURRING)
    if needs_time and campaign.local_time is None:
        errors["local_time"] = "Choose the time of day."
    if campaign.schedule == Campaign.Schedule.LOCAL and campaign.local_date is None:
        errors["local_date"] = "Choose the date."
    if campaign.schedule == Campaign.Schedule.RECURRING:
        if not campaign.repeat:
            errors["repeat"] = "Choose how often."
        elif campaign.repeat == Campaign.Repeat.WEEKLY and campaign.repeat_weekday is None:
            errors["repeat_weekday"] = "Choose the day of the week."
        elif (
            campaign.repeat == Campaign.Repeat.MONTHLY and not 1 <= (campaign.repeat_day or 0) <= 28
        ):
            errors["repeat_day"] = "Choose a day from 1 to 28 (every month has those)."
    if errors:
        raise ValidationError(errors)


# --- scheduling -------------------------------------------------------------------------------


def organization_zone() -> ZoneInfo:
    return ZoneInfo(connection.tenant.timezone)


def first_occurrence(campaign: Campaign) -> dt.datetime:
    """When the campaign's first run starts."""
    zone = organization_zone()
    if campaign.schedule == Campaign.Schedule.NOW:
        return timezone.now()
    if campaign.schedule == Campaign.Schedule.LATER:
        return campaign.send_at
    if campaign.schedule == Campaign.Schedule.LOCAL:
        # The run starts when the earliest recipient's local time arrives; each message then
        # waits for its own recipient's local time.
        return min(
            dt.datetime.combine(campaign.local_date, campaign.local_time, tzinfo=ZoneInfo(name))
            for name in _audience_zones(campaign, zone.key)
        )
    return next_recurrence(campaign, timezone.now())


def _audience_zones(campaign, default_zone):
    zones = set(audience(campaign).values_list("timezone", flat=True).distinct())
    return {z or default_zone for z in zones} or {default_zone}


def latest_recurrence(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    """The most recent slot of a recurring campaign at or before ``now`` (deterministic, so a
    retried firing finds the same run)."""
    zone = organization_zone()
    local_now = now.astimezone(zone)
    day = local_now.date()
    for _ in range(62):
        slot = dt.datetime.combine(day, campaign.local_time, tzinfo=zone)
        if slot <= local_now and _matches(campaign, day):
            return slot
        day -= dt.timedelta(days=1)
    raise ValueError(f"No occurrence of campaign {campaign.pk} before {now}")


def next_recurrence(campaign: Campaign, after: dt.datetime) -> dt.datetime:
    zone = organization_zone()
    day = after.astimezone(zone).date()
    for _ in range(62):
        slot = dt.datetime.combine(day, campaign.local_time, tzinfo=zone)
        if slot > after and _matches(campaign, day):
            return slot
        day += dt.timedelta(days=1)
    raise ValueError(f"No occurrence of campaign {campaign.pk} after {after}")


def _matches(campaign, day: dt.date) -> bool:
    if campaign.repeat == Campaign.Repeat.WEEKLY:
        return day.weekday() == campaign.repeat_weekday
    if campaign.repeat == Campaign.Repeat.MONTHLY:
        return day.day == campaign.repeat_day
    return True


def _save_periodic_task(campaign: Campaign) -> None:
    """One django-celery-beat row per scheduled campaign, in the public schema, carrying this
    organization's schema in its headers so the task runs here (DESIGN §2)."""
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

    tenant = connection.tenant
    fields = {
        "task": SCHEDULE_TASK,
        "kwargs": json.dumps({"campaign_id": campaign.pk}),
        "headers": json.dumps({"_schema_name": tenant.schema_name}),
        "description": f"{tenant.name}: campaign “{campaign.name}”",
        "enabled": True,
        "clocked": None,
        "crontab": None,
        "one_off": False,
    }
    if campaign.schedule == Campaign.Schedule.RECURRING:
        time_of_day = campaign.local_time
        fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=str(time_of_day.minute),
            hour=str(time_of_day.hour),
            day_of_week=(
                str((campaign.repeat_weekday + 1) % 7)  # cron counts from Sunday = 0
                if campaign.repeat == Campaign.Repeat.WEEKLY
                else "*"
            ),
            day_of_month=(
                str(campaign.repeat_day) if campaign.repeat == Campaign.Repeat.MONTHLY else "*"
            ),
            month_of_year="*",
            timezone=tenant.timezone,
        )
    else:
        fields["clocked"] = ClockedSchedule.objects.create(clocked_time=first_occurrence(campaign))
        fields["one_off"] = True
    name = f"campaign {tenant.schema_name}:{campaign.pk}"
    task, _ = PeriodicTask.objects.update_or_create(name=name, defaults=fields)
    if campaign.periodic_task_id != task.pk:
        campaign.periodic_task_id = task.pk
        Campaign.objects.filter(pk=campaign.pk).update(periodic_task_id=task.pk)


def _remove_periodic_task(campaign: Campaign) -> None:
    from django_celery_beat.models import PeriodicTask

    if campaign.periodic_task_id:
        PeriodicTask.objects.filter(pk=campaign.periodic_task_id).delete()
        Campaign.objects.filter(pk=campaign.pk).update(periodic_task_id=None)
        campaign.periodic_task_id = None


@transaction.atomic
def schedule_campaign(campaign: Campaign) -> CampaignRun | None:
    """Make a draft (or paused schedule) live: send now, or register its schedule with beat.
    Returns the run when it starts right away."""
    validate_campaign(campaign)
    _lock(campaign)  # two clicks on "Send" must not start two runs
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ValidationError(f"A {campaign.get_status_display().lower()} campaign can't be sent.")
    if campaign.schedule == Campaign.Schedule.NOW:
        campaign.status = Campaign.Status.SENDING
        campaign.save(update_fields=["status", "updated_at"])
        return start_run(campaign, timezone.now())
    campaign.status = Campaign.Status.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    _save_periodic_task(campaign)
    return None


@transaction.atomic
def start_run(campaign: Campaign, occurrence: dt.datetime) -> CampaignRun:
    """Create (once) the run for this occurrence and start sending it when the transaction
    commits."""
    from messaging.tasks import start_campaign_run

    run, created = CampaignRun.objects.get_or_create(
        campaign=campaign,
        occurrence=occurrence.replace(microsecond=0),
        defaults={
            "body": campaign.body,
            "media_urls": campaign_media_urls(campaign),
            "per_recipient_time": campaign.schedule == Campaign.Schedule.LOCAL,
        },
    )
    if created or run.status == CampaignRun.Status.SCHEDULED:
        transaction.on_commit(lambda: start_campaign_run.delay(run.pk))
    return run


def campaign_media_urls(campaign: Campaign) -> list[str]:
    from messaging.media import contact_card_url, public_media_url

    urls = []
    if campaign.media:
        urls.append(public_media_url(campaign.media.name))
    if campaign.attach_contact_card:
        urls.append(contact_card_url())
    return urls


@transaction.atomic
def fire_scheduled(campaign_id: int, now: dt.datetime | None = None) -> CampaignRun | None:
    """What beat's schedule calls: start this occurrence's run (once, however often it fires)."""
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in (
        Campaign.Status.SCHEDULED,
        Campaign.Status.SENDING,
        Campaign.Status.COMPLETED,
    ):
        return None
    now = now or timezone.now()
    if campaign.schedule == Campaign.Schedule.RECURRING:
        occurrence = latest_recurrence(campaign, now)
    else:
        occurrence = occurrence_key(campaign)
        campaign.status = Campaign.Status.SENDING
        campaign.save(update_fields=["status", "updated_at"])
    return start_run(campaign, occurrence)


def occurrence_key(campaign: Campaign) -> dt.datetime:
    """The instant a one-off campaign's single run is keyed by."""
    if campaign.schedule == Campaign.Schedule.LOCAL:
        # The date and time as the organization wrote them; each recipient gets it in their
        # own zone.
        return dt.datetime.combine(
            campaign.local_date, campaign.local_time, tzinfo=organization_zone()
        )
    return campaign.send_at


# --- pause, resume, cancel, edit --------------------------------------------------------------


@transaction.atomic
def pause_campaign(campaign: Campaign, reason: str = "Paused by a team member") -> None:
    """Stop sending now; messages not yet handed to the carrier wait."""
    _lock(campaign)
    if campaign.status == Campaign.Status.SCHEDULED:
        _disable_periodic_task(campaign)
    elif campaign.status != Campaign.Status.SENDING:
        raise ValidationError("Only a scheduled or sending campaign can be paused.")
    CampaignRun.objects.filter(campaign=campaign, status=CampaignRun.Status.SENDING).update(
        status=CampaignRun.Status.PAUSED, paused_reason=reason[:255]
    )
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status", "updated_at"])


@transaction.atomic
def resume_campaign(campaign: Campaign) -> None:
    from messaging import dispatch
    from messaging.tasks import dispatch_run

    _lock(campaign)
    if campaign.status != Campaign.Status.PAUSED:
        raise ValidationError("Only a paused campaign can be resumed.")
    paused_runs = list(
        CampaignRun.objects.filter(campaign=campaign, status=CampaignRun.Status.PAUSED)
    )
    if paused_runs:
        CampaignRun.objects.filter(pk__in=[r.pk for r in paused_runs]).update(
            status=CampaignRun.Status.SENDING, paused_reason=""
        )
        campaign.status = Campaign.Status.SENDING
        for run in paused_runs:
            dispatch.ensure_watchdog(run)  # a paused run's watchdog goes (dispatch_run)
            transaction.on_commit(lambda run_id=run.pk: dispatch_run.delay(run_id))
    else:
        campaign.status = Campaign.Status.SCHEDULED
        _save_periodic_task(campaign)
    campaign.save(update_fields=["status", "updated_at"])


@transaction.atomic
def cancel_campaign(campaign: Campaign) -> int:
    """Stop for good. Messages not yet handed to the carrier are canceled; returns how many."""
    from messaging.models import Message

    _lock(campaign)
    if campaign.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELED):
        raise ValidationError("This campaign has already finished.")
    _remove_periodic_task(campaign)
    runs = CampaignRun.objects.filter(campaign=campaign).exclude(
        status__in=[CampaignRun.Status.COMPLETED, CampaignRun.Status.CANCELED]
    )
    # Locked first: a dispatcher putting withdrawn messages back in line holds its run's row
    # while it does, so they are pending before this (and canceled here) or canceled by it.
    list(runs.select_for_update(no_key=True).values_list("pk", flat=True))
    now = timezone.now()
    canceled = Message.objects.filter(run__in=runs, status=Message.Status.PENDING).update(
        status=Message.Status.CANCELED, status_changed_at=now
    )
    runs.update(status=CampaignRun.Status.CANCELED, completed_at=now)
    campaign.status = Campaign.Status.CANCELED
    campaign.save(update_fields=["status", "updated_at"])
    return canceled


def _lock(campaign):
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    campaign.refresh_from_db(fields=["status", "periodic_task_id"])


def _disable_periodic_task(campaign):
    from django_celery_beat.models import PeriodicTask

    if campaign.periodic_task_id:
        PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=False)


def editable(campaign: Campaign) -> bool:
    return campaign.status in (
        Campaign.Status.DRAFT,
        Campaign.Status.SCHEDULED,
        Campaign.Status.PAUSED,
    ) and not (
        campaign.runs.exclude(status=CampaignRun.Status.SCHEDULED).exists()
        and campaign.schedule != Campaign.Schedule.RECURRING
    )


@transaction.atomic
def save_scheduled_edit(campaign: Campaign) -> None:
    """After a scheduled campaign was edited: move its schedule to match."""
    validate_campaign(campaign)
    if campaign.status == Campaign.Status.SCHEDULED:
        _save_periodic_task(campaign)


def send_test(user, body: str):
    """A test of the text to the sender's own verified phone, with their own name in the merge
    fields. Allowed before registration is complete: it goes only to the person sending it."""
    from django.conf import settings

    from messaging.models import Message
    from messaging.outbox import queue_message
    from messaging.rendering import render_merge_fields

    if not body.strip():
        raise ValidationError("Write the message first.")
    if not user.verified_phone:
        raise ValidationError("Verify your phone first (under your name, bottom left).")
    first, _, last = (user.full_name or "").partition(" ")
    organization = connection.tenant
    text = render_merge_fields(
        body,
        {"first_name": first, "last_name": last, "full_name": user.full_name,
         "business": organization.name},
    )  # fmt: skip
    sender = policy_sender(organization) or settings.TWILIO_PLATFORM_NUMBER
    with transaction.atomic():
        return queue_message(
            contact=None,
            to_phone=user.verified_phone,
            from_phone=sender,
            body=f"[Test] {text}",
            kind=Message.Kind.TEST,
        )


def policy_sender(organization) -> str:
    from messaging.policy import sender_for

    return sender_for(organization).from_number
