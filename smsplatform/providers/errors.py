"""Provider errors, as the rest of the platform sees them. Every Twilio or Stripe error code is
mapped to one of these classes in this module, and nowhere else (DESIGN §4.8).

The class says what the caller may do next:
- RetryableError: the request was not processed (rate limit, connection refused): retry later,
  with backoff.
- AmbiguousOutcome: the request may or may not have been processed (timeout after sending, a
  5xx): reconcile with the provider before retrying, or risk doing it twice.
- PermanentRecipientError: this recipient cannot be reached this way; never retry for them.
- AccountBlockedError: the sender or account may not send at all right now (e.g. unregistered
  10DLC number): stop the organization's sending and tell a person.
- ProviderRequestError: the request itself is wrong (validation, not found): a bug or bad input.
- ProviderAuthError: credentials rejected.
"""


class ProviderError(Exception):
    provider = "provider"

    def __init__(self, message="", *, code=None, http_status=None, plain_reason=None):
        super().__init__(message or plain_reason or "provider error")
        self.message = message
        self.code = code
        self.http_status = http_status
        # A sentence a customer can read ("The phone is switched off or out of coverage.").
        self.plain_reason = plain_reason or message

    retryable = False

    def __repr__(self):
        return f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r})"


class RetryableError(ProviderError):
    retryable = True


class AmbiguousOutcome(ProviderError):
    pass


class PermanentRecipientError(ProviderError):
    pass


class AccountBlockedError(ProviderError):
    pass


class ProviderRequestError(ProviderError):
    pass


class ProviderAuthError(ProviderError):
    pass


# --- Twilio codes -----------------------------------------------------------------------------
# Filled in by the Twilio gateway work.


# --- Stripe errors ----------------------------------------------------------------------------
# Why 5xx and connection errors split the way they do: Stripe stores the outcome of a request
# under its Idempotency-Key and replays it (a 500 included) for 24 hours, so repeating a keyed
# request can never perform it twice. Every create in smsplatform/providers/stripe.py carries a
# deterministic key from its caller, and reads change nothing: after a 5xx those are Retryable.
# An unkeyed write (an update) that got a 5xx reached Stripe and may or may not have been
# applied: AmbiguousOutcome, re-read the object before deciding. A connection error means no
# answer came back at all; the SDK has already retried it itself under one key
# (STRIPE_MAX_NETWORK_RETRIES), and the gateway's updates set absolute values (a price, a flag),
# so a later retry cannot do anything twice either: Retryable.


class PaymentDeclinedError(ProviderRequestError):
    """The customer's card was refused; ``plain_reason`` says why in words a customer reads."""


class InvalidWebhookError(ProviderRequestError):
    """A webhook whose signature is missing, wrong or too old, or whose body is not an event:
    refuse it and store nothing."""


STRIPE_DECLINE_REASONS = {
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "incorrect_number": "The card number is incorrect.",
    "lost_card": "The card was reported lost. Please use another card.",
    "stolen_card": "The card was reported stolen. Please use another card.",
    "processing_error": "The card could not be processed. Please try again.",
    "card_velocity_exceeded": "The card has been used too often. Please try again later.",
}
STRIPE_DEFAULT_DECLINE_REASON = "The card was declined. Please use another card."

STRIPE_REQUEST_REASONS = {
    "resource_missing": "Stripe has no such object.",
    "idempotency_key_in_use": "The same request is already in progress.",
    "parameter_missing": "A required detail is missing from the request to Stripe.",
    "parameter_invalid_integer": "A number sent to Stripe is not valid.",
}


def from_stripe_error(error, *, retry_safe: bool) -> ProviderError:
    """The platform's error for a ``stripe.StripeError``.

    ``retry_safe``: the request carried a deterministic idempotency key, or only reads or sets
    an absolute state, so repeating it cannot do anything twice.
    """
    import stripe  # only the gateway's failures come here; keep this module free of the SDK

    status = getattr(error, "http_status", None)
    code = getattr(error, "code", None)
    message = getattr(error, "user_message", None) or str(getattr(error, "_message", "") or "")
    kwargs = {"code": code, "http_status": status}

    if isinstance(error, stripe.CardError):
        # Not every card error has a decline code (expired_card, incorrect_cvc only a code).
        decline_code = getattr(getattr(error, "error", None), "decline_code", None)
        reason = STRIPE_DECLINE_REASONS.get(decline_code or code, STRIPE_DEFAULT_DECLINE_REASON)
        result = PaymentDeclinedError(message, plain_reason=reason, **kwargs)
        if decline_code:
            result.code = decline_code
    elif isinstance(error, stripe.RateLimitError):
        reason = "Stripe is limiting how fast we call it; try again shortly."
        result = RetryableError(message, plain_reason=reason, **kwargs)
    elif isinstance(error, stripe.APIConnectionError):
        reason = "Stripe could not be reached; try again shortly."
        result = RetryableError(message, plain_reason=reason, **kwargs)
    elif isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        reason = "Stripe refused the platform's credentials (STRIPE_SECRET_KEY)."
        result = ProviderAuthError(message, plain_reason=reason, **kwargs)
    elif isinstance(error, stripe.IdempotencyError):
        reason = "An idempotency key was reused for a different request to Stripe."
        result = ProviderRequestError(message, plain_reason=reason, **kwargs)
    elif isinstance(error, stripe.InvalidRequestError) or (status and 400 <= status < 500):
        if status == 409 or code in ("lock_timeout", "idempotency_key_in_use"):
            reason = "Stripe was busy with the same object; try again shortly."
            result = RetryableError(message, plain_reason=reason, **kwargs)
        else:
            reason = STRIPE_REQUEST_REASONS.get(code, "Stripe refused the request as invalid.")
            result = ProviderRequestError(message, plain_reason=reason, **kwargs)
    elif retry_safe:
        reason = "Stripe had an internal error; retrying with the same key is safe."
        result = RetryableError(message, plain_reason=reason, **kwargs)
    else:
        reason = "Stripe had an internal error; the change may or may not have been made."
        result = AmbiguousOutcome(message, plain_reason=reason, **kwargs)
    result.provider = "stripe"
    return result
