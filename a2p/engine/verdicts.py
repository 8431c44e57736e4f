"""Twilio's verdicts: ``refresh`` reads those still awaited (after a webhook, or by the poll)
and the apply_* functions move the registration on what Twilio says."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from a2p.engine.history import (
    Kind,
    RegistrationChanged,
    enqueue_advance,
    record_event,
    registration_lock,
    save_fields,
    transition,
)
from a2p.engine.run import gateway_for
from a2p.engine.steps import APPROVED_BUNDLE, REJECTED_BUNDLE
from a2p.models import Registration
from smsplatform.providers import errors

logger = logging.getLogger(__name__)

Stage = Registration.Stage
Status = Registration.Status


def refresh(registration_id: int, *, source: str) -> str:
    """Read the verdicts still awaited from Twilio and move the registration on. ``source``
    says why (a webhook's kind, or "poll"). "busy" when an engine holds the registration."""
    with registration_lock(registration_id) as lock:
        if not lock:
            return "busy"
        registration = Registration.objects.select_related("organization").get(pk=registration_id)
        if registration.status in (Status.DRAFT, Status.ON_HOLD, Status.COMPLETE):
            return registration.status
        try:
            _read_verdicts(registration, source)
        except errors.ProviderError as exc:
            logger.warning("a2p: refreshing registration %s failed: %r", registration.pk, exc)
        except RegistrationChanged:  # an operator or the customer acted meanwhile: theirs wins
            registration.refresh_from_db()
        save_fields(
            registration,
            next_poll_at=timezone.now() + timedelta(seconds=settings.A2P_POLL_INTERVAL_SECONDS),
        )
        if registration.status == Status.WORKING:
            enqueue_advance(registration.pk)
        return registration.status


def _read_verdicts(registration: Registration, source: str) -> None:
    gateway = gateway_for(registration)
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


def _reasons(what: str, errors_: list | None) -> list[dict]:
    """Twilio's errors[] of a rejected object, as the registration keeps them."""
    return [
        {
            "object": what,
            "code": error.get("code"),
            "description": error.get("description") or "",
            "fields": error.get("fields") or [],
        }
        for error in errors_ or []
    ]


def _approved(registration, stage, message: str, source: str) -> None:
    """An approval the engine was waiting for sets it working again; any other is noted."""
    if registration.status == Status.IN_REVIEW and registration.stage == stage:
        transition(registration, status=Status.WORKING, kind=Kind.VERDICT, message=message,
                   data={"source": source})  # fmt: skip
    else:
        record_event(registration, Kind.VERDICT, message, data={"source": source})


def apply_bundle_verdict(registration, status_field, what, bundle, source) -> None:
    if getattr(registration, status_field) == bundle.status:
        return
    save_fields(registration, **{status_field: bundle.status})
    if bundle.status == REJECTED_BUNDLE:
        _rejected(registration, what, _reasons(what, bundle.errors), source)
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
    save_fields(
        registration,
        brand_status=brand.status,
        brand_identity_status=brand.identity_status or "",
        brand_score=brand.brand_score,
    )
    if brand.status == "APPROVED":
        score = brand.brand_score or 0
        _approved(registration, Stage.BRAND, f"The brand is approved (score {score}).", source)
    elif brand.status == "FAILED":
        _rejected(registration, "brand", _reasons("brand", brand.errors), source)
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
    save_fields(registration, campaign_status=status, campaign_rate_limits=campaign.rate_limits)
    if status == "VERIFIED":
        _approved(registration, Stage.CAMPAIGN, "The carriers approved the campaign.", source)
    elif status == "FAILED":
        _rejected(registration, "campaign", _reasons("campaign", campaign.errors), source)
    else:
        record_event(
            registration,
            Kind.VERDICT,
            f"The campaign is {status.lower().replace('_', ' ')}.",
            data={"source": source},
        )
