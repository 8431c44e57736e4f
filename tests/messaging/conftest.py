import itertools

import pytest

from messaging import services
from messaging.models import ConsentEvent

_numbers = itertools.count(100)


def new_phone():
    """A fresh valid Miami number (555-01xx is reserved for fiction)."""
    return f"+1305555{next(_numbers) % 10_000:04d}"


@pytest.fixture
def make_contact(in_acme):
    def make(phone=None, *, subscribed=True, **fields):
        consent = (
            services.Consent(method=ConsentEvent.Method.MANUAL, source="test")
            if subscribed
            else None
        )
        return services.create_contact(phone=phone or new_phone(), consent=consent, **fields)

    return make


@pytest.fixture
def committed_acme(world, committed):
    """acme with no test transaction around it, for code that manages its own connection and
    transactions (the status-callback lane, races between two connections)."""
    from organizations.models import Organization

    return Organization.objects.get(pk=world.acme_id)


@pytest.fixture
def main_account(settings):
    """The platform's own Twilio account (tests.messaging.test_status_webhook's MAIN_SID and
    MAIN_TOKEN), which signs callbacks about messages sent before a subaccount existed."""
    from tests.messaging.test_status_webhook import MAIN_SID, MAIN_TOKEN

    settings.TWILIO_ACCOUNT_SID = MAIN_SID
    settings.TWILIO_AUTH_TOKEN = MAIN_TOKEN
