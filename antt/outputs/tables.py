"""Tabular outputs: `ranking.csv`, `issues.csv` (machine formats) and `ranking.xlsx` (for people)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from antt.checks.validate import ISSUE_COLUMNS
from antt.config import Config
from antt.outputs.render import labels
from antt.scoring.results import CycleResults

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
    iso = ts.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True)
    return pd.DataFrame({
        "school_code": r["school_code"], "school_name": r["school_name"], "level": r["level"], "ward": r["ward"],
        "status": r["status"], "submitted_at": iso.where(ts.notna(), ""),
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
    _ranking_sheet(wb, words.ranking_sheet, headers, rows, r["grade"], styles)
    for level in config.form.levels:
        mask = (r["level"] == level).to_numpy()
        if mask.any():
            _ranking_sheet(wb, levels.get(level, level)[:31], headers, rows[mask], r["grade"][mask], styles)
    _criteria_sheets(wb, ranked, criteria, config, styles)
    wb.save(path)


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
                   styles: _Styles) -> None:
    ws = wb.create_sheet(title)
    for i, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    _header(ws, headers, styles)
    for values, gid in zip(rows.itertuples(index=False, name=None), grade_ids.tolist(), strict=True):
        values = list(values)
        at = WriteOnlyCell(ws, value=values[7])
        at.number_format = "dd/mm/yyyy hh:mm"
        score = WriteOnlyCell(ws, value=values[10])
        score.number_format = "0.0"
        grade = WriteOnlyCell(ws, value=values[11])
        if isinstance(gid, str):
            grade.fill, grade.font = styles.grade_fill[gid], styles.grade_font
        ws.append(values[:7] + [at] + values[8:10] + [score, grade])


def _criteria_sheets(wb: Workbook, ranked: pd.DataFrame, criteria: pd.DataFrame, config: Config,
                     styles: _Styles) -> None:
    cs, words = config.criteria, config.labels.workbook
    crit = wb.create_sheet(words.criteria_sheet)
    crit.freeze_panes = "C2"
    crit.auto_filter.ref = f"A1:{get_column_letter(len(cs.criteria) + 2)}{len(criteria) + 1}"
    _header(crit, [words.columns.school_code, words.columns.school_name] + [c.id for c in cs.criteria], styles)
    names = ranked.set_index("school_code")["school_name"].reindex(criteria.index).map(neutralise)
    marks = criteria.astype(object).replace({True: words.criterion_met, False: words.criterion_not_met})
    marks = marks.where(criteria.notna(), None)
    rows = marks.itertuples(index=False, name=None)
    for code, name, values in zip(criteria.index, names.tolist(), rows, strict=True):
        crit.append([code, name, *values])
    legend = wb.create_sheet(words.legend_sheet)
    _header(legend, list(words.legend_columns.model_dump().values()), styles)
    yes, no = config.form.answer_yes, config.form.answer_no
    for c in cs.criteria:
        legend.append([c.id, c.title, yes if c.mandatory else no, c.legal_ref])
