"""Setting up an organization that can really send (for live and browser tests): a plan, a
number bought from the Twilio sandbox, contacts in a zone where it is daytime now."""

import itertools
import zoneinfo

from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from billing import services as billing_services
from messaging import services
from messaging.models import ConsentEvent
from organizations import services as org_services
from organizations.models import User
from smsplatform.providers.twilio import twilio_for
from tests.a2p.factories import registered_number

_numbers = itertools.count(100)
DAYTIME_CANDIDATES = [
    "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo",
    "Asia/Kolkata", "Europe/Berlin", "Atlantic/Azores", "America/Sao_Paulo",
]  # fmt: skip


def daytime_zone() -> str:
    """A zone where it is mid-day now, so quiet hours never hold a test's texts."""
    now = timezone.now()
    for name in DAYTIME_CANDIDATES:
        if 10 <= now.astimezone(zoneinfo.ZoneInfo(name)).hour <= 17:
            return name
    raise AssertionError("no daytime zone found")


def sending_organization(
    *,
    slug: str,
    name: str,
    owner_email: str,
    password: str,
    site_url: str | None = None,
    messages_per_second: float = 1000,
):
    """Committed: call it with the database unblocked and the Twilio sandbox configured. With
    ``site_url`` (the live server), texts to its number reach the platform's inbound webhook."""
    with schema_context("public"):
        owner = User.objects.create_user(email=owner_email, password=password)
        organization = org_services.create_organization(name=name, slug=slug, owner=owner)
        billing_services.comp_organization(organization, reason="tests")
        inbound = f"{site_url}/webhooks/twilio/inbound/" if site_url else None
        bought = twilio_for(organization).buy_phone_number(area_code="305", sms_url=inbound)
        registered_number(
            organization,
            bought.phone_number,
            messaging_service_sid="",
            messages_per_second=messages_per_second,
        )
    return organization


def new_phone() -> str:
    return f"+1786555{next(_numbers) % 10_000:04d}"


def subscribed_contacts(organization, count: int, *, tag: str, phones=(), **fields) -> list[str]:
    """``count`` new subscribed contacts (plus ``phones``) tagged ``tag``; their numbers."""
    zone = daytime_zone()
    numbers = [new_phone() for _ in range(count)] + list(phones)
    with tenant_context(organization):
        consent = services.Consent(method=ConsentEvent.Method.MANUAL, source="test")
        for phone in numbers:
            services.create_contact(
                phone=phone, tags=[tag], timezone_name=zone, consent=consent, **fields
            )
    return numbers
