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
