"""The steps of a registration, in Twilio's order (twilio-a2p.md §1): what each one sends
Twilio, from the customer's answers (a2p.submission). Each is safe to run again: a SID once
known is kept, and a create recorded as sent is looked up before it is sent a second time."""

from dataclasses import dataclass

from django.conf import settings

from a2p import rates, submission
from a2p.engine.history import save_fields
from a2p.engine.run import NeedsCustomer, Run, Step, WaitForReview
from a2p.models import PhoneNumber, Registration
from smsplatform.providers import errors

Stage = Registration.Stage

APPROVED_BUNDLE = "twilio-approved"
REJECTED_BUNDLE = "twilio-rejected"
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
# A number someone else bought meanwhile, or one that is not valid: the customer picks again.
NUMBER_GONE_CODES = {21421, 21422, 21452}
# A campaign refused on creation for what the customer answered or must do (the brand contact's
# email confirmation, 30994; a use case not allowed, 30900; not in English, 30910): they fix
# it and resubmit, which tries the campaign again.
CAMPAIGN_REFUSALS_FOR_THE_CUSTOMER = {30900, 30910, 30994}


def _ensure_subaccount(run: Run):
    from a2p.services import ensure_twilio_subaccount

    account = ensure_twilio_subaccount(run.registration.organization)
    save_fields(run.registration, account_sid=account.account_sid)


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
        save_fields(registration, **{status_field: bundle.status})

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
    save_fields(registration, brand_status=registration.brand_status or "PENDING")


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
    try:
        run.create_once(
            "campaign",
            "campaign_sid",
            find=lambda: run.gateway.list_a2p_campaigns(service_sid),
            create=lambda: run.gateway.create_a2p_campaign(
                service_sid, brand_sid=registration.brand_sid, **submission.campaign(run.details)
            ),
        )
    except errors.ProviderRequestError as exc:
        if exc.code not in CAMPAIGN_REFUSALS_FOR_THE_CUSTOMER:
            raise
        raise NeedsCustomer(
            "Twilio refused the campaign.",
            [{"object": "campaign", "code": exc.code, "description": str(exc.message),
              "fields": []}],
        ) from exc  # fmt: skip
    save_fields(registration, campaign_status=registration.campaign_status or "IN_PROGRESS")


def _campaign_approved(run: Run):
    registration = run.registration
    if registration.campaign_status != "VERIFIED":
        raise WaitForReview("The carriers are reviewing the campaign.")
    rate = rates.segments_per_second(
        brand_score=registration.brand_score,
        rate_limits=registration.campaign_rate_limits,
        use_case=run.details.get("use_case", ""),
    )
    save_fields(registration, messages_per_second=rate)


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
        save_fields(
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
