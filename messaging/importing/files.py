"""How an uploaded file reads, and its rows as lists of text.

Files as people really have them: Excel workbooks, and CSV from Excel, Google Sheets, shop
systems and hand edits: UTF-8 with or without a byte-order mark, Windows-1252 or Latin-1 (what
Excel writes on Windows), UTF-16 (Excel's "Unicode text"), CRLF line ends, commas, semicolons
(Excel in much of Europe), tabs or pipes, quoted fields, blank lines. Anything else (a PDF, an
image, an old .xls, random bytes) is refused with a message that says what to do instead.
"""

import codecs
import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass

from messaging.importing.errors import ImportFileError

MAX_COLUMNS = 200
SAMPLE_BYTES = 64 * 1024
# An .xlsx is a zip: refuse one that would inflate beyond this (a "zip bomb").
MAX_XLSX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
DELIMITERS = ",;\t|"

_SIGNATURES = {
    b"\xd0\xcf\x11\xe0": (
        "This is an old Excel file (.xls). In Excel, choose File, Save As, "
        "“Excel Workbook (.xlsx)” or “CSV UTF-8”, then upload that file."
    ),
    b"%PDF": "This is a PDF. Upload your contacts as a CSV or Excel (.xlsx) file.",
    b"\x89PNG": "This is an image. Upload your contacts as a CSV or Excel (.xlsx) file.",
    b"\xff\xd8\xff": "This is an image. Upload your contacts as a CSV or Excel (.xlsx) file.",
    b"GIF8": "This is an image. Upload your contacts as a CSV or Excel (.xlsx) file.",
    b"\x1f\x8b": "This is a compressed (gzip) file. Unpack it and upload the CSV inside.",
    b"Rar!": "This is a compressed (RAR) file. Unpack it and upload the CSV inside.",
    b"{\\rtf": "This is a Word/RTF document. Upload your contacts as a CSV or Excel file.",
}
_NOT_A_TABLE = (
    "This file is not a CSV or Excel (.xlsx) file. Export your contacts as CSV and try again."
)


@dataclass(frozen=True)
class FileLayout:
    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""


def inspect_file(stream) -> FileLayout:
    """Find how a file reads: Excel or CSV, and for CSV its encoding and delimiter. Reads the
    whole file once (to be sure of the encoding); raises ImportFileError."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise ImportFileError("The file is empty.", code="empty")
    if head.startswith(b"PK\x03\x04"):
        _check_workbook_archive(stream)
        return FileLayout("xlsx")
    for signature, message in _SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFileError(message, code="not_a_table")
    encoding = detect_encoding(stream)
    stream.seek(0)
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        stream.read(SAMPLE_BYTES)
    )
    stream.seek(0)
    if _looks_binary(sample):
        raise ImportFileError(_NOT_A_TABLE, code="not_a_table")
    return FileLayout("csv", encoding=encoding, delimiter=sniff_delimiter(sample))


def detect_encoding(stream) -> str:
    """UTF-8 (with or without BOM) and UTF-16 (with BOM) are recognised for sure; a file that is
    not valid UTF-8 is Windows-1252 (what Excel writes on Windows), or Latin-1 for the few bytes
    1252 leaves undefined. Valid UTF-8 is almost never an accident, so no guessing is needed."""
    stream.seek(0)
    head = stream.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        if _decodes_as(stream, encoding):
            return encoding
    return "latin-1"


def _decodes_as(stream, encoding) -> bool:
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := stream.read(1 << 20):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\x7f")
    return controls > max(3, len(text) // 100)


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: csv.Sniffer, told which delimiters are plausible, with
    the header's most frequent candidate when it cannot tell (e.g. a one-column file)."""
    lines = [line for line in sample.splitlines()[:-1] or sample.splitlines() if line.strip()]
    if not lines:
        return ","
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = None
    counts = {candidate: lines[0].count(candidate) for candidate in DELIMITERS}
    if delimiter is None or counts.get(delimiter, 0) == 0:
        best = max(counts, key=counts.get)
        delimiter = best if counts[best] else ","
    return delimiter


def _check_workbook_archive(stream):
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(
            "This file looks like an Excel workbook but is damaged. Open it in Excel and save "
            "it again, or export it as CSV.",
            code="damaged",
        ) from None
    finally:
        stream.seek(0)
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise ImportFileError(
            "This is a zip file, not an Excel workbook. Upload a CSV or .xlsx file.",
            code="not_a_table",
        )
    # zipfile never inflates an entry past its declared size, so the declared sizes bound it.
    if sum(entry.file_size for entry in entries) > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            "This workbook is too large to read. Export the sheet as CSV and upload that.",
            code="too_large",
        )


class Table:
    """The rows of a file, as (line number, cells) with every cell as text. Blank rows are
    skipped; line numbers are those a person sees (CSV: the line where the row starts; Excel:
    the row number)."""

    def __init__(self, stream, layout: FileLayout):
        self.stream = stream
        self.layout = layout
        self._size = None
        self._total_rows = None
        self._row = 0

    def rows(self):
        if self.layout.file_format == "xlsx":
            return self._xlsx_rows()
        return self._csv_rows()

    def progress(self) -> float | None:
        """How far reading has got, 0-1, when it can be told."""
        if self.layout.file_format == "csv":
            if self._size is None:
                position = self.stream.tell()
                self._size = self.stream.seek(0, io.SEEK_END) or 1
                self.stream.seek(position)
            return min(1.0, self.stream.tell() / self._size)
        if self._total_rows:
            return min(1.0, self._row / self._total_rows)
        return None

    def _csv_rows(self):
        self.stream.seek(0)
        self.progress()
        text = io.TextIOWrapper(self.stream, encoding=self.layout.encoding, newline="")
        reader = csv.reader(text, delimiter=self.layout.delimiter or ",")
        next_line = 1
        try:
            for cells in reader:
                line, next_line = next_line, reader.line_num + 1
                if len(cells) > MAX_COLUMNS and any(c.strip() for c in cells[MAX_COLUMNS:]):
                    raise ImportFileError(
                        f"Line {line} has {len(cells):,} columns; at most {MAX_COLUMNS} are "
                        "supported. Is this the right file?",
                        code="too_many_columns",
                    )
                if any(cell.strip() for cell in cells):
                    yield line, cells
        except csv.Error as exc:
            raise ImportFileError(
                f"Line {reader.line_num} cannot be read ({exc}). Check the file, or open it in "
                "a spreadsheet and export it as CSV again.",
                code="malformed",
            ) from None
        except UnicodeDecodeError:
            raise ImportFileError(
                f"Line {next_line} has characters that are not {self.layout.encoding}. Save the "
                "file as “CSV UTF-8” and upload it again.",
                code="encoding",
            ) from None
        finally:
            text.detach()

    def _xlsx_rows(self):
        import openpyxl  # only Excel uploads need it

        self.stream.seek(0)
        try:
            workbook = openpyxl.load_workbook(self.stream, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds (zip, XML, key, value) for bad files
            raise ImportFileError(
                "This Excel file could not be read. Open it in Excel and save it again, or "
                "export the sheet as CSV.",
                code="damaged",
            ) from None
        try:
            sheet = workbook.worksheets[0]
            self._total_rows = sheet.max_row
            number = 0
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if len(values) > MAX_COLUMNS and any(v is not None for v in values[MAX_COLUMNS:]):
                    raise ImportFileError(
                        f"Row {number} has more than {MAX_COLUMNS} columns. Is this the right "
                        "file?",
                        code="too_many_columns",
                    )
                self._row = number
                cells = [cell_text(value) for value in values[:MAX_COLUMNS]]
                if any(cells):
                    yield number, cells
        except ImportFileError:
            raise
        except Exception:
            raise ImportFileError(
                "Part of this Excel file could not be read. Open it in Excel and save it again, "
                "or export the sheet as CSV.",
                code="damaged",
            ) from None
        finally:
            workbook.close()


def cell_text(value) -> str:
    """An Excel cell as the text a person sees: 3055550143.0 → "3055550143"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
