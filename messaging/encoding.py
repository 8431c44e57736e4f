"""How many messages a text costs: GSM-7 or UCS-2 encoding and its segments.

Carriers bill by segment. A text in the GSM-7 alphabet fits 160 characters in one segment and
153 per segment when split (6 bytes of each go to the concatenation header); the extension
characters ^ { } \\ [ ] ~ | € take two. A single character outside GSM-7 (an emoji, a curly quote)
switches the whole text to UCS-2: 70 characters in one segment, 67 when split, where characters
outside the Basic Multilingual Plane (most emoji) take two. Customers see the result as a number
of *messages*.
"""

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[]~|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 10  # Twilio accepts up to 1,600 characters; beyond ~10 segments delivery suffers


@dataclass(frozen=True)
class TextCost:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int
    units: int  # septets (GSM-7) or 16-bit code units (UCS-2)
    segments: int
    unicode_characters: tuple[str, ...]  # the characters that forced UCS-2, in order of first use

    @property
    def messages(self) -> int:
        """What the customer is charged: one message per segment."""
        return self.segments


def text_cost(text: str) -> TextCost:
    text = text or ""
    forcing = []
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        elif char not in forcing:
            forcing.append(char)
    if not forcing:
        segments = _segments_gsm7(text, septets)
        return TextCost("GSM-7", len(text), septets, segments, ())
    units = sum(2 if ord(char) > 0xFFFF else 1 for char in text)
    segments = _segments_ucs2(text, units)
    return TextCost("UCS-2", len(text), units, segments, tuple(forcing))


def _segments_gsm7(text: str, septets: int) -> int:
    if septets == 0:
        return 0
    if septets <= GSM7_SINGLE:
        return 1
    # An escape pair is never split across two segments.
    segments, used = 1, 0
    for char in text:
        size = 2 if char in GSM7_EXTENSION else 1
        if used + size > GSM7_PART:
            segments, used = segments + 1, 0
        used += size
    return segments


def _segments_ucs2(text: str, units: int) -> int:
    if units <= UCS2_SINGLE:
        return 1 if units else 0
    # A surrogate pair (emoji) is never split across two segments.
    segments, used = 1, 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > UCS2_PART:
            segments, used = segments + 1, 0
        used += size
    return segments
