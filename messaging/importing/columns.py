"""What each column of a file holds. Suggested from the headers (and, for the phone number,
from the values when no header says so); the person can change every choice before importing."""

import re

from messaging.importing.errors import ImportSetupError

IGNORE = "ignore"
PHONE = "phone"
CONSENT = "consent"
CUSTOM_PREFIX = "custom:"

BUILT_IN_TARGETS = [
    (PHONE, "Phone number"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("full_name", "Full name (first and last)"),
    ("email", "Email"),
    ("tags", "Tags (separated by commas)"),
    ("timezone", "Time zone"),
    (CONSENT, "Consent for this row (yes / no)"),
]

# Header words, normalized by header_key(), that name each target outright.
_SYNONYMS = {
    PHONE: (
        "phone", "phone number", "phone no", "phonenumber", "mobile", "mobile number",
        "mobile phone", "mobile no", "cell", "cell phone", "cellphone", "cell number", "number",
        "tel", "telephone", "sms", "sms number", "text number", "msisdn", "contact number",
        "whatsapp",
    ),
    "first_name": ("first name", "firstname", "first", "given name", "forename", "fname"),
    "last_name": ("last name", "lastname", "last", "surname", "family name", "lname"),
    "full_name": ("name", "full name", "fullname", "contact name", "customer name"),
    "email": ("email", "e mail", "email address", "e mail address", "mail"),
    "tags": ("tags", "tag", "labels", "label", "groups", "group"),
    "timezone": ("time zone", "timezone", "tz", "zone"),
    CONSENT: (
        "consent", "sms consent", "text consent", "marketing consent", "opt in", "optin",
        "opted in", "sms opt in", "sms optin", "accepts sms marketing", "sms marketing",
        "sms subscribed", "subscribed to sms", "agreed to texts", "sms permission",
    ),
}  # fmt: skip
_BY_SYNONYM = {word: target for target, words in _SYNONYMS.items() for word in words}
# Looser hints for headers such as "Default Address Phone" or "Mobile Phone #".
_HINTS = (
    (PHONE, ("phone", "mobile", "cell")),
    ("email", ("email", "e mail")),
    ("last_name", ("surname",)),
    ("tags", ("tag",)),
    ("timezone", ("time zone", "timezone")),
)
_NON_WORD = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    """'First_Name ' → 'first name'; 'E-Mail' → 'e mail'; 'Phone #' → 'phone'."""
    return _NON_WORD.sub(" ", str(header).lower()).strip()


def target_choices(custom_fields) -> list[tuple[str, str]]:
    """Every target a column may be mapped to, for the mapping form."""
    return [
        *BUILT_IN_TARGETS,
        *[
            (f"{CUSTOM_PREFIX}{field.key}", f"Custom field: {field.label}")
            for field in custom_fields
        ],
        (IGNORE, "Don't import this column"),
    ]


def target_label(target: str, custom_fields) -> str:
    return dict(target_choices(custom_fields)).get(target, target)


def suggest_mapping(columns, sample_rows, custom_fields, looks_like_phone) -> list[str]:
    """One target per column: exact header names first, then looser hints, then (for the phone
    number only) the column whose sample values are mostly phone numbers."""
    custom_by_key = {}
    for field in custom_fields:
        custom_by_key.setdefault(header_key(field.key), f"{CUSTOM_PREFIX}{field.key}")
        custom_by_key.setdefault(header_key(field.label), f"{CUSTOM_PREFIX}{field.key}")
    keys = [header_key(column) for column in columns]
    mapping = [IGNORE] * len(columns)
    taken = set()

    def assign(index, target):
        if target and target not in taken and mapping[index] == IGNORE:
            mapping[index] = target
            taken.add(target)

    for index, key in enumerate(keys):
        assign(index, custom_by_key.get(key) or _BY_SYNONYM.get(key))
    for index, key in enumerate(keys):
        for target, hints in _HINTS:
            if mapping[index] == IGNORE and any(hint in key for hint in hints):
                assign(index, target)
    if PHONE not in taken and sample_rows:
        scores = [
            sum(1 for row in sample_rows if index < len(row) and looks_like_phone(row[index]))
            for index in range(len(columns))
        ]
        best = max(range(len(columns)), key=scores.__getitem__)
        if scores[best] * 2 >= len(sample_rows) and mapping[best] == IGNORE:
            assign(best, PHONE)
    return mapping


def validate_mapping(mapping, columns, custom_fields) -> list[str]:
    """The mapping, checked: one target per column, a phone column, no target twice."""
    allowed = {target for target, _ in target_choices(custom_fields)}
    if not isinstance(mapping, list) or len(mapping) != len(columns):
        raise ImportSetupError("Choose what each column holds.")
    seen = {}
    for index, target in enumerate(mapping):
        if target not in allowed:
            raise ImportSetupError(f"Column “{columns[index]}”: choose what it holds.")
        if target == IGNORE:
            continue
        if target in seen:
            raise ImportSetupError(
                f"Columns “{columns[seen[target]]}” and “{columns[index]}” are both set to "
                f"“{target_label(target, custom_fields)}”. Choose one of them."
            )
        seen[target] = index
    if PHONE not in seen:
        raise ImportSetupError("Choose the column that holds the phone numbers.")
    return list(mapping)
