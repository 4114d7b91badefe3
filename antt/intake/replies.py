"""Schools' replies to their draft scorecards (docs/spec.md §10) → the analyst's review queue. Pure functions.

A reply names its school, the question to correct, the correct value and why. Each one the queue can vouch for
becomes a suggested `set` correction on the school's counted row, in the corrections file's own columns, so the
analyst accepts it by copying the row into `config/corrections/<cycle>.csv`; nothing here changes a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from antt.config import Form
from antt.errors import InputError
from antt.i18n import _
from antt.intake.corrections import COLUMNS as CORRECTION_COLUMNS
from antt.intake.normalize import EMAIL, SCHOOL, TIMESTAMP, match_headers, parse_answers, parse_school, parse_timestamp
from antt.sources.raw import RawTable
from antt.text import clean_frame, match_key, vi_date, vi_number

COLUMNS = CORRECTION_COLUMNS + ["reply_row", "status"]  # replies.csv, a contract (docs/spec.md §10)
# What each question of the reply form holds (config/reply_form.yaml; its ids are a contract like the report form's).
FIELDS = {"school": "R1", "question": "R2", "value": "R3", "reason": "R4", "evidence": "R5", "by": "R6"}
# In the order they are decided: a reply gets the first that applies. `accepted` (a correction already applies it)
# overrides every other one; `suggested` is what is left.
STATUSES = ("outside_window", "unknown_school", "unverified_sender", "before_draft", "unknown_question",
            "no_submission", "invalid_value", "duplicate", "suggested", "accepted")
_QUESTION_ID = r"^\s*\[?([A-Za-z][0-9]+)[\].]"


def read_replies(raw: RawTable, reply_form: Form, form: Form, timezone: str) -> pd.DataFrame:
    """The reply sheet → one row per non-blank reply, indexed by its row in the sheet (`reply_row`): `at`
    (tz-aware, NaT when unreadable), `email`, `school_code`, `by`, `question_id` (the report form's id the reply
    names, "" when none), `question` (as given), `value`, `reason`, `evidence`.

    A sheet without the timestamp, the respondent's e-mail or a required question is unusable: InputError."""
    try:
        header = match_headers(raw.headers, reply_form)
    except InputError as exc:
        raise InputError(_("{source}: not a reply sheet: {reason}").format(source=raw.source, reason=exc)) from None
    if EMAIL not in header.positions:
        raise InputError(_("{source}: the reply sheet has no \"{column}\" column: collect the respondents' e-mail "
                           "addresses in the reply form, which is how a reply is tied to its school")
                         .format(source=raw.source, column=reply_form.email_headers[0]))
    cells = clean_frame(raw.cells).dropna(how="all") if len(raw.cells.columns) else raw.cells

    def col(target: str) -> pd.Series:
        pos = header.positions.get(target)
        return cells[pos] if pos is not None else pd.Series(pd.NA, index=cells.index, dtype="str")

    at, _unread = parse_timestamp(col(TIMESTAMP), timezone)
    asked = col(FIELDS["question"])
    by_label = {match_key(q.label): q.id for q in form.questions}
    question_id = asked.str.extract(_QUESTION_ID, expand=False).str.upper()
    question_id = question_id.fillna(asked.str.casefold().map(by_label, na_action="ignore").astype("str"))
    frame = pd.DataFrame({
        "at": at, "email": col(EMAIL).str.casefold(), SCHOOL: parse_school(col(FIELDS["school"])),
        "by": col(FIELDS["by"]), "question_id": question_id, "question": asked, "value": col(FIELDS["value"]),
        "reason": col(FIELDS["reason"]), "evidence": col(FIELDS["evidence"]),
    }, index=cells.index)
    frame.index.name = "reply_row"
    return frame.fillna({c: "" for c in frame.columns if c != "at"})


def review_queue(replies: pd.DataFrame, counted: pd.DataFrame, expected: pd.DataFrame, form: Form,
                 window: tuple[datetime, datetime], drafts_sent: Mapping[str, datetime],
                 corrections: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each reply's status (`STATUSES`) and, for those that can apply, the correction it suggests.

    `counted` is the run's counted submission per school (indexed by school code, typed answers), `expected` the
    schools the cycle expects (with their registered `emails`), `window` the reply window [opens, closes),
    `drafts_sent` when each school's draft scorecard was first e-mailed, `corrections` the analyst's corrections
    that apply (a `set` equal to a reply is that reply accepted).

    Returns the queue (index `reply_row`: `COLUMNS` plus `evidence`, `replier`, `email`, `question`, `answer_now`
    and `at_ts`) and,
    for the suggested and accepted replies, their school's counted row with the proposed answer in place (index
    `reply_row`): what `antt.scoring.results.rescore` scores to show what accepting it would give.
    """
    at, code, qid = replies["at"], replies[SCHOOL], replies["question_id"]
    status = pd.Series("", index=replies.index, dtype="str")

    def mark(condition: pd.Series, name: str) -> None:
        status.mask((status == "") & condition.fillna(True).astype(bool), name, inplace=True)

    mark(~((at >= window[0]) & (at < window[1])), "outside_window")
    mark(~code.isin(expected["school_code"]), "unknown_school")
    pairs = expected[["school_code", "emails"]].explode("emails").dropna()
    registered = pd.MultiIndex.from_arrays([pairs["school_code"], pairs["emails"].str.casefold()])
    mark(~pd.Series(pd.MultiIndex.from_arrays([code, replies["email"]]).isin(registered), index=replies.index),
         "unverified_sender")
    if drafts_sent:
        mark(pd.Series(at < pd.to_datetime(code.map(dict(drafts_sent))), index=replies.index).fillna(False),
             "before_draft")
    level = code.map(expected.set_index("school_code")["level"])
    answerable = pd.Series([_answerable(form, q, lvl) for q, lvl in zip(qid, level, strict=True)],
                           index=replies.index)
    mark(~answerable, "unknown_question")
    mark(~code.isin(counted.index), "no_submission")

    rows = counted.reindex(code.where(code.isin(counted.index))).set_axis(replies.index)
    proposed, valid = _propose(rows, replies, form, status == "")
    mark(~valid, "invalid_value")

    latest = replies.assign(_open=status == "").loc[lambda f: f["_open"]].sort_values("at", kind="stable")
    mark(pd.Series(latest.duplicated([SCHOOL, "question_id"], keep="last"), index=latest.index)
         .reindex(replies.index, fill_value=False), "duplicate")
    mark(pd.Series(True, index=replies.index), "suggested")

    sheet_row = rows["sheet_row"].astype("Int64") if "sheet_row" in rows else pd.Series(pd.NA, index=rows.index)
    sets = corrections[corrections["action"] == "set"]
    applied = pd.MultiIndex.from_arrays([sets["school_code"], sets["sheet_row"].astype("int64"),
                                         sets["question_id"], sets["value"]])
    mine = pd.MultiIndex.from_arrays([code, sheet_row.fillna(-1).astype("int64"), qid, replies["value"]])
    # The same reply sent twice is accepted once: the latest of the equal ones; the others stay duplicates.
    matched = replies.loc[mine.isin(applied)].sort_values("at", kind="stable")
    once = matched.index[~matched.duplicated([SCHOOL, "question_id", "value"], keep="last")]
    status = status.mask(replies.index.isin(once), "accepted")

    can_apply = status.isin(["suggested", "accepted"])
    queue = pd.DataFrame({
        "action": np.where(can_apply, "set", ""), "school_code": code, "sheet_row": sheet_row, "question_id": qid,
        "value": replies["value"], "reason": replies["reason"], "by": "",
        "at": at.map(lambda t: t.isoformat(), na_action="ignore").fillna("").astype("str") if len(at) else "",
        "reply_row": replies.index.to_numpy(), "status": status, "evidence": replies["evidence"],
        "replier": replies["by"], "email": replies["email"],
        "question": replies["question"], "answer_now": [_shown(rows, q, i, form) for i, q in zip(
            replies.index, qid, strict=True)], "at_ts": at,
    }, index=replies.index)
    return queue, proposed.loc[can_apply[can_apply].index]


def _answerable(form: Form, question_id: str, level) -> bool:
    """A report-form question a reply may correct for a school of `level`: not the school itself, and one that
    applies to the school's level (an answer that is not asked there is never scored)."""
    q = form.by_id.get(question_id)
    if q is None or q is form.school_question:
        return False
    return not q.applies_to or pd.isna(level) or level in q.applies_to


def _propose(rows: pd.DataFrame, replies: pd.DataFrame, form: Form, open_: pd.Series
             ) -> tuple[pd.DataFrame, pd.Series]:
    """The counted rows with each open reply's value read by its question's own parser in place, and whether that
    value passes the question's rules (readable, not blank, within `min`/`max`, and within the answers it is bounded
    by or bounds, `max_question`). One parse per question named, over all its replies at once."""
    proposed = rows.copy()
    valid = pd.Series(True, index=rows.index)
    for qid, ids in replies.loc[open_].groupby("question_id").groups.items():
        q = form.by_id[qid]
        parsed = parse_answers(q, replies.loc[ids, "value"].replace("", pd.NA), form)
        ok = parsed[q.id].notna()
        for helper in parsed.columns.drop(q.id):
            if not helper.endswith("__n"):
                ok &= parsed[helper].isna()
        value = parsed[q.id]
        if q.min is not None:
            ok &= (value >= q.min).fillna(False)
        if q.max is not None:
            ok &= (value <= q.max).fillna(False)
        if q.max_question:
            ok &= ~(value > proposed.loc[ids, q.max_question]).fillna(False)
        for other in (o for o in form.questions if o.max_question == q.id):
            ok &= ~(proposed.loc[ids, other.id] > value).fillna(False)
        for column in parsed.columns.intersection(proposed.columns):
            proposed.loc[ids, column] = parsed[column]
        valid.loc[ids] = ok.astype(bool)
    return proposed, valid


def _shown(rows: pd.DataFrame, question_id: str, reply_row, form: Form) -> str:
    """The school's counted answer to the question, as the analyst reads it ("" when none)."""
    q = form.by_id.get(question_id)
    if q is None or q.id not in rows.columns:
        return ""
    value = rows.at[reply_row, q.id]
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if q.type == "yes_no":
        return form.answer_yes if value else form.answer_no
    if q.type in ("integer", "decimal", "percent"):
        return vi_number(float(value), 0 if float(value).is_integer() else 2)
    if q.type == "date":
        return vi_date(pd.Timestamp(value).date())
    return str(value)


def reply_changes(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """The schools whose status, verdict, score or overall rank differ between two rankings of the cycle (`now`:
    with the accepted replies, `before`: without them), in `now`'s rank order: `school_code, school_name` and each
    of those four as `<name>_before` and `<name>`."""
    compared = ["status", "verdict", "score", "rank_overall"]
    after = now.set_index("school_code")[["school_name", *compared]]
    earlier = before.set_index("school_code")[compared].reindex(after.index)
    moved = pd.Series(False, index=after.index)
    for column in compared:
        same = (after[column] == earlier[column]).fillna(False).astype(bool)
        moved |= ~(same | (after[column].isna() & earlier[column].isna()))
    return (after[["school_name"]].join(earlier.add_suffix("_before")).join(after[compared]))[moved.to_numpy()] \
        .reset_index()
