"""Campaigns end to end through the real processes: a Celery worker dispatching, beat firing
watchdogs, granian taking Twilio's signed status callbacks, the Twilio sandbox as Twilio. The
fault tests kill the worker, wipe Redis, and then count, at the sandbox, the texts each
recipient got: exactly one."""

import datetime as dt
import os
import signal
import time

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging import campaigns
from messaging.models import Campaign, CampaignRun, Message
from organizations.models import Organization, User
from tests.sending import sending_organization, subscribed_contacts

pytestmark = pytest.mark.live


@pytest.fixture(scope="session")
def pipeline_org(django_db_setup, django_db_blocker, twilio_sandbox):
    """An organization of its own for the live sending tests (committed: the live processes
    read it)."""
    with django_db_blocker.unblock():
        return sending_organization(
            slug="pipeline-shop", name="Pipeline Shop", owner_email="owner@pipeline.test",
            password="x" * 12,
        )  # fmt: skip


def send_campaign(organization, tag: str, recipients: int, **extra) -> tuple[int, list[str]]:
    """``recipients`` new subscribed contacts (plus ``phones``), sent a campaign now."""
    phones = subscribed_contacts(organization, recipients, tag=tag, phones=extra.pop("phones", []))
    with tenant_context(organization):
        campaign = Campaign.objects.create(
            name=tag, body="Hi {first_name|there}! Our sale starts now.", tags=[tag]
        )
        run = campaigns.schedule_campaign(campaign)
    return run.pk, phones


def run_state(organization, run_id):
    with tenant_context(organization):
        run = CampaignRun.objects.get(pk=run_id)
        statuses = list(Message.objects.filter(run=run).values_list("status", flat=True))
    return run, statuses


def wait_for(check, *, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sent_at_sandbox(sandbox, phones) -> dict:
    return {phone: len(sandbox.messages(to=phone)) for phone in phones}


def finished(
    organization, run_id, *, final=("queued", "sent", "delivered", "failed", "undelivered")
):
    def check():
        run, statuses = run_state(organization, run_id)
        return run.status == CampaignRun.Status.COMPLETED and all(s in final for s in statuses)

    return check


@pytest.fixture(autouse=True)
def _clean_pause(pipeline_org, committed):
    """Data here is committed (the live processes read it); undo a test's pause for the next."""
    yield
    Organization.objects.filter(pk=pipeline_org.pk).update(
        sending_paused_at=None, sending_paused_reason=""
    )


def test_a_campaign_is_sent_delivered_and_counted_live(
    pipeline_org, twilio_sandbox, live_server_url, sending_worker, celery_beat
):
    sending_worker()
    run_id, phones = send_campaign(pipeline_org, "live-delivered", 20)

    wait_for(
        lambda: run_state(pipeline_org, run_id)[1].count("delivered") == 20,
        timeout=60,
        what="20 deliveries reported by signed status callbacks",
    )

    assert set(sent_at_sandbox(twilio_sandbox, phones).values()) == {1}
    run, _ = run_state(pipeline_org, run_id)
    assert run.status == CampaignRun.Status.COMPLETED and run.recipients == 20
    with tenant_context(pipeline_org):
        assert Campaign.objects.get(runs=run).status == Campaign.Status.COMPLETED
        body = Message.objects.filter(run=run).first().body
    assert body.startswith("Pipeline Shop: Hi there! Our sale starts now.")  # first text
    client = Client(HTTP_HOST="pipeline-shop.localhost")
    client.force_login(User.objects.get(email="owner@pipeline.test"))
    stats = client.get(f"/campaigns/{run.campaign_id}/runs/{run.pk}/stats/").json()
    assert (stats["recipients"], stats["delivered"], stats["waiting"]) == (20, 20, 0)


def test_delivery_failures_are_reported_in_plain_words_and_30034_pauses_sending(
    pipeline_org, twilio_sandbox, live_server_url, sending_worker, celery_beat
):
    sending_worker()
    phone_off, unregistered = "+17865553003", "+17865553034"  # the sandbox's failure numbers
    run_id, _ = send_campaign(pipeline_org, "live-failures", 2, phones=[phone_off, unregistered])

    def reported():
        with tenant_context(pipeline_org):
            return dict(
                Message.objects.filter(run_id=run_id, status="undelivered").values_list(
                    "to_phone", "error_code"
                )
            )

    failures = wait_for(lambda: len(reported()) == 2 and reported(), timeout=60, what="failures")
    assert failures == {phone_off: 30003, unregistered: 30034}
    with tenant_context(pipeline_org):
        reason = Message.objects.get(run_id=run_id, to_phone=phone_off).error_reason
    assert "switched off" in reason.lower() or "reach" in reason.lower()
    organization = Organization.objects.get(pk=pipeline_org.pk)
    assert organization.sending_paused_at is not None
    assert "registered" in organization.sending_paused_reason


def test_a_worker_killed_mid_campaign_texts_nobody_twice_and_nobody_is_lost(
    pipeline_org, twilio_sandbox, live_server_url, sending_worker, celery_beat
):
    doomed = sending_worker("doomed")
    with twilio_sandbox.knobs_set(latency=0.05):
        run_id, phones = send_campaign(pipeline_org, "live-killed", 150)
        wait_for(
            lambda: sum(sent_at_sandbox(twilio_sandbox, phones[:60]).values()) >= 20,
            timeout=60,
            what="sending to be under way",
        )
        os.killpg(doomed.process.pid, signal.SIGKILL)  # no warning, no cleanup
        doomed.process.wait()
        sending_worker("survivor")

        wait_for(finished(pipeline_org, run_id), timeout=120, what="the run to finish")

    counts = sent_at_sandbox(twilio_sandbox, phones)
    assert set(counts.values()) == {1}, {p: n for p, n in counts.items() if n != 1}
    with tenant_context(pipeline_org):
        assert Message.objects.filter(run_id=run_id, sid__isnull=True).count() == 0


def test_a_redis_restart_mid_campaign_texts_nobody_twice_and_nobody_is_lost(
    pipeline_org, twilio_sandbox, live_server_url, sending_worker, celery_beat
):
    sending_worker()
    with twilio_sandbox.knobs_set(latency=0.05):
        run_id, phones = send_campaign(pipeline_org, "live-redis", 150)
        wait_for(
            lambda: sum(sent_at_sandbox(twilio_sandbox, phones[:60]).values()) >= 20,
            timeout=60,
            what="sending to be under way",
        )
        # Everything Redis held is gone: queued tasks, the dispatcher's lock, caches.
        redis.Redis.from_url(settings.REDIS_URL).flushdb()

        wait_for(finished(pipeline_org, run_id), timeout=120, what="the run to finish")

    counts = sent_at_sandbox(twilio_sandbox, phones)
    assert set(counts.values()) == {1}, {p: n for p, n in counts.items() if n != 1}


def test_a_scheduled_campaign_fires_from_beat_in_its_organizations_schema(
    pipeline_org, twilio_sandbox, live_server_url, sending_worker, celery_beat, celery_worker
):
    sending_worker()
    (phone,) = subscribed_contacts(pipeline_org, 1, tag="live-later")
    with tenant_context(pipeline_org):
        campaign = Campaign.objects.create(
            name="later",
            body="See you soon",
            tags=["live-later"],
            schedule=Campaign.Schedule.LATER,
            send_at=timezone.now() + dt.timedelta(seconds=3),
        )
        campaigns.schedule_campaign(campaign)

    wait_for(lambda: twilio_sandbox.messages(to=phone), timeout=60, what="the scheduled text")
    with tenant_context(pipeline_org):
        campaign.refresh_from_db()
        assert campaign.runs.count() == 1
