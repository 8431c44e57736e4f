"""One row of a file → a clean contact, or a rejection with its reason. The preview and the
import use the same cleaner, so what the preview shows is what the import does."""

import functools
import json
import re
import zoneinfo
from dataclasses import dataclass, field

from messaging import phones
from messaging.importing.columns import CONSENT, CUSTOM_PREFIX, IGNORE, PHONE
from messaging.models import ImportRejection
from messaging.phones import InvalidPhone, parse_phone
from messaging.services import coerce_custom_value, normalize_tags

Reason = ImportRejection.Reason

# What people write in a "consent" column to mean yes. Anything else, blank included, is no.
CONSENT_YES = frozenset(
    {
        "yes", "y", "true", "t", "1", "x", "✓", "✔", "ok", "opted in", "opt in", "optin",
        "opted-in", "opt-in", "subscribed", "agreed", "agree", "consented", "si", "sí", "oui",
        "ja",
    }
)  # fmt: skip
MAX_RAW_PHONE = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TAG_SEPARATORS = re.compile(r"[,;|]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# json.dumps with an option builds a new encoder for every call: one encoder, a million rows.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(slots=True)
class CleanRow:
    line: int
    raw_phone: str
    phone: str
    region: str
    timezone: str
    timezone_is_manual: bool
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    tags: list = field(default_factory=list)
    custom_fields: dict = field(default_factory=dict)
    # Values that were left out, and why (shown in the preview).
    notes: list = field(default_factory=list)

    def staging_values(self):
        """The row as merge.STAGING_COLUMNS."""
        return (
            self.line,
            self.raw_phone,
            self.phone,
            self.first_name,
            self.last_name,
            self.email,
            self.timezone,
            "t" if self.timezone_is_manual else "f",
            self.region,
            _encode_json(self.custom_fields) if self.custom_fields else "{}",
            ",".join(self.tags),
        )


@dataclass(slots=True)
class Rejection:
    line: int
    raw_phone: str
    reason: str
    detail: str = ""

    @property
    def message(self):
        label = Reason(self.reason).label
        return f"{label}: {self.detail}" if self.detail else label


def clean_text(value: str, max_length: int) -> str:
    """Stray spaces collapsed, control characters (NUL included: PostgreSQL refuses it) gone,
    cut to the column's length. HTML stays as typed: pages escape it when they show it."""
    if not value.isprintable():
        value = _CONTROL.sub(" ", value)
    return " ".join(value.split())[:max_length]


@functools.lru_cache(maxsize=200_000)
def parse_cached(raw: str, default_region: str):
    """(e164, region, timezone) or ("", reason, ""): files repeat numbers (duplicates, the same
    person twice), and parsing is the costliest step of a row."""
    try:
        parsed = parse_phone(raw, default_region)
    except InvalidPhone as exc:
        return "", exc.reason, ""
    return parsed.e164, parsed.region, parsed.timezone


def forget_parsed_phones() -> None:
    """Empty the caches of parsed numbers and their locations (after an import)."""
    parse_cached.cache_clear()
    phones.forget_locations()


@functools.cache
def _zones_by_lower_name() -> dict:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


# Files repeat values (birthdays, "yes", the same few tags): each distinct text is read once.
_coerce_cached = functools.lru_cache(maxsize=65_536)(coerce_custom_value)


@functools.lru_cache(maxsize=4096)
def _split_tags(text: str) -> tuple:
    return tuple(normalize_tags(_TAG_SEPARATORS.split(text)))


class RowCleaner:
    """Cleans rows for one mapping. Remembers the numbers it accepted, so a later row with the
    same number is a duplicate (use a new cleaner for each pass over a file)."""

    def __init__(self, mapping, custom_field_types: dict, default_region: str, tags=()):
        self.default_region = default_region or "US"
        self.extra_tags = tuple(normalize_tags(tags))
        self.columns = {}
        self.custom_columns = []
        for index, target in enumerate(mapping):
            if target.startswith(CUSTOM_PREFIX):
                key = target.removeprefix(CUSTOM_PREFIX)
                if key in custom_field_types:
                    self.custom_columns.append((index, key, custom_field_types[key]))
            elif target != IGNORE:
                self.columns[target] = index
        if PHONE not in self.columns:
            raise ValueError("The mapping has no phone column")
        self.seen_lines = {}
        self.tags_seen = set(self.extra_tags)

    def _cell(self, cells, target) -> str:
        index = self.columns.get(target)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def clean(self, line: int, cells) -> CleanRow | Rejection:
        raw_phone = clean_text(self._cell(cells, PHONE), MAX_RAW_PHONE)
        e164, region, zone = parse_cached(raw_phone, self.default_region)
        if not e164:
            return Rejection(line, raw_phone, Reason.INVALID_PHONE, region)
        if CONSENT in self.columns:
            answer = clean_text(self._cell(cells, CONSENT), 50)
            if answer.lower() not in CONSENT_YES:
                detail = f"the consent column says “{answer}”" if answer else "no consent given"
                return Rejection(line, raw_phone, Reason.NO_CONSENT, detail)
        first_line = self.seen_lines.get(e164)
        if first_line is not None:
            return Rejection(line, raw_phone, Reason.DUPLICATE, f"same number as line {first_line}")
        self.seen_lines[e164] = line

        row = CleanRow(line, raw_phone, e164, region, zone, False)
        row.first_name = clean_text(self._cell(cells, "first_name"), 80)
        row.last_name = clean_text(self._cell(cells, "last_name"), 80)
        full_name = clean_text(self._cell(cells, "full_name"), 161)
        if full_name:
            first, _, last = full_name.partition(" ")
            row.first_name = row.first_name or first[:80]
            row.last_name = row.last_name or last[:80]
        email = clean_text(self._cell(cells, "email"), 254)
        if email:
            if _EMAIL.match(email):
                row.email = email
            else:
                row.notes.append(f"“{email}” is not an email address: left out")
        zone_name = clean_text(self._cell(cells, "timezone"), 64)
        if zone_name:
            known = _zones_by_lower_name().get(zone_name.lower())
            if known:
                row.timezone, row.timezone_is_manual = known, True
            else:
                row.notes.append(f"“{zone_name}” is not a time zone: left out")
        tags = _split_tags(self._cell(cells, "tags")) if "tags" in self.columns else ()
        if tags:
            row.tags = list(dict.fromkeys(tags + self.extra_tags))
            self.tags_seen.update(tags)
        else:
            row.tags = list(self.extra_tags)
        for index, key, field_type in self.custom_columns:
            raw = clean_text(cells[index], 500) if index < len(cells) else ""
            try:
                value = _coerce_cached(field_type, raw)
            except ValueError as exc:
                row.notes.append(f"{key}: {exc}: left out")
                continue
            if value is not None:
                row.custom_fields[key] = value
        return row


def looks_like_phone(text: str, default_region: str) -> bool:
    return bool(parse_cached(clean_text(text, MAX_RAW_PHONE), default_region)[0])
