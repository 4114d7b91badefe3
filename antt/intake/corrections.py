"""The analyst's corrections (`config/corrections/<cycle>.csv`), applied on top of the archived raw data.

Like review states in ODK Central or SurveyCTO: `set` replaces one answer, `approve_sender` counts a submission
whose sender is not registered, `accept_late` treats a late submission as on time, `reject` never counts one.
The raw archive is never edited; a correction that cannot apply is an issue row, not a crash.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from antt.config import Form
from antt.errors import InputError
from antt.i18n import _
from antt.intake.normalize import HeaderMatch, parse_school
from antt.intake.registry import config_table
from antt.sources.raw import RawTable
from antt.text import clean_frame

COLUMNS = ["action", "school_code", "sheet_row", "question_id", "value", "reason", "by", "at"]
ACTIONS = ("set", "approve_sender", "accept_late", "reject")


def no_corrections() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS + ["line"], dtype="str")


def load_corrections(path: Path, label: str | None = None) -> pd.DataFrame:
    """The corrections file as text (one row per correction, `line` = its line in the file, or its row in a sheet);
    none → empty frame. `label` names it in messages (its source, when `path` is an archived copy).

    A row that is no correction at all (an unknown action, a sheet row that is not a number, a `set` without its
    question) refuses the whole file in one line naming the row: applying the others would hide it. A correction
    that is well formed but does not fit the responses is an issue row (`check_corrections`)."""
    name = label or str(path)
    if not path.is_file():
        return no_corrections()
    frame, line, _read_as = config_table(path, name, _("corrections file"))
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(_("{name}: corrections file lacks column(s) {missing} (expected {expected})")
                         .format(name=name, missing=", ".join(missing), expected=", ".join(COLUMNS)))
    frame = clean_frame(frame[COLUMNS]).fillna("")
    frame["line"] = line.astype(str)
    for rec in frame.to_dict("records"):
        if rec["action"] not in ACTIONS:
            why = _("action '{action}' is not one of {actions}").format(action=rec["action"],
                                                                     actions=", ".join(ACTIONS))
        elif not (rec["sheet_row"].isdigit() and int(rec["sheet_row"]) >= 2):
            why = _("sheet_row '{row}' is not the number of a response row (2 or more)").format(row=rec["sheet_row"])
        elif rec["action"] == "set" and not rec["question_id"]:
            why = _("a 'set' needs the question_id of the answer it replaces")
        else:
            continue
        raise InputError(_("{name}: row {line}: {reason}").format(name=name, line=rec["line"], reason=why))
    return frame


def check_corrections(corrections: pd.DataFrame, raw: RawTable, header: HeaderMatch,
                      form: Form) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split corrections into those that apply and issue rows for those that cannot (unknown action, school, row or
    question). Each applicable row gets `sheet_row` as an int."""
    school_pos = header.positions[form.school_question.id]
    row_school = parse_school(clean_frame(raw.cells[[school_pos]])[school_pos]) if len(raw.cells) else \
        pd.Series(dtype="str")
    problems, ok = [], []
    for rec in corrections.to_dict("records"):
        row = int(rec["sheet_row"])  # load_corrections refused a row without a number
        code = rec["school_code"].upper()
        if row not in row_school.index:
            why = form.message("correction_unknown_row", row=rec["sheet_row"])
        elif rec["action"] == "set" and rec["question_id"] not in form.by_id:
            why = form.message("correction_unknown_question", question=rec["question_id"])
        elif rec["action"] == "set" and rec["question_id"] not in header.positions:
            why = form.message("correction_no_column", question=rec["question_id"])
        elif not _same_code(code, "" if pd.isna(row_school[row]) else row_school[row]) and not (
                rec["action"] == "set" and rec["question_id"] == form.school_question.id):
            why = form.message("correction_other_school", row=row, school=row_school[row],
                               given=rec["school_code"])
        else:
            ok.append(rec | {"sheet_row": row, "school_code": code if pd.isna(row_school[row]) else row_school[row]})
            continue
        problems.append({"school_code": code, "sheet_row": row or 0, "question_id": rec["question_id"],
                         "severity": "warning", "rule": "bad_correction",
                         "message": form.message("bad_correction", line=rec["line"], reason=why)})
    valid = pd.DataFrame(ok, columns=COLUMNS + ["line"])
    issues = pd.DataFrame(problems, columns=["school_code", "sheet_row", "question_id", "severity", "message", "rule"])
    return valid, issues


def _same_code(given: str, row: str) -> bool:
    """The correction's school code is the row's, or is it but for leading zeros a spreadsheet dropped."""
    return given == row or (given.isdigit() and row.isdigit() and given.lstrip("0") == row.lstrip("0"))


def apply_answers(raw: RawTable, corrections: pd.DataFrame, header: HeaderMatch) -> RawTable:
    """A copy of the raw table with every `set` correction's value in its cell (later lines win)."""
    sets = corrections[corrections["action"] == "set"]
    if sets.empty:
        return raw
    cells = raw.cells.copy()
    for rec in sets.to_dict("records"):
        cells.loc[rec["sheet_row"], header.positions[rec["question_id"]]] = rec["value"]
    return replace(raw, cells=cells)


def apply_reviews(issues: pd.DataFrame, corrections: pd.DataFrame, form: Form) -> pd.DataFrame:
    """`approve_sender` turns the row's unverified-sender error into a note; `reject` adds a blocking error."""
    approved = corrections.loc[corrections["action"] == "approve_sender", "sheet_row"]
    hit = (issues["rule"] == "unverified_sender") & issues["sheet_row"].isin(approved)
    issues = issues.copy()
    issues.loc[hit, "severity"] = "info"
    issues.loc[hit, "rule"] = "approved_sender"
    notes = []
    for rec in corrections[corrections["action"].isin(["reject", "approve_sender", "accept_late", "set"])] \
            .to_dict("records"):
        notes.append({"school_code": rec["school_code"], "sheet_row": rec["sheet_row"],
                      "question_id": rec["question_id"] if rec["action"] == "set" else "",
                      "severity": "error" if rec["action"] == "reject" else "info", "rule": rec["action"],
                      "message": form.message(f"correction_{rec['action']}", by=rec["by"] or "?",
                                              reason=rec["reason"] or "", value=rec["value"])})
    if notes:
        issues = pd.concat([issues, pd.DataFrame(notes)], ignore_index=True)
    return issues


def accepted_late(corrections: pd.DataFrame) -> set[int]:
    return set(corrections.loc[corrections["action"] == "accept_late", "sheet_row"].astype(int))


_SUGGESTION = {"unverified_sender": "approve_sender", "missing_required": "set", "not_integer": "set",
               "not_decimal": "set", "ambiguous_number": "set", "not_yes_no": "set", "not_date": "set",
               "not_phone": "set", "not_url": "set", "not_in_options": "set", "below_min": "set", "above_max": "set",
               "above_other": "set", "unknown_school": "set", "bad_timestamp": "reject"}


def template(issues: pd.DataFrame) -> pd.DataFrame:
    """A corrections file pre-filled from the blocking issues: one suggested action per problem, the problem as
    the reason, value/by/at left for the analyst. Nothing here applies until copied into the corrections file."""
    blocking = issues[(issues["severity"] == "error") & issues["rule"].isin(list(_SUGGESTION))]
    return pd.DataFrame({
        "action": blocking["rule"].map(_SUGGESTION), "school_code": blocking["school_code"],
        "sheet_row": blocking["sheet_row"], "question_id": blocking["question_id"].where(
            blocking["rule"] != "unverified_sender", ""), "value": "", "reason": blocking["message"], "by": "",
        "at": "",
    }, columns=COLUMNS).reset_index(drop=True)
