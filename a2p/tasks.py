"""Celery tasks of the A2P registration: each takes a registration id, calls the engine or a
service, and is safe to run twice (the engine holds one lock per registration and never creates
what an earlier run made)."""

from celery import shared_task
from django.utils import timezone

from a2p import engine, services
from a2p.models import Registration
from a2p.throttle import shared_redis

BUSY_RETRY_SECONDS = 2


@shared_task(bind=True, acks_late=True, max_retries=120)
def advance_registration(self, registration_id: int):
    """Run every step that can run now (engine.advance)."""
    outcome = engine.advance(registration_id)
    if outcome == "busy":  # another worker has it; make sure nothing it left is forgotten
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    if outcome == "continue":
        advance_registration.delay(registration_id)
    elif outcome == "later":  # woken before its retry is due (a webhook, clocks apart)
        due = (
            Registration.objects.filter(pk=registration_id)
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if due is not None:
            wait = max(1.0, (due - timezone.now()).total_seconds())
            advance_registration.apply_async((registration_id,), countdown=wait)
    return outcome


@shared_task(bind=True, acks_late=True, max_retries=120)
def refresh_registration(self, registration_id: int, source: str = "webhook"):
    """Read Twilio's verdicts (after a webhook) and move the registration on."""
    # From here on, a new webhook queues a new refresh: it may bring news this one misses.
    shared_redis().delete(services.refresh_queued_key(registration_id))
    outcome = engine.refresh(registration_id, source=source)
    if outcome == "busy":
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome


@shared_task
def poll_registrations():
    """celery-beat, every minute: the fallback for webhooks that never came."""
    return services.poll_due_registrations()
