"""Phone numbers as people type them → E.164, with where the number is (state, time zones).

Parsing uses Google's libphonenumber (the ``phonenumbers`` package). Location depends only on a
number's leading digits, so it is cached by prefix: importing a million contacts looks up a few
thousand prefixes, not a million numbers.
"""

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as number_timezones

# Keep every compiled metadata pattern (a few thousand) instead of asking re's own, smaller
# cache for each of the ~25 patterns a number is matched against: 10% of cleaning an import.
phonenumbers.enable_pattern_cache()


class InvalidPhone(ValueError):
    """The text is not a usable phone number; ``reason`` says why, in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedPhone:
    e164: str
    region: str  # e.g. "FL" for a Florida number; "" when unknown
    timezones: tuple[str, ...]  # every IANA zone the number may be in

    @property
    def timezone(self) -> str:
        """The number's zone when it names exactly one, else ""."""
        return self.timezones[0] if len(self.timezones) == 1 else ""


US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
    "Puerto Rico": "PR",
}  # fmt: skip
_STATE_CODES = frozenset(US_STATES.values())


def parse_phone(raw: str, default_region: str = "US") -> ParsedPhone:
    """Parse a number in any national or international format. Raises InvalidPhone."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("No phone number")
    try:
        number = _parse_number(text, default_region or "US")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(_PARSE_REASONS.get(exc.error_type, "Not a phone number")) from None
    # number_type is UNKNOWN exactly when is_valid_number is false; asking once and passing the
    # type on halves the pattern matching (an import parses a million numbers).
    number_type = phonenumbers.number_type(number)
    if number_type == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidPhone("Not a valid phone number for its country")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region, zones = _location(number, e164, number_type)
    return ParsedPhone(e164=e164, region=region, timezones=zones)


# Digits and the punctuation people put between them, with an optional leading "+".
_PLAIN_NUMBER = re.compile(r"\+?[0-9 ().\-/]+")
_NON_DIGITS = re.compile(r"[^0-9]")
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def _parse_number(text: str, default_region: str) -> phonenumbers.PhoneNumber:
    """phonenumbers.parse, with a shortcut for what most files hold: a North American number
    written as digits and punctuation ("(305) 555-0143", "+1 305.555.0143", "13055550143"),
    which parse would read as the same number, three times slower."""
    if _PLAIN_NUMBER.fullmatch(text):
        digits = _NON_DIGITS.sub("", text)
        national = None
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            if text[0] == "+" or default_region in _NANP_REGIONS:
                national = digits[1:]
        elif (
            len(digits) == 10
            and digits[0] in "23456789"
            and text[0] != "+"
            and default_region in _NANP_REGIONS
        ):
            national = digits
        if national is not None:
            return phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    return phonenumbers.parse(text, default_region)


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "Unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "Not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "Too short to be a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "Too short to be a phone number",
    phonenumbers.NumberParseException.TOO_LONG: "Too long to be a phone number",
}


# Location by a number's first digits (+1 NPA NXX in North America, where the data varies).
# Room for every prefix of a large file: the bench's million numbers have 230,000 of them, and
# with room for only 100,000 the reader spent 13% more CPU looking up the rest. An entry costs
# about 100 bytes (the values are shared), so at most ~30 MB; forget_locations() gives it back
# after each import.
_locations: dict[str, tuple[str, tuple[str, ...]]] = {}
_location_values: dict[tuple, tuple] = {}
_LOCATION_CACHE_SIZE = 300_000


def forget_locations() -> None:
    _locations.clear()
    _location_values.clear()


def _location(
    number: phonenumbers.PhoneNumber, e164: str, number_type: int
) -> tuple[str, tuple[str, ...]]:
    key = e164[:8]
    cached = _locations.get(key)
    if cached is not None:
        return cached
    # What time_zones_for_number and description_for_number do, without re-checking the type.
    geographical = phonenumbers.is_number_type_geographical(number_type, number.country_code)
    if geographical:
        zones = number_timezones.time_zones_for_geographical_number(number)
    else:
        zones = number_timezones.time_zones_for_number(number)
    zones = tuple(z for z in zones if z != "Etc/Unknown")
    region = ""
    if number.country_code == 1:
        description = (
            geocoder.description_for_valid_number(number, "en")
            if geographical
            else geocoder.description_for_number(number, "en")
        )
        if description in US_STATES:
            region = US_STATES[description]
        elif description[-4:-2] == ", " and description[-2:] in _STATE_CODES:
            region = description[-2:]
    value = (region, zones)
    if len(_locations) < _LOCATION_CACHE_SIZE:
        _locations[key] = _location_values.setdefault(value, value)
    return value


def format_national(e164: str) -> str:
    """(305) 555-0143 for US numbers, the international format otherwise."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)
