"""Designated inputs that make the sandbox fail the way Twilio would (docs/sandboxes.md lists
them). The first group are Twilio's own test-credential magic numbers; the rest are ours."""

# Synchronous errors of POST .../Messages.json, by To: (HTTP 400 with this code, message).
TO_ERRORS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: +15005550002, is not currently reachable via SMS.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: +15005550003.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}

# ... and by From.
FROM_ERRORS = {
    "+15005550001": (
        21212,
        "The 'From' number +15005550001 is not a valid phone number, shortcode, or "
        "alphanumeric sender ID.",
    ),
    "+15005550007": (
        21606,
        "The 'From' phone number provided (+15005550007) is not a valid message-capable "
        "Twilio phone number for this destination/account.",
    ),
    "+15005550008": (
        21611,
        "This 'From' number has exceeded the maximum number of queued messages.",
    ),
}

# A From every account may use without owning it (Twilio's test From number).
UNIVERSAL_FROM = "+15005550006"

# Delivery failures after the message was accepted, by the last seven digits of To
# (555-3xxx: the xxx is the error's last digits): (final status, error code).
DELIVERY_FAILURES = {
    "5553001": ("failed", 30001),
    "5553003": ("undelivered", 30003),
    "5553004": ("undelivered", 30004),
    "5553005": ("undelivered", 30005),
    "5553006": ("undelivered", 30006),
    "5553007": ("undelivered", 30007),
    "5553008": ("undelivered", 30008),
    "5553034": ("undelivered", 30034),
    "5553036": ("failed", 30036),
}

DELIVERY_ERROR_MESSAGES = {
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    30034: "Message from an unregistered number",
    30036: "Validity Period expired",
}

# Buying numbers (Twilio's magic numbers for IncomingPhoneNumbers).
UNAVAILABLE_NUMBER = "+15005550000"  # 21422
INVALID_NUMBER = "+15005550001"  # 21421
EMPTY_AREA_CODE = "533"  # 21452: no numbers in this area code

# A2P reviews.
INVALID_EIN = "000000000"  # business_registration_number -> brand FAILED, 30795
FAIL_MARKER = "SANDBOX-FAIL-"  # + a code, e.g. SANDBOX-FAIL-30899 in a campaign description
REJECT_MARKER = "SANDBOX-REJECT"  # in a bundle's FriendlyName -> twilio-rejected

# Opt-out keywords Twilio handles on long codes (twilio-a2p.md §5).
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_KEYWORDS = {"START", "YES", "UNSTOP"}


def delivery_failure(to: str):
    """(final status, error code) for a designated To, else None."""
    return DELIVERY_FAILURES.get(to[-7:]) if len(to) >= 7 else None


def fail_code(text: str | None) -> int | None:
    """The code of a SANDBOX-FAIL-<code> marker in ``text``."""
    if not text or FAIL_MARKER not in text:
        return None
    digits = ""
    for char in text.split(FAIL_MARKER, 1)[1]:
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else None
