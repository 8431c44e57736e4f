"""The registration's history and the means to change it: ``transition`` changes its stage,
status or fields and appends a RegistrationEvent; one engine at a time holds its lock; work
goes on in tasks enqueued on commit."""

import uuid
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from a2p.models import Registration, RegistrationEvent
from a2p.throttle import shared_redis

Kind = RegistrationEvent.Kind
# Renewed at every step; only a dead worker's lock ever runs out.
LOCK_SECONDS = 900


def record_event(registration, kind, message, *, data=None, actor=None) -> RegistrationEvent:
    return RegistrationEvent.objects.create(
        registration=registration,
        kind=kind,
        stage=registration.stage,
        status=registration.status,
        message=message[:500],
        data=data or {},
        actor=actor if actor is not None and actor.is_authenticated else None,
    )


def transition(
    registration: Registration,
    *,
    stage=None,
    status=None,
    message: str,
    kind=Kind.TRANSITION,
    data=None,
    actor=None,
    **fields,
) -> Registration:
    """Change the registration's stage, status and other ``fields``, and append the event.

    A status only changes from the one this copy holds: if someone else changed it meanwhile
    (an operator's hold while the engine was at a step), RegistrationChanged is raised and
    nothing is written, so a hold is never overwritten by a run that started before it."""
    changed = dict(fields)
    if stage is not None and stage != registration.stage:
        changed["stage"] = stage
    if status is not None and status != registration.status:
        changed["status"] = status
    if "stage" in changed or "status" in changed:
        changed["status_changed_at"] = timezone.now()
    if "status" in changed:
        updated = Registration.objects.filter(pk=registration.pk, status=registration.status)
        if not updated.update(**changed, updated_at=timezone.now()):
            raise RegistrationChanged(registration.pk)
        for name, value in changed.items():
            setattr(registration, name, value)
    elif changed:
        save_fields(registration, **changed)
    record_event(registration, kind, message, data=data, actor=actor)
    return registration


class RegistrationChanged(Exception):
    """Someone else changed the registration's status since this copy was read."""


def save_fields(registration, **fields):
    for name, value in fields.items():
        setattr(registration, name, value)
    registration.save(update_fields=[*fields, "updated_at"])


class RegistrationLock:
    """Held by the one engine working on a registration; renewed at every step, so a long run
    keeps it and a dead worker's lock expires."""

    def __init__(self, client, key: str):
        self.client = client
        self.key = key
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=LOCK_SECONDS))

    def renew(self) -> None:
        self.client.expire(self.key, LOCK_SECONDS)

    def release(self) -> None:
        if self.client.get(self.key) == self.token.encode():
            self.client.delete(self.key)


@contextmanager
def registration_lock(registration_id: int):
    """One engine at a time per registration, across every worker (Redis, not the
    schema-prefixed cache: a task may run in any schema). Yields None when another engine
    holds it."""
    key = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:a2p:lock:{registration_id}"
    lock = RegistrationLock(shared_redis(), key)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()


def enqueue_advance(registration_id: int, *, countdown: float | None = None) -> None:
    from a2p.tasks import advance_registration

    transaction.on_commit(
        lambda: advance_registration.apply_async((registration_id,), countdown=countdown)
    )
