"""How each kind of Stripe failure reaches the platform (smsplatform/providers/errors.py)."""

import pytest
import stripe

from smsplatform.providers.errors import (
    AmbiguousOutcome,
    PaymentDeclinedError,
    ProviderAuthError,
    ProviderRequestError,
    RetryableError,
    from_stripe_error,
)


def card_error(code, decline_code=None):
    body = {"error": {"type": "card_error", "code": code, "message": "Declined."}}
    if decline_code:
        body["error"]["decline_code"] = decline_code
    return stripe.CardError("Declined.", None, code, http_status=402, json_body=body)


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (
            card_error("card_declined", "insufficient_funds"),
            "insufficient_funds",
            "The card has insufficient funds.",
        ),
        (card_error("expired_card"), "expired_card", "The card has expired."),
        (
            card_error("card_declined", "do_not_honor"),
            "do_not_honor",
            "The card was declined. Please use another card.",
        ),
    ],
)
def test_declined_cards_say_why_in_plain_words(error, code, reason):
    mapped = from_stripe_error(error, retry_safe=True)
    assert isinstance(mapped, PaymentDeclinedError)
    assert (mapped.code, mapped.plain_reason, mapped.http_status) == (code, reason, 402)
    assert mapped.provider == "stripe"


def test_a_server_error_is_retryable_only_when_the_retry_is_a_replay():
    error = stripe.APIError("An unknown error occurred", http_status=500)
    assert type(from_stripe_error(error, retry_safe=True)) is RetryableError
    assert type(from_stripe_error(error, retry_safe=False)) is AmbiguousOutcome


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (stripe.APIConnectionError("Connection refused"), RetryableError),
        (stripe.RateLimitError("Too many requests", http_status=429), RetryableError),
        (stripe.InvalidRequestError("Busy", None, "lock_timeout", http_status=429), RetryableError),
        (stripe.AuthenticationError("Invalid API Key", http_status=401), ProviderAuthError),
        (stripe.PermissionError("Not allowed", http_status=403), ProviderAuthError),
        (
            stripe.InvalidRequestError(
                "No such customer", "id", "resource_missing", http_status=404
            ),
            ProviderRequestError,
        ),
        (
            stripe.IdempotencyError("Keys for idempotent requests...", http_status=400),
            ProviderRequestError,
        ),
    ],
)
def test_each_failure_says_what_the_caller_may_do(error, expected):
    mapped = from_stripe_error(error, retry_safe=False)
    assert type(mapped) is expected
    assert mapped.plain_reason
