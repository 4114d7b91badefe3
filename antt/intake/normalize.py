"""Raw response table → typed submissions (docs/spec.md §4). Pure functions over whole columns; no I/O.

Parsing never guesses and never raises on a cell: each question column `Q` gets its typed value, and the text that
could not be read lands in `Q__invalid` (or `Q__ambiguous`, `Q__unknown` for leftover checkbox text). The expectation
suite (antt.checks) then turns those, and every other rule, into issue rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from antt.config import Form, Question
from antt.cycles import Cycle
from antt.errors import InputError
from antt.i18n import _
from antt.sources.raw import RawTable
from antt.text import clean_frame, match_key, on_uniques

TIMESTAMP, EMAIL, SCHOOL = "submitted_at", "email", "school_code"
_ID_PREFIX = re.compile(r"^\s*(?:\[(?P<bracket>[A-Za-z][0-9]+)\]|(?P<dot>[A-Za-z][0-9]+)\.)")
_NO_SPACE = r"[\s\u00a0\u2007\u202f]"


@dataclass
class HeaderMatch:
    """Which sheet column feeds which field, and what about the header row deserves a note."""

    positions: dict[str, int]
    unknown: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    unnamed: list[int] = field(default_factory=list)  # blank header, data below it (found by `normalize`)


def match_headers(headers: list[str], form: Form) -> HeaderMatch:
    """Map header cells to questions by `C3.`/`[C3]` prefix or by normalised label; fatal if a required one is
    absent."""
    by_label = {match_key(q.label): q.id for q in form.questions}
    specials = {**{match_key(h): TIMESTAMP for h in form.timestamp_headers},
                **{match_key(h): EMAIL for h in form.email_headers}}
    found = HeaderMatch(positions={})
    for pos, header in enumerate(headers):
        key = match_key(header)
        if not key:
            continue
        m = _ID_PREFIX.match(key.upper())
        prefixed = (m["bracket"] or m["dot"]).upper() if m else None
        target = specials.get(key) or (prefixed if prefixed in form.by_id else None) or by_label.get(key)
        if target is None:
            found.unknown.append((pos, header))
        elif target in found.positions:
            found.duplicates.append((pos, header))
        else:
            found.positions[target] = pos
    required = [TIMESTAMP] + [q.id for q in form.questions if q.required or q.options_from]
    missing = [r for r in required if r not in found.positions]
    if missing:
        names = [form.timestamp_headers[0] if r == TIMESTAMP else form.by_id[r].title for r in missing]
        raise InputError(_("the response sheet lacks required column(s): {columns}")
                         .format(columns="; ".join(f'"{n}"' for n in names)))
    found.missing_optional = [q.id for q in form.questions if q.id not in found.positions]
    return found


def parse_integer(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'1200', '1.200', '1,200', ' 12 ' → Int64. Anything else is returned as invalid text.

    Digits are ASCII 0-9 here and below: a regex `\\d` also takes Arabic-Indic or full-width digits, which the
    number conversion then drops without a trace.
    """
    t = s.str.replace(_NO_SPACE, "", regex=True)
    ok = (t.str.fullmatch(r"[+-]?[0-9]{1,15}") | t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3}){1,4}")
          | t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3}){1,4}")).fillna(False).astype(bool)
    values = pd.to_numeric(t.where(ok).str.replace(r"[.,]", "", regex=True), errors="coerce").astype("Int64")
    return values, s.where(s.notna() & ~ok)


def parse_decimal(s: pd.Series, percent: bool = False) -> tuple[pd.Series, pd.Series, pd.Series]:
    """'0,95', '0.95', '1.200,5', '95%' → Float64, plus invalid and ambiguous text.

    A single separator followed by exactly three digits ('1.200', '2,500') reads as thousands or as a decimal,
    so it is ambiguous unless the whole part is 0.
    """
    t = s.str.replace(_NO_SPACE, "", regex=True)
    if percent:
        t = t.str.replace(r"%$", "", regex=True)
    plain = t.str.fullmatch(r"[+-]?[0-9]{1,15}")
    single = t.str.fullmatch(r"[+-]?[0-9]{1,15}[.,][0-9]+")
    three_after = t.str.fullmatch(r"[+-]?0*[1-9][0-9]*[.,][0-9]{3}")
    vi_full = (t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+")
               | t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3}){2,}"))
    en_full = (t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+")
               | t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3}){2,}"))
    ambiguous = three_after.fillna(False).astype(bool)
    as_decimal = (single & ~ambiguous).fillna(False).astype(bool)
    text = pd.Series(pd.NA, index=s.index, dtype="str")
    text = text.mask(plain.fillna(False).astype(bool), t)
    text = text.mask(as_decimal, t.str.replace(",", ".", regex=False))
    text = text.mask(vi_full.fillna(False).astype(bool), t.str.replace(".", "", regex=False).str.replace(",", "."))
    text = text.mask(en_full.fillna(False).astype(bool), t.str.replace(",", "", regex=False))
    values = pd.to_numeric(text, errors="coerce").astype("Float64")
    invalid = s.where(s.notna() & values.isna() & ~ambiguous)
    return values, invalid, s.where(ambiguous)


def parse_yes_no(s: pd.Series, yes: str, no: str) -> tuple[pd.Series, pd.Series]:
    """The form's yes/no words in any case or normalisation form → boolean."""
    key = s.str.casefold()
    values = pd.Series(pd.NA, index=s.index, dtype="boolean")
    values = values.mask(key == match_key(yes), True).mask(key == match_key(no), False)
    return values, s.where(s.notna() & values.isna())


def parse_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """dd/mm/yyyy (or ISO yyyy-mm-dd) → datetime64 date."""
    values = pd.to_datetime(s, format="%d/%m/%Y", errors="coerce")
    values = values.fillna(pd.to_datetime(s, format="%Y-%m-%d", errors="coerce"))
    return values, s.where(s.notna() & values.isna())


def parse_timestamp(s: pd.Series, tz: str) -> tuple[pd.Series, pd.Series]:
    """Google Forms 'dd/mm/yyyy HH:MM:SS' in the sheet's zone → tz-aware instants."""
    values = pd.to_datetime(s, format="%d/%m/%Y %H:%M:%S", errors="coerce")
    for fmt in ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        values = values.fillna(pd.to_datetime(s, format=fmt, errors="coerce"))
    values = values.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return values, s.where(s.notna() & values.isna())


def parse_phone(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vietnamese mobile: 10 digits from 0 ('+84' accepted); separators ignored."""
    digits = s.str.replace(r"[\s.\-()]", "", regex=True).str.replace(r"^\+?84", "0", regex=True)
    ok = digits.str.fullmatch(r"0[0-9]{9}").fillna(False).astype(bool)
    return digits.where(ok), s.where(s.notna() & ~ok)


def parse_url(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    ok = s.str.fullmatch(r"(?i)https?://\S+").fillna(False).astype(bool)
    return s.where(ok), s.where(s.notna() & ~ok)


def parse_select_one(s: pd.Series, options: list[str]) -> tuple[pd.Series, pd.Series]:
    """Answer → the option text as configured, matched case- and normalisation-insensitively."""
    canonical = {match_key(o): o for o in options}
    values = s.str.casefold().map(canonical, na_action="ignore").astype("str")
    return values, s.where(s.notna() & values.isna())


def parse_select_multiple(s: pd.Series, options: list[str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Checkbox answer joined with ', ' → (options ticked joined by '; ' in form order, count ticked, leftover text).

    Options may contain ', ' themselves, so the known options are matched whole, longest first, and removed;
    whatever remains is reported, never guessed at.
    """
    rest = ", " + s.str.casefold().fillna("") + ", "
    ticked: dict[str, pd.Series] = {}
    for opt in sorted(options, key=len, reverse=True):
        needle = ", " + match_key(opt) + ", "
        ticked[opt] = rest.str.contains(needle, regex=False)
        rest = rest.str.replace(needle, ", ", regex=False)
    count = sum((ticked[o].astype("int64") for o in options), start=pd.Series(0, index=s.index)).astype("Int64")
    joined = pd.Series("", index=s.index, dtype="str")
    for opt in options:
        joined = joined + np.where(ticked[opt], opt + "; ", "")
    joined = joined.str.removesuffix("; ").where(s.notna())
    leftover = rest.str.strip(", ")
    return joined, count.where(s.notna()), leftover.where(s.notna() & leftover.ne(""))


def parse_school(s: pd.Series) -> pd.Series:
    """'MN01 – <school name>' → 'MN01': the leading code, upper-cased."""
    return s.str.extract(r"^\[?([^\s\]–—-]+)", expand=False).str.upper().astype("str")


def normalize(raw: RawTable, form: Form, registry: pd.DataFrame, cycle: Cycle, header: HeaderMatch | None = None
              ) -> tuple[pd.DataFrame, HeaderMatch]:
    """Typed submissions, one row per non-blank sheet row, with the helper columns the expectation suite reads.

    Helper columns: `level` (from the registry, by school code), `_in_cycle` (timestamp inside the collection
    window, or unreadable so that its error is reported), `_need__Q` (an answer is required on this row and
    none was unreadable), `_school_check`/`_sender_check` (rows whose school and sender are checked) and
    `_registered_sender` (the e-mail when it is registered for the row's school). `header` is the sheet's
    `match_headers` when the caller has it already.
    """
    cells = clean_frame(raw.cells)
    cells = cells.dropna(how="all") if len(cells.columns) else cells
    unnamed = [pos for pos, h in enumerate(raw.headers) if not match_key(h) and cells[pos].notna().any()]
    header = replace(header or match_headers(raw.headers, form), unnamed=unnamed)
    subs = pd.DataFrame(index=cells.index)
    subs["sheet_row"] = cells.index.to_numpy()

    def col(target: str) -> pd.Series:
        pos = header.positions.get(target)
        return cells[pos] if pos is not None else pd.Series(pd.NA, index=cells.index, dtype="str")

    subs[TIMESTAMP], subs[f"{TIMESTAMP}__invalid"] = parse_timestamp(col(TIMESTAMP), cycle.timezone)
    subs[EMAIL] = col(EMAIL).str.casefold()
    school_q = form.school_question
    subs[school_q.id] = col(school_q.id)
    subs[SCHOOL] = parse_school(subs[school_q.id])
    levels = registry.set_index("school_code")["level"]
    subs["level"] = subs[SCHOOL].map(levels).astype("str")
    ts = subs[TIMESTAMP]
    in_cycle = (ts.isna() | ((ts >= cycle.opens_at) & (ts < cycle.closes_at))).astype(bool)
    subs["_in_cycle"] = in_cycle
    # Registry look-ups are joins; the suite then checks their results (no school, no registered sender).
    # Every answer is checked, one with no code to read ('– <school name>') too: an unknown school, not a blank.
    subs["_school_check"] = in_cycle & subs[school_q.id].notna()
    if EMAIL in header.positions:
        pairs = registry[["school_code", "emails"]].explode("emails").dropna()
        registered = pd.MultiIndex.from_arrays([pairs["school_code"], pairs["emails"]])
        known = pd.MultiIndex.from_arrays([subs[SCHOOL], subs[EMAIL]]).isin(registered)
        subs["_sender_check"] = in_cycle & subs["level"].notna()
        subs["_registered_sender"] = subs[EMAIL].where(known)
    subs[f"_need__{school_q.id}"] = in_cycle

    for q in form.questions:
        if q is not school_q:
            _parse_question(subs, q, col(q.id), form)
            _scope_question(subs, q, form)
    return subs.reset_index(drop=True), header


def _scope_question(subs: pd.DataFrame, q: Question, form: Form) -> None:
    """Blank out answers outside this cycle or to questions that do not apply to the school's level (so they are
    neither checked nor scored), and mark the rows where an answer is required (`_need__Q`)."""
    cols = [c for c in subs.columns if c == q.id or c.startswith(f"{q.id}__")]
    applies = pd.Series(True, index=subs.index)
    if q.applies_to:
        applies = subs["level"].isna() | subs["level"].isin(q.applies_to)
    subs.loc[~(subs["_in_cycle"] & applies), cols] = pd.NA
    if not (q.required or q.required_if):
        return
    need = subs["_in_cycle"] & applies
    if q.required_if:
        other, want = q.required_if.question, q.required_if.equals
        if form.by_id[other].type == "yes_no":
            want = want == form.answer_yes
        need = need & (subs[other] == want).fillna(False).astype(bool)
    if f"{q.id}__invalid" in subs:
        need = need & subs[f"{q.id}__invalid"].isna()
    subs[f"_need__{q.id}"] = need.astype(bool)


def parse_answers(q: Question, s: pd.Series, form: Form) -> pd.DataFrame:
    """One question's answers as text → its typed column and the helper columns (`Q__invalid`, `Q__n`…) `normalize`
    makes for it, indexed like `s`: how a value proposed outside the sheet (a school's reply) is read the same way."""
    frame = pd.DataFrame(index=s.index)
    _parse_question(frame, q, s, form)
    return frame


def _parse_question(subs: pd.DataFrame, q: Question, s: pd.Series, form: Form) -> None:
    """Parse one question's column (each distinct answer once) into its typed and helper columns."""
    if q.type == "integer":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_integer, s)
    elif q.type in ("decimal", "percent"):
        subs[q.id], subs[f"{q.id}__invalid"], subs[f"{q.id}__ambiguous"] = on_uniques(
            parse_decimal, s, q.type == "percent")
    elif q.type == "yes_no":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_yes_no, s, form.answer_yes, form.answer_no)
    elif q.type == "date":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_date, s)
    elif q.type == "phone":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_phone, s)
    elif q.type == "url":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_url, s)
    elif q.type == "select_one":
        subs[q.id], subs[f"{q.id}__invalid"] = on_uniques(parse_select_one, s, q.options or [])
    elif q.type == "select_multiple":
        subs[q.id], subs[f"{q.id}__n"], subs[f"{q.id}__unknown"] = on_uniques(
            parse_select_multiple, s, q.options or [])
    else:
        subs[q.id] = s
