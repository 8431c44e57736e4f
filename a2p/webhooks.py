"""Webhooks Twilio calls about a registration, on the public site:

- TrustHub status callbacks (a business or messaging profile's review moved), form-encoded;
  Twilio has also been seen to call them with GET (twilio-a2p.md §1.1), so both are taken;
- the Event Streams sink (brand and campaign verdicts), a JSON array of CloudEvents whose URL
  carries the body's SHA-256.

Both name the organization in the URL and are trusted only with a valid X-Twilio-Signature of
that organization's Twilio account; anything else is refused and stores nothing. A webhook is a
hint, not the truth: it is kept in the registration's history, then the registration reads the
verdict from Twilio (a2p.engine.refresh), so a duplicate, late or out-of-order delivery cannot
move it anywhere Twilio does not say.
"""

import json
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from a2p import selectors, services
from a2p.models import TwilioAccount
from organizations.models import Organization
from smsplatform.http import client_ip
from smsplatform.providers.twilio import twilio_signature_is_valid, webhook_auth_token

logger = logging.getLogger(__name__)

# The inbound-text webhook of the messaging app (the tech lead's); Messaging Services send
# their numbers' texts there.
INBOUND_WEBHOOK_PATH = "/webhooks/twilio/inbound/"


def _public_url(name: str, organization) -> str:
    path = reverse(
        name, urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs={"organization_id": organization.pk}
    )
    return f"{settings.TWILIO_WEBHOOK_BASE_URL}{path}"


def trusthub_callback_url(organization) -> str:
    return _public_url("a2p_trusthub_callback", organization)


def event_streams_url(organization) -> str:
    return _public_url("a2p_event_streams", organization)


def _refused(kind, organization_id, request):
    logger.warning(
        "Refused a Twilio %s webhook for organization %s from %s: bad signature",
        kind,
        organization_id,
        client_ip(request),
    )
    return HttpResponseForbidden("Invalid Twilio signature")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def trusthub_status_callback(request, organization_id: int):
    organization = Organization.objects.customers().filter(pk=organization_id).first()
    params = request.POST if request.method == "POST" else request.GET
    auth_token = (
        webhook_auth_token(organization, params.get("AccountSid", ""))
        if organization is not None
        else None
    )
    if auth_token is None or not twilio_signature_is_valid(request, auth_token):
        return _refused("TrustHub", organization_id, request)
    registration = selectors.registration_of(organization)
    if registration is not None:
        fields = ("BundleSid", "Status", "FailureReason", "AccountSid")
        services.record_webhook(
            registration,
            f"TrustHub: {params.get('BundleSid', '?')} is {params.get('Status', '?')}.",
            {name: params[name] for name in fields if name in params},
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def event_streams_webhook(request, organization_id: int):
    organization = Organization.objects.customers().filter(pk=organization_id).first()
    # The sink lives in the organization's subaccount, which signs its deliveries.
    account = TwilioAccount.objects.filter(organization=organization).first()
    if account is None or not twilio_signature_is_valid(request, account.auth_token):
        return _refused("Event Streams", organization_id, request)
    try:
        events = json.loads(request.body)
    except ValueError:
        events = None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return HttpResponse("Expected a JSON array of events", status=400)
    registration = selectors.registration_of(organization)
    if registration is not None:
        for event in events:
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            services.record_webhook(
                registration,
                f"Event: {str(event.get('type', '?')).rsplit('.', 1)[-1]}.",
                {
                    "type": event.get("type"),
                    "id": event.get("id"),
                    **{k: data[k] for k in ("brandsid", "campaignsid", "brandstatus",
                                            "campaignregistrationstatus") if k in data},
                },
            )  # fmt: skip
    return HttpResponse(status=204)
