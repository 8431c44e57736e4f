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
# Filled in by the Stripe gateway work.
