"""Celery tasks: each takes ids, runs in its organization's schema (tenant-schemas-celery) and
calls a domain function. All are safe to run twice."""

from celery import shared_task

from messaging import delivery


@shared_task(autoretry_for=(delivery.TransientSendFailure,), retry_backoff=5, max_retries=8)
def send_message(message_id: int):
    """Send one queued text (keyword reply, confirmation). Only a message still waiting to be
    sent is claimed."""
    delivery.deliver(message_id)


@shared_task
def fire_campaign(campaign_id: int):
    """What a campaign's beat schedule fires: start this occurrence's run (once)."""
    from messaging.campaigns import fire_scheduled

    fire_scheduled(campaign_id)


@shared_task(acks_late=True)
def start_campaign_run(run_id: int):
    """Materialise the run's recipients, arm its watchdog, start sending."""
    from messaging import dispatch
    from messaging.models import CampaignRun

    run = CampaignRun.objects.select_related("campaign").get(pk=run_id)
    if run.status == CampaignRun.Status.SCHEDULED:
        dispatch.materialize_run(run)
    if run.status == CampaignRun.Status.SENDING:
        dispatch.ensure_watchdog(run)
        dispatch_run.delay(run.pk)


@shared_task(acks_late=True)
def dispatch_run(run_id: int):
    """Send what is due; hand over to a fresh task when the time budget is spent."""
    from messaging import dispatch

    outcome = dispatch.dispatch_run(run_id)
    if outcome == "continue":
        dispatch_run.delay(run_id)
    return outcome
