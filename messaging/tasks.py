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
def forget_deleted_contact(contact_id: int):
    """A while after a contact's delete: the rows added for it meanwhile (services)."""
    from messaging import services

    return services.forget_deleted_contact(contact_id)


@shared_task
def sweep_unsent_texts():
    """Every organization's overdue single texts (messaging.delivery.sweep_unsent), sent again
    by new tasks. Runs in public and visits each organization; overlapping runs skip."""
    from django.core.cache import cache
    from django_tenants.utils import tenant_context

    from organizations.models import Organization

    if not cache.add("lock:sweep-unsent-texts", 1, timeout=600):
        return 0
    queued = 0
    try:
        for organization in Organization.objects.customers():
            with tenant_context(organization):
                for message_id in delivery.sweep_unsent():
                    send_message.delay(message_id)
                    queued += 1
    finally:
        cache.delete("lock:sweep-unsent-texts")
    return queued


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


@shared_task
def roll_up_delivery_health():
    """For every organization with a number: today's and yesterday's stats per number (late
    delivery receipts change yesterday's). Runs in public and visits each organization."""
    import datetime as dt

    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from a2p.models import PhoneNumber
    from messaging.delivery_health import roll_up
    from organizations.models import Organization

    today = timezone.now().date()
    org_ids = PhoneNumber.objects.filter(is_active=True).values("organization_id")
    for organization in Organization.objects.customers().filter(pk__in=org_ids):
        with tenant_context(organization):
            roll_up(today)
            roll_up(today - dt.timedelta(days=1))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_contact_import(job_id: str):
    """Import a queued contact file. Safe to run twice: a finished job is not run again, and a
    worker that died mid-import left nothing behind (its transaction was never committed)."""
    from messaging.importing import jobs

    jobs.run_import(job_id)


@shared_task
def delete_stale_import_uploads():
    """Uploaded files that were never imported are deleted after a day, every organization's."""
    from django.core.cache import cache

    from messaging.importing import jobs

    if not cache.add("lock:delete-stale-import-uploads", 1, timeout=3600):
        return 0
    try:
        return jobs.delete_stale_uploads()
    finally:
        cache.delete("lock:delete-stale-import-uploads")
