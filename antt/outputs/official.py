"""The official report (Decree 30/2020/ND-CP) as content: what `report.pdf` and `report.docx` both print.

Built from the results document, the one the HTML report renders from, never from the HTML. Its prose (the body's
sections I, II and III and the method annex) is rendered once from `_official.html.j2` to fragments of a small HTML
vocabulary (p, ul, ol, li, h3, strong, em, br, table), escaped by the environment's autoescape; the PDF prints the
fragments as they are and the Word file converts them to its paragraphs and tables (`antt.outputs.docx`). The
appendices' rows are formatted here once, as strings, so both documents print the same cells.

The office's own paragraphs for a cycle (`notes/<cycle>.md`, `antt.outputs.notes`) stand in for the sections it
wrote; the others are written from the data and flagged `review`, which the Word file marks as text to review.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup

from antt.config import Config
from antt.cycles import Cycle, resolve_cycle
from antt.errors import AnttError
from antt.outputs.document import kpis_of
from antt.outputs.notes import SECTIONS
from antt.outputs.render import as_date, labels, share, template
from antt.text import vi_date, vi_number, vi_percent

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def official_report(document: dict, config: Config, run: dict, notes: dict[str, Markup]) -> dict[str, Any]:
    """Everything the official report prints: header, body sections, closing, appendices (see the module doc)."""
    office, scoring, cs = config.office, config.scoring, config.criteria
    schools = [SimpleNamespace(**s) for s in document["schools"]]
    scored = [s for s in schools if s.status == "submitted"]
    grades = {g.id: g for g in scoring.grades}
    previous = document["previous"]
    crit = {c.id: c for c in cs.criteria}
    failing = {c["id"]: c["failing"] for c in document["criteria"]}
    cap = None if len(schools) <= office.official_full_ranking_max else office.report_top_bottom

    facts = {
        "office": office, "cycle": SimpleNamespace(**document["cycle"]), "year": document["cycle"]["id"][:4],
        "kpis": document["kpis"], "previous": previous, "previous_cycle": _cycle_of(previous, config),
        "levels": office.level_names,
        "by_level": [(lvl, office.level_names.get(lvl, lvl), kpis_of(members))
                     for lvl, members in _by_level(document["schools"], config).items()],
        "scored": len(scored), "grade_counts": [(g, sum(s.grade == g.id for s in scored)) for g in scoring.grades],
        "average_grade": _grade_of(document["kpis"]["average_score"], scoring.grades),
        "best": max(scored, key=lambda s: s.score, default=None),
        "worst": min(scored, key=lambda s: s.score, default=None),
        "criteria_set": cs, "ward_target": scoring.ward_target_share,
        "failing": sorted((SimpleNamespace(criterion=crit[cid], count=n) for cid, n in failing.items() if n),
                          key=lambda f: -f.count),
        "passed_by_all": [crit[cid] for cid, n in failing.items() if not n] if scored else [],
        "wards": document["wards"],
        "missing": [s for s in schools if s.status == "missing"],
        "late": [s for s in scored if s.on_time is False],
        "attention": _attention(schools, document["issues"], crit),
        "replies": document.get("replies"),
        "school_names": {s.school_code: s.school_name for s in schools} if document.get("replies") else {},
        "list_max": office.report_list_max, "scoring": scoring, "grades": grades,
        "annual_label": next((k.label for k in config.cycles.kinds.values() if not k.provisional), ""),
        "contact_ids": frozenset(q.id for q in config.form.contact_questions),
    }
    macros = template("_official.html.j2").make_module(facts)
    words = SimpleNamespace(state=macros.STATE, mark=macros.MARK, target=macros.TARGET, grades=grades)
    body = {sid: notes.get(sid) or macros.section(sid) for sid in SECTIONS}
    if notes.get("results"):  # the office's words on the results come after the figures, which are always there
        body["results"] = Markup(macros.section("results") + notes["results"])
    return {
        "office": office, "cycle": document["cycle"], "year": facts["year"],
        "date": run["started_at"], "date_words": str(macros.official_date(run["started_at"])),
        "place_date": f"{office.place}, {macros.official_date(run['started_at'])}",
        "subject": str(macros.subject()).strip(), "intro": macros.intro(),
        "sections": [{"id": sid, "number": ROMAN[i], "title": getattr(office.report_sections, sid),
                      "body": body[sid], "review": sid != "results" and sid not in notes}
                     for i, sid in enumerate(SECTIONS)],
        "ranking": _part(schools, lambda s: _ranking_row(s, words), cap, macros.gap),
        "levels": [{"code": lvl, "name": office.level_names.get(lvl, lvl), "count": vi_number(len(members), 0),
                    **_part(members, lambda s: _level_row(s, words), cap, macros.gap)}
                   for lvl, members in _by_level(schools, config).items()],
        "wards": [_ward_row(i, w, words) for i, w in enumerate(document["wards"], start=1)],
        "wards_reaching": sum(bool(w["reaches_target"]) for w in document["wards"]),
        "ward_target": share(scoring.ward_target_share),
        "criteria": [{"id": c.id, "title": c.title, "mandatory": c.mandatory} for c in cs.criteria],
        "matrix": macros.matrix(_part(scored, lambda s: _matrix_row(s, cs.criteria, words), cap, macros.gap),
                                document["criteria"]),
        "method": macros.method(),
        "schools": len(schools),
    }


def _cycle_of(previous: dict | None, config: Config) -> Cycle | None:
    """The previous cycle's label and year, for the comparisons' wording; None when its kind is no longer configured
    (the wording then names its id)."""
    if not previous:
        return None
    try:
        return resolve_cycle(previous["cycle"], config.cycles)
    except AnttError:
        return None


def _by_level(schools: list, config: Config) -> dict[str, list]:
    """Schools per level in the form's level order, levels with none left out; rank order kept."""
    groups: dict[str, list] = defaultdict(list)
    for s in schools:
        groups[s["level"] if isinstance(s, dict) else s.level].append(s)
    return {lvl: groups[lvl] for lvl in config.form.levels if groups.get(lvl)}


def _grade_of(score: float | None, grades: list) -> Any:
    if score is None:
        return None
    return next((g for g in grades if score >= g.min), None)


def _attention(schools: list, issues: list[dict], crit: dict) -> list[SimpleNamespace]:
    """Schools that did not meet the standard (with the criteria they failed) or whose report could not be
    counted (with its blocking problems), in rank order."""
    blocking: dict[str, list[dict]] = defaultdict(list)
    for issue in issues:
        if issue["severity"] == "error":
            blocking[issue["school_code"]].append(issue)
    return [SimpleNamespace(school=s, failed=[crit[c] for c in s.failed_criteria if c in crit],
                            blocking=blocking.get(s.school_code, []) if s.status == "needs_correction" else [])
            for s in schools if s.verdict == "chua_dat" or s.status == "needs_correction"]


def _part(schools: list, row: Callable[[Any], dict], top_bottom: int | None, gap) -> dict[str, Any]:
    """An appendix table: each school's `row`, or the first and last `top_bottom` around a gap row (`gap(hidden)`
    says how many are left out; the rows left out are not made). Every row has every key (a gap row's are empty but
    its name), so templates need no test."""
    if top_bottom is None or len(schools) <= 2 * top_bottom:
        return {"rows": [row(s) for s in schools], "hidden": 0}
    hidden = len(schools) - 2 * top_bottom
    head, tail = ([row(s) for s in part] for part in (schools[:top_bottom], schools[-top_bottom:]))
    filler = dict.fromkeys(head[0], "") | {"gap": True, "name": str(gap(hidden)).strip()}
    return {"rows": head + [filler] + tail, "hidden": hidden}


def _score(value: float | None) -> str:
    return "" if value is None else vi_number(value, 1)


def _state(s: SimpleNamespace, words: SimpleNamespace) -> str:
    """Status and timeliness in one cell: on time, late, needs correction, missing."""
    if s.status == "submitted":
        return words.state["on_time" if s.on_time else "late"]
    return words.state[s.status]


def _grade(s: SimpleNamespace, words: SimpleNamespace) -> str:
    return words.grades[s.grade].label if s.grade else ""


def _ranking_row(s: SimpleNamespace, words: SimpleNamespace) -> dict[str, str]:
    return {"gap": False, "rank": str(s.rank_overall), "code": s.school_code, "name": s.school_name, "level": s.level,
            "ward": s.ward, "date": vi_date(as_date(s.submitted_at)) if s.submitted_at else "",
            "state": _state(s, words), "verdict": labels().VERDICT.get(s.verdict, ""), "score": _score(s.score),
            "grade": _grade(s, words)}


def _level_row(s: SimpleNamespace, words: SimpleNamespace) -> dict[str, str]:
    return {"gap": False, "rank": str(s.rank_in_level), "code": s.school_code, "name": s.school_name, "ward": s.ward,
            "state": _state(s, words), "verdict": labels().VERDICT.get(s.verdict, ""), "score": _score(s.score),
            "grade": _grade(s, words), "overall": str(s.rank_overall)}


def _ward_row(number: int, w: dict, words: SimpleNamespace) -> dict[str, str]:
    return {"number": str(number), "ward": w["ward"], "expected": vi_number(w["expected"], 0),
            "submitted": vi_number(w["submitted"], 0), "dat": vi_number(w["dat"], 0),
            "share": vi_percent(w["share_dat"]), "reaches": words.target["yes" if w["reaches_target"] else "no"]}


def _matrix_row(s: SimpleNamespace, criteria: list, words: SimpleNamespace) -> dict[str, Any]:
    marks = {True: words.mark["pass"], False: words.mark["fail"], None: words.mark["na"]}
    return {"gap": False, "code": s.school_code, "name": s.school_name, "level": s.level,
            "cells": [marks[s.criteria.get(c.id)] for c in criteria], "failed": str(len(s.failed_criteria))}
