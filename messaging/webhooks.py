"""Webhooks Twilio calls about an organization's messages. They arrive on the public site (no
tenant host), name the organization in the URL, and are trusted only with a valid Twilio
signature for that organization's account."""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from a2p.selectors import number_owner
from messaging.inbound import receive_inbound_text
from messaging.status_callbacks import InvalidStatusCallback, record_status_callback
from organizations.models import Organization
from smsplatform.http import client_ip
from smsplatform.providers.twilio import twilio_signature_is_valid, webhook_auth_token
from smsplatform.ttl_cache import ttl_cache

logger = logging.getLogger(__name__)


def status_callback_url(organization) -> str:
    """The StatusCallback to give Twilio for ``organization``'s messages."""
    path = reverse(
        "twilio_status_callback",
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        kwargs={"organization_id": organization.pk},
    )
    return f"{settings.TWILIO_WEBHOOK_BASE_URL}{path}"


@ttl_cache(seconds=10)
def _organization_and_token(organization_id: int, account_sid: str):
    """Status callbacks come in thousands a second during a campaign: the organization and the
    token its account signs with are looked up once per few seconds per process."""
    organization = Organization.objects.customers().filter(pk=organization_id).first()
    if organization is None:
        return None, None
    return organization, webhook_auth_token(organization, account_sid)


@csrf_exempt
@require_POST
def twilio_status_callback(request, organization_id: int):
    # Production traffic reaches answer_status_callback through smsplatform.callback_lane;
    # this view serves the same URL to everything else (Django's test client, other servers).
    return answer_status_callback(request, organization_id)


def answer_status_callback(request, organization_id: int) -> HttpResponse:
    """Check one status callback's signature, store it and apply it: 204, or 403 (forged or
    unknown organization), or 400 (not a status callback)."""
    organization, auth_token = _organization_and_token(
        organization_id, request.POST.get("AccountSid", "")
    )
    # An unknown organization gets the same answer as a forged signature: nothing to learn.
    if auth_token is None or not twilio_signature_is_valid(request, auth_token):
        logger.warning(
            "Refused a Twilio status callback for organization %s from %s: bad signature",
            organization_id,
            client_ip(request),
        )
        return HttpResponseForbidden("Invalid Twilio signature")
    try:
        with tenant_context(organization):
            record_status_callback(request.POST)
    except InvalidStatusCallback as exc:
        return HttpResponseBadRequest(str(exc))
    return HttpResponse(status=204)


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_inbound(request):
    """A text to one of our numbers (the Messaging Service's InboundRequestUrl): routed to the
    organization that owns the number, trusted only with that account's valid signature.
    Compliance keywords are handled first (messaging.inbound); replies go out as their own
    messages, so the answer to Twilio is empty TwiML."""
    number = number_owner(request.POST.get("To", ""))
    organization = number.organization if number is not None else None
    auth_token = (
        webhook_auth_token(organization, request.POST.get("AccountSid", ""))
        if organization is not None
        else None
    )
    if auth_token is None or not twilio_signature_is_valid(request, auth_token):
        logger.warning("Refused an inbound text webhook from %s: bad signature", client_ip(request))
        return HttpResponseForbidden("Invalid Twilio signature")
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid") or ""
    sender = request.POST.get("From", "")
    if not sid or not sender:
        return HttpResponseBadRequest("MessageSid and From are required")
    media = [
        request.POST[f"MediaUrl{i}"]
        for i in range(int(request.POST.get("NumMedia") or 0))
        if f"MediaUrl{i}" in request.POST
    ]
    with tenant_context(organization):
        receive_inbound_text(
            sid=sid,
            from_phone=sender,
            to_phone=number.phone_number,
            body=request.POST.get("Body", ""),
            media_urls=media,
        )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
