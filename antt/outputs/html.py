"""HTML pages rendered with Jinja2 from the results document: the leadership report, one scorecard per school and,
for a run too large to list every school in the report, one page per unit.

The templates in `antt/report_templates/` hold every Vietnamese word and the layout; this module only shapes the
document and the config into what the templates iterate over. Everything that came from the sheet or the registry
is escaped: by the environment (autoescape), or with `escape` where a row rendered once is filled per school; it is
never marked safe as is.

A national run renders 50,000 scorecards, so what depends only on config (badges, headers, criterion and indicator
rows for a given answer) is rendered once per run and reused; per school only its own values are formatted. The
scorecards link one stylesheet in the cycle folder (`STYLESHEET`) rather than carry 7 KB of CSS each; a copy that
leaves the folder (the e-mail attachment) gets it inline again (`inline_stylesheet`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from importlib.resources import files
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup, escape

from antt.config import Condition, Config, Criterion, Indicator, Question
from antt.outputs.document import kpis_of
from antt.outputs.render import as_date, as_datetime, labels, template
from antt.text import vi_date, vi_datetime, vi_number

STYLESHEET = "style.css"  # report_templates/style.css, written once into the cycle folder for schools/*.html
_LINK = f'<link rel="stylesheet" href="../{STYLESHEET}">'


def stylesheet() -> str:
    """The pages' CSS, as the cycle folder's shared copy holds it."""
    return files("antt").joinpath("report_templates", STYLESHEET).read_text(encoding="utf-8")


def inline_stylesheet(page: str) -> str:
    """A scorecard that links the cycle folder's stylesheet, with the CSS inline instead (as every other page has
    it): what a copy needs once it leaves the folder."""
    return page.replace(_LINK, f"<style>\n{stylesheet()}</style>", 1)


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
        return labels().ANSWER["not_applicable"]
    if value is None:
        return labels().ANSWER["unanswered"]
    if q.type == "yes_no":
        return config.form.answer_yes if value else config.form.answer_no
    if q.type == "date":
        return vi_date(as_date(value))
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
    words = labels().ANSWER
    if cond.op == "eq_question":
        return words["equals_question"].format(question=cond.other, label=form.by_id[cond.other].label)
    if cond.op == "has_all_options":
        return words["all_options"].format(n=len(form.by_id[cond.question].options or []))
    return words["at_least_options"].format(n=cond.value)


def _evidence(crit: Criterion, school: dict, config: Config) -> list[dict]:
    """The answers a criterion was decided on: each condition's question, what it asks, the school's answer."""
    form, answers, level = config.form, school["answers"], school["level"]
    rows = []
    for cond in crit.conditions:
        q = form.by_id[cond.question]
        answer = _answer(q, answers.get(q.id), level, config)
        if cond.op == "eq_question":
            other = form.by_id[cond.other]
            answer += labels().ANSWER["other_answer"].format(
                question=other.id, answer=_answer(other, answers.get(other.id), level, config))
        elif cond.op in ("has_all_options", "min_selected") and answers.get(q.id) is not None:
            ticked = len(_split_options(answers[q.id], q.options or []))
            answer = labels().ANSWER["ticked"].format(n=ticked, answer=answer)
        rows.append({"question": q.id, "label": q.label, "requirement": _requirement(cond, config),
                     "answer": answer})
    return rows


def _indicator_basis(ind: Indicator, school: dict, config: Config) -> str:
    """The answers an indicator's points come from, e.g. 'B1: 30; A5: 30'."""
    if ind.kind == "timeliness":
        return labels().ANSWER["submitted_at"].format(when=vi_datetime(as_datetime(school["submitted_at"])))
    parts = []
    for qid in ind.questions:
        q = config.form.by_id[qid]
        parts.append(f"{q.id}: {_answer(q, school['answers'].get(qid), school['level'], config)}")
    return "; ".join(parts)


def _issues_by_school(document: dict) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for issue in document["issues"]:
        grouped[issue["school_code"]].append(issue)
    return grouped


def _method(config: Config) -> dict[str, Any]:
    """The scoring method's config, as the report's annex and docs/method.md (`render_method`) both read it."""
    return {
        "office": config.office,
        "levels": config.office.level_names,
        "criteria_set": config.criteria,
        "criteria_sets": config.criteria_sets,
        "scoring": config.scoring,
        "ward_target": config.scoring.ward_target_share,
    }


def common_context(document: dict, config: Config) -> dict[str, Any]:
    """What both pages need: the office, the cycle, labels and bands from config, the method."""
    annual = [k for k, kind in config.cycles.kinds.items() if not kind.provisional]
    return {
        **_method(config),
        "cycle": SimpleNamespace(**document["cycle"]),
        "year": document["cycle"]["id"].split("-")[0],
        "annual_label": config.cycles.kinds[annual[0]].label if annual else "",
        "annual_kind": annual[0] if annual else "",
        "grades": {g.id: g for g in config.scoring.grades},
        "contact_ids": frozenset(q.id for q in config.form.contact_questions),
    }


def render_method(config: Config) -> str:
    """docs/method.md: how status, verdict, score, grade and rank are computed, for the office, in the words of the
    report's method annex (`_method.html.j2`) and from the same config; `make docs` writes it."""
    used = {q for c in config.criteria.criteria for cond in c.conditions for q in (cond.question, cond.other) if q}
    used |= {q for i in config.scoring.indicators for q in i.questions}
    return template("method.md.j2").render(
        **_method(config), cycles=config.cycles, form=config.form,
        questions=[q for q in config.form.questions if q.id in used])


def _concat(parts: Iterable[Markup]) -> Markup:
    """Rendered fragments side by side; each is already Markup (escaped by its macro), so the sum is too."""
    return Markup("".join(parts))


class _Memoized:
    """A template module whose macros render once per distinct arguments (badges, the official header…).

    Handed to the templates as `ui` and `rep`: the same `ui.status(s.status)` call, but a national run renders each
    badge a handful of times rather than once per school and column. Macros given a dict or a list are not memoized.
    """

    def __init__(self, module: Any):
        self._module = module

    def __getattr__(self, name: str) -> Any:
        macro = getattr(self._module, name)
        if not callable(macro):
            return macro
        rendered: dict[tuple, Markup] = {}

        def call(*args: Any, **kwargs: Any) -> Markup:
            key = (args, tuple(kwargs.items()))
            try:
                return rendered[key]
            except KeyError:
                rendered[key] = out = macro(*args, **kwargs)
                return out
            except TypeError:  # unhashable argument: render it every time
                return macro(*args, **kwargs)

        setattr(self, name, call)
        return call


def ui_macros(common: dict[str, Any]) -> _Memoized:
    """`_macros.html.j2` bound to this document's office, cycle and labels, memoized."""
    return _Memoized(template("_macros.html.j2").make_module(common))


class _Slotted:
    """A macro's output rendered once around a placeholder, then filled per school with that school's text, escaped.

    For the rows whose one varying text is the school's own (a contact name, a submission time): filling is a string
    join instead of a macro call, and the macro still owns the markup.
    """

    MARK = "\ue000"  # a private-use character: autoescape keeps it as is, and no config text contains it

    def __init__(self, rendered: Markup):
        self.before, self.after = str(rendered).split(self.MARK)

    def fill(self, text: str) -> Markup:
        return Markup("".join((self.before, escape(text), self.after)))


def _page(document: dict, config: Config, base: str, unit_pages: bool, previous_kpis: dict | None) -> dict[str, Any]:
    """The context of report.html or a unit page: `common_context`, and both macro modules bound to it."""
    page = {
        **common_context(document, config), "doc": document, "base": base, "unit_pages": unit_pages,
        "previous": document["previous"], "previous_kpis": previous_kpis, "ranked": len(document["schools"]),
    }
    page["ui"] = ui_macros(page)
    page["rep"] = _Memoized(template("_report.html.j2").make_module(page))
    return page


def _part(rows: list, top_bottom: int | None) -> dict[str, Any]:
    """A table as printed: every row, or (given `top_bottom` and more rows than twice that) the first and last
    `top_bottom` rows with the number left out between them."""
    if top_bottom is None or len(rows) <= 2 * top_bottom:
        return {"rows": rows, "hidden": 0, "gap_at": None}
    return {"rows": rows[:top_bottom] + rows[-top_bottom:], "hidden": len(rows) - 2 * top_bottom, "gap_at": top_bottom}


def _capped(rows: list, most: int | None) -> dict[str, Any]:
    """A list as printed: every row, or the first `most` and how many more there are."""
    shown = rows if most is None else rows[:most]
    return {"rows": shown, "hidden": len(rows) - len(shown), "total": len(rows)}


def _listings(schools: list[dict], page: dict, config: Config, issues_of: dict[str, list[dict]],
              criteria: list[dict], top_bottom: int | None = None, most: int | None = None) -> dict[str, Any]:
    """What the report and a unit page list about some schools (in rank order): the ranking, the criteria heat map,
    missing and late schools, schools needing attention, changes since the previous cycle. With `top_bottom` and
    `most` (a national run) tables keep only their top and bottom rows and lists only their first rows."""
    # Attribute views: templates read `s.score`, and an attribute lookup on a dict is a failed getattr first.
    views = [SimpleNamespace(**s) for s in schools]
    scored = [s for s in views if s.status == "submitted"]
    crit_by_id = {c.id: c for c in config.criteria.criteria}
    attention = []
    for s in views:
        if s.verdict != "chua_dat" and s.status != "needs_correction":
            continue
        blocking = [i for i in issues_of.get(s.school_code, []) if i["severity"] == "error"]
        attention.append({"school": s, "failed": [crit_by_id[c] for c in s.failed_criteria if c in crit_by_id],
                          "blocking": blocking if s.status == "needs_correction" else []})
    if most is not None and len(attention) > most:
        # Only some can be printed: those failing the most mandatory criteria, then the most criteria, come first.
        attention.sort(key=lambda a: (-sum(c.mandatory for c in a["failed"]), -len(a["failed"])))
    previous = page["previous"]
    changes = []
    if previous:
        for s in views:
            before = previous["schools"].get(s.school_code)
            if before is None:
                continue
            delta = s.score - before["score"] if s.score is not None and before["score"] is not None else None
            changes.append({"school": s, "before": before, "delta": delta})
        if top_bottom is not None and len(changes) > 2 * top_bottom:
            # Printed as the largest rises and the largest falls.
            changes = sorted((c for c in changes if c["delta"] is not None), key=lambda c: -c["delta"])
    heat = _part(scored, top_bottom)
    ids = [c["id"] for c in criteria]
    for s in heat["rows"]:
        s.cells = page["rep"].heat_cells(tuple([s.criteria.get(i) for i in ids]))
    return {
        "ranking": _part(views, top_bottom), "scored": len(scored), "heat": heat, "criteria": criteria,
        "criteria_by_failing": sorted((c for c in criteria if c["failing"]), key=lambda c: -c["failing"]),
        "grade_counts": [(g, sum(s.grade == g.id for s in scored)) for g in config.scoring.grades],
        "missing": _capped([s for s in views if s.status == "missing"], most),
        "late": _capped([s for s in scored if s.on_time is False], most),
        "attention": _capped(attention, most), "changes": _part(changes, top_bottom), "views": views,
    }


def _full_report(document: dict, config: Config) -> bool:
    return len(document["schools"]) <= config.office.report_full_ranking_max


def render_report(document: dict, config: Config, run: dict) -> str:
    """The leadership report (docs/spec.md §7 `report.html`), one self-contained page.

    Above `office.report_full_ranking_max` schools it keeps every summary but prints only the top and bottom of
    each ranking, capped lists and a table of units, each unit linking to its own page (`render_units`)."""
    office, schools, previous = config.office, document["schools"], document["previous"]
    full = _full_report(document, config)
    top_bottom, most = (None, None) if full else (office.report_top_bottom, office.report_list_max)
    page = _page(document, config, base="", unit_pages=not full, previous_kpis=previous["kpis"] if previous else None)
    listed = _listings(schools, page, config, _issues_by_school(document), document["criteria"], top_bottom, most)
    by_level = []
    for lvl in config.form.levels:
        members = [s for s in listed["views"] if s.level == lvl]
        by_level.append((lvl, len(members), _part(members, top_bottom)))
    return template("report.html.j2").render(
        **page, **listed, kpis=document["kpis"], by_level=by_level, top_bottom=top_bottom,
        units=[] if full else _units(document, config), wards=document["wards"],
        wards_reaching=sum(bool(w["reaches_target"]) for w in document["wards"]),
        run=run, run_at=as_datetime(run["started_at"]), school_names=_names(document),
    )


def _names(document: dict) -> dict[str, str]:
    """School code → name, for the replies a run read (none otherwise: then nothing needs it)."""
    return {s["school_code"]: s["school_name"] for s in document["schools"]} if document.get("replies") else {}


def _slug(name: str) -> str:
    """A unit name as a file name: ASCII lowercase letters, digits and hyphens ('Phòng GD&ĐT Đông Triều' →
    'phong-gd-dt-dong-trieu'); nothing that could climb out of `units/`."""
    plain = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d")).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.decode().lower()).strip("-")
    return slug[:80].rstrip("-") or "don-vi"


def _units(document: dict, config: Config) -> list[dict[str, Any]]:
    """The schools grouped by unit (registry column `unit`; without it the office: one district, one unit), in name
    order, each with its own file name, KPIs and wards."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in document["schools"]:
        groups[s.get("unit") or config.office.office_short].append(s)
    wards_of: dict[str, list[dict]] = defaultdict(list)
    if any("unit" in w for w in document["wards"]):
        for w in document["wards"]:
            wards_of[w["unit"]].append(w)
    else:  # wards named per unit: a ward belongs to the units its schools belong to
        by_name = {w["ward"]: w for w in document["wards"]}
        for name, members in groups.items():
            wards_of[name] = [by_name[n] for n in sorted({s["ward"] for s in members}) if n in by_name]
    units, taken = [], set()
    for name in sorted(groups, key=lambda n: (_slug(n), n)):
        slug = base = _slug(name)
        copy = 1
        while slug in taken:  # 'A/B' and 'A B' are different units: 'a-b' and 'a-b-2'
            copy += 1
            slug = f"{base}-{copy}"
        taken.add(slug)
        wards = wards_of.get(name, [])
        units.append({"name": name, "slug": slug, "schools": groups[name], "kpis": kpis_of(groups[name]),
                      "wards": wards, "wards_reaching": sum(bool(w["reaches_target"]) for w in wards)})
    return units


def render_units(document: dict, config: Config) -> Iterator[tuple[str, str]]:
    """One page per unit, `units/<slug>.html`: its full ranking, criteria, wards and lists. Only for a run above
    `office.report_full_ranking_max` schools, where report.html prints the top and bottom alone; else nothing."""
    if _full_report(document, config):
        return
    page = _page(document, config, base="../", unit_pages=True, previous_kpis=None)
    unit_template = template("unit.html.j2")
    issues_of = _issues_by_school(document)
    for unit in _units(document, config):
        members = unit["schools"]
        criteria = [dict(c, failing=sum(s["criteria"].get(c["id"]) is False for s in members))
                    for c in document["criteria"]]
        listed = _listings(members, page, config, issues_of, criteria)
        yield unit["slug"], unit_template.render(**page, **listed, unit=unit, kpis=unit["kpis"],
                                                 wards=unit["wards"], wards_reaching=unit["wards_reaching"])


class _ScorecardRows:
    """The scorecard's rows, each rendered once per distinct (definition, answers it shows) and reused.

    Criteria, indicators and questions come from config and most schools give the same few answers, so a national
    run renders each row shape a few times instead of once per school. Free-text answers (names, phones) are unique,
    so the memo is emptied whenever it reaches `limit` rows: memory stays flat, the common rows come straight back.
    """

    def __init__(self, config: Config, macros: Any, limit: int = 50_000):
        self.config, self.macros, self.limit = config, macros, limit
        self.memo: dict[tuple, Markup] = {}
        form = config.form
        self.criteria = [(c, tuple(q for cond in c.conditions for q in (cond.question, cond.other) if q))
                         for c in config.criteria.criteria]
        self.failed = {c.id: macros.failed_item(c) for c in config.criteria.criteria}
        self.sections = [(sec, [(i, tuple(i.questions)) for i in sec.indicators]) for sec in config.scoring.sections]
        self.indicator_slots: dict[tuple, _Slotted] = {}
        # who filled the form (name, phone) stays on the analyst's data-quality page
        contacts = {q.id for q in form.contact_questions}
        self.answer_heads = [(macros.answers_head(sec), [q for q in form.questions
                                                         if q.section == sec.id and q.id not in contacts])
                             for sec in form.sections]
        self.answer_slots = {q.id: _Slotted(macros.answer_row(q, _Slotted.MARK)) for q in form.questions}
        self.notices = {status: macros.status_notice(status) for status in ("submitted", "needs_correction", "missing")}

    def _keep(self, key: tuple, row: Markup) -> Markup:
        if len(self.memo) >= self.limit:
            self.memo.clear()
        self.memo[key] = row
        return row

    def criteria_rows(self, school: dict) -> Markup:
        """One row per criterion: result and, when it applies, the answers it was decided on."""
        memo, results, answers, level = self.memo, school["criteria"], school["answers"], school["level"]
        rows = []
        for c, qids in self.criteria:
            result = results.get(c.id)
            key = ("c", c.id) if result is None else ("c", c.id, result, level, *[answers.get(q) for q in qids])
            row = memo.get(key)
            if row is None:
                evidence = [] if result is None else _evidence(c, school, self.config)
                row = self._keep(key, self.macros.criterion_row(c, result, evidence))
            rows.append(row)
        return _concat(rows)

    def failed_items(self, school: dict) -> Markup:
        results = school["criteria"]
        return _concat(self.failed[c.id] for c, _ in self.criteria if results.get(c.id) is False)

    def indicator_sections(self, school: dict) -> tuple[list[tuple[Markup, Markup]], float, float]:
        """Per plan section its heading row (points earned of possible) and indicator rows; totals over sections."""
        memo, points, answers, level = self.memo, school["indicators"], school["answers"], school["level"]
        submitted = school["submitted_at"]
        # The basis of a timeliness row shows the submission time to the minute, so that is all its key needs.
        minute = submitted[:16] if isinstance(submitted, str) else submitted
        sections, earned_total, possible_total = [], 0.0, 0.0
        for sec, indicators in self.sections:
            rows, earned, possible = [], 0.0, 0.0
            for ind, qids in indicators:
                got = points.get(ind.id)
                if got is None:
                    key = ("i", ind.id)
                elif ind.kind == "timeliness":
                    key = ("i", ind.id, got, minute)
                else:
                    key = ("i", ind.id, got, level, *[answers.get(q) for q in qids])
                row = memo.get(key)
                if row is None:
                    row = self._keep(key, self._indicator_row(ind, got, school))
                rows.append(row)
                if got is not None:
                    earned += got
                    possible += ind.points
            key = ("s", sec.id, round(earned, 2), round(possible, 2))
            head = memo.get(key) or self._keep(key, self.macros.section_head(sec, earned, possible))
            sections.append((head, _concat(rows)))
            earned_total += earned
            possible_total += possible
        return sections, earned_total, possible_total

    def _indicator_row(self, ind: Indicator, got: float | None, school: dict) -> Markup:
        if got is None:
            return self.macros.indicator_row(ind, None, "")
        slot = self.indicator_slots.get((ind.id, got))
        if slot is None:
            slot = self.indicator_slots[ind.id, got] = _Slotted(self.macros.indicator_row(ind, got, _Slotted.MARK))
        return slot.fill(_indicator_basis(ind, school, self.config))

    def answer_sections(self, school: dict) -> list[tuple[Markup, Markup]]:
        """The counted answers as the form reads them, per form section; none for a school with no counted row."""
        memo, answers, level, config = self.memo, school["answers"], school["level"], self.config
        if not answers:
            return []
        sections = []
        for head, questions in self.answer_heads:
            rows = []
            for q in questions:
                applies = not q.applies_to or level in q.applies_to
                value = answers.get(q.id) if applies else None
                key = ("a", q.id, value) if applies else ("a", q.id)
                row = memo.get(key)
                if row is None:
                    row = self._keep(key, self.answer_slots[q.id].fill(_answer(q, value, level, config)))
                rows.append(row)
            sections.append((head, _concat(rows)))
        return sections


def _trend_chart(rows: list[dict]) -> Markup:
    """The school's score (0–100) in each cycle as an inline SVG bar chart; empty below two scored cycles."""
    scored = [(r["cycle"], r["score"]) for r in rows if r["score"] is not None]
    if len(scored) < 2:
        return Markup("")
    step, bar, top, area = 84, 40, 20, 80  # px: column width, bar width, room for the labels, 100 points
    width, height = step * len(scored), top + area + 22
    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(labels().TREND_CHART)}">',
             f'<line class="axis" x1="0" x2="{width}" y1="{top + area}" y2="{top + area}"/>']
    for i, (cycle, score) in enumerate(scored):
        x, h = i * step + (step - bar) / 2, area * max(0.0, min(score, 100.0)) / 100
        parts.append(f'<rect x="{x:.0f}" y="{top + area - h:.1f}" width="{bar}" height="{h:.1f}"/>'
                     f'<text x="{x + bar / 2:.0f}" y="{top + area - h - 5:.1f}">{escape(vi_number(score))}</text>'
                     f'<text class="muted" x="{x + bar / 2:.0f}" y="{height - 5}">{escape(cycle)}</text>')
    return Markup("".join(parts) + "</svg>")


def render_scorecards(document: dict, config: Config, trends: dict[str, list[dict]] | None = None,
                      part: slice = slice(None)) -> Iterator[tuple[str, str]]:
    """One scorecard per school in the document (or in its `part` of the schools): (school_code, html), each linking
    the cycle folder's `STYLESHEET`. `trends` holds each school's results in the cycles before this one (from the
    history database); the scorecard shows them with this cycle's."""
    return Scorecards(document, config, trends).pages(part)


class Scorecards:
    """`render_scorecards` for one document, set up once and rendering any part of its schools: a process that
    renders the schools in many parts (a forked worker's chunks) keeps the rows it rendered from one part to the
    next instead of setting up and rendering them again for each."""

    def __init__(self, document: dict, config: Config, trends: dict[str, list[dict]] | None = None):
        self.document, self.config, self.trends = document, config, trends or {}
        self.scorecard = template("scorecard.html.j2")
        self.common = common_context(document, config)
        self.rows = _ScorecardRows(config, template("_scorecard.html.j2").make_module(self.common))
        self.ui = ui_macros(self.common)
        self.in_level = Counter(s["level"] for s in document["schools"])
        self.issues_of = _issues_by_school(document)

    def pages(self, part: slice = slice(None)) -> Iterator[tuple[str, str]]:
        document, config, rows, common = self.document, self.config, self.rows, self.common
        issues_of, in_level, trends, ui, scorecard = self.issues_of, self.in_level, self.trends, self.ui, self.scorecard
        ranked, set_id = len(document["schools"]), config.criteria.id
        cycle = document["cycle"]
        # Templates get `school` as an attribute view: `school.ward` on a dict is a failed getattr before the lookup.
        for school in document["schools"][part]:
            sections, earned, possible = rows.indicator_sections(school)
            trend = trends.get(school["school_code"])
            if trend:
                trend = [*trend, {"cycle": cycle["id"], "label": cycle["label"], "period_end": cycle["period_end"],
                                  **{k: school[k] for k in ("status", "verdict", "score", "rank_overall")}}]
            yield school["school_code"], scorecard.render(
                **common, ui=ui, stylesheet=f"../{STYLESHEET}", school=SimpleNamespace(**school),
                notice=rows.notices.get(school["status"], ""), failed=rows.failed_items(school),
                criteria_rows=rows.criteria_rows(school),
                indicator_sections=sections, earned=earned, possible=possible,
                answer_sections=rows.answer_sections(school), issues=issues_of.get(school["school_code"], []),
                others=[(k, v) for k, v in school["verdicts_by_set"].items() if k != set_id and v],
                questions=config.form.by_id, ranked=ranked, ranked_in_level=in_level[school["level"]],
                trend=trend, trend_chart=_trend_chart(trend) if trend else "",
            )
