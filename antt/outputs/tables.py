"""Tabular outputs: `ranking.csv`, `issues.csv` (machine formats) and `ranking.xlsx` (for people)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from antt.config import Config
from antt.checks.validate import ISSUE_COLUMNS
from antt.results import CycleResults

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
    """SPEC §7 ranking columns: ISO timestamps with offset, true/false, one-decimal scores, empty when absent."""
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
    return issues[ISSUE_COLUMNS[:-1]]


def ranking_xlsx(res: CycleResults, config: Config, path: Path) -> None:
    """Overall sheet, one sheet per level and a criteria sheet; frozen header, filters, grade colours, real numbers."""
    grades = {g.id: g for g in config.scoring.grades}
    levels = config.office.level_names
    headers = ["Hạng", "Hạng trong cấp", "Mã trường", "Tên trường", "Cấp học", "Xã/phường", "Tình trạng",
               "Thời điểm gửi", "Đúng hạn", "Kết quả ANTT", "Điểm", "Xếp loại"]
    status_vi = {"submitted": "Đã gửi", "needs_correction": "Cần sửa", "missing": "Chưa gửi"}
    verdict_vi = {"dat": "Đạt", "chua_dat": "Chưa đạt"}
    r = res.ranked
    rows = pd.DataFrame({
        "rank": r["rank_overall"], "rank_level": r["rank_in_level"], "code": r["school_code"],
        "name": r["school_name"], "level": r["level"].map(levels).fillna(r["level"]), "ward": r["ward"],
        "status": r["status"].map(status_vi),
        "at": r["submitted_at"].dt.tz_localize(None) if len(r) else r["submitted_at"],
        "on_time": r["on_time"].map({True: "Đúng hạn", False: "Muộn"}),
        "verdict": r["verdict"].map(verdict_vi), "score": r["score"].astype("Float64"),
        "grade": r["grade"].map({k: g.label for k, g in grades.items()}), "grade_id": r["grade"], "lv": r["level"],
    })
    rows = _safe_text(rows)
    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "Tổng hợp", headers, rows, grades)
    for level in config.form.levels:
        part = rows[rows["lv"] == level]
        if len(part):
            _sheet(wb, levels.get(level, level)[:31], headers, part, grades)
    crit = wb.create_sheet("Tiêu chí")
    cs = config.criteria
    crit.append(["Mã trường", "Tên trường"] + [c.id for c in cs.criteria])
    names = r.set_index("school_code")["school_name"]
    for code, row in res.criteria.iterrows():
        crit.append([code, neutralise(names.get(code, ""))] +
                    [None if pd.isna(v) else ("Đạt" if v else "Không đạt") for v in row.tolist()])
    crit.freeze_panes = "C2"
    crit.auto_filter.ref = crit.dimensions
    for cell in crit[1]:
        cell.font = Font(bold=True)
    legend = wb.create_sheet("Chú giải tiêu chí")
    legend.append(["Mã", "Tiêu chí", "Bắt buộc", "Căn cứ"])
    for c in cs.criteria:
        legend.append([c.id, c.title, "Có" if c.mandatory else "Không", c.legal_ref])
    wb.save(path)


def _sheet(wb: Workbook, title: str, headers: list[str], rows: pd.DataFrame, grades: dict) -> None:
    ws = wb.create_sheet(title)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    fills = {gid: PatternFill("solid", fgColor=g.color.lstrip("#")) for gid, g in grades.items()}
    for rec in rows.itertuples(index=False):
        values = [rec.rank, rec.rank_level, rec.code, rec.name, rec.level, rec.ward, rec.status,
                  None if pd.isna(rec.at) else rec.at.to_pydatetime(), None if pd.isna(rec.on_time) else rec.on_time,
                  None if pd.isna(rec.verdict) else rec.verdict, None if pd.isna(rec.score) else float(rec.score),
                  None if pd.isna(rec.grade) else rec.grade]
        ws.append(values)
        if not pd.isna(rec.grade_id):
            cell = ws.cell(row=ws.max_row, column=12)
            cell.fill = fills[rec.grade_id]
            cell.font = Font(color="FFFFFF", bold=True)
    for row in ws.iter_rows(min_row=2, min_col=8, max_col=8):
        row[0].number_format = "dd/mm/yyyy hh:mm"
    for row in ws.iter_rows(min_row=2, min_col=11, max_col=11):
        row[0].number_format = "0.0"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for i, width in enumerate([6, 8, 10, 36, 16, 20, 10, 17, 10, 12, 7, 11], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
