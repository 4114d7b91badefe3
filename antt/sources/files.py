"""Response-sheet exports on disk: `.csv` (Google Sheets "Download as CSV") and `.xlsx`."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

from antt.errors import InputError
from antt.sources.raw import RawTable


def read_export(path: Path | str) -> RawTable:
    """Read a `.csv` or `.xlsx` export into a RawTable; an unusable file raises InputError with one line."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a .csv or .xlsx export")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(data, path)
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(data, path)
    else:
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'}; expected .csv or .xlsx")
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"{path}: the first row holds no column headers")
    return RawTable.from_rows(rows, source=str(path))


def _csv_rows(data: bytes, path: Path) -> list[list[str]]:
    if b"\0" in data[:4096]:
        raise InputError(f"{path}: not a text CSV file (binary content)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; export the sheet again as CSV (UTF-8)") from None
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), strict=True)]
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None


def _xlsx_rows(data: bytes, path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _cell_text(value: object) -> str:
    """Excel cell → the text Google Sheets would export: dates as dd/mm/yyyy, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
