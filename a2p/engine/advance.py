"""Running the steps: ``advance`` carries a registration on until it must wait (for a review,
for the customer, or for the retry of a failed call)."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from a2p.engine.corrections import CORRECTIONS_STEP
from a2p.engine.history import (
    Kind,
    RegistrationChanged,
    enqueue_advance,
    record_event,
    registration_lock,
    save_fields,
    transition,
)
from a2p.engine.run import NeedsCustomer, Run, Step, WaitForReview
from a2p.engine.steps import STEPS
from a2p.models import Registration
from organizations.services import record_audit
from smsplatform.providers import errors
from smsplatform.providers.pacing import backoff_delay

logger = logging.getLogger(__name__)

Stage = Registration.Stage
Status = Registration.Status


def next_step(registration: Registration) -> Step | None:
    if registration.pending_corrections:
        return CORRECTIONS_STEP
    return next((step for step in STEPS if step.name not in registration.completed_steps), None)


def advance(registration_id: int, *, time_budget: float | None = None) -> str:
    """Run what can run now, for up to ``time_budget`` seconds. Returns the registration's
    status afterwards, or "busy" when another engine holds it, "later" when a retry is not due
    yet, "continue" when the time ran out with more to do (a fresh task goes on: no
    registration holds a worker for long while others wait for their slots)."""
    budget = settings.A2P_ADVANCE_TIME_BUDGET_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    with registration_lock(registration_id) as lock:
        if not lock:
            return "busy"
        registration = Registration.objects.select_related("organization").get(pk=registration_id)
        if registration.status != Status.WORKING:
            return registration.status
        if registration.next_attempt_at and registration.next_attempt_at > timezone.now():
            return "later"
        run = Run(registration)
        try:
            while registration.status == Status.WORKING:
                if time.monotonic() > deadline:
                    return "continue"
                lock.renew()
                # An operator may have held it, or a customer acted, since the last step.
                registration.refresh_from_db(fields=["status", "pending_corrections"])
                if registration.status != Status.WORKING:
                    break
                step = next_step(registration)
                if step is None:
                    break
                if step is not CORRECTIONS_STEP and step.stage != registration.stage:
                    transition(
                        registration,
                        stage=step.stage,
                        message=f"Now at: {Stage(step.stage).label.lower()}.",
                    )
                if not _run_step(run, step):
                    break
        except RegistrationChanged:
            registration.refresh_from_db(fields=["status"])
        return registration.status


def _run_step(run: Run, step: Step) -> bool:
    """Run one step; whether the engine may go on to the next."""
    registration = run.registration
    try:
        step.run(run)
    except WaitForReview as exc:
        transition(
            registration,
            status=Status.IN_REVIEW,
            message=str(exc),
            next_poll_at=timezone.now() + timedelta(seconds=settings.A2P_POLL_INTERVAL_SECONDS),
        )
        return False
    except NeedsCustomer as exc:
        transition(
            registration,
            status=Status.WAITING_ON_CUSTOMER,
            message=exc.message,
            rejection=exc.reasons,
            data={"step": step.name, "reasons": exc.reasons},
        )
        return False
    except errors.ProviderError as exc:
        _call_failed(registration, step, exc)
        return False
    fields = {"attempts": 0, "next_attempt_at": None}
    if registration.failure_step:
        fields.update(failure_step="", failure_code=None, failure_message="")
    if step is not CORRECTIONS_STEP:
        fields["completed_steps"] = [*registration.completed_steps, step.name]
    save_fields(registration, **fields)
    record_event(registration, Kind.CALL, step.describe, data={"step": step.name})
    if step.name == STEPS[-1].name:
        _complete(registration)
    return True


def _call_failed(registration: Registration, step: Step, exc: errors.ProviderError) -> None:
    """A call to Twilio failed. Whether Twilio may not have processed it (retried here, with
    backoff; a lost create is reconciled by its lookup) or refused it (a person looks)."""
    retryable = isinstance(exc, errors.RetryableError | errors.AmbiguousOutcome)
    attempts = registration.attempts + 1
    failure = {
        "failure_step": step.name,
        "failure_code": exc.code,
        "failure_message": str(exc.message or exc)[:2000],
        "failure_retryable": retryable,
        "attempts": attempts,
    }
    data = {"step": step.name, "code": exc.code, "error": type(exc).__name__,
            "http_status": exc.http_status, "retryable": retryable}  # fmt: skip
    if retryable and attempts < settings.A2P_MAX_ATTEMPTS:
        delay = backoff_delay(
            attempts, base=settings.A2P_RETRY_BASE_SECONDS, cap=settings.A2P_RETRY_CAP_SECONDS
        )
        transition(
            registration,
            kind=Kind.FAILURE,
            message=f"{step.describe.rstrip('.')}: failed ({exc.plain_reason}); "
            f"trying again in {delay:.0f} s.",
            data=data,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            **failure,
        )
        enqueue_advance(registration.pk, countdown=delay)
        return
    logger.error(
        "a2p: registration %s failed at step %s (%s %s): %s",
        registration.pk, step.name, type(exc).__name__, exc.code, exc.message,
    )  # fmt: skip
    transition(
        registration,
        status=Status.FAILED,
        kind=Kind.FAILURE,
        message=f"Step “{step.name}” failed: {exc.plain_reason}",
        data=data,
        next_attempt_at=None,
        **failure,
    )


def _complete(registration: Registration) -> None:
    transition(
        registration,
        stage=Stage.COMPLETE,
        status=Status.COMPLETE,
        message=f"Registration complete: {registration.chosen_phone_number} may text subscribers.",
        completed_at=timezone.now(),
        next_poll_at=None,
    )
    record_audit(
        "a2p.registration_completed",
        organization=registration.organization,
        target=registration.chosen_phone_number,
        data={"messages_per_second": registration.messages_per_second},
    )
