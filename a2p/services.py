"""Domain functions of A2P registration and phone numbers: what customers, operators, webhooks
and the periodic poll may do to a registration. The Twilio calls themselves are made by the
engine (a2p/engine.py) in Celery tasks, enqueued on commit."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from a2p import engine
from a2p.models import Registration, RegistrationEvent, TwilioAccount
from a2p.throttle import shared_redis
from organizations.models import Organization
from organizations.services import record_audit
from smsplatform.providers.errors import AmbiguousOutcome
from smsplatform.providers.twilio import main_twilio

Stage = Registration.Stage
Status = Registration.Status
Kind = RegistrationEvent.Kind


class RegistrationRefused(Exception):
    """The action is not possible in the registration's current state; ``message`` says why in
    words a customer or an operator reads."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def subaccount_name(organization: Organization) -> str:
    return f"org {organization.pk} ({organization.slug})"


def ensure_twilio_subaccount(organization: Organization) -> TwilioAccount:
    """The organization's Twilio subaccount, created under the main account on first call.

    Safe to repeat, also after a create whose outcome was unknown: the subaccount's name carries
    the organization's id, and one that already exists under that name is adopted rather than
    a second one created. The organization's row stays locked meanwhile, so two workers never
    create one each."""
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=organization.pk)
        existing = TwilioAccount.objects.filter(organization=organization).first()
        if existing is not None:
            return existing
        gateway = main_twilio()
        name = subaccount_name(organization)
        found = gateway.find_subaccounts(name)
        if not found:
            try:
                found = [gateway.create_subaccount(name)]
            except AmbiguousOutcome:
                found = gateway.find_subaccounts(name)
                if not found:
                    raise
        subaccount = found[0]
        account = TwilioAccount.objects.create(
            organization=organization,
            account_sid=subaccount.sid,
            auth_token=subaccount.auth_token,
            friendly_name=subaccount.friendly_name,
        )
        record_audit("twilio.subaccount", organization=organization, target=subaccount.sid)
        return account


# --- the customer's side -------------------------------------------------------------------


def registration_for(organization: Organization) -> Registration:
    """The organization's registration, created (as a draft) on first use."""
    registration, _ = Registration.objects.get_or_create(organization=organization)
    return registration


def _locked(organization) -> Registration:
    registration_for(organization)
    return Registration.objects.select_for_update().get(organization=organization)


def can_edit_details(registration: Registration) -> bool:
    """Before the first submission, and while a rejection of the business details or the
    campaign waits for corrections (a number that was taken is chosen again instead)."""
    return registration.status == Status.DRAFT or bool(
        registration.status == Status.WAITING_ON_CUSTOMER
        and registration.rejection
        and registration.stage != Stage.PHONE_NUMBER
    )


@transaction.atomic
def save_draft(organization, answers: dict, *, actor) -> Registration:
    registration = _locked(organization)
    if not can_edit_details(registration):
        raise RegistrationRefused("Your registration is with Twilio now; it cannot be changed.")
    registration.draft = answers
    registration.save(update_fields=["draft", "updated_at"])
    engine.record_event(registration, Kind.CUSTOMER, "Saved the form to finish later.", actor=actor)
    return registration


@transaction.atomic
def submit_registration(organization, details: dict, *, actor, ip=None) -> Registration:
    """Start the registration with the checked answers (RegistrationForm.cleaned_data plus the
    keyword replies)."""
    registration = _locked(organization)
    if registration.status != Status.DRAFT:
        raise RegistrationRefused("This registration was submitted already.")
    engine.transition(
        registration,
        stage=Stage.CUSTOMER_PROFILE,
        status=Status.WORKING,
        kind=Kind.CUSTOMER,
        message="Submitted the registration.",
        actor=actor,
        details=details,
        draft={},
        submitted_at=timezone.now(),
    )
    record_audit("a2p.registration_submitted", organization=organization, actor=actor, ip=ip)
    engine.enqueue_advance(registration.pk)
    return registration


@transaction.atomic
def resubmit_registration(organization, details: dict, *, actor, ip=None) -> Registration:
    """Send corrected answers after Twilio rejected something: every object already at Twilio
    gets them, and whatever was rejected goes back for review."""
    registration = _locked(organization)
    if not can_edit_details(registration) or registration.status == Status.DRAFT:
        raise RegistrationRefused("There is nothing to resubmit right now.")
    engine.transition(
        registration,
        status=Status.WORKING,
        kind=Kind.CUSTOMER,
        message="Resubmitted with corrected details.",
        actor=actor,
        data={"rejection": registration.rejection},
        details=details,
        draft={},
        rejection=[],
        pending_corrections=list(engine.CORRECTIONS),
        attempts=0,
        next_attempt_at=None,
    )
    record_audit("a2p.registration_resubmitted", organization=organization, actor=actor, ip=ip)
    engine.enqueue_advance(registration.pk)
    return registration


def find_numbers(registration: Registration, *, area_code: str | None = None, limit: int = 10):
    """Numbers the organization could take: in ``area_code``, or else near the business (its
    ZIP code, then its state, then its representative's area code, then anywhere). A search is
    not a registration request: it does not queue behind the registration limiter, so the page
    answers at once."""
    from smsplatform.providers.twilio import twilio_for

    gateway = twilio_for(registration.organization)
    if area_code:
        return gateway.search_available_numbers(area_code=int(area_code), limit=limit)
    details = registration.details
    attempts = [
        {"in_postal_code": details.get("postal_code")},
        {"in_region": details.get("state")},
        {"near_number": details.get("rep_phone")},
        {},
    ]
    for near in attempts:
        if near and not all(near.values()):
            continue
        found = gateway.search_available_numbers(limit=limit, **near)
        if found:
            return found
    return []


@transaction.atomic
def choose_phone_number(organization, phone_number: str, *, actor) -> Registration:
    registration = _locked(organization)
    if not (
        registration.stage == Stage.PHONE_NUMBER
        and registration.status == Status.WAITING_ON_CUSTOMER
    ):
        raise RegistrationRefused("A number can be chosen once your campaign is approved.")
    engine.transition(
        registration,
        status=Status.WORKING,
        kind=Kind.CUSTOMER,
        message=f"Chose {phone_number}.",
        actor=actor,
        chosen_phone_number=phone_number,
        rejection=[],
    )
    record_audit(
        "a2p.phone_number_chosen", organization=organization, actor=actor, target=phone_number
    )
    engine.enqueue_advance(registration.pk)
    return registration


def pick_number_near_business(organization, *, actor) -> Registration:
    registration = registration_for(organization)
    found = find_numbers(registration, limit=1)
    if not found:
        raise RegistrationRefused("No number is available near you right now; search instead.")
    return choose_phone_number(organization, found[0].phone_number, actor=actor)


# --- webhooks and the poll -------------------------------------------------------------------


def refresh_queued_key(registration_id: int) -> str:
    return (
        f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:a2p:refresh-queued:{registration_id}"
    )


def record_webhook(registration: Registration, summary: str, payload: dict) -> None:
    """Keep a webhook in the history, then read the verdict it hints at from Twilio. A burst
    of webhooks queues one refresh, not one each (the refresh reads every verdict)."""
    from a2p.tasks import refresh_registration

    engine.record_event(registration, Kind.WEBHOOK, summary, data=payload)

    def queue_refresh():
        if shared_redis().set(refresh_queued_key(registration.pk), 1, nx=True, ex=60):
            refresh_registration.delay(registration.pk, "webhook")

    transaction.on_commit(queue_refresh)


def poll_due_registrations(*, limit: int = 20) -> int:
    """The fallback for webhooks that never came: refresh the registrations waiting for a
    review whose poll is due, and restart those whose retry task was lost. One poller at a
    time, ``limit`` registrations a run (at one registration request a second, a run fits in
    the minute between two runs); how many registrations it looked at."""
    client = shared_redis()
    key = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:a2p:poll"
    if not client.set(key, "1", nx=True, ex=600):
        return 0
    try:
        now = timezone.now()
        due = list(
            Registration.objects.filter(status=Status.IN_REVIEW, next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("pk", flat=True)[:limit]
        )
        for registration_id in due:
            engine.refresh(registration_id, source="poll")
        # A retry whose task was lost (a broker restart) would wait for ever: restart it.
        stalled = Registration.objects.filter(status=Status.WORKING).filter(
            Q(next_attempt_at__lte=now - timedelta(minutes=5))
            | Q(next_attempt_at=None, updated_at__lte=now - timedelta(minutes=10))
        )
        stalled_ids = list(stalled.values_list("pk", flat=True)[:limit])
        for registration_id in stalled_ids:
            engine.enqueue_advance(registration_id)
        return len(due) + len(stalled_ids)
    finally:
        client.delete(key)


# --- the operator's side (the admin console) -------------------------------------------------


def _operator_action(registration, action: str, message: str, *, actor, **changes):
    engine.transition(registration, kind=Kind.OPERATOR, message=message, actor=actor, **changes)
    record_audit(
        f"a2p.{action}",
        organization=registration.organization,
        actor=actor,
        target=f"registration {registration.pk}",
        data={"stage": registration.stage, "status": registration.status},
    )


@transaction.atomic
def retry_step(registration: Registration, *, actor) -> Registration:
    """Run the failed (or stuck) step again now."""
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.status not in (Status.FAILED, Status.WORKING, Status.IN_REVIEW):
        raise RegistrationRefused(f"Nothing to retry while {registration.get_status_display()}.")
    step = engine.next_step(registration)
    _operator_action(
        registration,
        "registration_retried",
        f"Retried the step “{step.name if step else 'check verdicts'}”.",
        actor=actor,
        status=Status.WORKING if registration.status == Status.FAILED else None,
        attempts=0,
        next_attempt_at=None,
    )
    if registration.status == Status.IN_REVIEW:
        from a2p.tasks import refresh_registration

        transaction.on_commit(lambda: refresh_registration.delay(registration.pk, "operator"))
    else:
        engine.enqueue_advance(registration.pk)
    return registration


@transaction.atomic
def resubmit_brand(registration: Registration, *, actor) -> Registration:
    """Send the FAILED brand back for review as it is (e.g. after a fix made at Twilio)."""
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.brand_sid or registration.brand_status != "FAILED":
        raise RegistrationRefused("Only a failed brand can be resubmitted (Twilio error 21725).")
    if registration.status == Status.ON_HOLD:
        raise RegistrationRefused("Release the hold first.")
    _operator_action(
        registration,
        "brand_resubmitted",
        "Resubmitted the brand.",
        actor=actor,
        status=Status.WORKING,
        rejection=[r for r in registration.rejection if r.get("object") != "brand"],
        pending_corrections=["brand"],
        attempts=0,
        next_attempt_at=None,
    )
    engine.enqueue_advance(registration.pk)
    return registration


@transaction.atomic
def hold_for_review(registration: Registration, *, actor, reason: str) -> Registration:
    """Stop the engine on this registration until an operator releases it."""
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.status in (Status.ON_HOLD, Status.COMPLETE, Status.DRAFT):
        raise RegistrationRefused(f"Cannot hold a registration that is {registration.status}.")
    _operator_action(
        registration,
        "registration_held",
        f"Held for manual review: {reason}",
        actor=actor,
        status=Status.ON_HOLD,
        status_before_hold=registration.status,
        hold_reason=reason[:255],
    )
    return registration


@transaction.atomic
def release_hold(registration: Registration, *, actor) -> Registration:
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.status != Status.ON_HOLD:
        raise RegistrationRefused("This registration is not on hold.")
    _operator_action(
        registration,
        "registration_released",
        "Released from manual review.",
        actor=actor,
        status=registration.status_before_hold or Status.WORKING,
        status_before_hold="",
        hold_reason="",
    )
    if registration.status == Status.WORKING:
        engine.enqueue_advance(registration.pk)
    return registration
