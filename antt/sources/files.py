"""Response-sheet exports on disk: `.csv` (Google Sheets "Download as CSV") and `.xlsx`.

Files are streamed from disk, never held whole as bytes or text: a national export can be hundreds of megabytes.
A CSV's encoding is read from its byte-order mark (UTF-8, or UTF-16 as Excel's "Unicode" export writes it);
without one it is UTF-8, or else Windows-1258, the legacy Vietnamese code page of older Excel "CSV" files. That
fallback is no guess: Vietnamese in Windows-1258 does not pass for UTF-8 (its letters and tone marks are all bytes
0xC0 and up, and no UTF-8 character has two of those in a row). Its tone marks are combining characters,
composed (NFC) as the text is read.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import sys
import unicodedata
from datetime import date, datetime
from pathlib import Path

from antt.errors import InputError
from antt.i18n import _
from antt.sources.raw import RawTable, number_text

log = logging.getLogger(__name__)

_LEGACY = "cp1258"
_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", _LEGACY: "Windows-1258"}
# An OLE2 compound file: what Excel writes for a password-protected workbook, and the old .xls format.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 64 * 1024


def read_export(path: Path | str, label: str | None = None) -> RawTable:
    """Read a `.csv` or `.xlsx` export into a RawTable; an unusable file raises InputError with one line.

    `label` names the file in messages (the user's path, when `path` is the archived copy).
    """
    path = Path(path)
    name = label or str(path)
    return RawTable.from_rows(_rows(path, name), source=name)


def sniff_headers(path: Path | str) -> list[str]:
    """The header row of an export, checking the file is usable at all: the cheap check made before a run starts.

    Only the first row is read, so a large file costs no more than a small one.
    """
    path = Path(path)
    return _rows(path, str(path), limit=1)[0]


def _rows(path: Path, name: str, limit: int | None = None) -> list[list[str]]:
    """The file's rows as text (the header first), or only its first `limit` rows."""
    head = _head(path, name)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(path, head, name, limit)
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(path, head, name, limit)
    else:
        raise InputError(_("{name}: unsupported file type {suffix}; expected .csv or .xlsx")
                         .format(name=name, suffix=suffix or _("(none)")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(_("{name}: the first row holds no column headers").format(name=name))
    return rows


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


def _is_web_page(head: bytes) -> bool:
    """An HTML page saved under the export's name: what a download link returns for a sign-in or error page."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()[:64].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body"))


def _csv_rows(path: Path, head: bytes, name: str, limit: int | None) -> list[list[str]]:
    if _is_web_page(head):
        raise InputError(_("{name}: is a web page (HTML), not a CSV export; download the sheet again as CSV")
                         .format(name=name))
    bom = next((encoding for mark, encoding in _BOMS if head.startswith(mark)), None)
    if bom is None and b"\0" in head[:4096]:
        raise InputError(_("{name}: not a text CSV file (binary content)").format(name=name))
    try:
        return _read_csv(path, bom or "utf-8-sig", name, limit)
    except UnicodeDecodeError:
        if bom:
            raise InputError(_("{name}: not readable {encoding} text despite its byte-order mark; export the sheet "
                               "again as CSV (UTF-8)").format(name=name, encoding=_ENCODING_NAMES[bom])) from None
    _refuse_damaged_utf8(path, name)
    try:
        return _read_csv(path, _LEGACY, name, limit)
    except UnicodeDecodeError:
        raise InputError(_("{name}: neither UTF-8 nor Windows-1258 text; export the sheet again as CSV (UTF-8)")
                         .format(name=name)) from None


def _read_csv(path: Path, encoding: str, name: str, limit: int | None) -> list[list[str]]:
    """Parse the file as `encoding`, row by row; equal cells share one string (answers repeat: '0', yes)."""
    with open(path, encoding=encoding, newline="") as fh:
        # Tone marks never straddle a line, so composing line by line is exact.
        lines = (unicodedata.normalize("NFC", line) for line in fh) if encoding == _LEGACY else fh
        reader = csv.reader(lines, strict=True)
        try:
            rows = [list(map(sys.intern, row)) for row in itertools.islice(reader, limit)]
        except csv.Error as exc:
            message = _("{name}: line {line}: not a readable CSV file ({reason}); the file seems cut off, download it "
                        "again") if "unexpected end of data" in str(exc) else \
                _("{name}: line {line}: not a readable CSV file ({reason})")
            raise InputError(message.format(name=name, line=reader.line_num, reason=exc)) from None
    if limit is None:
        _refuse_cut_off(path, rows, name)
        if encoding == _LEGACY:  # said to the analyst, once: the text may need a look
            log.warning(_("{name}: read as Windows-1258 text (not UTF-8: check its Vietnamese text)").format(name=name))
        else:
            log.info("%s: read as %s text", name, _ENCODING_NAMES[encoding])
    return rows


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
    byte, the file is damaged UTF-8, not a legacy encoding: reading it as Windows-1258 would garble all its text."""
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


def _xlsx_rows(path: Path, head: bytes, name: str, limit: int | None) -> list[list[str]]:
    """The first worksheet's rows. A merged range reads as its top-left value with the other cells blank, as Excel
    stores it: copying the value into the other cells would invent answers the school did not give."""
    from openpyxl import load_workbook

    if head.startswith(_OLE_MAGIC):
        raise InputError(_("{name}: a password-protected workbook or an old-format .xls file; remove the password "
                           "(File > Info > Protect Workbook) or save it as .xlsx").format(name=name))
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<"):
        raise InputError(_("{name}: is a web page (HTML) saved as .xlsx, not a workbook; download the sheet again")
                         .format(name=name))
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (any unreadable workbook is one line, whatever openpyxl raises)
        raise InputError(_("{name}: not a readable .xlsx workbook ({reason})")
                         .format(name=name, reason=type(exc).__name__)) from None
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # a wrong recorded sheet size would silently cut rows or columns off
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(max_row=limit, values_only=True)]
    except Exception as exc:  # noqa: BLE001 (damage inside the workbook surfaces while its rows are read)
        raise InputError(_("{name}: not a readable .xlsx workbook ({reason})")
                         .format(name=name, reason=type(exc).__name__)) from None
    finally:
        wb.close()


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
