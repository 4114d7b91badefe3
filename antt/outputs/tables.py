"""Tabular outputs: `ranking.csv`, `issues.csv` (machine formats) and `ranking.xlsx` (for people)."""

from __future__ import annotations

import io
import math
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.writer.excel import ExcelWriter

from antt.checks.validate import ISSUE_COLUMNS
from antt.config import Config
from antt.outputs.render import labels
from antt.scoring.results import CycleResults
from antt.text import iso_instants

RANKING_COLUMNS = ["school_code", "school_name", "level", "ward", "status", "submitted_at", "on_time", "verdict",
                   "score", "grade", "rank_overall", "rank_in_level"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _safe_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object:
            out[col] = out[col].map(neutralise, na_action="ignore")
    return out


def ranking_frame(res: CycleResults) -> pd.DataFrame:
    """docs/spec.md §7 ranking columns: ISO timestamps with offset, true/false, one-decimal scores, empty if absent."""
    r = res.ranked
    ts = r["submitted_at"]
    return pd.DataFrame({
        "school_code": r["school_code"], "school_name": r["school_name"], "level": r["level"], "ward": r["ward"],
        "status": r["status"], "submitted_at": iso_instants(ts, seconds=True).where(ts.notna(), ""),
        "on_time": r["on_time"].map({True: "true", False: "false"}).fillna(""),
        "verdict": r["verdict"].fillna(""),
        "score": r["score"].astype(object).map(lambda v: f"{v:.1f}", na_action="ignore").fillna(""),
        "grade": r["grade"].fillna(""), "rank_overall": r["rank_overall"], "rank_in_level": r["rank_in_level"],
    })[RANKING_COLUMNS]


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    _safe_text(frame).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def issues_frame(res: CycleResults) -> pd.DataFrame:
    issues = res.issues.sort_values(["sheet_row", "school_code", "question_id", "rule"], kind="stable")
    return issues[ISSUE_COLUMNS]


def ranking_xlsx(ranked: pd.DataFrame, criteria: pd.DataFrame, config: Config, path: Path) -> None:
    """Overall sheet, one sheet per level and a criteria sheet; frozen header, filters, grade colours, real numbers.

    Written in openpyxl's streaming (write-only) mode so a national registry stays fast and small in memory.
    """
    grades = {g.id: g for g in config.scoring.grades}
    levels = config.office.level_names
    words = config.labels.workbook
    r = ranked
    at = r["submitted_at"].dt.tz_localize(None) if len(r) else r["submitted_at"]
    rows = _safe_text(pd.DataFrame({
        "rank": r["rank_overall"], "rank_level": r["rank_in_level"], "code": r["school_code"],
        "name": r["school_name"], "level": r["level"].map(levels).fillna(r["level"]), "ward": r["ward"],
        "status": r["status"].map(labels().STATUS),
        "at": at.astype(object).where(at.notna(), None),
        "on_time": r["on_time"].astype(object).map({True: words.on_time, False: words.late}),
        "verdict": r["verdict"].map(labels().VERDICT),
        "score": r["score"].astype(object).where(r["score"].notna(), None),
        "grade": r["grade"].map({k: g.label for k, g in grades.items()}),
    }))
    rows = rows.astype(object).where(rows.notna(), None)
    wb = Workbook(write_only=True)
    styles = _Styles(grades)
    headers = list(words.columns.model_dump().values())
    names, marks = _criteria_cells(ranked, criteria, config)
    # openpyxl spends ~5 µs on each cell; rows of plain values are written as the same XML directly (`_SheetRows`)
    direct = _plain(rows.to_numpy().ravel()) and _plain(criteria.index) and _plain(names) \
        and _plain(marks.to_numpy().ravel())
    _ranking_sheet(wb, words.ranking_sheet, headers, rows, r["grade"], styles, direct)
    for level in config.form.levels:
        mask = (r["level"] == level).to_numpy()
        if mask.any():
            _ranking_sheet(wb, levels.get(level, level)[:31], headers, rows[mask], r["grade"][mask], styles, direct)
    _criteria_sheets(wb, criteria, names, marks, config, styles, direct)
    # The same results give the same bytes: the workbook is dated by its latest submission, not by the clock, and
    # so is every member of its zip.
    latest = at.max() if len(r) and at.notna().any() else None
    wb.properties.created = wb.properties.modified = latest.to_pydatetime() if latest is not None else _EPOCH
    with _DatedZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()


_EPOCH = datetime(1980, 1, 1)  # the earliest date a zip member can carry


class _DatedZip(zipfile.ZipFile):
    """A zip whose members are all dated `_EPOCH`, with the same permissions, whether openpyxl writes them from
    memory (`writestr`) or from its temporary sheet files (`write`, streamed)."""

    def _info(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_EPOCH.timetuple()[:6])
        info.compress_type, info.external_attr, info.file_size = self.compression, 0o600 << 16, size
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None) -> None:
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        super().writestr(self._info(name), data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None) -> None:
        info = self._info(arcname or os.path.basename(filename), os.path.getsize(filename))
        with open(filename, "rb") as src, self.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


class _Styles:
    def __init__(self, grades: dict) -> None:
        self.bold = Font(bold=True)
        self.grade_fill = {gid: PatternFill("solid", fgColor=g.color.lstrip("#")) for gid, g in grades.items()}
        self.grade_font = Font(color="FFFFFF", bold=True)


_WIDTHS = [6, 8, 10, 36, 16, 20, 10, 17, 10, 12, 7, 11]


def _header(ws, names: list[str], styles: _Styles) -> None:
    cells = []
    for name in names:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = styles.bold
        cells.append(cell)
    ws.append(cells)


def _ranking_sheet(wb: Workbook, title: str, headers: list[str], rows: pd.DataFrame, grade_ids: pd.Series,
                   styles: _Styles, direct: bool = False) -> None:
    ws = wb.create_sheet(title)
    for i, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    _header(ws, headers, styles)

    def styled(values: list, gid: object) -> list:
        """The row's cells as openpyxl is given them: the time, score and grade carry a style."""
        at = WriteOnlyCell(ws, value=values[7])
        at.number_format = "dd/mm/yyyy hh:mm"
        score = WriteOnlyCell(ws, value=values[10])
        score.number_format = "0.0"
        grade = WriteOnlyCell(ws, value=values[11])
        if isinstance(gid, str):
            grade.fill, grade.font = styles.grade_fill[gid], styles.grade_font
        return values[:7] + [at] + values[8:10] + [score, grade]

    pairs = zip(rows.itertuples(index=False, name=None), grade_ids.tolist(), strict=True)
    if not direct:
        for values, gid in pairs:
            ws.append(styled(list(values), gid))
        return
    sheet = _SheetRows(ws)
    for values, gid in pairs:
        values = list(values)
        # a style depends on the kind of value (openpyxl gives a time its own format first) and on the grade
        sheet.row(values, {7: type(values[7]), 10: None, 11: gid if isinstance(gid, str) else None},
                  partial(styled, values, gid))
    sheet.close()


def _criteria_cells(ranked: pd.DataFrame, criteria: pd.DataFrame, config: Config) -> tuple[pd.Series, pd.DataFrame]:
    """The criteria sheet's school names (in `criteria`'s order) and its marks."""
    words = config.labels.workbook
    names = ranked.set_index("school_code")["school_name"].reindex(criteria.index).map(neutralise)
    marks = criteria.astype(object).replace({True: words.criterion_met, False: words.criterion_not_met})
    return names, marks.where(criteria.notna(), None)


def _criteria_sheets(wb: Workbook, criteria: pd.DataFrame, names: pd.Series, marks: pd.DataFrame, config: Config,
                     styles: _Styles, direct: bool = False) -> None:
    cs, words = config.criteria, config.labels.workbook
    crit = wb.create_sheet(words.criteria_sheet)
    crit.freeze_panes = "C2"
    crit.auto_filter.ref = f"A1:{get_column_letter(len(cs.criteria) + 2)}{len(criteria) + 1}"
    _header(crit, [words.columns.school_code, words.columns.school_name] + [c.id for c in cs.criteria], styles)
    rows = marks.itertuples(index=False, name=None)
    if direct:
        sheet = _SheetRows(crit)
        for code, name, values in zip(criteria.index, names.tolist(), rows, strict=True):
            sheet.row([code, name, *values])
        sheet.close()
    else:
        for code, name, values in zip(criteria.index, names.tolist(), rows, strict=True):
            crit.append([code, name, *values])
    legend = wb.create_sheet(words.legend_sheet)
    _header(legend, list(words.legend_columns.model_dump().values()), styles)
    yes, no = config.form.answer_yes, config.form.answer_no
    for c in cs.criteria:
        legend.append([c.id, c.title, yes if c.mandatory else no, c.legal_ref])


def _plain(values: Iterable) -> bool:
    """Whether every value is one `_SheetRows` writes as openpyxl would: None, a finite int or float, a datetime
    without time zone, or text openpyxl keeps as it is (not a formula, an error code, too long for a cell, nor with
    a character it refuses)."""
    for value in set(values):
        kind = type(value)
        if value is None or kind is int or (kind is float and math.isfinite(value)):
            continue
        if kind is str:
            if len(value) > 32767 or value in ERROR_CODES or (len(value) > 1 and value.startswith("=")) \
                    or ILLEGAL_CHARACTERS_RE.search(value):
                return False
            continue
        if isinstance(value, datetime) and value.tzinfo is None:
            continue
        return False
    return True


def _xml_text(text: str) -> str:
    """Text as lxml writes it in a worksheet: markup characters and CR escaped, everything beyond ASCII as a
    character reference."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


class _SheetRows:
    """A write-only worksheet's rows written as the XML openpyxl writes for them (`_plain` values only), a few times
    faster: after the header row openpyxl wrote, the sheet is closed and its rows go into the temporary file openpyxl
    then packs. Styles stay openpyxl's: the first cell of each kind of styled cell is built as openpyxl is given it
    (`cells`), in row order, so fonts, fills, formats and style ids are registered in the order openpyxl would."""

    def __init__(self, ws) -> None:
        self.ws, self.parts, self.row_idx = ws, [], 1
        self.epoch = ws.parent.epoch
        self.letters: list[str] = []
        self.bodies: dict[object, str] = {}  # value → what follows the cell's style attribute
        self.styles: dict[tuple, str] = {}  # (column, kind) → ' s="…"'
        ws.close()  # openpyxl writes the header row and the tail
        self.head, self.tail = self._read().split(b"</sheetData>", 1)

    def _read(self) -> bytes:
        with open(self.ws._writer.out, "rb") as f:
            return f.read()

    def _body(self, value: object) -> str:
        try:
            return self.bodies[value]
        except KeyError:
            pass
        if isinstance(value, str):
            if value == "":
                body = ' t="inlineStr"></c>'
            else:
                space = ' xml:space="preserve"' if value != value.strip() else ""
                body = f' t="inlineStr"><is><t{space}>{_xml_text(value)}</t></is></c>'
        elif isinstance(value, datetime):
            body = f' t="n"><v>{to_excel(value, self.epoch):.16g}</v></c>'
        else:
            body = f' t="n"><v>{value:.16g}</v></c>'
        if len(self.bodies) < 100_000:
            self.bodies[value] = body
        return body

    def row(self, values: list, styled: dict[int, object] | None = None,
            cells: Callable[[], list] | None = None) -> None:
        """One row of values; the columns in `styled` carry a style that depends on the kind given there, and
        `cells()` builds the row as openpyxl is given it (WriteOnlyCells for those columns)."""
        r = self.row_idx = self.row_idx + 1
        letters = self.letters
        while len(letters) < len(values):
            letters.append(get_column_letter(len(letters) + 1))
        out = [f'<row r="{r}">']
        if styled and any((col, kind) not in self.styles for col, kind in styled.items()):
            built = cells()
            for col in styled:  # in column order, as openpyxl asks for each style id as it writes the cell
                cell = built[col]
                self.styles[col, styled[col]] = f' s="{cell.style_id}"' if cell.has_style else ""
        for col, value in enumerate(values):
            style = self.styles[col, styled[col]] if styled and col in styled else ""
            if value is None:
                if style:
                    out.append(f'<c r="{letters[col]}{r}"{style} t="n"></c>')
                continue
            out.append(f'<c r="{letters[col]}{r}"{style}{self._body(value)}')
        out.append("</row>")
        self.parts.append("".join(out))

    def close(self) -> None:
        """The sheet's file: openpyxl's header row, these rows, openpyxl's tail."""
        with open(self.ws._writer.out, "wb") as f:
            f.write(self.head)
            for start in range(0, len(self.parts), 5000):
                f.write("".join(self.parts[start:start + 5000]).encode("ascii"))
            f.write(b"</sheetData>")
            f.write(self.tail)
        self.parts = []
