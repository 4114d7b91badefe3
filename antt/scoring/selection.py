"""Which submission counts for each school, and each expected school's status (docs/spec.md §4 duplicates,
§6.4 status)."""

from __future__ import annotations

import pandas as pd

from antt.config import Form
from antt.cycles import Cycle
from antt.intake.normalize import SCHOOL, TIMESTAMP

STATUSES = ("submitted", "needs_correction", "missing")
_DROP_RULES = ("not_integer", "not_decimal", "ambiguous_number", "not_yes_no", "not_date", "not_phone", "not_url",
               "not_in_options", "below_min", "above_max", "above_other")


def drop_invalid_answers(subs: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Answers flagged with a warning are treated as unanswered; the rest of the submission still counts."""
    subs = subs.copy()
    dropped = issues[(issues["severity"] == "warning") & issues["rule"].isin(_DROP_RULES)]
    for qid, rows in dropped.groupby("question_id")["sheet_row"]:
        hit = subs["sheet_row"].isin(rows)
        subs.loc[hit, [c for c in (qid, f"{qid}__n") if c in subs.columns]] = pd.NA
    return subs


def select_counted(subs: pd.DataFrame, issues: pd.DataFrame, cycle: Cycle,
                   on_time_rows: set[int] = frozenset()) -> pd.DataFrame:
    """Valid submissions, the one to count first for each school: the latest valid one before the deadline, else
    the latest valid late one.

    Valid means inside the collection window, from a registered school, with no error-severity issue.
    Rows in `on_time_rows` (accepted by the analyst) count as on time. Adds `on_time`.
    """
    blocked = issues.loc[issues["severity"] == "error", "sheet_row"]
    ts = subs[TIMESTAMP]
    valid = subs[subs["level"].notna() & ts.notna() & (ts >= cycle.opens_at) & (ts < cycle.closes_at)
                 & ~subs["sheet_row"].isin(blocked)].copy()
    valid["on_time"] = (valid[TIMESTAMP] < cycle.deadline_at) | valid["sheet_row"].isin(list(on_time_rows))
    valid = valid.sort_values([SCHOOL, "on_time", TIMESTAMP, "sheet_row"], ascending=[True, False, False, False],
                              kind="stable")
    return valid


def superseded_issues(valid: pd.DataFrame, form: Form) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split sorted valid rows into the counted one per school and info issues for the superseded others."""
    first = ~valid[SCHOOL].duplicated()
    counted = valid[first]
    rest = valid[~first]
    winner = counted.set_index(SCHOOL)["sheet_row"]
    issues = pd.DataFrame({
        "school_code": rest[SCHOOL].to_numpy(),
        "sheet_row": rest["sheet_row"].to_numpy(),
        "question_id": "",
        "severity": "info",
        "message": [form.message("superseded", other=int(winner[c])) for c in rest[SCHOOL]],
        "rule": "superseded",
    })
    return counted.reset_index(drop=True), issues


def school_status(expected: pd.DataFrame, subs: pd.DataFrame, counted: pd.DataFrame) -> pd.Series:
    """submitted (a submission counts) / needs_correction (something arrived in the window, nothing counts) /
    missing."""
    arrived = subs.loc[subs["_in_cycle"], SCHOOL]
    codes = expected["school_code"]
    status = pd.Series("missing", index=codes.index, dtype="str")
    status = status.mask(codes.isin(arrived), "needs_correction").mask(codes.isin(counted[SCHOOL]), "submitted")
    return status
