"""Spreadsheet files as offices hold them: exports, re-saved copies, registries (docs/spec.md §4).

A file is read by what it holds, not by its name's ending (any of `.csv`, `.txt`, `.tsv`, `.xlsx`): a workbook is
read as a workbook, text as delimited text, and a PDF, an image or a web page saved under the export's name is
refused in one line that says what it really is.

Delimited text is read the way people save it:
- the encoding from the byte-order mark (UTF-8, UTF-16 LE or BE: Excel's "Unicode Text"); without one, UTF-8,
  or else a legacy Windows code page, with a warning. Windows-1258 (Vietnamese Windows, Excel's "CSV (Comma
  delimited)") keeps its five tone marks as combining characters after a vowel; text where such a byte follows a
  consonant is Windows-1252 (an English Windows, whose o and i with a grave accent are those bytes). That fallback
  is no guess between UTF-8 and a code page: Vietnamese in either code page does not pass for UTF-8 (its letters are
  bytes 0xC0 and up, and no UTF-8 character has two of those in a row). Legacy text is composed (NFC) as it is read;
- the separator (comma, semicolon under Vietnamese regional settings, tab) from the header line alone, never from
  the answers below it: the character found most often outside quotes, the first of them on a tie;
- any line ending (CRLF, LF, or the old Mac CR).

What was detected is the table's `read_as`, recorded in the run's manifest. Files are streamed from disk, never
held whole as bytes or text: a national export can be hundreds of megabytes.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from antt.errors import InputError
from antt.i18n import _
from antt.sources.raw import RawTable, number_text

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")
SEPARATORS = (",", ";", "\t")
_LINE_ENDINGS = {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}
_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE",
                   "cp1258": "Windows-1258", "cp1252": "Windows-1252"}
_LEGACY = ("cp1258", "cp1252")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aeiouyAEIOUY\u0103\u00e2\u00ea\u00f4\u01a1\u01b0\u0102\u00c2\u00ca\u00d4\u01a0\u01af")
# An OLE2 compound file: what Excel writes for a password-protected workbook, and the old .xls format.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_HEAD = 64 * 1024
_LONG_HEAD = 4 * 1024 * 1024


@dataclass(frozen=True)
class Table:
    """A file's rows as text, what was detected reading it, and (for config files) each row's line in the file."""

    rows: list[list[str]]
    read_as: dict
    lines: list[int] | None = None


def read_export(path: Path | str, label: str | None = None) -> RawTable:
    """Read a response-sheet export into a RawTable; an unusable file raises InputError with one line.

    `label` names the file in messages (the user's path, when `path` is the archived copy).
    """
    path = Path(path)
    name = label or str(path)
    table = read_table(path, name)
    return RawTable.from_rows(table.rows, source=name, read_as=table.read_as)


def read_header(path: Path | str, label: str | None = None) -> RawTable:
    """The header row alone (no answers), checking the file is usable at all: the cheap check made before a run
    starts. Only the first row is read, so a large file costs no more than a small one."""
    path = Path(path)
    table = read_table(path, label or str(path), limit=1)
    return RawTable.from_rows(table.rows, source=label or str(path), read_as=table.read_as)


def read_table(path: Path, name: str, limit: int | None = None, comments: bool = False) -> Table:
    """The file's rows as text (the header first), or only its first `limit` rows.

    With `comments` (the office's config files), blank lines and lines starting with '#' are skipped and each row
    keeps its line number in the file, as an editor or a spreadsheet shows it.
    """
    head = _head(path, name)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(_("{name}: unsupported file type {suffix}; expected .csv, .txt, .tsv or .xlsx")
                         .format(name=name, suffix=path.suffix or _("(none)")))
    _refuse_other_kinds(head, name)
    if head.startswith(_ZIP_MAGIC):
        table = _xlsx_table(path, name, limit, comments)
    else:
        table = _text_table(path, head, name, limit, comments)
    if not table.rows or not any(cell.strip() for cell in table.rows[0]):
        raise InputError(_("{name}: the first row holds no column headers").format(name=name))
    return table


def _head(path: Path, name: str) -> bytes:
    """The file's first bytes, after checking it exists and is not empty."""
    if not path.exists():
        raise InputError(_("{name}: file not found").format(name=name))
    if path.is_dir():
        raise InputError(_("{name}: is a folder, expected a .csv or .xlsx export").format(name=name))
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if not head.strip() and path.stat().st_size <= len(head):
        raise InputError(_("{name}: file is empty").format(name=name))
    return head


def _refuse_other_kinds(head: bytes, name: str) -> None:
    """A PDF, a picture, a web page or an old binary workbook under a spreadsheet's name: say what it is."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()[:64].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<")):
        raise InputError(_("{name}: is a web page (HTML), not a spreadsheet export; download the sheet again as "
                           ".csv or .xlsx").format(name=name))
    if head.startswith(b"%PDF-"):
        raise InputError(_("{name}: is a PDF document, not a spreadsheet export; download the response sheet as "
                           ".csv or .xlsx").format(name=name))
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\0", b"MM\0*")) or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        raise InputError(_("{name}: is a picture, not a spreadsheet export; download the response sheet as .csv "
                           "or .xlsx").format(name=name))
    if head.startswith(_OLE_MAGIC):
        raise InputError(_("{name}: a password-protected workbook or an old-format .xls file; remove the password "
                           "(File > Info > Protect Workbook) or save it as .xlsx").format(name=name))
    if head.startswith(_ZIP_MAGIC) and b"mimetypeapplication/vnd.oasis.opendocument" in head[:100]:
        raise InputError(_("{name}: is a LibreOffice/OpenDocument spreadsheet (.ods); save it as .xlsx or CSV")
                         .format(name=name))


# Delimited text

def _text_table(path: Path, head: bytes, name: str, limit: int | None, comments: bool) -> Table:
    bom = next((encoding for mark, encoding in _BOMS if head.startswith(mark)), None)
    sample = head[:4096]
    # UTF-16 without its mark (a zero byte beside every ASCII character), or not text at all; a stray zero byte in
    # a short file (a control character someone pasted) is a character, cleaned like the others
    if bom is None and sample.count(b"\0") * 10 > len(sample):
        raise InputError(_("{name}: not a text file (binary content)").format(name=name))
    try:
        return _read_text(path, head, bom or "utf-8-sig", bom is not None, name, limit, comments)
    except UnicodeDecodeError:
        if bom:
            raise InputError(_("{name}: not readable {encoding} text despite its byte-order mark; export the sheet "
                               "again as CSV (UTF-8)").format(name=name, encoding=_ENCODING_NAMES[bom])) from None
    _refuse_damaged_utf8(path, name)
    legacy = _legacy_encoding(head)
    try:
        return _read_text(path, head, legacy, False, name, limit, comments)
    except UnicodeDecodeError:
        raise InputError(_("{name}: neither UTF-8 nor {encoding} text; export the sheet again as CSV (UTF-8)")
                         .format(name=name, encoding=_ENCODING_NAMES[legacy])) from None


def _read_text(path: Path, head: bytes, encoding: str, bom: bool, name: str, limit: int | None,
               comments: bool) -> Table:
    """Parse the file as `encoding`, row by row; equal cells share one string (answers repeat: '0', yes)."""
    if b"\n" not in head and b"\r" not in head and path.stat().st_size > len(head):
        with open(path, "rb") as fh:  # a header line longer than the head: its separators are counted to its end
            head = fh.read(_LONG_HEAD)
    start = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    separator, ending = _layout(start.removeprefix("\ufeff"), comments)
    read_as = {"format": "text", "encoding": _ENCODING_NAMES[encoding], "byte_order_mark": bom,
               "separator": separator, "line_ending": ending}
    lines: list[int] | None = [] if comments else None
    with open(path, encoding=encoding, newline="") as fh:
        source: Iterator[str] = fh
        if encoding == "utf-16-le" or encoding == "utf-16-be":
            source = (line.removeprefix("\ufeff") if number == 0 else line for number, line in enumerate(fh))
        if encoding in _LEGACY:  # tone marks never straddle a line, so composing line by line is exact
            source = (unicodedata.normalize("NFC", line) for line in source)
        counter = _LineCounter(source, skip_comments=comments)
        reader = csv.reader(counter, delimiter=separator, strict=True)
        rows: list[list[str]] = []
        try:
            for row in itertools.islice(reader, limit):
                rows.append(list(map(sys.intern, row)))
                if lines is not None:
                    lines.append(counter.line)
        except csv.Error as exc:
            message = _("{name}: line {line}: not a readable CSV file ({reason}); the file seems cut off, download "
                        "it again") if "unexpected end of data" in str(exc) else \
                _("{name}: line {line}: not a readable CSV file ({reason})")
            raise InputError(message.format(name=name, line=counter.line, reason=exc)) from None
    if limit is None:
        _refuse_cut_off(path, rows, name)
        if encoding in _LEGACY:  # said to the analyst, once: the text may need a look
            log.warning(_("{name}: not UTF-8; read as {encoding} text: check its Vietnamese letters")
                        .format(name=name, encoding=_ENCODING_NAMES[encoding]))
        else:
            log.info("%s: read as %s text separated by %r", name, _ENCODING_NAMES[encoding], separator)
    return Table(rows=rows, read_as=read_as, lines=lines)


class _LineCounter:
    """The physical lines fed to the CSV reader, counted (so a row knows its line) and, for config files, without
    blank or '#' comment lines."""

    def __init__(self, lines: Iterator[str], skip_comments: bool) -> None:
        self.lines, self.skip_comments, self.line = lines, skip_comments, 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        while True:
            text = next(self.lines)
            self.line += 1
            if not self.skip_comments or (text.strip() and not text.lstrip().startswith("#")):
                return text


def _layout(text: str, comments: bool) -> tuple[str, str | None]:
    """The header record's separator (most frequent outside quotes, the first on a tie; a comma when it has none)
    and the line ending after it. `text` is the start of the file; with `comments`, blank and '#' lines before
    the header are passed over."""
    pos = 0
    while comments and pos < len(text):
        end = min((i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0), default=len(text))
        line = text[pos:end]
        if line.strip() and not line.lstrip().startswith("#"):
            break
        pos = end + 1
    counts = dict.fromkeys(SEPARATORS, 0)
    first: dict[str, int] = {}
    quoted = False
    ending = None
    for i in range(pos, len(text)):
        char = text[i]
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in counts:
            counts[char] += 1
            first.setdefault(char, i)
        elif char in "\r\n":
            ending = "\r\n" if text.startswith("\r\n", i) else char
            break
    found = [s for s in SEPARATORS if counts[s]]
    separator = max(found, key=lambda s: (counts[s], -first[s])) if found else ","
    return separator, _LINE_ENDINGS.get(ending) if ending else None


def _legacy_encoding(head: bytes) -> str:
    """Windows-1258 when every combining tone mark it would give sits on a vowel (Vietnamese as that code page
    writes it, or no tone mark at all); Windows-1252 when one follows a consonant ('hoa' with a grave accent on the
    'o', in Windows-1252, holds the byte Windows-1258 reads as a dot below after 'h')."""
    text = head.decode("cp1258", errors="replace")
    for i, char in enumerate(text):
        if char in _TONE_MARKS and (i == 0 or text[i - 1] not in _VOWELS):
            return "cp1252"
    return "cp1258"


def _refuse_cut_off(path: Path, rows: list[list[str]], name: str) -> None:
    """A last row shorter than the header with no line break after it is a download that stopped mid-row: its last
    cell may be cut short and later rows are lost. (Exports write every column; a short row ends with a break.)"""
    if len(rows) < 2 or len(rows[-1]) >= len(rows[0]):
        return
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 4, 0))
        tail = fh.read().rstrip(b"\0")  # UTF-16 puts a zero byte beside the line break
    if not tail.endswith((b"\n", b"\r")):
        raise InputError(_("{name}: the file seems cut off: its last row (sheet row {row}) stops after {filled} of "
                           "{columns} columns; download the export again")
                         .format(name=name, row=len(rows), filled=len(rows[-1]), columns=len(rows[0])))


def _refuse_damaged_utf8(path: Path, name: str) -> None:
    """Called on a file that is not valid UTF-8. If UTF-8 text (a non-ASCII character) comes before the first bad
    byte, the file is damaged UTF-8, not a legacy encoding: reading it as a code page would garble all its text."""
    seen_utf8 = False
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):  # UTF-8 never puts a newline byte inside a character
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                if seen_utf8 or not line[:exc.start].isascii():
                    raise InputError(_("{name}: line {line}: not valid UTF-8 (damaged byte at column {column}); "
                                       "export the sheet again as CSV (UTF-8)")
                                     .format(name=name, line=number, column=exc.start + 1)) from None
                return
            seen_utf8 = seen_utf8 or not line.isascii()


# Workbooks

def _xlsx_table(path: Path, name: str, limit: int | None, comments: bool) -> Table:
    """The first worksheet's rows. A merged range reads as its top-left value with the other cells blank, as Excel
    stores it: copying the value into the other cells would invent answers the school did not give."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (any unreadable workbook is one line, whatever openpyxl raises)
        raise InputError(_("{name}: not a readable .xlsx workbook ({reason})")
                         .format(name=name, reason=type(exc).__name__)) from None
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # a wrong recorded sheet size would silently cut rows or columns off
        rows, lines = [], []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            row = [_cell_text(v) for v in values]
            if comments and (not any(c.strip() for c in row) or row[0].lstrip().startswith("#")):
                continue
            rows.append(row)
            lines.append(number)
            if limit is not None and len(rows) >= limit:
                break
        read_as = {"format": "xlsx", "sheet": ws.title, "sheets": list(wb.sheetnames)}
    except Exception as exc:  # noqa: BLE001 (damage inside the workbook surfaces while its rows are read)
        raise InputError(_("{name}: not a readable .xlsx workbook ({reason})")
                         .format(name=name, reason=type(exc).__name__)) from None
    finally:
        wb.close()
    return Table(rows=rows, read_as=read_as, lines=lines if comments else None)


def _cell_text(value: object) -> str:
    """Excel cell → the text Google Sheets would export: dates as dd/mm/yyyy, numbers as `number_text` writes them."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return str(value).upper()  # as Google Sheets exports a checkbox
    if isinstance(value, float):
        return number_text(value)
    return str(value)
