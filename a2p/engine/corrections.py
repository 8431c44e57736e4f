"""A resubmission: the customer's corrected answers go onto every object already at Twilio,
and whatever Twilio rejected goes back for review. Each correction checks Twilio's state first,
so a repeated run resubmits nothing twice (a brand is only resubmitted while FAILED)."""

from a2p import submission
from a2p.engine.history import Kind, record_event, save_fields
from a2p.engine.run import Run, Step
from a2p.engine.steps import REJECTED_BUNDLE
from a2p.models import Registration

Stage = Registration.Stage
# What a resubmission sends Twilio again, in this order.
CORRECTIONS = ["details", "bundles", "brand", "campaign"]


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
                save_fields(registration, **{status_field: bundle.status})
        elif correction == "brand" and registration.brand_sid:
            brand = gateway.fetch_brand_registration(registration.brand_sid)
            if brand.status == "FAILED":  # resubmitting anything else is refused (21725)
                brand = gateway.resubmit_brand_registration(registration.brand_sid)
                record_event(registration, Kind.CALL, "Resubmitted the brand for review.")
            save_fields(registration, brand_status=brand.status)
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
            save_fields(registration, campaign_status=campaign.campaign_status or "")
        save_fields(
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
