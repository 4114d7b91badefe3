"""HTML pages rendered with Jinja2 from the results document: the leadership report and one scorecard per school.

The templates in `antt/report_templates/` hold every Vietnamese word and the layout; this module only shapes the
document and the config into what the templates iterate over. Everything that came from the sheet or the registry
is escaped by the environment (autoescape), never marked safe.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, Iterator

from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from antt.config import Condition, Config, Criterion, Indicator, Question
from antt.text import LOCALE, vi_date, vi_datetime, vi_number, vi_percent


def _as_datetime(value: str | datetime | None) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _as_date(value: str | date | None) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _official_date(value: str | datetime) -> str:
    """'ngày 09 tháng 6 năm 2026': day below 10 and months 1–2 take a leading zero (Nghị định 30/2020/NĐ-CP)."""
    d = _as_date(value) if isinstance(value, str) else value
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def _signed(value: float | None, decimals: int = 1) -> str:
    """+2,5 / −1,0 / 0 for a change between cycles."""
    if value is None:
        return ""
    if round(value, decimals) == 0:
        return "0"
    return ("+" if value > 0 else "−") + vi_number(abs(value), decimals)


def _share(value: float) -> str:
    """A configured share as people say it: 0.7 → '70%', 0.855 → '85,5%'."""
    pct = round(value * 100, 1)
    return vi_number(pct, 0 if pct.is_integer() else 1) + "%"


def _points(value: float) -> str:
    """Indicator points with no trailing zeros: 8 → '8', 6.25 → '6,25', 2.5 → '2,5'."""
    return format_decimal(round(value, 2), format="#,##0.##", locale=LOCALE)


def _score(value: float | None) -> str:
    return vi_number(value, 1)


def _count(value: float | None) -> str:
    return vi_number(value, 0)


_ENV = Environment(
    loader=PackageLoader("antt", "report_templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(
    vi_number=vi_number, vi_percent=vi_percent, share=_share, points=_points, score=_score, count=_count,
    signed=_signed,
    vi_date=lambda v: vi_date(_as_date(v)), vi_datetime=lambda v: vi_datetime(_as_datetime(v)),
    official_date=_official_date,
)


def _split_options(value: str, options: list[str]) -> list[str]:
    """A '; '-joined checkbox answer back into its options (options may contain '; '), form order."""
    rest, found = value, set()
    for opt in sorted(options, key=len, reverse=True):
        if opt in rest:
            found.add(opt)
            rest = rest.replace(opt, "")
    return [o for o in options if o in found] or [value]


def _answer(q: Question, value: Any, level: str, config: Config) -> str:
    """A school's answer as it would read it on the form."""
    if q.applies_to and level not in q.applies_to:
        return "Không áp dụng"
    if value is None:
        return "Chưa trả lời"
    if q.type == "yes_no":
        return config.form.answer_yes if value else config.form.answer_no
    if q.type == "date":
        return vi_date(_as_date(value))
    if q.type == "select_multiple":
        return "; ".join(_split_options(value, q.options or []))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return vi_number(value, 0 if float(value).is_integer() else 2)
    return str(value)


def _requirement(cond: Condition, config: Config) -> str:
    """What a criterion's condition asks of an answer, in words."""
    form = config.form
    if cond.op == "eq":
        return cond.value if isinstance(cond.value, str) else vi_number(cond.value, 0)
    if cond.op == "eq_question":
        return f"bằng câu {cond.other} ({form.by_id[cond.other].label})"
    if cond.op == "has_all_options":
        return f"chọn đủ {len(form.by_id[cond.question].options or [])} lựa chọn"
    return f"chọn ít nhất {cond.value} lựa chọn"


def _evidence(crit: Criterion, school: dict, config: Config) -> list[dict]:
    """The answers a criterion was decided on: each condition's question, what it asks, the school's answer."""
    form, answers, level = config.form, school["answers"], school["level"]
    rows = []
    for cond in crit.conditions:
        q = form.by_id[cond.question]
        answer = _answer(q, answers.get(q.id), level, config)
        if cond.op == "eq_question":
            other = form.by_id[cond.other]
            answer += f" (câu {other.id}: {_answer(other, answers.get(other.id), level, config)})"
        elif cond.op in ("has_all_options", "min_selected") and answers.get(q.id) is not None:
            ticked = len(_split_options(answers[q.id], q.options or []))
            answer = f"{ticked} lựa chọn: {answer}"
        rows.append({"question": q.id, "label": q.label, "requirement": _requirement(cond, config),
                     "answer": answer})
    return rows


def _indicator_basis(ind: Indicator, school: dict, config: Config) -> str:
    """The answers an indicator's points come from, e.g. 'B1: 30; A5: 30'."""
    if ind.kind == "timeliness":
        return "Thời điểm gửi: " + vi_datetime(_as_datetime(school["submitted_at"]))
    parts = []
    for qid in ind.questions:
        q = config.form.by_id[qid]
        parts.append(f"{q.id}: {_answer(q, school['answers'].get(qid), school['level'], config)}")
    return "; ".join(parts)


def _common(document: dict, config: Config) -> dict[str, Any]:
    """What both pages need: the office, the cycle, labels and bands from config."""
    annual = [k for k, kind in config.cycles.kinds.items() if not kind.provisional]
    return {
        "office": config.office,
        "cycle": document["cycle"],
        "year": document["cycle"]["id"].split("-")[0],
        "annual_label": config.cycles.kinds[annual[0]].label if annual else "",
        "annual_kind": annual[0] if annual else "",
        "levels": config.office.level_names,
        "grades": {g.id: g for g in config.scoring.grades},
        "criteria_set": config.criteria,
        "criteria_sets": config.criteria_sets,
    }


def render_report(document: dict, config: Config, run: dict) -> str:
    """The leadership report (SPEC §7 `report.html`), one self-contained page."""
    schools = document["schools"]
    crit_by_id = {c.id: c for c in config.criteria.criteria}
    scored = [s for s in schools if s["status"] == "submitted"]
    by_level = [(lvl, [s for s in schools if s["level"] == lvl]) for lvl in config.form.levels]
    attention = []
    for s in schools:
        if s["verdict"] != "chua_dat" and s["status"] != "needs_correction":
            continue
        blocking = [i for i in document["issues"] if i["school_code"] == s["school_code"] and i["severity"] == "error"]
        attention.append({"school": s, "failed": [crit_by_id[c] for c in s["failed_criteria"] if c in crit_by_id],
                          "blocking": blocking if s["status"] == "needs_correction" else []})
    previous = document["previous"]
    changes = []
    if previous:
        for s in schools:
            before = previous["schools"].get(s["school_code"])
            if before is None:
                continue
            delta = s["score"] - before["score"] if s["score"] is not None and before["score"] is not None else None
            changes.append({"school": s, "before": before, "delta": delta})
    grade_counts = [(g, sum(s["grade"] == g.id for s in scored)) for g in config.scoring.grades]
    criteria_by_failing = sorted((c for c in document["criteria"] if c["failing"]), key=lambda c: -c["failing"])
    template = _ENV.get_template("report.html.j2")
    return template.render(
        **_common(document, config),
        doc=document, kpis=document["kpis"], schools=schools, scored=scored, by_level=by_level,
        criteria=document["criteria"], criteria_by_failing=criteria_by_failing, wards=document["wards"],
        wards_reaching=sum(bool(w["reaches_target"]) for w in document["wards"]),
        missing=[s for s in schools if s["status"] == "missing"],
        late=[s for s in scored if s["on_time"] is False],
        attention=attention, previous=previous, changes=changes, grade_counts=grade_counts,
        scoring=config.scoring, ward_target=config.scoring.ward_target_share, run=run,
        run_at=_as_datetime(run["started_at"]),
    )


def render_scorecards(document: dict, config: Config) -> Iterator[tuple[str, str]]:
    """One scorecard per school in the document: (school_code, html)."""
    template = _ENV.get_template("scorecard.html.j2")
    common = _common(document, config)
    in_level = Counter(s["level"] for s in document["schools"])
    for school in document["schools"]:
        criteria = [{"def": c, "result": school["criteria"].get(c.id), "evidence": _evidence(c, school, config)}
                    for c in config.criteria.criteria]
        sections = []
        for section in config.scoring.sections:
            rows = [{"def": i, "points": school["indicators"].get(i.id), "basis": _indicator_basis(i, school, config)}
                    for i in section.indicators]
            applicable = [r for r in rows if r["points"] is not None]
            sections.append({"def": section, "rows": rows, "earned": sum(r["points"] for r in applicable),
                             "possible": sum(r["def"].points for r in applicable)})
        answers = [{"section": sec, "rows": [{"question": q, "answer": _answer(q, school["answers"].get(q.id),
                                                                               school["level"], config)}
                                              for q in config.form.questions if q.section == sec.id]}
                   for sec in config.form.sections] if school["answers"] else []
        issues = [i for i in document["issues"] if i["school_code"] == school["school_code"]]
        yield school["school_code"], template.render(
            **common, school=school, criteria=criteria, sections=sections, issues=issues, answers=answers,
            failed=[c["def"] for c in criteria if c["result"] is False],
            earned=sum(s["earned"] for s in sections), possible=sum(s["possible"] for s in sections),
            questions=config.form.by_id, ranked=len(document["schools"]), ranked_in_level=in_level[school["level"]],
        )
