"""A folder of filled Excel report templates (`antt form export --format xlsx-template`), one file per school.

The folder is first packed into one deterministic zip (`folder_bytes`), which the pipeline archives; the rows are
then read from those same bytes, so what was parsed is exactly what was archived. The result is a RawTable shaped
like a Google Forms export (the form's first timestamp and e-mail headers, then "ID. label" per question, checkbox
answers joined with ", "), so every rule of docs/spec.md §4 applies unchanged. The template's words (sheet names, column
titles, the sent-at and e-mail rows) are the ones `form.yaml` gives the export. A file that is not a readable
template is skipped and reported, never fatal; a folder without a single usable file is an InputError.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from antt.config import ExcelTemplateWording, Form
from antt.errors import InputError
from antt.forms.template import columns
from antt.i18n import _
from antt.sources.raw import RawTable, number_text
from antt.text import match_key

SUFFIX = ".xlsx"
_QUESTION = re.compile(r"^([A-Z][0-9]+)$")
_OPTION = re.compile(r"^([A-Z][0-9]+)\.([0-9]+)$")
_DATE_ONLY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FolderRead:
    """The table read from a folder, the file behind each of its rows, and the files left out with the reason."""

    raw: RawTable
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Report:
    """One filled template: its timestamp and e-mail cells, and each question's label and answer text."""

    sent_at: str
    email: str
    labels: dict[str, str]
    answers: dict[str, str]


def _listing(folder: Path) -> list[Path]:
    if not folder.exists():
        raise InputError(_("{path}: folder not found").format(path=folder))
    if not folder.is_dir():
        raise InputError(_("{path}: not a folder").format(path=folder))
    # Dotfiles (.DS_Store, editor swap files) are not anybody's report.
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def folder_bytes(folder: Path | str, timezone: str = "Asia/Ho_Chi_Minh") -> bytes:
    """The folder's .xlsx files as one zip, byte-identical for identical files and modification times.

    Members are in name order with fixed attributes; each keeps its file's modification time (wall clock in
    `timezone`, ZIP's two-second resolution), the fallback timestamp of a report whose sending date is blank.
    """
    zone = ZoneInfo(timezone)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in _listing(Path(folder)):
            if path.suffix.lower() != SUFFIX:
                continue
            stamp = datetime.fromtimestamp(path.stat().st_mtime, zone).timetuple()[:6]
            info = zipfile.ZipInfo(path.name, date_time=max(stamp, _ZIP_EPOCH))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def read_folder(folder: Path | str, form: Form, timezone: str = "Asia/Ho_Chi_Minh",
                packed: bytes | None = None) -> FolderRead:
    """Read every filled template in `folder` (not its subfolders), one row per file in file-name order.

    `packed` is the folder's `folder_bytes` when the caller already has them (it archived them first): the rows
    are then read from exactly those bytes.
    """
    folder = Path(folder)
    others = [(p.name, _("not an {suffix} file; save it as an Excel workbook (.xlsx)").format(suffix=SUFFIX))
              for p in _listing(folder) if p.suffix.lower() != SUFFIX]
    data = packed if packed is not None else folder_bytes(folder, timezone)
    return read_archive(data, str(folder), form, others)


def read_archive(data: bytes, label: str, form: Form, skipped: list[tuple[str, str]] | None = None) -> FolderRead:
    """Read the templates packed by `folder_bytes`; `label` names the folder in messages."""
    skipped = list(skipped or [])
    reports: list[tuple[str, _Report]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            try:
                report = _read_template(zf.read(info), form.exports.excel_template)
            except _NotATemplate as exc:
                skipped.append((info.filename, str(exc)))
                continue
            if not report.sent_at:
                report.sent_at = _google_timestamp(datetime(*info.date_time))
            reports.append((info.filename, report))
    skipped.sort()
    if not reports:
        if not skipped:
            detail = _("the folder holds no file")
        elif len(skipped) == 1:
            detail = _("skipped {file}: {reason}").format(file=skipped[0][0], reason=skipped[0][1])
        else:
            detail = _("skipped {file}: {reason} and {n} other file(s)").format(
                file=skipped[0][0], reason=skipped[0][1], n=len(skipped) - 1)
        raise InputError(_("{path}: no filled report template (.xlsx) in the folder ({detail})")
                         .format(path=label, detail=detail))
    return FolderRead(raw=_table([r for _name, r in reports], label, form),
                      files=[name for name, _report in reports], skipped=skipped)


def _table(reports: list[_Report], label: str, form: Form) -> RawTable:
    """One Google-Forms-shaped row per report; questions in the order the templates list them."""
    labels: dict[str, str] = {}
    for report in reports:
        for qid, text in report.labels.items():
            labels.setdefault(qid, text)
    headers = [form.timestamp_headers[0], form.email_headers[0]] + [f"{qid}. {text}" for qid, text in labels.items()]
    rows = [[r.sent_at, r.email] + [r.answers.get(qid, "") for qid in labels] for r in reports]
    return RawTable.from_rows([headers] + rows, source=label)


class _NotATemplate(Exception):
    """Why a file cannot be read as a filled template (shown to the analyst as the skip reason)."""


def _read_template(data: bytes, words: ExcelTemplateWording) -> _Report:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (any unreadable workbook is a skipped file, whatever openpyxl raises)
        raise _NotATemplate(_("not a readable .xlsx workbook ({reason})").format(reason=type(exc).__name__)) \
            from None
    sheet, lists = words.report_sheet, words.lists_sheet
    try:
        if sheet not in wb.sheetnames or lists not in wb.sheetnames:
            raise _NotATemplate(_("not a report template (no sheets \"{sheet}\" and \"{lists}\")")
                                .format(sheet=sheet, lists=lists))
        vocabulary = [_text(row[0]) for row in wb[lists].iter_rows(min_row=2, max_row=3, max_col=1)]
        if len(vocabulary) != 2 or not all(vocabulary):
            raise _NotATemplate(_("not a report template (sheet \"{lists}\" lacks the yes/no words)")
                                .format(lists=lists))
        report = wb[sheet]
        report.reset_dimensions()  # some spreadsheet programs record a wrong sheet size; read to the last row
        return _read_report(report.iter_rows(max_col=3), words, *vocabulary)
    finally:
        wb.close()


def _read_report(rows, words: ExcelTemplateWording, yes: str, no: str) -> _Report:
    titles = columns(words)[:3]
    header = [match_key(c) for c in titles]
    report = _Report(sent_at="", email="", labels={}, answers={})
    ticks: dict[str, list[str]] = {}
    started = False
    for row in rows:
        cells = (list(row) + [None] * 3)[:3]
        key, label, answer = (_text(c) for c in cells)
        if not started:
            started = [match_key(key), match_key(label), match_key(answer)] == header
            continue
        if match_key(label) == match_key(words.sent_at):
            report.sent_at = _sent_at(cells[2])
        elif match_key(label) == match_key(words.email):
            report.email = answer
        elif m := _QUESTION.match(key):
            report.labels[m[1]] = label
            report.answers[m[1]] = answer
        elif m := _OPTION.match(key):
            choice = match_key(answer)
            if choice == match_key(yes):
                ticks.setdefault(m[1], []).append(label)
            elif choice and choice != match_key(no):
                # Neither yes nor no: passed on so that the checkbox parser reports it, never guessed.
                ticks.setdefault(m[1], []).append(f"{label}: {answer}")
    if not started:
        raise _NotATemplate(_("not a report template (no header row \"{header}\")").format(header=" | ".join(titles)))
    for qid, chosen in ticks.items():
        report.answers[qid] = ", ".join(chosen)
    if not any(report.answers.values()):
        raise _NotATemplate(_("the template is blank (no answer filled in)"))
    return report


def _google_timestamp(moment: datetime) -> str:
    """d/m/yyyy H:MM:SS, as a Google Forms response sheet writes it."""
    return f"{moment.day}/{moment.month}/{moment.year} {moment.hour}:{moment.minute:02d}:{moment.second:02d}"


def _sent_at(cell: object) -> str:
    """The sending date cell as a timestamp; a date alone means its first second. Unreadable text is passed on
    as written, so that it is reported as a bad timestamp rather than replaced by a guess."""
    value = getattr(cell, "value", cell)
    if isinstance(value, datetime):
        return _google_timestamp(value)
    if isinstance(value, date):
        return _google_timestamp(datetime(value.year, value.month, value.day))
    text = _text(value)
    return f"{text} 0:00:00" if _DATE_ONLY.match(text) else text


def _text(cell: object) -> str:
    """A cell as the text a response sheet would hold: dates dd/mm/yyyy, whole numbers without '.0'."""
    value = getattr(cell, "value", cell)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y" if value.time() == datetime.min.time() else "%d/%m/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if "%" in (getattr(cell, "number_format", None) or ""):
            return number_text(round(value * 100, 9)) + "%"
        return number_text(value)
    return str(value).strip()
