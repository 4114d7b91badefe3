"""The analyst's data-quality page (`data_quality.html`): every data problem tied to a school and a sheet row, the
value given and what the form expects, the submissions that do not count and why, the sheet's own shape, and the
corrections applied or refused.

This module only shapes the results document (and, optionally, who sent each row) into what the template iterates
over: the issues are grouped by school and by sheet row in one pass, so a national run's page is one walk over
its issues and one over its schools. Every word the analyst reads is in `data_quality.html.j2`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from types import SimpleNamespace
from typing import Any

import pandas as pd

from antt.checks.validate import SEVERITY_ORDER
from antt.config import Config, Form
from antt.intake.normalize import EMAIL
from antt.outputs.html import common_context, ui_macros
from antt.outputs.render import template

# Why a submission row is not counted: its blocking errors, or these notes (the rest is information only).
_NOT_COUNTED_NOTES = ("superseded", "other_cycle")
# The order of the per-school groups: those whose report cannot be counted first.
GROUPS = ("needs_correction", "unregistered", "missing", "warning", "info")


def submission_contacts(subs: pd.DataFrame, form: Form) -> dict[int, dict[str, str]]:
    """Sheet row → the sender's e-mail and the reporter's answers (name, position, phone), as given; for the analyst
    to call about a submission that could not be counted. `subs` is the normalised frame (`Prepared.subs`)."""
    columns = {}
    if EMAIL in subs.columns:
        columns[EMAIL] = subs[EMAIL]
    for q in form.contact_questions:
        if q.id in subs.columns:
            given = subs[q.id]
            invalid = f"{q.id}__invalid"
            columns[q.id] = given.fillna(subs[invalid]) if invalid in subs.columns else given
    if not columns:
        return {}
    frame = pd.DataFrame(columns).astype(object)
    frame = frame.where(frame.notna(), None)
    names = list(columns)
    return {row: {k: str(v) for k, v in zip(names, values, strict=True) if v is not None and str(v) != ""}
            for row, values in zip(subs["sheet_row"].tolist(), frame.itertuples(index=False, name=None), strict=True)}


def _issue_key(issue: dict) -> tuple:
    return issue["sheet_row"] or 0, SEVERITY_ORDER.get(issue["severity"], 9), issue["question_id"] or "", \
        issue["rule"] or ""


def quality_view(document: dict, config: Config, contacts: dict[int, dict[str, str]] | None = None
                 ) -> dict[str, Any]:
    """What `data_quality.html.j2` lists, from the results document:

    - `severity_counts` and `rule_counts` (issue rows; schools touched per severity),
    - `sheet_notes`: notes about the sheet as a whole (row 1, no school: unknown, duplicate and missing columns,
      blank rows),
    - `not_counted`: each submission row that does not count, with the issues that explain why (`blocked`: an
      error stops it, as opposed to a later submission or a date outside the cycle),
    - `groups`: per school its issues and the submission rows they concern, in `GROUPS` order, each by school code
      (rows whose school is not in the registry, by sheet row),
    - `missing`: every school that sent nothing, `corrections` applied and `bad_corrections` refused,
    - `edits`: every edited response (Google sources) with its versions, the one counted, and what changed,
    - `replies`: the schools' replies to their drafts as the review queue has them (when the run read them).
    """
    contacts = contacts or {}
    schools = document["schools"]
    counted_rows = {s["sheet_row"] for s in schools if s["sheet_row"] is not None}
    sheet_notes, bad_corrections = [], []
    of_school: dict[str, list[dict]] = defaultdict(list)
    of_row: dict[int, list[dict]] = defaultdict(list)
    by_severity: Counter = Counter()
    schools_by_severity: dict[str, set] = defaultdict(set)
    by_rule: Counter = Counter()
    for issue in document["issues"]:
        severity, rule, code = issue["severity"], issue["rule"], issue["school_code"] or ""
        by_severity[severity] += 1
        by_rule[rule, severity] += 1
        if rule == "bad_correction":
            bad_corrections.append(issue)
            continue
        if issue["sheet_row"] == 1 and not code:
            sheet_notes.append(issue)
            continue
        schools_by_severity[severity].add(code)
        of_school[code].append(issue)
        of_row[issue["sheet_row"]].append(issue)

    why_not = {}
    for row, issues in of_row.items():
        if row in counted_rows:
            continue
        reasons = [i for i in issues if i["severity"] == "error" or i["rule"] in _NOT_COUNTED_NOTES]
        if reasons:
            why_not[row] = reasons
    not_counted = [{"sheet_row": row, "school_code": why_not[row][0]["school_code"] or "", "reasons": why_not[row],
                    "blocked": any(i["severity"] == "error" for i in why_not[row]), "contact": contacts.get(row, {})}
                   for row in sorted(why_not)]

    contact_ids = [q.id for q in config.form.contact_questions]

    def submissions(school: dict | None, issues: list[dict]) -> list[dict]:
        """The school's rows the page talks about: the counted one and every row with an issue, with who sent it."""
        rows = {i["sheet_row"] for i in issues if i["sheet_row"]}
        counted = school["sheet_row"] if school else None
        if counted is not None:
            rows.add(counted)
        out = []
        for row in sorted(rows):
            contact = contacts.get(row)
            if contact is None and row == counted:  # no contacts given: the counted answers still say who sent it
                contact = {q: str(school["answers"][q]) for q in contact_ids if school["answers"].get(q) is not None}
            out.append({"sheet_row": row, "counted": row == counted, "contact": contact or {},
                        "reasons": sorted({i["rule"] for i in why_not.get(row, [])})})
        return out

    groups: dict[str, list[dict]] = {g: [] for g in GROUPS}
    registered = set()
    for s in sorted(schools, key=lambda s: s["school_code"]):
        code = s["school_code"]
        registered.add(code)
        issues = of_school.get(code, [])
        status = s["status"]
        if status == "needs_correction":
            group = "needs_correction"
        elif not issues:
            continue
        elif status == "missing":
            group = "missing"
        elif any(i["severity"] != "info" for i in issues):
            group = "warning"
        else:
            group = "info"
        groups[group].append({"school": SimpleNamespace(**s), "issues": sorted(issues, key=_issue_key),
                              "submissions": submissions(s, issues), "anchor": f"s-{code}"})
    for code in sorted(set(of_school) - registered):
        issues = sorted(of_school[code], key=_issue_key)
        groups["unregistered"].append({"school": None, "code": code, "issues": issues,
                                       "submissions": submissions(None, issues),
                                       "anchor": f"u-{code}" if code else "u-blank"})
    edits = []
    by_code = {s["school_code"]: s for s in schools}
    for edit in document.get("edits", []):
        s = by_code.get(edit["school_code"])
        version = (s or {}).get("version") or {}
        counted = version.get("versions") if version.get("sheet_row") == edit["sheet_row"] else None
        edits.append(edit | {"school": SimpleNamespace(**s) if s else None,
                             "versions": counted or [v | {"counted": False} for v in edit["versions"]]})
    with_issues = {e["school"].school_code for e in groups["missing"]}
    missing = [{"school": SimpleNamespace(**s), "has_issues": s["school_code"] in with_issues}
               for s in schools if s["status"] == "missing"]
    return {
        "severity_counts": [(sev, by_severity.get(sev, 0), len(schools_by_severity.get(sev, set()) - {""}))
                            for sev in SEVERITY_ORDER],
        "total_issues": sum(by_severity.values()),
        "rule_counts": sorted(((rule, sev, n) for (rule, sev), n in by_rule.items()),
                              key=lambda r: (SEVERITY_ORDER.get(r[1], 9), -r[2], r[0])),
        "sheet_notes": sheet_notes,
        "not_counted": not_counted,
        "groups": [(g, groups[g]) for g in GROUPS if groups[g]],
        "missing": missing,
        "edits": edits,
        "corrections": document["corrections"],
        "bad_corrections": sorted(bad_corrections, key=lambda i: i["message"]),
        "contact_questions": config.form.contact_questions,
        "replies": document.get("replies"),
        "school_names": {s["school_code"]: s["school_name"] for s in schools} if document.get("replies") else {},
    }


def render_data_quality(document: dict, config: Config, contacts: dict[int, dict[str, str]] | None = None,
                        data_docs: str | None = "data_docs/index.html") -> str:
    """`<out>/<cycle>/data_quality.html`, for the analyst only: it shows reporters' names, phones and e-mails.

    `contacts` (from `submission_contacts`) adds who sent the rows that were not counted; `data_docs` is the link
    to the run's Great Expectations Data Docs (None: not written)."""
    common = common_context(document, config)
    return template("data_quality.html.j2").render(
        **common, ui=ui_macros(common), **quality_view(document, config, contacts), kpis=document["kpis"],
        input=document["input"], questions=config.form.by_id, form=config.form, data_docs=data_docs,
    )
