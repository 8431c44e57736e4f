"""The registration engine: carries an organization's A2P 10DLC registration through Twilio's
sequence (twilio-a2p.md §1), one step at a time, in the organization's subaccount.

    advance(id)   run every step that can run now, until the registration must wait: for a
                  Twilio review, for the customer (a rejection, choosing a number), or after a
                  failed call (retried with backoff)
    refresh(id)   read Twilio's verdicts (after a webhook, or by the periodic poll) and move
                  the registration on

The state machine (docs/a2p.md): ``stage`` says where in Twilio's sequence the registration is,
``status`` whether it is working, waiting for a review, waiting on the customer, failed, on hold
or complete. Every change goes through ``transition`` and appends a RegistrationEvent.

Idempotency, so that a retried step never creates a second brand or profile:
- a SID is saved the moment Twilio returns it, and a step whose SID is known is not run again;
- before a create leaves, its step is recorded in ``creates_sent`` (committed); a retry of a
  step found there looks up what the earlier call may have made (by name, or the brand by its
  profile) and adopts it instead of creating again;
- one engine at a time per registration (a lock in Redis), and every request waits for the
  platform-wide registration slot (a2p.throttle).
"""

import logging
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from a2p import rates, submission
from a2p.models import PhoneNumber, Registration, RegistrationEvent
from a2p.throttle import ThrottledGateway, shared_redis
from organizations.services import record_audit
from smsplatform.providers import errors
from smsplatform.providers.pacing import backoff_delay

logger = logging.getLogger(__name__)

Stage = Registration.Stage
Status = Registration.Status
Kind = RegistrationEvent.Kind

APPROVED_BUNDLE = "twilio-approved"
REJECTED_BUNDLE = "twilio-rejected"
LOCK_SECONDS = 300
# The Event Streams types the registration listens to (twilio-a2p.md §1.1).
EVENT_TYPES = [
    "com.twilio.messaging.compliance.brand-registration.brand-registered",
    "com.twilio.messaging.compliance.brand-registration.brand-failure",
    "com.twilio.messaging.compliance.brand-registration.brand-verified",
    "com.twilio.messaging.compliance.brand-registration.brand-unverified",
    "com.twilio.messaging.compliance.brand-registration.brand-vetted-verified",
    "com.twilio.messaging.compliance.brand-registration.brand-secondary-vetting-failure",
    "com.twilio.messaging.compliance.campaign-registration.campaign-submitted",
    "com.twilio.messaging.compliance.campaign-registration.campaign-approved",
    "com.twilio.messaging.compliance.campaign-registration.campaign-failure",
]
# What a resubmission sends Twilio again, in this order.
CORRECTIONS = ["details", "bundles", "brand", "campaign"]
# A number someone else bought meanwhile, or one that is not valid: the customer picks again.
NUMBER_GONE_CODES = {21421, 21422, 21452}


class NeedsCustomer(Exception):
    """Something only the customer can change (Twilio rejected it, or would)."""

    def __init__(self, message: str, reasons: list[dict]):
        super().__init__(message)
        self.message = message
        self.reasons = reasons


class WaitForReview(Exception):
    """The next step needs a Twilio verdict that has not come yet."""


# --- transitions and history ---------------------------------------------------------------


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
    """Change the registration's stage, status and other ``fields``, and append the event."""
    changed = dict(fields)
    if stage is not None and stage != registration.stage:
        changed["stage"] = stage
    if status is not None and status != registration.status:
        changed["status"] = status
    if "stage" in changed or "status" in changed:
        changed["status_changed_at"] = timezone.now()
    for name, value in changed.items():
        setattr(registration, name, value)
    if changed:
        registration.save(update_fields=[*changed, "updated_at"])
    record_event(registration, kind, message, data=data, actor=actor)
    return registration


def _save(registration, **fields):
    for name, value in fields.items():
        setattr(registration, name, value)
    registration.save(update_fields=[*fields, "updated_at"])


@contextmanager
def registration_lock(registration_id: int):
    """One engine at a time per registration, across every worker (Redis, not the
    schema-prefixed cache: a task may run in any schema). Yields False when it is taken."""
    client = shared_redis()
    key = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:a2p:lock:{registration_id}"
    token = uuid.uuid4().hex
    if not client.set(key, token, nx=True, ex=LOCK_SECONDS):
        yield False
        return
    try:
        yield True
    finally:
        if client.get(key) == token.encode():
            client.delete(key)


def _gateway(registration):
    from smsplatform.providers.twilio import twilio_for

    return ThrottledGateway(twilio_for(registration.organization))


def enqueue_advance(registration_id: int, *, countdown: float | None = None) -> None:
    from a2p.tasks import advance_registration

    transaction.on_commit(
        lambda: advance_registration.apply_async((registration_id,), countdown=countdown)
    )


# --- the steps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    run: Callable  # (Run) -> None; raises NeedsCustomer or a ProviderError
    describe: str  # for the history, once done


class Run:
    """One engine run over a registration: its gateway, created on first use."""

    def __init__(self, registration: Registration):
        self.registration = registration
        self._gateway = None

    @property
    def gateway(self):
        if self._gateway is None:
            self._gateway = _gateway(self.registration)
        return self._gateway

    @property
    def details(self) -> dict:
        return self.registration.details

    def name(self, what: str) -> str:
        """The friendly name of an object this registration creates: how a lost create is
        found again (unique to the registration)."""
        return f"Textwise registration {self.registration.pk} {what}"

    def create_once(self, step: str, sid_field: str, *, find, create) -> str:
        """The SID in ``sid_field``, creating the object only when no earlier attempt did."""
        registration = self.registration
        sid = getattr(registration, sid_field)
        if sid:
            return sid
        if step in registration.creates_sent:
            found = find()
            if found:
                _save(registration, **{sid_field: found[0].sid})
                record_event(
                    registration,
                    Kind.CALL,
                    f"Found {found[0].sid}, made by an earlier attempt whose answer was lost; "
                    "adopted it instead of creating another.",
                    data={"step": step, "sid": found[0].sid},
                )
                return found[0].sid
        else:
            # Committed before the call: a worker that dies after it still leaves the trace.
            _save(registration, creates_sent=[*registration.creates_sent, step])
        created = create()
        _save(registration, **{sid_field: created.sid})
        return created.sid

    def assign_once(self, step: str, bundle_sid: str, object_sid: str, *, listed, assign) -> None:
        registration = self.registration
        if step in registration.creates_sent and object_sid in {
            assignment.object_sid for assignment in listed(bundle_sid)
        }:
            return
        if step not in registration.creates_sent:
            _save(registration, creates_sent=[*registration.creates_sent, step])
        try:
            assign(bundle_sid, object_sid)
        except errors.ProviderRequestError as exc:
            if exc.http_status != 409:  # 409: assigned already (by the lost attempt)
                raise


def _ensure_subaccount(run: Run):
    from a2p.services import ensure_twilio_subaccount

    account = ensure_twilio_subaccount(run.registration.organization)
    _save(run.registration, account_sid=account.account_sid)


def _event_sink(run: Run):
    from a2p.webhooks import event_streams_url

    description = run.name("events")
    run.create_once(
        "event_sink",
        "event_sink_sid",
        find=lambda: [s for s in run.gateway.list_event_sinks() if s.description == description],
        create=lambda: run.gateway.create_event_sink(
            description, event_streams_url(run.registration.organization)
        ),
    )


def _event_subscription(run: Run):
    sink_sid = run.registration.event_sink_sid
    run.create_once(
        "event_subscription",
        "event_subscription_sid",
        find=lambda: run.gateway.list_event_subscriptions(sink_sid),
        create=lambda: run.gateway.create_event_subscription(
            run.name("A2P events"), sink_sid, EVENT_TYPES
        ),
    )


def _customer_profile(run: Run):
    from a2p.webhooks import trusthub_callback_url

    name = run.name("business profile")
    run.create_once(
        "customer_profile",
        "customer_profile_sid",
        find=lambda: run.gateway.find_customer_profiles(name),
        create=lambda: run.gateway.create_customer_profile(
            name, status_callback=trusthub_callback_url(run.registration.organization)
        ),
    )


def _end_user(step, sid_field, type_, what, attributes):
    def create_end_user(run: Run):
        name = run.name(what)
        run.create_once(
            step,
            sid_field,
            find=lambda: [u for u in run.gateway.list_end_users() if u.friendly_name == name],
            create=lambda: run.gateway.create_end_user(name, type_, attributes(run.details)),
        )

    return create_end_user


def _assign_to_profile(step, object_sid):
    def assign(run: Run):
        registration = run.registration
        run.assign_once(
            step,
            registration.customer_profile_sid,
            object_sid(registration),
            listed=run.gateway.list_customer_profile_assignments,
            assign=run.gateway.assign_to_customer_profile,
        )

    return assign


def _assign_to_trust_product(step, object_sid):
    def assign(run: Run):
        registration = run.registration
        run.assign_once(
            step,
            registration.trust_product_sid,
            object_sid(registration),
            listed=run.gateway.list_trust_product_assignments,
            assign=run.gateway.assign_to_trust_product,
        )

    return assign


def _address(run: Run):
    name = run.name("address")
    run.create_once(
        "address",
        "address_sid",
        find=lambda: run.gateway.find_addresses(name),
        create=lambda: run.gateway.create_address(
            friendly_name=name, **submission.address(run.details)
        ),
    )


def _address_document(run: Run):
    name = run.name("address document")
    run.create_once(
        "address_document",
        "address_document_sid",
        find=lambda: [
            d for d in run.gateway.list_supporting_documents() if d.friendly_name == name
        ],
        create=lambda: run.gateway.create_supporting_document(
            name, "customer_profile_address", {"address_sids": run.registration.address_sid}
        ),
    )


def _evaluation_reasons(evaluation, what: str) -> list[dict]:
    reasons = []
    for result in evaluation.results or []:
        if result.get("passed"):
            continue
        fields = [item.get("object_field") for item in result.get("invalid") or []]
        reasons.append(
            {
                "object": what,
                "code": result.get("error_code"),
                "description": result.get("failure_reason") or "",
                "fields": [f for f in fields if f],
            }
        )
    return reasons


def _evaluate(what, sid_field, evaluate):
    def check(run: Run):
        evaluation = evaluate(run.gateway, getattr(run.registration, sid_field))
        if not evaluation.compliant:
            raise NeedsCustomer(
                f"Twilio's check of the {what} found missing or invalid details.",
                _evaluation_reasons(evaluation, what),
            )

    return check


def _submit_bundle(what, sid_field, status_field, fetch, submit):
    def submit_for_review(run: Run):
        registration = run.registration
        sid = getattr(registration, sid_field)
        bundle = fetch(run.gateway, sid)
        if bundle.status == "draft":
            bundle = submit(run.gateway, sid)
        _save(registration, **{status_field: bundle.status})

    return submit_for_review


def _trust_product(run: Run):
    from a2p.webhooks import trusthub_callback_url

    name = run.name("A2P messaging profile")
    run.create_once(
        "trust_product",
        "trust_product_sid",
        find=lambda: run.gateway.find_trust_products(name),
        create=lambda: run.gateway.create_trust_product(
            name, status_callback=trusthub_callback_url(run.registration.organization)
        ),
    )


def _brand(run: Run):
    registration = run.registration
    request = submission.brand(run.details)
    run.create_once(
        "brand",
        "brand_sid",
        find=lambda: [
            brand
            for brand in run.gateway.list_brand_registrations()
            if brand.customer_profile_bundle_sid == registration.customer_profile_sid
        ],
        create=lambda: run.gateway.create_brand_registration(
            customer_profile_sid=registration.customer_profile_sid,
            a2p_profile_sid=registration.trust_product_sid,
            brand_type=request.brand_type,
            skip_automatic_sec_vet=request.skip_automatic_sec_vet or None,
        ),
    )
    _save(registration, brand_status=registration.brand_status or "PENDING")


def _brand_approved(run: Run):
    if run.registration.brand_status != "APPROVED":
        raise WaitForReview("The carriers' registry is reviewing the brand.")


def _messaging_service(run: Run):
    from a2p.webhooks import INBOUND_WEBHOOK_PATH
    from messaging.webhooks import status_callback_url

    registration = run.registration
    name = run.name("messaging service")
    run.create_once(
        "messaging_service",
        "messaging_service_sid",
        find=lambda: [s for s in run.gateway.list_messaging_services() if s.friendly_name == name],
        create=lambda: run.gateway.create_messaging_service(
            name,
            inbound_request_url=settings.TWILIO_WEBHOOK_BASE_URL + INBOUND_WEBHOOK_PATH,
            inbound_method="POST",
            status_callback=status_callback_url(registration.organization),
            use_inbound_webhook_on_number=False,
            usecase=submission.service_usecase(run.details),
        ),
    )


def _campaign(run: Run):
    registration = run.registration
    service_sid = registration.messaging_service_sid
    run.create_once(
        "campaign",
        "campaign_sid",
        find=lambda: run.gateway.list_a2p_campaigns(service_sid),
        create=lambda: run.gateway.create_a2p_campaign(
            service_sid, brand_sid=registration.brand_sid, **submission.campaign(run.details)
        ),
    )
    _save(registration, campaign_status=registration.campaign_status or "IN_PROGRESS")


def _campaign_approved(run: Run):
    registration = run.registration
    if registration.campaign_status != "VERIFIED":
        raise WaitForReview("The carriers are reviewing the campaign.")
    rate = rates.segments_per_second(
        brand_score=registration.brand_score,
        rate_limits=registration.campaign_rate_limits,
        use_case=run.details.get("use_case", ""),
    )
    _save(registration, messages_per_second=rate)


def _number_chosen(run: Run):
    if not run.registration.chosen_phone_number:
        raise NeedsCustomer("Choose your phone number.", [])


def _buy_number(run: Run):
    registration = run.registration
    chosen = registration.chosen_phone_number
    try:
        run.create_once(
            "buy_number",
            "phone_number_sid",
            find=lambda: run.gateway.find_incoming_numbers(chosen),
            create=lambda: run.gateway.buy_phone_number(
                phone_number=chosen, friendly_name=registration.organization.name[:64]
            ),
        )
    except errors.ProviderRequestError as exc:
        if exc.code not in NUMBER_GONE_CODES:
            raise
        _save(
            registration,
            chosen_phone_number="",
            creates_sent=[s for s in registration.creates_sent if s != "buy_number"],
        )
        raise NeedsCustomer(
            f"{chosen} is no longer available. Choose another number.",
            [{"object": "phone number", "code": exc.code, "description": exc.plain_reason,
              "fields": []}],
        ) from exc  # fmt: skip


def _add_number_to_service(run: Run):
    registration = run.registration
    run.assign_once(
        "add_number_to_service",
        registration.messaging_service_sid,
        registration.phone_number_sid,
        listed=lambda service_sid: [
            _Pooled(n.sid) for n in run.gateway.list_service_phone_numbers(service_sid)
        ],
        assign=run.gateway.add_number_to_messaging_service,
    )


@dataclass(frozen=True)
class _Pooled:
    object_sid: str


def _phone_number_record(run: Run):
    """The number routes inbound texts to the organization from now on."""
    registration = run.registration
    PhoneNumber.objects.update_or_create(
        phone_number=registration.chosen_phone_number,
        defaults={
            "organization": registration.organization,
            "twilio_sid": registration.phone_number_sid,
            "messaging_service_sid": registration.messaging_service_sid,
            "is_active": True,
        },
    )


def _sid(field):
    return lambda registration: getattr(registration, field)


def _isv_primary_profile(registration):
    return settings.TWILIO_ISV_PRIMARY_PROFILE_SID


STEPS = [
    Step("subaccount", Stage.CUSTOMER_PROFILE, _ensure_subaccount, "Using the organization's "
         "Twilio subaccount."),
    Step("event_sink", Stage.CUSTOMER_PROFILE, _event_sink, "Created the Event Streams sink."),
    Step("event_subscription", Stage.CUSTOMER_PROFILE, _event_subscription,
         "Subscribed to brand and campaign events."),
    Step("customer_profile", Stage.CUSTOMER_PROFILE, _customer_profile,
         "Created the business profile."),
    Step("business_information", Stage.CUSTOMER_PROFILE,
         _end_user("business_information", "business_information_sid",
                   "customer_profile_business_information", "business information",
                   submission.business_information),
         "Added the business information."),
    Step("assign_business_information", Stage.CUSTOMER_PROFILE,
         _assign_to_profile("assign_business_information", _sid("business_information_sid")),
         "Attached the business information to the profile."),
    Step("representative", Stage.CUSTOMER_PROFILE,
         _end_user("representative", "representative_sid", "authorized_representative_1",
                   "authorised representative", submission.authorized_representative),
         "Added the authorised representative."),
    Step("assign_representative", Stage.CUSTOMER_PROFILE,
         _assign_to_profile("assign_representative", _sid("representative_sid")),
         "Attached the representative to the profile."),
    Step("address", Stage.CUSTOMER_PROFILE, _address, "Added the business address."),
    Step("address_document", Stage.CUSTOMER_PROFILE, _address_document,
         "Added the address document."),
    Step("assign_address_document", Stage.CUSTOMER_PROFILE,
         _assign_to_profile("assign_address_document", _sid("address_document_sid")),
         "Attached the address to the profile."),
    Step("assign_primary_profile", Stage.CUSTOMER_PROFILE,
         _assign_to_profile("assign_primary_profile", _isv_primary_profile),
         "Linked the profile to the platform's own (ISV) profile."),
    Step("evaluate_customer_profile", Stage.CUSTOMER_PROFILE,
         _evaluate("business profile", "customer_profile_sid",
                   lambda gateway, sid: gateway.evaluate_customer_profile(sid)),
         "Twilio's check of the business profile passed."),
    Step("submit_customer_profile", Stage.CUSTOMER_PROFILE,
         _submit_bundle("business profile", "customer_profile_sid", "customer_profile_status",
                        lambda gateway, sid: gateway.fetch_customer_profile(sid),
                        lambda gateway, sid: gateway.submit_customer_profile(sid)),
         "Submitted the business profile for review."),
    Step("trust_product", Stage.TRUST_PRODUCT, _trust_product,
         "Created the A2P messaging profile."),
    Step("messaging_profile", Stage.TRUST_PRODUCT,
         _end_user("messaging_profile", "messaging_profile_sid",
                   "us_a2p_messaging_profile_information", "A2P messaging profile information",
                   submission.messaging_profile),
         "Added the company type."),
    Step("assign_messaging_profile", Stage.TRUST_PRODUCT,
         _assign_to_trust_product("assign_messaging_profile", _sid("messaging_profile_sid")),
         "Attached the company type to the messaging profile."),
    Step("assign_customer_profile", Stage.TRUST_PRODUCT,
         _assign_to_trust_product("assign_customer_profile", _sid("customer_profile_sid")),
         "Attached the business profile to the messaging profile."),
    Step("evaluate_trust_product", Stage.TRUST_PRODUCT,
         _evaluate("messaging profile", "trust_product_sid",
                   lambda gateway, sid: gateway.evaluate_trust_product(sid)),
         "Twilio's check of the messaging profile passed."),
    Step("submit_trust_product", Stage.TRUST_PRODUCT,
         _submit_bundle("messaging profile", "trust_product_sid", "trust_product_status",
                        lambda gateway, sid: gateway.fetch_trust_product(sid),
                        lambda gateway, sid: gateway.submit_trust_product(sid)),
         "Submitted the messaging profile for review."),
    Step("brand", Stage.BRAND, _brand, "Registered the brand with the carriers' registry."),
    Step("brand_approved", Stage.BRAND, _brand_approved, "The brand is approved."),
    Step("messaging_service", Stage.MESSAGING_SERVICE, _messaging_service,
         "Created the messaging service."),
    Step("campaign", Stage.CAMPAIGN, _campaign, "Submitted the campaign to the carriers."),
    Step("campaign_approved", Stage.CAMPAIGN, _campaign_approved, "The campaign is approved."),
    Step("number_chosen", Stage.PHONE_NUMBER, _number_chosen, "The phone number is chosen."),
    Step("buy_number", Stage.PHONE_NUMBER, _buy_number, "Bought the phone number."),
    Step("add_number_to_service", Stage.PHONE_NUMBER, _add_number_to_service,
         "Added the number to the messaging service."),
    Step("phone_number_record", Stage.PHONE_NUMBER, _phone_number_record,
         "The number now receives the organization's texts."),
]  # fmt: skip
STEP_NAMES = [step.name for step in STEPS]


# --- corrections (a resubmission) ----------------------------------------------------------


def _apply_corrections(run: Run):
    registration = run.registration
    gateway = run.gateway
    details = run.details
    for correction in list(registration.pending_corrections):
        if correction == "details":
            _send_corrected_details(run)
        elif correction == "bundles":
            for sid_field, status_field, fetch, submit in (
                ("customer_profile_sid", "customer_profile_status",
                 gateway.fetch_customer_profile, gateway.submit_customer_profile),
                ("trust_product_sid", "trust_product_status",
                 gateway.fetch_trust_product, gateway.submit_trust_product),
            ):  # fmt: skip
                sid = getattr(registration, sid_field)
                if not sid:
                    continue
                bundle = fetch(sid)
                if bundle.status == REJECTED_BUNDLE:
                    bundle = submit(sid)
                    record_event(registration, Kind.CALL, f"Resubmitted {sid} for review.")
                _save(registration, **{status_field: bundle.status})
        elif correction == "brand" and registration.brand_sid:
            brand = gateway.fetch_brand_registration(registration.brand_sid)
            if brand.status == "FAILED":  # resubmitting anything else is refused (21725)
                brand = gateway.resubmit_brand_registration(registration.brand_sid)
                record_event(registration, Kind.CALL, "Resubmitted the brand for review.")
            _save(registration, brand_status=brand.status)
        elif correction == "campaign" and registration.campaign_sid:
            campaign = gateway.fetch_a2p_campaign(
                registration.messaging_service_sid, registration.campaign_sid
            )
            if campaign.campaign_status == "FAILED":
                campaign = gateway.update_a2p_campaign(
                    registration.messaging_service_sid,
                    registration.campaign_sid,
                    **submission.campaign_content(details),
                )
                record_event(registration, Kind.CALL, "Sent the corrected campaign for review.")
            _save(registration, campaign_status=campaign.campaign_status or "")
        _save(
            registration,
            pending_corrections=[c for c in registration.pending_corrections if c != correction],
        )


def _send_corrected_details(run: Run):
    """The customer's current answers, onto the objects already at Twilio (updates: safe to
    repeat)."""
    registration = run.registration
    gateway = run.gateway
    details = run.details
    for sid_field, attributes in (
        ("business_information_sid", submission.business_information),
        ("representative_sid", submission.authorized_representative),
        ("messaging_profile_sid", submission.messaging_profile),
    ):
        sid = getattr(registration, sid_field)
        if sid:
            gateway.update_end_user(sid, attributes=attributes(details))
    if registration.address_sid:
        fields = submission.address(details)
        fields.pop("iso_country")
        gateway.update_address(registration.address_sid, **fields)
    record_event(registration, Kind.CALL, "Sent the corrected business details to Twilio.")


CORRECTIONS_STEP = Step(
    "corrections", Stage.DETAILS, _apply_corrections, "Sent the corrections to Twilio."
)


# --- advance -----------------------------------------------------------------------------------


def next_step(registration: Registration) -> Step | None:
    if registration.pending_corrections:
        return CORRECTIONS_STEP
    return next((step for step in STEPS if step.name not in registration.completed_steps), None)


def advance(registration_id: int) -> str:
    """Run what can run now. Returns the registration's status afterwards, or "busy" when
    another engine holds it, or "later" when a retry is not due yet."""
    with registration_lock(registration_id) as locked:
        if not locked:
            return "busy"
        registration = Registration.objects.select_related("organization").get(pk=registration_id)
        if registration.status != Status.WORKING:
            return registration.status
        if registration.next_attempt_at and registration.next_attempt_at > timezone.now():
            return "later"
        run = Run(registration)
        while registration.status == Status.WORKING:
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
    _save(registration, **fields)
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


# --- refresh: Twilio's verdicts ------------------------------------------------------------


def refresh(registration_id: int, *, source: str) -> str:
    """Read the verdicts still awaited from Twilio and move the registration on. ``source``
    says why (a webhook's kind, or "poll"). "busy" when an engine holds the registration."""
    with registration_lock(registration_id) as locked:
        if not locked:
            return "busy"
        registration = Registration.objects.select_related("organization").get(pk=registration_id)
        if registration.status in (Status.DRAFT, Status.ON_HOLD, Status.COMPLETE):
            return registration.status
        try:
            _read_verdicts(registration, source)
        except errors.ProviderError as exc:
            logger.warning("a2p: refreshing registration %s failed: %r", registration.pk, exc)
        _save(
            registration,
            next_poll_at=timezone.now() + timedelta(seconds=settings.A2P_POLL_INTERVAL_SECONDS),
        )
        if registration.status == Status.WORKING:
            enqueue_advance(registration.pk)
        return registration.status


def _read_verdicts(registration: Registration, source: str) -> None:
    gateway = _gateway(registration)
    for sid_field, status_field, what, fetch in (
        ("customer_profile_sid", "customer_profile_status", "business profile",
         gateway.fetch_customer_profile),
        ("trust_product_sid", "trust_product_status", "messaging profile",
         gateway.fetch_trust_product),
    ):  # fmt: skip
        sid = getattr(registration, sid_field)
        if sid and getattr(registration, status_field) != APPROVED_BUNDLE:
            bundle = fetch(sid)
            apply_bundle_verdict(registration, status_field, what, bundle, source)
    if registration.brand_sid and registration.brand_status != "APPROVED":
        apply_brand_verdict(
            registration, gateway.fetch_brand_registration(registration.brand_sid), source
        )
    if registration.campaign_sid and registration.campaign_status != "VERIFIED":
        apply_campaign_verdict(
            registration,
            gateway.fetch_a2p_campaign(
                registration.messaging_service_sid, registration.campaign_sid
            ),
            source,
        )


def _awaiting_verdicts(registration) -> bool:
    return registration.status in (Status.WORKING, Status.IN_REVIEW)


def _rejected(registration, what: str, reasons: list[dict], source: str) -> None:
    if registration.pending_corrections:
        return  # a resubmission is on its way; this verdict is about the old details
    known = {(r.get("object"), r.get("code")) for r in registration.rejection}
    merged = registration.rejection + [
        r for r in reasons if (r.get("object"), r.get("code")) not in known
    ]
    if _awaiting_verdicts(registration) or registration.status == Status.WAITING_ON_CUSTOMER:
        transition(
            registration,
            status=Status.WAITING_ON_CUSTOMER,
            kind=Kind.VERDICT,
            message=f"Twilio rejected the {what}.",
            rejection=merged,
            data={"source": source, "reasons": reasons},
        )


def apply_bundle_verdict(registration, status_field, what, bundle, source) -> None:
    if getattr(registration, status_field) == bundle.status:
        return
    _save(registration, **{status_field: bundle.status})
    if bundle.status == REJECTED_BUNDLE:
        reasons = [
            {"object": what, "code": error.get("code"), "description": "", "fields": []}
            for error in bundle.errors or []
        ]
        _rejected(registration, what, reasons, source)
    else:
        record_event(
            registration,
            Kind.VERDICT,
            f"The {what} is now {bundle.status}.",
            data={"source": source, "status": bundle.status},
        )


def apply_brand_verdict(registration, brand, source) -> None:
    if (registration.brand_status, registration.brand_score) == (brand.status, brand.brand_score):
        return
    _save(
        registration,
        brand_status=brand.status,
        brand_identity_status=brand.identity_status or "",
        brand_score=brand.brand_score,
    )
    if brand.status == "APPROVED":
        message = f"The brand is approved (score {brand.brand_score or 0})."
        if registration.status == Status.IN_REVIEW and registration.stage == Stage.BRAND:
            transition(registration, status=Status.WORKING, kind=Kind.VERDICT, message=message,
                       data={"source": source})  # fmt: skip
        else:
            record_event(registration, Kind.VERDICT, message, data={"source": source})
    elif brand.status == "FAILED":
        reasons = [
            {
                "object": "brand",
                "code": error.get("code"),
                "description": error.get("description") or "",
                "fields": error.get("fields") or [],
            }
            for error in brand.errors or []
        ]
        _rejected(registration, "brand", reasons, source)
    elif brand.status in ("SUSPENDED", "DELETION_PENDING", "DELETION_FAILED", "DELETED"):
        transition(
            registration,
            status=Status.FAILED,
            kind=Kind.VERDICT,
            message=f"The brand is {brand.status.lower()}: a person must look at it.",
            data={"source": source},
            failure_step="brand",
            failure_message=f"Brand status {brand.status}",
            failure_retryable=False,
        )
    else:
        record_event(
            registration,
            Kind.VERDICT,
            f"The brand is {brand.status.lower().replace('_', ' ')}.",
            data={"source": source},
        )


def apply_campaign_verdict(registration, campaign, source) -> None:
    status = campaign.campaign_status or ""
    if registration.campaign_status == status:
        return
    _save(registration, campaign_status=status, campaign_rate_limits=campaign.rate_limits)
    if status == "VERIFIED":
        message = "The carriers approved the campaign."
        if registration.status == Status.IN_REVIEW and registration.stage == Stage.CAMPAIGN:
            transition(registration, status=Status.WORKING, kind=Kind.VERDICT, message=message,
                       data={"source": source})  # fmt: skip
        else:
            record_event(registration, Kind.VERDICT, message, data={"source": source})
    elif status == "FAILED":
        reasons = [
            {
                "object": "campaign",
                "code": error.get("code"),
                "description": error.get("description") or "",
                "fields": error.get("fields") or [],
            }
            for error in campaign.errors or []
        ]
        _rejected(registration, "campaign", reasons, source)
    else:
        record_event(
            registration,
            Kind.VERDICT,
            f"The campaign is {status.lower().replace('_', ' ')}.",
            data={"source": source},
        )
