"""Each organization sends from its own Twilio subaccount, created once, even when the create
call's outcome was unknown; until then the main account is its fallback."""

import importlib
import secrets

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection

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


def stored_token(account) -> str:
    """What the database itself holds (a backup, a read-only SQL session)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_token FROM a2p_twilioaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_the_subaccount_token_is_encrypted_in_the_database(acme, twilio_sandbox):
    account = ensure_twilio_subaccount(acme)
    token = TwilioAccount.objects.get(pk=account.pk).auth_token
    assert len(token) == 32  # Twilio's auth tokens: 32 hex digits

    stored = stored_token(account)
    assert token not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token


def test_the_migration_encrypts_tokens_stored_as_plain_text_and_back(acme):
    account = TwilioAccount.objects.create(
        organization=acme, account_sid="AC" + "1" * 32, auth_token="f" * 32
    )
    with connection.cursor() as cursor:  # as a row written before the field was encrypted
        cursor.execute(
            "UPDATE a2p_twilioaccount SET auth_token = %s WHERE id = %s", ["f" * 32, account.pk]
        )
    migration = importlib.import_module("a2p.migrations.0005_encrypt_subaccount_tokens")
    with connection.schema_editor() as editor:
        migration.encrypt_tokens(django_apps, editor)
        assert stored_token(account).startswith("gAAAAA")
        assert TwilioAccount.objects.get(pk=account.pk).auth_token == "f" * 32

        migration.decrypt_tokens(django_apps, editor)
        assert stored_token(account) == "f" * 32
