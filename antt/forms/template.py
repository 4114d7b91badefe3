"""`config/form.yaml` → a one-school Excel report template, for schools that fill the report offline and e-mail it.

Layout (the contract `antt.sources.folder` reads back; every word from `form.yaml`'s `exports.excel_template`): the
report sheet has a header row "id | question | answer | hint"; below it the rows "sent at" and "email" (label in
column B), then one row per question with its id in column A. A checkbox question has one row per option below it,
with ids "B4.1", "B4.2", … and the option text in column B, each answered with the form's yes or no word: a secretary
ticks items one by one, and nothing has to be typed or joined. Only the answer cells are unlocked; drop-down lists
come from the hidden lists sheet, whose first column also records the yes/no words the template uses.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from antt.config import Config, ExcelTemplateWording, Question
from antt.forms.common import bounds_hint, number, rule_hint, school_options

HEADER_ROW = 4
# No date before this is a plausible report or plan date: catches a year typed with two digits.
EARLIEST_DATE = "DATE(2000,1,1)"

_ANSWER = PatternFill("solid", fgColor="FFF2CC")
_SECTION = PatternFill("solid", fgColor="D9E1F2")
_HEAD = PatternFill("solid", fgColor="1F3864")
_NO_ANSWER = PatternFill("solid", fgColor="EDEDED")
_EDGE = Side(style="thin", color="A6A6A6")
_BOX = Border(left=_EDGE, right=_EDGE, top=_EDGE, bottom=_EDGE)
_WRAP = Alignment(wrap_text=True, vertical="top")
_FORMATS = {"integer": "#,##0", "decimal": "0.00", "percent": "0.0%", "date": "dd/mm/yyyy"}


class _Validations:
    """Data validations of the report sheet, one per distinct rule, each covering all its cells."""

    def __init__(self, ws: Worksheet, title: str) -> None:
        self.ws, self.title = ws, title
        self.rules: dict[tuple, DataValidation] = {}

    def add(self, cell: Cell, key: tuple, message: str, **rule) -> None:
        dv = self.rules.get(key)
        if dv is None:
            dv = DataValidation(allow_blank=True, showErrorMessage=True, errorTitle=self.title[:32],
                                error=message[:255], **rule)
            self.ws.add_data_validation(dv)
            self.rules[key] = dv
        dv.add(cell)


def columns(words: ExcelTemplateWording) -> tuple[str, str, str, str]:
    """The report sheet's column titles, in order."""
    c = words.columns
    return c.id, c.question, c.answer, c.hint


def _write_lists(ws: Worksheet, config: Config, registry: pd.DataFrame) -> dict[str, str]:
    """One column per drop-down list; returns list key → absolute reference. Column A is the yes/no pair."""
    form = config.form
    columns = {"yes_no": (form.exports.excel_template.yes_no_list, [form.answer_yes, form.answer_no]),
               "schools": (form.school_question.id, school_options(registry))}
    columns |= {q.id: (q.id, list(q.options)) for q in form.questions if q.type == "select_one" and q.options}
    refs = {}
    for i, (key, (title, values)) in enumerate(columns.items(), start=1):
        letter = get_column_letter(i)
        ws.cell(1, i, title).font = Font(bold=True)
        for r, value in enumerate(values, start=2):
            ws.cell(r, i, value)
        refs[key] = f"'{ws.title}'!${letter}$2:${letter}${len(values) + 1}"
        ws.column_dimensions[letter].width = 40
    ws.sheet_state = "hidden"
    ws.protection.sheet = True
    return refs


def _answer_cell(ws: Worksheet, row: int, number_format: str = "@") -> Cell:
    cell = ws.cell(row, 3)
    cell.protection = Protection(locked=False)
    cell.fill = _ANSWER
    cell.number_format = number_format
    cell.border = _BOX
    return cell


def _row(ws: Worksheet, row: int, key: str, label: str, hint: str = "", bold: bool = False) -> None:
    for col, value in enumerate((key or None, label, None, hint or None), start=1):
        cell = ws.cell(row, col, value)
        cell.border = _BOX
        cell.alignment = _WRAP
    ws.cell(row, 2).font = Font(bold=bold)


def _validate(q: Question, cell: Cell, refs: dict[str, str], dvs: _Validations, message: str,
              bound_row: int | None) -> None:
    """Attach the question's data validation to its answer cell; `bound_row` is the row of its `max_question`."""
    if q.type == "yes_no":
        dvs.add(cell, ("list", "yes_no"), message, type="list", formula1=refs["yes_no"])
    elif q.type == "select_one":
        ref = refs["schools"] if q.options_from == "registry" else refs[q.id]
        dvs.add(cell, ("list", ref), message, type="list", formula1=ref)
    elif q.type == "date":
        dvs.add(cell, ("date",), message, type="date", operator="greaterThanOrEqual",
                formula1=EARLIEST_DATE)
    elif q.type == "integer" and bound_row:
        # Bounded by another answer: a formula rule; a blank bound lets it pass (the pipeline reports that case).
        c, other = cell.coordinate, f"$C${bound_row}"
        low = f",{c}>={number(q.min)}" if q.min is not None else ""
        dvs.add(cell, ("custom", c), message, type="custom",
                formula1=f"AND(ISNUMBER({c}),INT({c})={c}{low},OR(ISBLANK({other}),{c}<={other}))")
    elif q.type in ("integer", "decimal", "percent"):
        kind = "whole" if q.type == "integer" else "decimal"
        if q.min is not None and q.max is not None:
            bounds = {"operator": "between", "formula1": number(q.min), "formula2": number(q.max)}
        elif q.min is not None:
            bounds = {"operator": "greaterThanOrEqual", "formula1": number(q.min)}
        elif q.max is not None:
            bounds = {"operator": "lessThanOrEqual", "formula1": number(q.max)}
        else:
            bounds = {"operator": "between", "formula1": "-1E+15", "formula2": "1E+15"}
        dvs.add(cell, (kind, tuple(bounds.items())), message, type=kind, **bounds)


def write_template(config: Config, registry: pd.DataFrame, dest: Path) -> Path:
    """Write the one-school report template to `dest` (.xlsx)."""
    form = config.form
    words = form.exports.excel_template
    wb = Workbook()
    ws = wb.active
    ws.title = words.report_sheet
    refs = _write_lists(wb.create_sheet(words.lists_sheet), config, registry)
    dvs = _Validations(ws, words.invalid_title)

    ws.merge_cells("A1:D1")
    ws["A1"] = form.title
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = _WRAP
    ws.merge_cells("A2:D2")
    ws["A2"] = f"{form.description}\n{words.instructions.format(answer=words.columns.answer)}".strip()
    ws["A2"].alignment = _WRAP
    ws.row_dimensions[1].height = 36
    ws.row_dimensions[2].height = 80
    ws["D3"] = words.version.format(version=form.version)
    ws["D3"].font = Font(italic=True, color="808080")
    for col, title in enumerate(columns(words), start=1):
        cell = ws.cell(HEADER_ROW, col, title)
        cell.font, cell.fill, cell.border = Font(bold=True, color="FFFFFF"), _HEAD, _BOX

    row = HEADER_ROW + 1
    _row(ws, row, "", words.sent_at, words.sent_at_hint)
    dvs.add(_answer_cell(ws, row, "dd/mm/yyyy"), ("date",), words.enter_date,
            type="date", operator="greaterThanOrEqual", formula1=EARLIEST_DATE)
    row += 1
    _row(ws, row, "", words.email, words.email_hint)
    _answer_cell(ws, row)

    yes_no = words.choose_yes_no.format(yes=form.answer_yes, no=form.answer_no)
    rows: dict[str, int] = {}
    pending: list[tuple[Question, Cell, str]] = []
    for section in form.sections:
        row += 1
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        cell = ws.cell(row, 1, f"{section.id}. {section.title}")
        cell.font, cell.fill = Font(bold=True), _SECTION
        for q in (q for q in form.questions if q.section == section.id):
            row += 1
            rows[q.id] = row
            hint = rule_hint(q, form, config, required_in_form=False)
            if q.type == "select_multiple":
                pick = words.pick_options.format(yes=form.answer_yes)
                _row(ws, row, q.id, q.label, f"{pick} {hint}".strip(), bold=q.required)
                ws.cell(row, 3).fill = _NO_ANSWER
                for i, option in enumerate(q.options or [], start=1):
                    row += 1
                    _row(ws, row, f"{q.id}.{i}", option)
                    ws.cell(row, 2).alignment = Alignment(wrap_text=True, vertical="top", indent=2)
                    dvs.add(_answer_cell(ws, row), ("list", "yes_no"), yes_no, type="list", formula1=refs["yes_no"])
                continue
            _row(ws, row, q.id, q.label, hint, bold=q.required)
            cell = _answer_cell(ws, row, _FORMATS.get(q.type, "@"))
            message = {"yes_no": yes_no, "select_one": words.choose_option, "date": words.enter_date}.get(
                q.type, bounds_hint(q, form.exports.hints) or words.invalid)
            pending.append((q, cell, message))
    # After every row is placed, so that a bound by another answer can name that answer's cell.
    for q, cell, message in pending:
        _validate(q, cell, refs, dvs, message, rows.get(q.max_question or ""))

    for letter, width in zip("ABCD", (9, 62, 34, 48), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    # Only the answer cells are editable; columns and rows may still be resized. No password: this guards
    # against slips, not against a determined user, and a forgotten password would lock the office out.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    wb.security = WorkbookProtection(lockStructure=True)
    wb.save(dest)
    return dest
