"""Demo response sheet: what Google Sheets' "Download as CSV" gives for the form, real-world mess included.

`build_demo` plans every row (school, instant, answers, mess) and `demo_responses` renders the plan as CSV text.
Pure and deterministic: the same config, registry, cycles and seed give byte-identical output. Each purpose draws
from its own seeded stream, so adding a later cycle leaves the earlier cycles' answers and timestamps unchanged.
The district's data (names, answer profiles, the mix of problems) lives in `antt/demo/data/` (`district.py`).

Answers follow a quality profile per school (answers.yaml: excellent, good, weak, poor) that persists across cycles
and mostly improves from one cycle to the next; weak and poor schools fail one to three mandatory criteria.

Mess, per requested cycle (schools drawn by the seed, counts from mess.yaml; each row's `tags` name its mess;
`DemoRow.counted` marks the row the pipeline should count):
- about 5 expected schools never submit: 3 chronic ones in every cycle, 2 more per cycle (`DemoSheet.missing`);
- 2 schools submit once, late (inside the window): "late"; one of them seconds after the deadline:
  "just_after_deadline"; one ordinary school submits seconds before it: "last_minute";
- 1 school submits on time, then again late; the on-time row counts: both rows "late_resubmission";
- 4 schools submit twice before the deadline, both rows "double": "first_version" then "correction". Two first
  versions are blocking (also "blocking"): a required D-question left blank ("missing_required:D4", say) and F1 = yes
  without F2 ("missing_required:F2"); the other two are valid but weaker (fewer commitments, options, a "no");
- 1 school's only row is blocking, a count written in words in a required count: "needs_correction",
  "not_integer:D5";
- 1 school's only row says more staff signed the commitment than it has (B5 > A5), which blocks it until the
  school corrects it: "above_other:B5", "blocking";
- 1 impostor: a real school's form ("impostor_target") re-sent from an unregistered gmail address with better
  numbers, after the school's own submission and before the deadline: "impostor";
- 1 row for a school code missing from the registry: "unknown_school";
- 3 rows typed in NFD: "nfd"; 6 rows with their numbers written "1.200" ("number_format:dot", numbers from 1000),
  "1,200" ("number_format:comma") or " 12 " ("number_format:padded"), two of each: "number_format";
  3 rows with yes/no retyped in another case or with stray spaces: "yes_no_variant"; 1 mixed-case registered
  e-mail: "email_case"; 3 zero-padded timestamps ("09/06/2026 08:05:31" instead of "9/6/2026 8:05:31"):
  "padded_timestamp".
Once per sheet: one row from the cycle before the earliest requested one, sent by a school that is chronically
missing afterwards: "other_cycle"; 2 fully blank rows: "blank_row"; a trailing column with a blank header.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import random
import string
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from antt.config import Config, Form, Question
from antt.cycles import Cycle, previous_cycle_id, resolve_cycle
from antt.demo.district import answers, mess, people
from antt.forms.common import SCHOOL_SEPARATOR
from antt.intake.registry import expected_in

_NUMBER_STYLES = ("dot", "comma", "padded")   # 1.200 / 1,200 / " 12 "
# The letters D and d with stroke have no Unicode decomposition, so stripping accents leaves them: fold them first.
_STROKED_D = str.maketrans({unicodedata.lookup("LATIN CAPITAL LETTER D WITH STROKE"): "D",
                            unicodedata.lookup("LATIN SMALL LETTER D WITH STROKE"): "d"})


@dataclass(frozen=True)
class DemoRow:
    """One sheet row as planned: who sent it, when, what mess it carries, and whether it should count."""

    sheet_row: int                  # spreadsheet row number; the header is row 1
    cycle_id: str | None            # the cycle whose window holds the timestamp; None for blank rows
    school_code: str | None         # the code the row's A1 names
    submitted_at: datetime | None
    late: bool | None
    email: str
    quality: str | None
    counted: bool                   # the submission the pipeline should count for its school and cycle
    tags: tuple[str, ...]
    cells: tuple[str, ...]


@dataclass(frozen=True)
class DemoSheet:
    """The planned sheet: header, rows in sheet order, and per cycle who is expected and who is missing."""

    headers: tuple[str, ...]
    rows: tuple[DemoRow, ...]
    expected: dict[str, list[str]]
    missing: dict[str, list[str]]

    def tagged(self, tag: str, cycle_id: str | None = None) -> list[DemoRow]:
        return [r for r in self.rows if tag in r.tags and (cycle_id is None or r.cycle_id == cycle_id)]

    def status(self, cycle_id: str) -> dict[str, str]:
        """Designed status of every expected school: submitted, needs_correction or missing."""
        rows = [r for r in self.rows if r.cycle_id == cycle_id and "impostor" not in r.tags]
        counted = {r.school_code for r in rows if r.counted}
        sent = {r.school_code for r in rows}
        return {code: "submitted" if code in counted else "needs_correction" if code in sent else "missing"
                for code in self.expected[cycle_id]}

    def to_csv(self) -> str:
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(self.headers)
        writer.writerows(r.cells for r in self.rows)
        return buf.getvalue()


@dataclass(frozen=True)
class _School:
    code: str
    name: str
    level: str
    emails: tuple[str, ...]


@dataclass
class _Draft:
    """A row before it has a place in the sheet."""

    cycle: Cycle
    school: _School
    submitted_at: datetime
    email: str
    values: dict[str, object]
    quality: str
    counted: bool
    tags: list[str]


def demo_responses(config: Config, registry: pd.DataFrame, cycle_ids: list[str], seed: int = 2026) -> str:
    """CSV text (UTF-8, what Google Sheets 'Download as CSV' gives) of a realistic messy response sheet."""
    return build_demo(config, registry, cycle_ids, seed).to_csv()


def write_demo_sheet(path: Path | str, config: Config, registry: pd.DataFrame, cycle_ids: list[str],
                     seed: int = 2026) -> Path:
    """Write `demo_responses` to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = demo_responses(config, registry, cycle_ids, seed).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_demo(config: Config, registry: pd.DataFrame, cycle_ids: list[str], seed: int = 2026) -> DemoSheet:
    """Plan the whole sheet; `DemoSheet.to_csv` renders it."""
    form = config.form
    cycles = sorted((resolve_cycle(c, config.cycles) for c in dict.fromkeys(cycle_ids)), key=lambda c: c.opens_at)
    schools = {s.code: s for s in _schools(registry)}
    chronic = _chronic_missing(registry, seed)
    quality = _qualities(sorted(schools), cycles, seed)
    drafts: list[_Draft] = []
    expected: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for cycle in cycles:
        expected[cycle.id] = sorted(expected_in(registry, cycle)["school_code"])
        cycle_drafts, missing[cycle.id] = _cycle_drafts(form, cycle, expected[cycle.id], schools, chronic,
                                                        quality, registry, seed)
        drafts += cycle_drafts
    if cycles:
        drafts += _other_cycle_drafts(config, registry, cycles[0], schools, chronic, seed)
    headers, rows = _assemble(form, drafts, seed)
    return DemoSheet(headers, rows, expected, missing)


def _rng(seed: int, *keys: str) -> random.Random:
    """An independent stream per purpose, so one cycle's rows never shift when another cycle is added."""
    return random.Random("|".join([str(seed), *keys]))


def _schools(registry: pd.DataFrame) -> list[_School]:
    return [_School(str(r.school_code), str(r.school_name), str(r.level), tuple(r.emails or ()))
            for r in registry.itertuples(index=False)]


def _chronic_missing(registry: pd.DataFrame, seed: int) -> list[str]:
    """A share of the always-open schools (about 5%) never submit, whatever the cycle."""
    always_open = sorted(r.school_code for r in registry.itertuples(index=False)
                         if _blank(getattr(r, "opened", None)) and _blank(getattr(r, "closed", None)))
    share = mess().chronic_missing_share
    return sorted(_rng(seed, "chronic").sample(always_open, round(len(always_open) * share)))


def _blank(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _qualities(codes: list[str], cycles: list[Cycle], seed: int) -> dict[tuple[str, str], str]:
    """Quality per (school, cycle): dealt in fixed shares for the first cycle, then mostly improving."""
    a = answers()
    dealt = list(codes)
    _rng(seed, "quality").shuffle(dealt)
    cuts = [round(sum(a.start_shares[: i + 1]) * len(dealt)) for i in range(len(a.qualities))]
    start = {code: next(i for i, cut in enumerate(cuts) if pos < cut) for pos, code in enumerate(dealt)}
    out: dict[tuple[str, str], str] = {}
    for code in codes:
        level = start[code]
        for i, cycle in enumerate(cycles):
            if i:
                rng = _rng(seed, "evolve", code, cycle.id)
                roll = rng.random()
                if roll < a.improve[a.qualities[level]]:
                    level += 1
                elif roll > 1 - a.worsen:
                    level = max(level - 1, 0)
            out[code, cycle.id] = a.qualities[level]
    return out


def _cycle_drafts(form: Form, cycle: Cycle, expected: list[str], schools: dict[str, _School], chronic: list[str],
                  quality: dict[tuple[str, str], str], registry: pd.DataFrame,
                  seed: int) -> tuple[list[_Draft], list[str]]:
    """Every row of one cycle, and the expected schools that stay silent."""
    rng = _rng(seed, "roles", cycle.id)
    pool = [c for c in expected if c not in chronic]
    rng.shuffle(pool)
    n_extra = round(len(expected) * mess().extra_missing_share)
    missing = sorted([c for c in chronic if c in expected] + pool[:n_extra])
    pool = pool[n_extra:]
    values = {c: _values(form, schools[c], cycle, quality[c, cycle.id], seed) for c in pool}

    def take(prefer=lambda code: True) -> str | None:
        pick = next((c for c in pool if prefer(c)), pool[0] if pool else None)
        if pick is not None:
            pool.remove(pick)
        return pick

    def many(n: int, prefer=lambda code: True) -> list[str]:
        return [c for c in (take(prefer) for _ in range(n)) if c is not None]

    prefer = {  # who suits a role: the count in words goes in D5 (traffic offences), which kindergartens leave at 0
        "needs_correction": lambda c: schools[c].level != "MN",
        "impostor": lambda c: quality[c, cycle.id] != "excellent",
        "number_format": lambda c: any(isinstance(v, int) and v >= 1000 for v in values[c].values()),
    }
    roles = {role: many(n, *([prefer[role]] if role in prefer else [])) for role, n in mess().roles.items()}
    drafts: list[_Draft] = []
    for code in sorted(values):
        drafts += _school_drafts(form, cycle, schools[code], values[code], quality[code, cycle.id], roles, seed)
    drafts.append(_unknown_school_draft(form, cycle, registry, seed))
    for d in _rng(seed, "padded", cycle.id).sample(drafts, min(mess().padded_timestamps, len(drafts))):
        d.tags.append("padded_timestamp")
    return drafts, missing


def _school_drafts(form: Form, cycle: Cycle, school: _School, values: dict[str, object], quality: str,
                   roles: dict[str, list[str]], seed: int) -> list[_Draft]:
    """The rows one school sends in one cycle, after its role in the cycle's mess."""
    rng = _rng(seed, "rows", school.code, cycle.id)
    role = next((r for r, codes in roles.items() if school.code in codes), None)
    email = rng.choice(school.emails) if school.emails else f"{school.code.lower()}@gmail.com"

    def row(at: datetime, vals: dict[str, object], counted: bool = True, tags: tuple[str, ...] = ()) -> _Draft:
        return _Draft(cycle, school, at, email, vals, quality, counted, list(tags))

    if role == "late":
        first = school.code == roles["late"][0]
        at = cycle.deadline_at + timedelta(seconds=rng.randint(5, 50)) if first else _late(cycle, rng)
        return [row(at, values, tags=("late", "just_after_deadline") if first else ("late",))]
    if role == "late_resubmission":
        again = _amended(values, rng)
        return [row(_on_time(cycle, rng), values, tags=(role,)),
                row(_late(cycle, rng), again, counted=False, tags=(role, "late"))]
    if role == "double":
        at = _on_time(cycle, rng, until=0.8)
        first, tags = _first_version(values, form, roles["double"].index(school.code), rng)
        return [row(at, first, counted=False, tags=(role, "first_version", *tags)),
                row(_later(at, cycle, rng), values, tags=(role, "correction"))]
    if role == "needs_correction":
        broken = dict(values, D5=mess().not_integer)
        return [row(_on_time(cycle, rng), broken, counted=False,
                    tags=("needs_correction", "blocking", "not_integer:D5"))]
    if role == "impostor":
        at = _on_time(cycle, rng, until=0.8)
        fake = _polished(values, form, cycle, rng)
        return [row(at, values, tags=("impostor_target",)),
                _Draft(cycle, school, _later(at, cycle, rng), _gmail(str(fake["A2"]), rng), fake, quality, False,
                       ["impostor"])]
    if role == "above_other":
        return [row(_on_time(cycle, rng), dict(values, B5=int(values["A5"]) + rng.randint(1, 3)), counted=False,
                    tags=("above_other:B5", "blocking"))]
    if role == "last_minute":
        return [row(cycle.deadline_at - timedelta(seconds=rng.randint(5, 90)), values, tags=("last_minute",))]
    tags: tuple[str, ...] = (role,) if role else ()
    if role == "number_format":
        tags += (f"number_format:{_NUMBER_STYLES[roles[role].index(school.code) % len(_NUMBER_STYLES)]}",)
    draft = row(_on_time(cycle, rng), values, tags=tags)
    if role == "email_case":
        local, _, domain = draft.email.partition("@")
        draft.email = ".".join(p.capitalize() for p in local.split(".")) + "@" + domain
    return [draft]


def _first_version(values: dict[str, object], form: Form, variant: int,
                   rng: random.Random) -> tuple[dict[str, object], tuple[str, ...]]:
    """A school's first try before its correction: two blocking, two merely weaker."""
    first = copy.deepcopy(values)
    if variant == 0:
        blanked = rng.choice([q.id for q in form.questions if q.required and q.section == "D" and q.type == "integer"])
        first[blanked] = None
        return first, ("blocking", f"missing_required:{blanked}")
    if variant == 1:
        first["F1"], first["F2"] = True, None
        return first, ("blocking", "missing_required:F2")
    if variant == 2:
        first["B5"] = max(int(values["A5"]) - rng.randint(2, 6), 0)
        first["C1"] = list(values["C1"])[: max(len(values["C1"]) - 2, 0)]
        return first, ()
    first["E3"], first["C9"] = False, []
    return first, ()


def _amended(values: dict[str, object], rng: random.Random) -> dict[str, object]:
    """A late resend with a couple of numbers touched up."""
    again = copy.deepcopy(values)
    again["C2"] = int(values["C2"]) + 1
    again["E2"] = int(values["E2"]) + rng.randint(1, 2)
    again["G2"] = mess().late_note
    return again


def _polished(values: dict[str, object], form: Form, cycle: Cycle, rng: random.Random) -> dict[str, object]:
    """The impostor's version: every box ticked, every count perfect, another reporter."""
    fake = copy.deepcopy(values)
    for q in form.questions:
        if q.type == "yes_no" and fake.get(q.id) is not None:
            fake[q.id] = q.id != "D9"
        elif q.type == "select_multiple" and fake.get(q.id) is not None:
            fake[q.id] = list(q.options or [])
        elif q.type == "integer" and q.section == "D":
            fake[q.id] = 0
    for qid in ("B1", "B5", "E4"):
        fake[qid] = fake["A5"]
    if fake.get("A7") is not None:
        fake["B6"] = fake["A7"]
    fake["C2"], fake["E2"] = max(int(fake["C2"]), 8), max(int(fake["E2"]), 5)
    fake["F2"] = fake.get("F2") or _plan_date(cycle, rng)
    impostor = people().impostor
    fake["A2"], fake["A3"], fake["A4"] = _person(rng, impostor.female_share), impostor.role, _phone(rng)
    fake["G1"] = answers().self_assessment.met
    return fake


def _gmail(name: str, rng: random.Random) -> str:
    plain = unicodedata.normalize("NFD", name.translate(_STROKED_D))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).lower().split()
    return f"{plain[-1]}.{''.join(plain[:-1])}{rng.randint(80, 99)}@gmail.com"


def _unknown_school_draft(form: Form, cycle: Cycle, registry: pd.DataFrame, seed: int) -> _Draft:
    """A private kindergarten that is not (yet) in the registry fills the form too."""
    taken = set(registry["school_code"])
    code = next(f"MN{n}" for n in range(99, 0, -1) if f"MN{n}" not in taken)
    unknown = people().unknown_school
    school = _School(code, unknown.name, unknown.level, (unknown.email,))
    rng = _rng(seed, "rows", code, cycle.id)
    vals = _values(form, school, cycle, "good", seed)
    return _Draft(cycle, school, _on_time(cycle, rng), unknown.email, vals, "good", False, ["unknown_school"])


def _other_cycle_drafts(config: Config, registry: pd.DataFrame, first: Cycle, schools: dict[str, _School],
                        chronic: list[str], seed: int) -> list[_Draft]:
    """A row from the cycle before `first`, sent by a school that has gone silent since, left in the reused sheet."""
    prev = resolve_cycle(previous_cycle_id(first, config.cycles), config.cycles)
    open_then = sorted(expected_in(registry, prev)["school_code"])
    code = next((c for c in chronic if c in open_then), open_then[0] if open_then else None)
    if code is None:
        return []
    rng = _rng(seed, "rows", code, prev.id)
    vals = _values(config.form, schools[code], prev, "weak", seed)
    email = rng.choice(schools[code].emails) if schools[code].emails else ""
    return [_Draft(prev, schools[code], _on_time(prev, rng), email, vals, "weak", False, ["other_cycle"])]


def _on_time(cycle: Cycle, rng: random.Random, until: float = 1.0) -> datetime:
    """An instant before the deadline, more likely near it; `until` caps the share of the window used."""
    days = (cycle.deadline_at.date() - cycle.opens_at.date()).days
    offset = min(int(rng.random() ** 0.5 * until * days), days - 1)
    return _during(cycle.opens_at.date() + timedelta(days=offset), cycle, rng)


def _late(cycle: Cycle, rng: random.Random) -> datetime:
    """An instant after the deadline, at least a day before collection closes."""
    spare = max((cycle.closes_at.date() - cycle.deadline_at.date()).days - 2, 0)
    return _during(cycle.deadline_at.date() + timedelta(days=rng.randint(0, spare)), cycle, rng)


def _later(at: datetime, cycle: Cycle, rng: random.Random) -> datetime:
    """One to three days after `at`, still before the deadline."""
    then = _during(at.date() + timedelta(days=rng.randint(1, 3)), cycle, rng)
    return min(then, cycle.deadline_at - timedelta(minutes=rng.randint(30, 300)))


def _during(day: date, cycle: Cycle, rng: random.Random) -> datetime:
    """Office hours and evenings, when school staff fill forms."""
    at = time(rng.randint(7, 21), rng.randint(0, 59), rng.randint(0, 59))
    return datetime.combine(day, at, tzinfo=cycle.opens_at.tzinfo)


def _values(form: Form, school: _School, cycle: Cycle, quality: str, seed: int) -> dict[str, object]:
    """Typed answers (int, bool, list of options, date, str, None = blank) of one school in one cycle."""
    rng = _rng(seed, "answers", school.code, cycle.id)
    a = answers()
    p = a.profiles[quality]
    staff, pupils, upper = _size(form, school, cycle, seed)
    v: dict[str, object] = dict(zip(("A2", "A3", "A4"), _reporter(school, seed), strict=True))
    v.update(A5=staff, A6=pupils, A7=upper)
    v.update(B1=_share(staff, p.briefed, rng), B2=True, B3=True, B5=staff, B6=upper)
    v.update(C2=rng.randint(*p.sessions), C8=_contest(school, pupils, quality, rng))
    v["C3"] = round(pupils * rng.uniform(0.5, 1.5)) if v["C2"] else 0
    v.update({q: 0 for q in ("D1", "D2", "D3", "D4", "D6", "D7", "D8")})
    v["D5"] = 0 if school.level == "MN" else min(rng.randint(0, 3), rng.randint(0, 5))
    v["D9"] = rng.random() < p.hot_spot
    v.update(E1=True, E2=rng.randint(*p.police), E3=True, E4=_share(staff, p.trained, rng))
    for q in form.questions:
        if q.type == "yes_no" and q.id not in v:
            v[q.id] = rng.random() < p.yes_share
        elif q.type == "select_multiple" and q.id not in v:
            v[q.id] = list(q.options or [])
    for qid, span in (("C1", p.plans), ("C4", p.forms), ("C5", p.laws), ("C9", p.clubs)):
        if qid in form.by_id:
            v[qid] = _some(form.by_id[qid].options or [], rng.randint(*span), rng)
    v["F2"] = _plan_date(cycle, rng) if v.get("F1") else None
    v["F3"] = rng.randrange(3_000_000, 30_000_001, 500_000) if rng.random() < p.budget else 0
    said = a.self_assessment
    v["G1"] = said.not_met if quality == "poor" and rng.random() < said.poor_not_met else said.met
    v["G2"] = rng.choice(a.difficulties) if rng.random() < a.difficulty_share else ""
    v["G3"] = _drive_link(rng) if rng.random() < 0.4 else ""
    for kind in _weighted_sample(a.failures, rng.randint(*p.failures), rng):
        _fail(v, kind, school, form, rng)
    return _fit_to_form(form, school, v, rng)


def _fit_to_form(form: Form, school: _School, v: dict[str, object], rng: random.Random) -> dict[str, object]:
    """Answers exactly for the form's questions: blank where a question does not apply or its condition is unmet."""
    out: dict[str, object] = {}
    for q in form.questions:
        if q.options_from == "registry":
            out[q.id] = f"{school.code}{SCHOOL_SEPARATOR}{school.name}"
        elif q.applies_to and school.level not in q.applies_to:
            out[q.id] = None
        else:
            out[q.id] = v[q.id] if q.id in v else _generic(q, rng)
    for q in form.questions:
        if q.required_if and not _condition_met(form, q.required_if.equals, out.get(q.required_if.question)):
            out[q.id] = None
    return out


def _condition_met(form: Form, equals: object, answer: object) -> bool:
    if isinstance(answer, bool):
        return answer == (equals == form.answer_yes)
    return answer == equals


def _generic(q: Question, rng: random.Random) -> object:
    """An answer for a question this generator has no special knowledge of."""
    if q.type == "integer":
        return rng.randint(int(q.min or 0), int(q.min or 0) + 5)
    if q.type == "select_one":
        return (q.options or [""])[0]
    if q.type == "date":
        return date(2025, 9, rng.randint(5, 30))
    return None


def _size(form: Form, school: _School, cycle: Cycle, seed: int) -> tuple[int, int, int | None]:
    """(staff, pupils, pupils from grade 6): stable per school, drifting a little per cycle."""
    base = _rng(seed, "size", school.code)
    sizes = answers().sizes
    size = sizes.get(school.level, sizes["other"])
    (s_lo, s_hi), (p_lo, p_hi) = size.staff, size.pupils
    staff, pupils, upper_share = base.randint(s_lo, s_hi), base.randint(p_lo, p_hi), base.uniform(0.35, 0.45)
    drift = _rng(seed, "drift", school.code, cycle.id)
    staff = max(staff + drift.randint(-2, 2), 1)
    pupils = round(pupils * drift.uniform(0.96, 1.05))
    a7 = form.by_id.get("A7")
    if a7 is None or (a7.applies_to and school.level not in a7.applies_to):
        return staff, pupils, None
    return staff, pupils, pupils if school.level == "THCS" else round(pupils * upper_share)


def _reporter(school: _School, seed: int) -> tuple[str, str, str]:
    """Who fills the form for the school (name, role, phone): the same person every cycle."""
    rng = _rng(seed, "reporter", school.code)
    who = people()
    female = who.female_share.get(school.level, who.female_share["other"])
    role = rng.choice(who.roles + ([] if school.level == "MN" else who.roles_beyond_kindergarten))
    return _person(rng, female), role, _phone(rng)


def _phone(rng: random.Random) -> str:
    return rng.choice(people().phone_prefixes) + "".join(rng.choices(string.digits, k=7))


def _person(rng: random.Random, female: float) -> str:
    who = people()
    names = who.female if rng.random() < female else who.male
    return f"{rng.choice(who.surnames)} {rng.choice(names.middle)} {rng.choice(names.given)}"


def _share(total: int, span: tuple[float, float], rng: random.Random) -> int:
    return min(round(total * rng.uniform(*span)), total)


def _contest(school: _School, pupils: int, quality: str, rng: random.Random) -> int:
    """C8: staff and pupils taking part in the ministry's traffic-safety contests."""
    if school.level == "MN" or quality == "poor":
        return rng.randint(0, 30)
    return round(pupils * rng.uniform(0.2, 0.9))


def _some(options: list[str], k: int, rng: random.Random) -> list[str]:
    """k options, kept in form order (as Google joins checkbox answers)."""
    picked = set(rng.sample(range(len(options)), min(k, len(options))))
    return [o for i, o in enumerate(options) if i in picked]


def _weighted_sample(weights: dict[str, int], k: int, rng: random.Random) -> list[str]:
    pool, out = dict(weights), []
    for _ in range(min(k, len(pool))):
        pick = rng.choices(list(pool), list(pool.values()))[0]
        out.append(pick)
        del pool[pick]
    return out


def _fail(v: dict[str, object], kind: str, school: _School, form: Form, rng: random.Random) -> None:
    """Break one mandatory criterion the way weak schools do."""
    if kind == "registration":
        v["B3"] = False
    elif kind == "rules":
        v["B4"] = _some(list(v["B4"]), len(v["B4"]) - rng.randint(1, 2), rng)
    elif kind == "commitments":
        staff = int(v["A5"])
        v["B5"] = staff - rng.randint(1, max(staff // 6, 1))
        if v.get("A7") and rng.random() < 0.5:
            v["B6"] = max(int(v["A7"]) - rng.randint(5, 40), 0)
    elif kind == "coordination":
        v[rng.choice(["E1", "E3"])] = False
    elif kind == "violence":
        v["D2"] = rng.randint(1, 2)
    else:
        v[rng.choice(["D1", "D3", "D7"] if school.level == "MN" else ["D1", "D3", "D4", "D6", "D7", "D8"])] = 1


def _plan_date(cycle: Cycle, rng: random.Random) -> date:
    """F2: the school's plan, issued early in the school year the cycle reports on."""
    year = cycle.period_end.year if cycle.period_end.month >= 9 else cycle.period_end.year - 1
    return date(year, 9, 5) + timedelta(days=rng.randint(0, 45))


def _drive_link(rng: random.Random) -> str:
    token = "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=33))
    return f"https://drive.google.com/drive/folders/{token}"


def _assemble(form: Form, drafts: list[_Draft], seed: int) -> tuple[tuple[str, ...], tuple[DemoRow, ...]]:
    """Order rows as the sheet received them, slip in the blank rows, render every cell."""
    drafts = sorted(drafts, key=lambda d: (d.submitted_at, d.school.code))
    rendered: list[tuple[_Draft | None, tuple[str, ...]]] = [(d, _cells(form, d, seed)) for d in drafts]
    width = 3 + len(form.questions)
    rng = _rng(seed, "blank")
    places = range(len(rendered) // 4, len(rendered) + 1)
    for pos in sorted(rng.sample(places, min(mess().blank_rows, len(places))), reverse=True):
        rendered.insert(pos, (None, ("",) * width))
    rows = tuple(_row(i + 2, d, cells) for i, (d, cells) in enumerate(rendered))
    headers = (form.timestamp_headers[0], form.email_headers[0], *(q.title for q in form.questions), "")
    return headers, rows


def _row(sheet_row: int, d: _Draft | None, cells: tuple[str, ...]) -> DemoRow:
    if d is None:
        return DemoRow(sheet_row, None, None, None, None, "", None, False, ("blank_row",), cells)
    late = d.submitted_at >= d.cycle.deadline_at
    return DemoRow(sheet_row, d.cycle.id, d.school.code, d.submitted_at, late, d.email, d.quality, d.counted,
                   tuple(d.tags), cells)


def _cells(form: Form, d: _Draft, seed: int) -> tuple[str, ...]:
    """The row as Google writes it: timestamp, e-mail, one text cell per question, the blank trailing column."""
    rng = _rng(seed, "render", d.school.code, d.cycle.id, d.submitted_at.isoformat())
    number_style = next((t.split(":")[1] for t in d.tags if t.startswith("number_format:")), None)
    answers = [_answer(form, q, d.values.get(q.id), number_style) for q in form.questions]
    if "yes_no_variant" in d.tags:
        answers = _vary_yes_no(form, answers, rng)
    if "nfd" in d.tags:
        answers = [unicodedata.normalize("NFD", a) for a in answers]
    return (_timestamp(d.submitted_at, padded="padded_timestamp" in d.tags), d.email, *answers, "")


def _answer(form: Form, q: Question, value: object, number_style: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return form.answer_yes if value else form.answer_no
    if isinstance(value, int):
        return _number(value, number_style)
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _number(n: int, style: str | None) -> str:
    if style == "dot" and n >= 1000:
        return f"{n:,}".replace(",", ".")
    if style == "comma" and n >= 1000:
        return f"{n:,}"
    if style == "padded":
        return f" {n} "
    return str(n)


def _vary_yes_no(form: Form, answers: list[str], rng: random.Random) -> list[str]:
    """Retyped yes/no answers: lower or upper case, stray spaces. The first one always varies."""
    out, varied = list(answers), False
    for i, q in enumerate(form.questions):
        if q.type == "yes_no" and out[i] and (not varied or rng.random() < 0.5):
            out[i] = rng.choice(mess().yes_variants if out[i] == form.answer_yes else mess().no_variants)
            varied = True
    return out


def _timestamp(at: datetime, padded: bool) -> str:
    """Google Sheets' timestamp column: 9/6/2026 8:05:31 (or zero-padded, as some exports have it)."""
    if padded:
        return at.strftime("%d/%m/%Y %H:%M:%S")
    return f"{at.day}/{at.month}/{at.year} {at.hour}:{at.minute:02d}:{at.second:02d}"
