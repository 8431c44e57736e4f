"""Each organization sends from its own Twilio subaccount, created once, even when the create
call's outcome was unknown; until then the main account is its fallback."""

import secrets

import pytest
from django.conf import settings

from a2p.models import TwilioAccount
from a2p.services import ensure_twilio_subaccount, subaccount_name
from organizations.models import AuditLog
from organizations.services import create_organization
from smsplatform.providers.errors import AmbiguousOutcome
from smsplatform.providers.twilio import TwilioGateway, main_twilio, twilio_for


def test_an_organization_without_a_subaccount_uses_the_main_account(acme, twilio_sandbox):
    gateway = twilio_for(acme)
    assert (gateway.account_sid, gateway.auth_token) == (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
    )


def test_the_subaccount_is_created_once_and_then_used(acme, twilio_sandbox):
    account = ensure_twilio_subaccount(acme)
    assert (
        account.account_sid.startswith("AC") and account.account_sid != settings.TWILIO_ACCOUNT_SID
    )
    assert ensure_twilio_subaccount(acme) == account
    assert [s.sid for s in main_twilio().find_subaccounts(subaccount_name(acme))] == [
        account.account_sid
    ]
    gateway = twilio_for(acme)
    assert (gateway.account_sid, gateway.auth_token) == (account.account_sid, account.auth_token)
    # The stored token really is the subaccount's: Twilio accepts it.
    assert gateway.search_available_numbers(area_code=415, limit=1)
    assert AuditLog.objects.filter(organization=acme, action="twilio.subaccount").count() == 1


def test_an_ambiguous_create_adopts_the_subaccount_that_was_made(
    globex, twilio_sandbox, monkeypatch
):
    real_create = TwilioGateway.create_subaccount

    def create_then_lose_the_answer(self, friendly_name):
        real_create(self, friendly_name)  # Twilio made it...
        raise AmbiguousOutcome("read timeout")  # ...but we never heard back

    monkeypatch.setattr(TwilioGateway, "create_subaccount", create_then_lose_the_answer)
    account = ensure_twilio_subaccount(globex)
    found = main_twilio().find_subaccounts(subaccount_name(globex))
    assert [s.sid for s in found] == [account.account_sid]  # adopted, not created twice


def test_an_ambiguous_create_that_made_nothing_is_reported(users, twilio_sandbox, monkeypatch):
    organization = create_organization(
        name="Fresh Shop", slug=f"fresh-{secrets.token_hex(3)}", owner=users["outsider"]
    )

    def lose_it(self, friendly_name):
        raise AmbiguousOutcome("read timeout")

    monkeypatch.setattr(TwilioGateway, "create_subaccount", lose_it)
    with pytest.raises(AmbiguousOutcome):
        ensure_twilio_subaccount(organization)
    assert not TwilioAccount.objects.filter(organization=organization).exists()
