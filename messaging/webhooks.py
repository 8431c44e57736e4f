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

from messaging.status_callbacks import InvalidStatusCallback, record_status_callback
from organizations.models import Organization
from smsplatform.http import client_ip
from smsplatform.providers.twilio import twilio_signature_is_valid, webhook_auth_token

logger = logging.getLogger(__name__)


def status_callback_url(organization) -> str:
    """The StatusCallback to give Twilio for ``organization``'s messages."""
    path = reverse(
        "twilio_status_callback",
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        kwargs={"organization_id": organization.pk},
    )
    return f"{settings.TWILIO_WEBHOOK_BASE_URL}{path}"


@csrf_exempt
@require_POST
def twilio_status_callback(request, organization_id: int):
    organization = Organization.objects.customers().filter(pk=organization_id).first()
    auth_token = (
        webhook_auth_token(organization, request.POST.get("AccountSid", ""))
        if organization is not None
        else None
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
