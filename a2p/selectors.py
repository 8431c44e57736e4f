"""Reads of A2P registration and phone numbers. Every read of an organization's rows takes the
organization (DESIGN §2)."""

from dataclasses import dataclass

from django.conf import settings

from a2p.models import PhoneNumber, Registration

Stage = Registration.Stage
Status = Registration.Status


def active_numbers(organization):
    """An organization's active numbers, always scoped to it."""
    return PhoneNumber.objects.filter(organization=organization, is_active=True)


def primary_number(organization) -> PhoneNumber | None:
    return active_numbers(organization).order_by("created_at", "pk").first()


def number_owner(phone_number: str) -> PhoneNumber | None:
    """The active number row (with its organization) that ``phone_number`` belongs to."""
    return (
        PhoneNumber.objects.select_related("organization")
        .filter(phone_number=phone_number, is_active=True)
        .first()
    )


def registration_of(organization) -> Registration | None:
    return Registration.objects.filter(organization=organization).first()


def registration_block(organization) -> str | None:
    """Why the organization may not text its subscribers yet, or None. Carriers block texts
    from numbers not registered to an approved campaign (error 30034), so nothing goes out to
    subscribers before the registration is complete. Test texts to one's own verified phone
    go from the platform's number and do not ask."""
    registration = registration_of(organization)
    if registration is None or registration.status == Status.DRAFT:
        return (
            "Register your business with the carriers before texting your subscribers "
            "(Registration in the menu)."
        )
    if not registration.is_complete:
        return _reason_not_registered_yet(registration)
    if primary_number(organization) is None:
        return "Your number is no longer active. Contact support to get a new one."
    return None


def is_choosing_number(registration: Registration) -> bool:
    """Approved, and waiting for the customer to choose the number (or to choose another one
    after the first was taken)."""
    return (
        registration.stage == Stage.PHONE_NUMBER
        and registration.status == Status.WAITING_ON_CUSTOMER
    )


def _reason_not_registered_yet(registration: Registration) -> str:
    if registration.status == Status.WAITING_ON_CUSTOMER:
        if is_choosing_number(registration):
            return "Your registration is approved: choose your phone number (Registration)."
        return "Your carrier registration needs a change from you (Registration in the menu)."
    stage = registration.get_stage_display().lower()
    return (
        f"Your carrier registration is not complete yet ({stage}: "
        f"{registration.get_status_display().lower()}). Texts to subscribers can go out once "
        "it is approved and your number is ready."
    )


def messages_per_second(organization, *, segments_per_message: float = 1.0) -> float:
    """How many texts per second the organization may send: its approved campaign's carrier
    limits and its brand score (a2p.rates, docs/a2p.md), divided by the segments each text
    takes (carriers count segments). The platform default until the registration sets one."""
    registration = registration_of(organization)
    rate = registration.messages_per_second if registration is not None else None
    if not rate or not registration.is_complete:
        rate = float(settings.DEFAULT_MESSAGES_PER_SECOND)
    return rate / max(1.0, segments_per_message)


# --- the status page ---------------------------------------------------------------------------

# Typical, not promised: what Twilio and the carriers usually take (twilio-a2p.md §1.1).
USUAL_WAIT = {
    Stage.CUSTOMER_PROFILE: "usually 1 to 3 business days",
    Stage.TRUST_PRODUCT: "usually 1 to 3 business days, alongside the business profile",
    Stage.BRAND: "from a few minutes to a few days (Standard brands are vetted: up to a week)",
    Stage.MESSAGING_SERVICE: "a few seconds",
    Stage.CAMPAIGN: "usually 1 to 3 weeks: each carrier reviews it",
    Stage.PHONE_NUMBER: "a minute once you choose it",
}
TRACKED_STAGES = list(USUAL_WAIT)


STATE_LABELS = {
    "done": "Done",
    "current": "In progress",
    "review": "In review",
    "action": "Needs you",
    "failed": "Delayed",
    "waiting": "Not started",
}


@dataclass(frozen=True)
class StageView:
    stage: str
    label: str
    state: str  # a key of STATE_LABELS
    now: str  # what is happening, in plain words
    usual_wait: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def stage_overview(registration: Registration) -> list[StageView]:
    order = [choice for choice, _ in Stage.choices]
    current = order.index(registration.stage)
    views = []
    for stage in TRACKED_STAGES:
        position = order.index(stage)
        state, now = _stage_state(registration, stage, position, current)
        views.append(StageView(stage, Stage(stage).label, state, now, USUAL_WAIT[stage]))
    return views


def _stage_state(registration, stage, position, current) -> tuple[str, str]:
    review = _review_state(registration, stage)
    if review is not None:
        return review
    if position < current or registration.is_complete:
        return "done", "Done."
    if position > current:
        return "waiting", "Not started yet."
    status = registration.status
    if status == Status.WORKING:
        return "current", "We are sending your details to Twilio."
    if status == Status.IN_REVIEW:
        return "review", "In review."
    if status == Status.WAITING_ON_CUSTOMER:
        if is_choosing_number(registration):
            return "action", "Approved! Choose your phone number."
        return "action", "Needs a change from you: see below."
    if status == Status.FAILED:
        return "failed", "Something went wrong on our side; our support team sees it."
    if status == Status.ON_HOLD:
        return "review", "Our team is checking your registration by hand."
    return "waiting", "Not started yet."


def _review_state(registration, stage) -> tuple[str, str] | None:
    """The state Twilio's own verdict gives a stage that has one."""
    verdict = {
        Stage.CUSTOMER_PROFILE: registration.customer_profile_status,
        Stage.TRUST_PRODUCT: registration.trust_product_status,
        Stage.BRAND: registration.brand_status,
        Stage.CAMPAIGN: registration.campaign_status,
    }.get(stage)
    if not verdict:
        return None
    if verdict in ("twilio-approved", "APPROVED", "VERIFIED"):
        return "done", "Approved."
    if verdict in ("twilio-rejected", "FAILED"):
        if registration.status == Status.WORKING:
            return "current", "Sending your corrections."
        return "action", "Rejected: see below what to change."
    if registration.status == Status.ON_HOLD:
        return "review", "Our team is checking your registration by hand."
    return "review", "Submitted; in review."


def recent_events(registration: Registration, limit: int = 8):
    return registration.events.order_by("-created_at", "-id")[:limit]
