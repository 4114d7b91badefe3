"""Raw response table → typed submissions (docs/spec.md §4). Pure functions over whole columns; no I/O.

Parsing never guesses and never raises on a cell: each question column `Q` gets its typed value, and the text that
could not be read lands in `Q__invalid` (or `Q__ambiguous`, `Q__unknown` for leftover checkbox text). The expectation
suite (antt.checks) then turns those, and every other rule, into issue rows.
"""

from __future__ import annotations

import difflib
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


def match_headers(headers: list[str], form: Form, read_as: dict | None = None) -> HeaderMatch:
    """Map header cells to questions by `C3.`/`[C3]` prefix or by normalised label; fatal if a required one is
    absent. `read_as` is how the source was read (`RawTable.read_as`): it lets the error say why."""
    target_of = _header_targets(form)
    found = HeaderMatch(positions={})
    for pos, header in enumerate(headers):
        key = match_key(header)
        if not key:
            continue
        target = target_of(key)
        if target is None:
            found.unknown.append((pos, header))
        elif target in found.positions:
            found.duplicates.append((pos, header))
        else:
            found.positions[target] = pos
    required = [TIMESTAMP] + [q.id for q in form.questions if q.required or q.options_from]
    missing = [r for r in required if r not in found.positions]
    if missing:
        raise header_mismatch(headers, form, found, required, missing, read_as or {})
    found.missing_optional = [q.id for q in form.questions if q.id not in found.positions]
    return found


def _header_targets(form: Form):
    """header match key → the field it feeds (a question id, the timestamp, the e-mail), or None."""
    by_label = {match_key(q.label): q.id for q in form.questions}
    specials = {**{match_key(h): TIMESTAMP for h in form.timestamp_headers},
                **{match_key(h): EMAIL for h in form.email_headers}}

    def target(key: str) -> str | None:
        m = _ID_PREFIX.match(key.upper())
        prefixed = (m["bracket"] or m["dot"]).upper() if m else None
        return specials.get(key) or (prefixed if prefixed in form.by_id else None) or by_label.get(key)
    return target


class HeaderMismatch(InputError):
    """The header row lacks required columns. The message is one line saying why; `details` has a row per required
    column (its title, the column that has it, or the nearest header there is) for `antt validate` to list."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = details


# Header rows of the office's other files, told apart from a response sheet by columns only they have.
_OTHER_FILES = {
    "registry": {"school_code", "school_name", "level"},
    "corrections": {"action", "school_code", "sheet_row", "question_id"},
    "issues": {"school_code", "sheet_row", "question_id", "severity", "message"},
}
_NEARLY = 0.75


def header_mismatch(headers: list[str], form: Form, found: HeaderMatch, required: list[str], missing: list[str],
                    read_as: dict) -> HeaderMismatch:
    """Why the header row does not fit the form, in one line: another of the office's files, a wrong separator, a
    workbook whose first sheet holds something else, a header nearly right, or the columns missing."""
    title = {TIMESTAMP: form.timestamp_headers[0]} | {q.id: q.title for q in form.questions}
    nearest = {target: _nearest(found.unknown, [title[target]] + (
        form.timestamp_headers if target == TIMESTAMP else [form.by_id[target].label])) for target in missing}
    details = [{"column": title[r], "found": headers[found.positions[r]] if r in found.positions else "",
                "nearest": "" if r not in nearest or nearest[r] is None else
                _("column {number} '{header}'").format(number=nearest[r][0] + 1, header=nearest[r][1])}
               for r in required]
    keys = {match_key(h) for h in headers}
    other = next((kind for kind, columns in _OTHER_FILES.items() if columns <= keys), None)
    separator = _other_separator(headers, form)
    near = next(((target, hit) for target in missing if (hit := nearest[target]) is not None), None)
    if other == "registry":
        message = _("this is the school registry, not the response sheet")
    elif other == "corrections":
        message = _("this is a corrections file, not the response sheet")
    elif other == "issues":
        message = _("this is a list of issues written by antt, not the response sheet")
    elif separator and read_as.get("format") == "text":
        message = _("the file looks separated by {found} but was read with {used}").format(
            found=_separator_name(separator), used=_separator_name(read_as["separator"]))
    elif separator:
        message = _("the header row holds several columns in one cell, separated by {found}: the file was opened "
                    "without splitting its columns; open the exported .csv again").format(
            found=_separator_name(separator))
    elif read_as.get("format") == "xlsx" and len(read_as.get("sheets", [])) > 1 and len(missing) > len(required) // 2:
        message = _("the first sheet '{sheet}' is not the response sheet (the workbook has sheets {sheets}); move the "
                    "responses' sheet first").format(sheet=read_as["sheet"],
                                                     sheets=", ".join(f"'{s}'" for s in read_as["sheets"]))
    elif near is not None:
        target, (pos, header) = near
        message = _("column {number} '{header}' is nearly '{title}' but does not match it; rename it").format(
            number=pos + 1, header=header, title=title[target])
    elif len(missing) <= 3:
        message = _("the response sheet lacks required column(s): {columns}").format(
            columns="; ".join(f'"{title[r]}"' for r in missing))
    else:
        message = _("the response sheet lacks {count} of its {total} required columns, from \"{first}\": is this "
                    "the form's response sheet?").format(count=len(missing), total=len(required),
                                                         first=title[missing[0]])
    return HeaderMismatch(message, details)


def _nearest(unknown: list[tuple[int, str]], names: list[str]) -> tuple[int, str] | None:
    """The unknown header most like one of `names` (the column's title, its label), if any is nearly it."""
    best, score = None, _NEARLY
    for pos, header in unknown:
        key = match_key(header)
        for name in names:
            ratio = difflib.SequenceMatcher(None, key, match_key(name)).ratio()
            if ratio >= score:
                best, score = (pos, header), ratio
    return best


def _other_separator(headers: list[str], form: Form) -> str | None:
    """A separator that, splitting the header cells, finds more of the form's columns than the cells as they are:
    the header row's columns were joined in a cell by it. (Titles may hold a comma or a semicolon themselves, so
    splitting must find several more columns, not one.)"""
    target_of = _header_targets(form)
    as_is = {target_of(match_key(h)) for h in headers} - {None}
    for separator in (";", "\t", ","):
        split = {target_of(match_key(part.strip().strip('"'))) for h in headers for part in h.split(separator)}
        if len(split - {None} - as_is) >= 3:
            return separator
    return None


def _separator_name(separator: str) -> str:
    return _("tab") if separator == "\t" else f"'{separator}'"


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


def restore_lost_zeros(codes: pd.Series, known: pd.Series) -> tuple[pd.Series, pd.Series]:
    """School codes that lost their leading zeros (Excel reads a cell '0101' as the number 101) matched to the
    registry: a code of digits the registry lacks becomes the one registry code equal to it but for leading zeros,
    either side ('101' → '0101', and '0101' → '101' when the registry itself lost them). Two registry codes that
    differ only so ('0101', '00101') match neither: the code stays unknown.

    Returns the codes and, on the rows changed, the code as given (for the note to the analyst).
    """
    digits = known[known.str.fullmatch("[0-9]+").fillna(False).astype(bool)]
    stripped = digits.str.lstrip("0")
    unique = ~stripped.duplicated(keep=False)
    lookup = pd.Series(digits[unique].to_numpy(), index=stripped[unique].to_numpy(), dtype="str")
    lost = (codes.notna() & ~codes.isin(known) & codes.str.fullmatch("[0-9]+")).fillna(False).astype(bool)
    found = codes.where(lost).str.lstrip("0").map(lookup)
    restored = found.notna()
    return codes.mask(restored, found).astype("str"), codes.where(restored).astype("str")


def normalize(raw: RawTable, form: Form, registry: pd.DataFrame, cycle: Cycle, header: HeaderMatch | None = None
              ) -> tuple[pd.DataFrame, HeaderMatch]:
    """Typed submissions, one row per non-blank sheet row, with the helper columns the expectation suite reads.

    Helper columns: `level` (from the registry, by school code), `_school_zeros` (a code as given that lost its
    leading zeros, matched to the registry), `_in_cycle` (timestamp inside the collection
    window, or unreadable so that its error is reported), `_need__Q` (an answer is required on this row and
    none was unreadable), `_school_check`/`_sender_check` (rows whose school and sender are checked) and
    `_registered_sender` (the e-mail when it is registered for the row's school). `header` is the sheet's
    `match_headers` when the caller has it already.
    """
    cells = clean_frame(raw.cells)
    cells = cells.dropna(how="all") if len(cells.columns) else cells
    unnamed = [pos for pos, h in enumerate(raw.headers) if not match_key(h) and cells[pos].notna().any()]
    header = replace(header or match_headers(raw.headers, form, raw.read_as), unnamed=unnamed)
    subs = pd.DataFrame(index=cells.index)
    subs["sheet_row"] = cells.index.to_numpy()

    def col(target: str) -> pd.Series:
        pos = header.positions.get(target)
        return cells[pos] if pos is not None else pd.Series(pd.NA, index=cells.index, dtype="str")

    subs[TIMESTAMP], subs[f"{TIMESTAMP}__invalid"] = parse_timestamp(col(TIMESTAMP), cycle.timezone)
    subs[EMAIL] = col(EMAIL).str.casefold()
    school_q = form.school_question
    subs[school_q.id] = col(school_q.id)
    subs[SCHOOL], subs["_school_zeros"] = restore_lost_zeros(parse_school(subs[school_q.id]),
                                                             registry["school_code"])
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
