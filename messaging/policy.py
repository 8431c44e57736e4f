"""What sending must respect, asked at the moment of sending: whether the organization may
send at all, as whom, how fast, and what every first message must say. Each part comes from the
app that owns it (organizations, a2p, billing)."""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from a2p import selectors as a2p_selectors
from billing import allowance, usage
from billing import selectors as billing_selectors

MMS_MESSAGES = settings.MMS_MESSAGE_COST


@dataclass(frozen=True)
class Sender:
    from_number: str
    messaging_service_sid: str


def sender_for(organization) -> Sender:
    number = a2p_selectors.primary_number(organization)
    if number is None:
        return Sender("", "")
    return Sender(number.phone_number, number.messaging_service_sid)


def sending_block(organization) -> str | None:
    """Why this organization may not send marketing texts right now, or None."""
    return (
        stop_reason(organization)
        or a2p_selectors.registration_block(organization)
        or billing_selectors.sending_block(organization)
    )


def stop_reason(organization) -> str | None:
    """Why this organization's sending must stop at once, or None: suspended by support, or
    paused (by support, or by a carrier's verdict such as error 30034). One small read, so a
    dispatcher can ask it while its batches are being sent."""
    from organizations.models import Organization

    current = (
        Organization.objects.filter(pk=organization.pk)
        .values("status", "sending_paused_reason")
        .first()
    )
    if current["status"] != Organization.Status.ACTIVE:
        return "This workspace is suspended. Contact support."
    return current["sending_paused_reason"] or None


def sending_rate(organization) -> float:
    """Messages per second this organization's registration allows."""
    return a2p_selectors.messages_per_second(organization)


def status_callback_url() -> str:
    from messaging.webhooks import status_callback_url as for_organization

    return for_organization(connection.tenant)


def compliance():
    from messaging.services import compliance_settings

    return compliance_settings()


def with_first_message_disclosure(body: str, business: str) -> str:
    """The first text a person ever gets from a business names it and says how to opt out."""
    if business.lower() not in body.lower():
        body = f"{business}: {body}"
    if "stop" not in body.lower():
        body = f"{body}\nReply STOP to opt out."
    return body


def reserve_messages(organization, messages: int) -> int:
    """Up to ``messages`` from this period's allowance (all of them when overage is billed)."""
    return allowance.reserve(organization, messages) if messages > 0 else 0


def release_messages(organization, messages: int) -> None:
    """Reserved messages the carrier did not take back into the allowance."""
    if messages > 0:
        allowance.release(organization, messages)


def record_usage(organization, messages: int, *, reference: str) -> None:
    usage.record_usage(organization, messages, reference=reference)


ALLOWANCE_USED_UP = (
    "This month's messages are used up. Upgrade your plan or allow billing per message "
    "(Billing) to keep sending."
)


def pause_organization_sending(organization, reason: str) -> None:
    from organizations.models import Organization
    from organizations.services import record_audit

    updated = Organization.objects.filter(pk=organization.pk, sending_paused_at=None).update(
        sending_paused_at=timezone.now(), sending_paused_reason=reason[:255]
    )
    if updated:
        record_audit(
            "organization.sending_paused", organization=organization, data={"reason": reason}
        )
