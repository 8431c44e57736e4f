"""What an inbound text asks for: to stop, to start again, help, to join, or to confirm.

Opt-out detection goes beyond single keywords: the FCC's 2025 revocation rule lets people opt
out "by any reasonable means", so short replies such as "Stop please", "unsubscribe me" or
"please stop texting me" count. A longer sentence that merely contains "stop" ("Can I stop by
tomorrow?") does not.
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    JOIN = "join"
    CONFIRM = "confirm"


OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})
CONFIRM_WORDS = frozenset({"y", "yes"})
DEFAULT_JOIN_KEYWORDS = ("join",)

# Words that may surround an opt-out keyword in a short reply without changing its meaning.
_FILLER = frozenset(
    """
    please pls plz me now all texting texts text messages messaging message sending emails
    it this these them thanks thank you thx asap right away immediately the from list of
    your my us ok okay just already send sms receiving getting
    """.split()
)
# Phrases that mean "opt me out" wherever they appear in a short message.
_OPT_OUT_PHRASES = re.compile(
    r"\b(opt ?out|unsubscribe|remove me|take me off|stop (texting|messaging|sending|contacting)"
    r"|(do not|dont|don t) (text|message|contact)|no more (texts|messages|text messages))\b"
)
_MAX_WORDS_FOR_PHRASES = 15
_MAX_WORDS_FOR_KEYWORD_REPLY = 6


@dataclass(frozen=True)
class Keyword:
    intent: Intent
    text: str  # the inbound text, normalized, as evidence


def normalize(body: str) -> str:
    """Lower case, accents and punctuation and emoji removed, single spaces."""
    text = unicodedata.normalize("NFKD", body or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub("[\u2019']", " ", text)  # apostrophes: "don't" -> "don t"
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return " ".join(text.split())


def classify(
    body: str, *, join_keywords=DEFAULT_JOIN_KEYWORDS, awaiting_confirmation=False
) -> Keyword | None:
    """The intent of an inbound text, or None for an ordinary message. Opt-out wins over
    everything else."""
    text = normalize(body)
    if not text:
        return None
    words = text.split()
    if _is_opt_out(words, text):
        return Keyword(Intent.OPT_OUT, text)
    meaningful = [w for w in words if w not in {"please", "pls", "plz"}]
    single = meaningful[0] if len(meaningful) == 1 else None
    if single is None:
        return None
    if awaiting_confirmation and single in CONFIRM_WORDS:
        return Keyword(Intent.CONFIRM, text)
    if single in HELP_WORDS:
        return Keyword(Intent.HELP, text)
    if single in {normalize(k) for k in join_keywords if k}:
        return Keyword(Intent.JOIN, text)
    if single in OPT_IN_WORDS:
        return Keyword(Intent.OPT_IN, text)
    return None


def _is_opt_out(words: list[str], text: str) -> bool:
    if len(words) == 1:
        return words[0] in OPT_OUT_WORDS
    joined = "".join(words)
    if joined in OPT_OUT_WORDS:  # "STOP ALL", "OPT OUT"
        return True
    if len(words) <= _MAX_WORDS_FOR_KEYWORD_REPLY and (
        words[0] in OPT_OUT_WORDS or words[-1] in OPT_OUT_WORDS
    ):
        others = [w for w in words if w not in OPT_OUT_WORDS]
        if all(w in _FILLER for w in others):
            return True
    return len(words) <= _MAX_WORDS_FOR_PHRASES and bool(_OPT_OUT_PHRASES.search(text))
