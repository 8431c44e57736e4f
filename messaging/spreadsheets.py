"""Writing CSV that spreadsheets open safely."""

import csv

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# ("=HYPERLINK(...)", "@SUM(...)"): prefix it with an apostrophe so it is shown as text (OWASP
# CSV injection).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_TRIGGERS) and not _is_plain_number(text):
        return "'" + text
    return text


def _is_plain_number(text: str) -> bool:
    """'+13055550143' and '-12.5' are data, not formulas, and stay as they are."""
    body = text[1:] if text[:1] in "+-" else text
    return bool(body) and body.replace(".", "", 1).isdigit()


class SafeWriter:
    """csv.writer whose rows pass through safe_cell."""

    def __init__(self, stream):
        self._writer = csv.writer(stream)

    def writerow(self, row):
        self._writer.writerow([safe_cell(value) for value in row])
