"""Response-sheet exports on disk: `.csv` (Google Sheets "Download as CSV") and `.xlsx`."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

from antt.errors import InputError
from antt.sources.raw import RawTable


def read_export(path: Path | str, label: str | None = None) -> RawTable:
    """Read a `.csv` or `.xlsx` export into a RawTable; an unusable file raises InputError with one line.

    `label` names the file in messages (the user's path, when `path` is the archived copy).
    """
    path = Path(path)
    name = label or str(path)
    rows = _rows(_bytes(path, name), path.suffix.lower(), name)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"{name}: the first row holds no column headers")
    return RawTable.from_rows(rows, source=name)


def sniff_headers(path: Path | str) -> list[str]:
    """The header row of an export, checking the file is usable at all: the cheap check made before a run starts."""
    return read_export(path).headers


def _bytes(path: Path, name: str) -> bytes:
    if not path.exists():
        raise InputError(f"{name}: file not found")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, expected a .csv or .xlsx export")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{name}: file is empty")
    return data


def _rows(data: bytes, suffix: str, name: str) -> list[list[str]]:
    if suffix == ".xlsx":
        return _xlsx_rows(data, name)
    if suffix in (".csv", ".txt"):
        return _csv_rows(data, name)
    raise InputError(f"{name}: unsupported file type {suffix or '(none)'}; expected .csv or .xlsx")


def _csv_rows(data: bytes, path: str) -> list[list[str]]:
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


def _xlsx_rows(data: bytes, path: str) -> list[list[str]]:
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
