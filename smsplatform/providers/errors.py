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
    """Maybe processed, maybe not: reconcile with the provider before any retry."""


class PermanentRecipientError(ProviderError):
    """This recipient cannot be reached this way: never retry for them."""


class AccountBlockedError(ProviderError):
    """The account may not send at all now: stop its sending, tell a person."""


class Withdrawn(ProviderError):
    """Never sent: the sender stopped before making the request (its campaign was paused or
    canceled). Nothing reached the provider, so the message may go later as if never tried."""


class ProviderRequestError(ProviderError):
    """The request itself is wrong (validation, not found): a bug or bad input."""


class ProviderAuthError(ProviderError):
    """The credentials were rejected."""


# --- Twilio codes -----------------------------------------------------------------------------
# Every Twilio error code the platform treats specially: the class (what the caller may do next)
# and a sentence a small-business owner understands. A code arrives either with an HTTP error
# from the REST API or, for delivery failures, in a status callback (no HTTP status).
#
# Decisions worth knowing:
# - 30034 (unregistered 10DLC number), 30024 (number not yet provisioned at the carrier), 21606 /
#   21212 (bad sender), 21701/21704 (unusable Messaging Service): every message from the
#   organization would fail the same way, so they block the account rather than the recipient.
# - 30007 (filtered as spam) is permanent for this message, not account-level: carriers filter
#   per message content and per carrier, and one filtered text does not mean the sender is
#   blocked. Pausing a campaign after a burst of them is the campaign's decision.
# - 30008 (unknown carrier error), 30001 / 21611 (queue full) and 30036 (expired while queued):
#   the message never reached the phone, so sending it again later is safe.
TWILIO_CODES: dict[int, tuple[type[ProviderError], str]] = {
    # Not processed, or not delivered through no fault of the recipient: may be sent again later.
    20429: (RetryableError, "Twilio is handling too many of our requests; we will retry shortly."),
    21611: (RetryableError, "The sending number has too many texts waiting; retry later."),
    30001: (RetryableError, "The sending number had too many texts waiting; retry later."),
    30008: (RetryableError, "The carrier reported an unknown error; the text may be sent again."),
    30036: (RetryableError, "The text waited too long in the queue and expired before sending."),
    # This recipient cannot be reached this way: never retry for them.
    21211: (PermanentRecipientError, "This is not a valid mobile phone number."),
    21408: (PermanentRecipientError, "Texting numbers in this country or region is not enabled."),
    21608: (PermanentRecipientError, "A trial account can only text numbers it has verified."),
    21610: (
        PermanentRecipientError,
        "This person replied STOP and is unsubscribed. They can text START to subscribe again.",
    ),
    21612: (PermanentRecipientError, "This number cannot receive texts from us."),
    21614: (PermanentRecipientError, "This is a landline or another number that cannot get texts."),
    30003: (PermanentRecipientError, "The phone is switched off or out of coverage."),
    30004: (PermanentRecipientError, "The recipient or their carrier blocked the text."),
    30005: (PermanentRecipientError, "This number is unknown or no longer in service."),
    30006: (PermanentRecipientError, "This is a landline, or its carrier cannot deliver texts."),
    30007: (
        PermanentRecipientError,
        "The carrier filtered this text as possible spam. Check its wording and links.",
    ),
    30011: (PermanentRecipientError, "This phone cannot receive picture messages."),
    # The organization cannot send at all right now: stop its sending and tell a person.
    20005: (AccountBlockedError, "The Twilio account for this business is not active."),
    21212: (AccountBlockedError, "The sending number is not a valid phone number."),
    21606: (AccountBlockedError, "The sending number does not belong to this business's account."),
    21701: (AccountBlockedError, "The messaging service used for sending does not exist."),
    21704: (AccountBlockedError, "The messaging service has no phone number to send from."),
    30002: (AccountBlockedError, "The Twilio account for this business is suspended."),
    30024: (
        AccountBlockedError,
        "The business's number is still being registered with the carriers.",
    ),
    30032: (AccountBlockedError, "The toll-free number is not verified for texting yet."),
    30034: (
        AccountBlockedError,
        "The business is not registered for texting (A2P 10DLC) yet, so carriers block its "
        "messages.",
    ),
    # Credentials.
    20003: (ProviderAuthError, "Twilio did not accept the account credentials."),
    # The request itself is wrong (a bug or bad input): fix it before trying again.
    20404: (ProviderRequestError, "Twilio has no such record."),
    21421: (ProviderRequestError, "That phone number is not valid."),
    21422: (ProviderRequestError, "That phone number is no longer available; pick another one."),
    21452: (ProviderRequestError, "There are no phone numbers available in that area code."),
    21602: (ProviderRequestError, "The text has no message and no picture."),
    21603: (ProviderRequestError, "The text has no sender (number or messaging service)."),
    21604: (ProviderRequestError, "The text has no recipient."),
    21617: (ProviderRequestError, "The text is longer than 1,600 characters."),
    21620: (ProviderRequestError, "A picture link is not valid."),
    21712: (
        ProviderRequestError,
        "This phone number already belongs to another messaging service.",
    ),
    21719: (
        ProviderRequestError,
        "The messaging service's use case does not match the registered campaign.",
    ),
    # A2P 10DLC registration (brand and campaign reviews, TrustHub evaluations).
    21725: (ProviderRequestError, "The brand can only be resubmitted after it has failed."),
    21736: (ProviderRequestError, "The brand contact's email address is not valid."),
    22214: (ProviderRequestError, "A required part of the business profile is missing."),
    22215: (ProviderRequestError, "A required business detail is missing."),
    22216: (ProviderRequestError, "A required document is missing from the business profile."),
    22217: (
        ProviderRequestError,
        "A document detail is missing or does not match the business information.",
    ),
    22218: (ProviderRequestError, "A phone number in the business profile is not valid."),
    22219: (ProviderRequestError, "The business address is missing or not valid."),
    30532: (ProviderRequestError, "The campaign looks like personal, person-to-person texting."),
    30533: (ProviderRequestError, "A sample message is missing or does not match the campaign."),
    30538: (ProviderRequestError, "The sign-up description does not say what people agree to."),
    30702: (ProviderRequestError, "The carriers' registry could not find this brand."),
    30795: (
        ProviderRequestError,
        "The EIN (tax ID) does not match IRS records. Check it and the legal business name.",
    ),
    30801: (ProviderRequestError, "The business address could not be verified."),
    30899: (
        ProviderRequestError,
        "The carriers rejected the campaign. The details say what to change.",
    ),
    30900: (ProviderRequestError, "This kind of texting is not allowed for this business."),
    30902: (ProviderRequestError, "A carrier rejected the campaign."),
    30910: (ProviderRequestError, "Campaign details must be written in English."),
    30930: (ProviderRequestError, "This brand already has the maximum number of campaigns."),
    30994: (
        ProviderRequestError,
        "The brand is waiting for its contact to confirm the verification email.",
    ),
}

_GENERIC_TWILIO_REASONS = {
    RetryableError: "Twilio could not handle the request just now; it will be retried.",
    AmbiguousOutcome: "Twilio did not confirm whether it accepted the request.",
    PermanentRecipientError: "The carrier could not deliver this text.",
    AccountBlockedError: "Twilio is not letting this business send texts right now.",
    ProviderRequestError: "Twilio refused the request.",
    ProviderAuthError: "Twilio did not accept the account credentials.",
}


def twilio_error(
    code: int | None,
    *,
    http_status: int | None = None,
    message: str = "",
    idempotent: bool = False,
) -> ProviderError:
    """The domain error for a Twilio error ``code`` (from an API error body or a status
    callback's ErrorCode). Codes not in the table fall back on the HTTP status: 429 retryable,
    5xx ambiguous (for a request that is not ``idempotent``, e.g. creating a message: Twilio has
    no idempotency key for it, so it may have been sent), other 4xx a bad request; a delivery
    error from a callback (no HTTP status) is permanent for that message."""
    if code in TWILIO_CODES:
        error_class, reason = TWILIO_CODES[code]
    else:
        reason = None
        if http_status == 401:
            error_class = ProviderAuthError
        elif http_status == 429:
            error_class = RetryableError
        elif http_status is not None and http_status >= 500:
            error_class = AmbiguousOutcome
        elif http_status is not None:
            error_class = ProviderRequestError
        else:
            error_class = PermanentRecipientError
    if error_class is AmbiguousOutcome and idempotent:
        error_class = RetryableError
    if reason is None:
        reason = _GENERIC_TWILIO_REASONS[error_class]
    return _tagged(
        error_class(message or reason, code=code, http_status=http_status, plain_reason=reason)
    )


def twilio_transport_error(detail: str, *, request_sent: bool, idempotent: bool) -> ProviderError:
    """No HTTP answer at all. A request that never left (connection refused, connect timeout)
    can be retried; one that may have reached Twilio (read timeout, connection dropped) has an
    unknown outcome unless repeating it is harmless."""
    if not request_sent or idempotent:
        error_class = RetryableError
        reason = "Twilio could not be reached just now; it will be retried."
    else:
        error_class = AmbiguousOutcome
        reason = "Twilio did not answer in time, so we don't know whether it accepted the request."
    return _tagged(error_class(detail, plain_reason=reason))


def _tagged(error: ProviderError) -> ProviderError:
    error.provider = "twilio"
    return error


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
