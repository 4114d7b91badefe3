"""Every version of every response, rebuilt from the archived snapshots of one source (docs/spec.md §4b). Pure.

Google keeps only a response's last version: an edit overwrites the Sheet's row and moves its timestamp. Each run
archives what it read, so the earlier versions are in the earlier snapshots under `--out`. A response is followed
by its `responseId` (the Forms API) or by its sheet row while the row's respondent (e-mail, else school) stays the
same (the Sheet). A snapshot whose rows changed respondent was re-sorted or re-pasted: it is reported and left out,
never mixed in.

The earlier versions join the current table as extra rows after its last one, so the duplicates rule (the latest
valid submission before the deadline, else the latest valid late one) applies across versions unchanged; each
extra row knows the sheet row it is a version of, and `attribute` gives the results that row back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

from antt.config import Form
from antt.intake.normalize import EMAIL, TIMESTAMP, match_headers, parse_school, parse_timestamp
from antt.sources.raw import RawTable
from antt.text import clean_frame, vi_datetime

if TYPE_CHECKING:
    from antt.scoring.results import CycleResults


@dataclass(frozen=True)
class Snapshot:
    """An earlier snapshot of the source, read as a table, and when it was received (ISO)."""

    table: RawTable
    received_at: str


@dataclass
class Versions:
    """The current table with the earlier versions appended, and what tells them apart.

    `earlier`: one row per appended version, indexed by its row in `table`: `version_of` (the sheet row it is an
    earlier version of), `response_id` (Forms) and `submitted` (its timestamp as the sheet shows it).
    `edits`: per edited response, its versions oldest first and the answers that changed between them.
    `resorted`: (received_at, rows whose respondent changed) for each snapshot left out.
    """

    table: RawTable
    earlier: pd.DataFrame
    edits: list[dict] = field(default_factory=list)
    resorted: list[tuple[str, int]] = field(default_factory=list)


def with_versions(current: RawTable, snapshots: list[Snapshot], form: Form, timezone: str) -> Versions:
    """The current table plus every distinct earlier version of its responses found in `snapshots` (oldest first)."""
    header = match_headers(current.headers, form)
    cells = clean_frame(current.cells)
    by_id = current.keys is not None
    key = current.keys if by_id else pd.Series(current.cells.index, index=current.cells.index)
    row_of = pd.Series(key.index, index=key.to_numpy())
    who = _respondent(cells, header, form)
    stamp_pos = header.positions[TIMESTAMP]
    seen = {(k, cells.at[r, stamp_pos]) for r, k in key.items()}
    found: list[tuple[int, str | None, list[str]]] = []
    resorted = []
    for snap in snapshots:
        old = _aligned(snap.table, current.headers)
        old_cells = clean_frame(old)
        if by_id:
            ids = snap.table.keys if snap.table.keys is not None else pd.Series(dtype="str")
            pairs = [(row_of[k], r) for r, k in ids.items() if k in row_of.index]
        else:
            common = old.index.intersection(cells.index)
            old_who = _respondent(old_cells, header, form)
            moved = int((old_who.reindex(common).fillna("") != who.reindex(common).fillna("")).sum())
            moved += int((~old.index.isin(cells.index) & old_cells.notna().any(axis=1)).sum())
            if moved:
                resorted.append((snap.received_at, moved))
                continue
            pairs = [(r, r) for r in common]
        for row, old_row in pairs:
            at = old_cells.at[old_row, stamp_pos]
            if pd.isna(at) or (key[row], at) in seen:
                continue
            seen.add((key[row], at))
            found.append((row, key[row] if by_id else None, old.loc[old_row].tolist()))
    first = current.cells.index.max() + 1 if len(current.cells) else 2
    extra = pd.DataFrame([values for _row, _id, values in found], columns=current.cells.columns, dtype="str",
                         index=pd.RangeIndex(first, first + len(found), name="sheet_row"))
    earlier = pd.DataFrame({"version_of": [r for r, _i, _v in found], "response_id": [i for _r, i, _v in found],
                            "submitted": extra[stamp_pos].tolist() if len(found) else []}, index=extra.index)
    table = replace(current, cells=pd.concat([current.cells, extra]) if len(found) else current.cells)
    return Versions(table=table, earlier=earlier, edits=_edits(table, earlier, header, form, stamp_pos, timezone,
                                                              key if by_id else None),
                    resorted=resorted)


def _aligned(table: RawTable, headers: list[str]) -> pd.DataFrame:
    """A snapshot's cells under the current table's header positions (a column it lacks is empty)."""
    position = {}
    for pos, h in enumerate(table.headers):
        position.setdefault(h, pos)
    columns = {i: (table.cells[position[h]] if h in position else pd.Series("", index=table.cells.index, dtype="str"))
               for i, h in enumerate(headers)}
    return pd.DataFrame(columns, index=table.cells.index)


def _respondent(cells: pd.DataFrame, header, form: Form) -> pd.Series:
    """Who a row is from: its e-mail, else its school answer; case-folded."""
    pos = header.positions.get(EMAIL, header.positions[form.school_question.id])
    return cells[pos].str.casefold()


def _edits(table: RawTable, earlier: pd.DataFrame, header, form: Form, stamp_pos: int, timezone: str,
           ids: pd.Series | None) -> list[dict]:
    """Each response with earlier versions: its versions oldest first (row, time) and what changed between them."""
    if earlier.empty:
        return []
    cells = clean_frame(table.cells)
    when, _invalid = parse_timestamp(cells[stamp_pos], timezone)
    titles = {pos: (qid, form.by_id[qid].label) for qid, pos in header.positions.items() if qid in form.by_id}
    schools = parse_school(cells[header.positions[form.school_question.id]]).fillna("")
    edits = []
    for row, versions in earlier.groupby("version_of", sort=True):
        rows = sorted([*versions.index, row], key=lambda r: (pd.notna(when[r]), when[r] if pd.notna(when[r]) else 0, r))
        steps = []
        for before, after in zip(rows, rows[1:], strict=False):
            changed = [{"question_id": qid, "label": label, "before": _text(cells.at[before, pos]),
                        "after": _text(cells.at[after, pos])}
                       for pos, (qid, label) in sorted(titles.items(), key=lambda t: t[0])
                       if _text(cells.at[before, pos]) != _text(cells.at[after, pos])]
            steps.append(changed)
        edits.append({"sheet_row": int(row), "school_code": schools[row],
                      "response_id": None if ids is None else str(ids[row]),
                      "versions": [{"row": int(r), "submitted_at": when[r].isoformat() if pd.notna(when[r]) else None,
                                    "shown": vi_datetime(when[r]) if pd.notna(when[r]) else cells.at[r, stamp_pos]}
                                   for r in rows],
                      "changes": steps})
    return edits


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def every_version(corrections: pd.DataFrame, versions: Versions) -> pd.DataFrame:
    """The analyst's `reject` and `approve_sender` concern a response, not one of its versions: they also apply to
    the earlier versions of their row (`accept_late` and `set` stay with the version the sheet shows)."""
    whole = corrections[corrections["action"].isin(["reject", "approve_sender"])]
    if whole.empty or versions.earlier.empty:
        return corrections
    rows = versions.earlier.reset_index().rename(columns={"sheet_row": "version_row"})
    copies = whole.merge(rows[["version_of", "version_row"]], left_on="sheet_row", right_on="version_of")
    copies = copies.assign(sheet_row=copies["version_row"])[corrections.columns]
    return pd.concat([corrections, copies], ignore_index=True)


def attribute(res: CycleResults, versions: Versions, form: Form) -> CycleResults:
    """Give the results the sheet rows back: an issue or a counted submission on an earlier version names the row
    it is a version of (its message says which version). Each school also gets `counted_row` (the row that counted:
    an appended version, or the sheet row itself), `response_id` (Forms) and `recovered` (the counted version was
    overwritten later)."""
    earlier = versions.earlier
    back = earlier["version_of"]
    ids = pd.concat([versions.table.keys, earlier["response_id"]]) if versions.table.keys is not None \
        else pd.Series(dtype="str")

    def sheet_row(r):
        return back.get(r, r) if pd.notna(r) else r

    ranked = res.ranked.copy()
    counted = ranked["sheet_row"]
    ranked["counted_row"] = counted
    ranked["response_id"] = counted.map(lambda r: ids.get(r) if pd.notna(r) else None)
    ranked["recovered"] = counted.isin(back.index).astype("boolean").where(counted.notna())
    ranked["sheet_row"] = counted.map(sheet_row).astype("Int64")
    if earlier.empty:
        return replace(res, ranked=ranked)
    issues = res.issues.copy()
    winner = ranked.set_index("school_code")["sheet_row"]
    superseded = issues["rule"].eq("superseded")
    issues.loc[superseded, "message"] = [form.message("superseded", other=int(winner[c]))
                                         for c in issues.loc[superseded, "school_code"]]
    old = issues["sheet_row"].isin(back.index)
    issues.loc[old, "message"] = [f"{m} {form.message('earlier_version', at=earlier.at[r, 'submitted'])}"
                                  for m, r in zip(issues.loc[old, "message"], issues.loc[old, "sheet_row"],
                                                  strict=True)]
    issues["sheet_row"] = issues["sheet_row"].map(sheet_row)
    return replace(res, ranked=ranked, issues=issues)
