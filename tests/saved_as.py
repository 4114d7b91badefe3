"""The same response sheet as offices re-save it: each function writes rows (header first, cells as text) the way a
spreadsheet program's "Save as" type does. Every variant the tests read is generated here, never committed.

Sources for what each program writes:
- Microsoft, "Excel formatting and features that are not transferred to other file formats" (support article
  8fdd91a3-792e-4aef-a5bb-46f603d0e585): "Text (Tab delimited)", "Unicode Text" and "CSV (Comma delimited)" save the
  active sheet's displayed values, columns separated by a tab (text) or the list separator (CSV), each row ending in
  a carriage return + line feed on Windows, a cell holding the separator, a quotation mark or a line break enclosed
  in quotation marks with its quotation marks doubled; the CSV types use the Windows list separator, which is ';'
  under Vietnamese regional settings (vi-VN: decimal ',' so list ';').
- "CSV (Comma delimited)" is written in the system's ANSI code page (Windows-1258 on a Vietnamese Windows; SAP wiki
  "Excel files - CSV format": a file without a byte-order mark is "processed as … the current PC locale
  encoding"); "CSV UTF-8 (Comma delimited)" in UTF-8 with a byte-order mark.
- "Unicode Text (*.txt)" is UTF-16 little-endian with a byte-order mark, tab-separated (H. Yang, "Saving Files in
  'Unicode Text (*.txt)' Option", a hex dump of Excel's output: FF FE, then UTF-16LE).
- LibreOffice Calc's "Text CSV" export with "Quote all text cells": every text cell in quotation marks, numbers
  bare, the field separator chosen in the dialog (';'), UTF-8, LF line endings on Linux.
- Google Sheets' "Download as .xlsx": the form's timestamps are date-time cells, answers that are plain whole
  numbers are number cells, everything else is text; the first sheet is the form's responses.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from datetime import datetime
from pathlib import Path

TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_PLAIN_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,14})")
_LO_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:[.,][0-9]+)?")


def delimited(rows: list[list[str]], separator: str, line_end: str, quote_always: bool = False,
              quote_when: str = "", bare=None) -> str:
    """Rows as a spreadsheet writes delimited text: a cell is quoted (its quotation marks doubled) when it holds
    the separator, a quotation mark, a line break or one of `quote_when`, or always with `quote_always` unless
    `bare(cell)` says it is written bare (a number cell)."""
    def cell(text: str) -> str:
        special = any(c in text for c in (separator, '"', "\r", "\n", *quote_when))
        if special or (quote_always and text != "" and not (bare and bare(text))):
            return '"' + text.replace('"', '""') + '"'
        return text
    return "".join(separator.join(cell(c) for c in row) + line_end for row in rows)


def windows_1258(text: str) -> bytes:
    """Text in Windows-1258 as Windows converts it: a letter the code page has is one byte (à, ê, ơ, đ), a letter
    it lacks is its base letter then the combining tone mark (ấ → â + U+0301). Windows-1258 has no combining breve,
    circumflex or horn, so text is composed first (NFC): a letter typed decomposed keeps its letter."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in TONE_MARKS))
            out.append((base + "".join(p for p in parts if p in TONE_MARKS)).encode("cp1258"))
    return b"".join(out)


def excel_csv_utf8_vietnamese(rows: list[list[str]], path: Path) -> Path:
    """Excel, Vietnamese regional settings, "CSV UTF-8 (Comma delimited)": UTF-8 with BOM, ';', CRLF."""
    path.write_bytes(codecs.BOM_UTF8 + delimited(rows, ";", "\r\n").encode("utf-8"))
    return path


def excel_csv_vietnamese_windows(rows: list[list[str]], path: Path) -> Path:
    """Excel on a Vietnamese Windows, "CSV (Comma delimited)": Windows-1258, ';', CRLF."""
    path.write_bytes(windows_1258(delimited(rows, ";", "\r\n")))
    return path


def excel_unicode_text(rows: list[list[str]], path: Path) -> Path:
    """Excel, "Unicode Text (*.txt)": UTF-16 LE with BOM, tab-separated, CRLF; a cell with a comma is quoted too."""
    path.write_bytes(codecs.BOM_UTF16_LE + delimited(rows, "\t", "\r\n", quote_when=",").encode("utf-16-le"))
    return path


def libreoffice_quoted_semicolon(rows: list[list[str]], path: Path) -> Path:
    """LibreOffice Calc, Text CSV, ';' and "Quote all text cells": UTF-8 without BOM, LF, numbers bare."""
    text = delimited(rows, ";", "\n", quote_always=True, bare=_LO_NUMBER.fullmatch)
    path.write_bytes(text.encode("utf-8"))
    return path


def tab_separated(rows: list[list[str]], path: Path) -> Path:
    """A `.tsv` from a script or Google Sheets' "Tab-separated values": UTF-8, tab, LF."""
    path.write_bytes(delimited(rows, "\t", "\n").encode("utf-8"))
    return path


def utf16_be_old_mac(rows: list[list[str]], path: Path) -> Path:
    """The remaining corners: UTF-16 big-endian with BOM, comma, and the old Mac line ending (CR alone)."""
    path.write_bytes(codecs.BOM_UTF16_BE + delimited(rows, ",", "\r").encode("utf-16-be"))
    return path


def utf8_bom_lf(rows: list[list[str]], path: Path) -> Path:
    """UTF-8 with BOM (Notepad's "UTF-8 with BOM"), comma, LF."""
    path.write_bytes(codecs.BOM_UTF8 + delimited(rows, ",", "\n").encode("utf-8"))
    return path


def google_sheets_xlsx(rows: list[list[str]], path: Path, sheet: str = "Câu trả lời biểu mẫu 1",
                       timestamp_column: int = 0) -> Path:
    """Google Sheets' "Download as .xlsx" of the form's response sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(rows[0])
    for row in rows[1:]:
        cells: list[object] = []
        for i, text in enumerate(row):
            if i == timestamp_column and text:
                cells.append(_sheet_datetime(text))
            elif _PLAIN_NUMBER.fullmatch(text):
                cells.append(int(text))
            else:
                cells.append(text or None)
        ws.append(cells)
    wb.save(path)
    return path


def _sheet_datetime(text: str) -> datetime:
    for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(text)
