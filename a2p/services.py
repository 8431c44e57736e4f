"""Domain functions of A2P registration and phone numbers."""

from django.db import transaction

from a2p.models import TwilioAccount
from organizations.models import Organization
from organizations.services import record_audit
from smsplatform.providers.errors import AmbiguousOutcome
from smsplatform.providers.twilio import main_twilio


def subaccount_name(organization: Organization) -> str:
    return f"org {organization.pk} ({organization.slug})"


def ensure_twilio_subaccount(organization: Organization) -> TwilioAccount:
    """The organization's Twilio subaccount, created under the main account on first call.

    Safe to repeat, also after a create whose outcome was unknown: the subaccount's name carries
    the organization's id, and one that already exists under that name is adopted rather than
    a second one created. The organization's row stays locked meanwhile, so two workers never
    create one each."""
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=organization.pk)
        existing = TwilioAccount.objects.filter(organization=organization).first()
        if existing is not None:
            return existing
        gateway = main_twilio()
        name = subaccount_name(organization)
        found = gateway.find_subaccounts(name)
        if not found:
            try:
                found = [gateway.create_subaccount(name)]
            except AmbiguousOutcome:
                found = gateway.find_subaccounts(name)
                if not found:
                    raise
        subaccount = found[0]
        account = TwilioAccount.objects.create(
            organization=organization,
            account_sid=subaccount.sid,
            auth_token=subaccount.auth_token,
            friendly_name=subaccount.friendly_name,
        )
        record_audit("twilio.subaccount", organization=organization, target=subaccount.sid)
        return account
