"""Load and validate `config/`: the form, criteria sets, scoring, cycles, office header.

Everything the pipeline knows about the domain comes from here. Each file is validated with pydantic on load,
and cross-file references (a criterion naming a question, an indicator naming a criteria set) are checked too,
so a typo is a `ConfigError` naming the file and key rather than a KeyError at scoring time.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from antt.errors import ConfigError
from antt.text import is_address

QuestionType = Literal[
    "yes_no", "integer", "decimal", "percent", "date", "text", "url", "phone", "select_one", "select_multiple"
]
NUMERIC_TYPES = ("integer", "decimal", "percent")
MESSAGE_KEYS = (
    "missing_required", "not_integer", "ambiguous_number", "not_decimal", "not_yes_no", "not_date", "not_phone",
    "not_url", "below_min", "above_max", "above_other", "not_in_options", "unknown_options", "unknown_school",
    "bad_timestamp", "unverified_sender", "superseded", "other_cycle", "unknown_column", "duplicate_column",
    "unnamed_column", "missing_optional_column", "blank_rows", "bad_correction", "correction_set",
    "correction_approve_sender", "correction_accept_late", "correction_reject", "earlier_version",
    "resorted_snapshot",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequiredIf(_Model):
    question: str
    equals: str | int


class Question(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Z][0-9]+$")]
    section: str
    type: QuestionType
    label: str
    required: bool = False
    required_if: RequiredIf | None = None
    min: float | None = None
    max: float | None = None
    max_question: str | None = None
    applies_to: list[str] | None = None
    plan_ref: str | None = None
    options: list[str] | None = None
    options_from: Literal["registry"] | None = None
    help: str | None = None
    on_invalid: Literal["error", "warning"] | None = None

    @model_validator(mode="after")
    def _options_match_type(self) -> Question:
        is_select = self.type in ("select_one", "select_multiple")
        if is_select and not (self.options or self.options_from):
            raise ValueError(f"{self.type} needs `options` or `options_from`")
        if not is_select and (self.options or self.options_from):
            raise ValueError(f"`options` only belong to select questions, not {self.type}")
        if (self.min is not None or self.max is not None or self.max_question) and self.type not in NUMERIC_TYPES:
            raise ValueError("`min`, `max` and `max_question` only belong to numeric questions")
        return self

    @property
    def title(self) -> str:
        """The question as the generated form titles it, and as response-sheet headers begin."""
        return f"{self.id}. {self.label}"

    @property
    def severity(self) -> str:
        """An invalid answer blocks the submission (error) or is dropped as unanswered (warning)."""
        return self.on_invalid or ("error" if self.required or self.required_if else "warning")


class Section(_Model):
    id: str
    title: str


class Form(_Model):
    version: str
    title: str
    description: str = ""
    timestamp_headers: list[str]
    email_headers: list[str]
    answer_yes: str
    answer_no: str
    levels: list[str]
    sections: list[Section]
    questions: list[Question]
    messages: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> Form:
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate question ids: {', '.join(dupes)}")
        sections = {s.id for s in self.sections}
        for q in self.questions:
            if q.section not in sections:
                raise ValueError(f"question {q.id}: unknown section {q.section!r}")
            for ref in filter(None, [q.max_question, q.required_if.question if q.required_if else None]):
                if ref not in ids:
                    raise ValueError(f"question {q.id}: refers to unknown question {ref!r}")
            unknown = set(q.applies_to or []) - set(self.levels)
            if unknown:
                raise ValueError(f"question {q.id}: applies_to names unknown levels {sorted(unknown)}")
        missing = [k for k in MESSAGE_KEYS if k not in self.messages]
        if missing:
            raise ValueError(f"messages: missing wording for {', '.join(missing)}")
        if sum(q.options_from == "registry" for q in self.questions) != 1:
            raise ValueError("exactly one question must identify the school (options_from: registry)")
        return self

    @cached_property
    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    @property
    def school_question(self) -> Question:
        return next(q for q in self.questions if q.options_from == "registry")

    @property
    def contact_questions(self) -> list[Question]:
        """Who filled the form: the text and phone questions beside the school question (the analyst's, only)."""
        section = self.school_question.section
        return [q for q in self.questions if q.section == section and q.type in ("text", "phone")]

    def message(self, key: str, **values: Any) -> str:
        return self.messages[key].format(**values)


class Condition(_Model):
    question: str
    op: Literal["eq", "eq_question", "has_all_options", "min_selected"]
    value: str | int | None = None
    other: str | None = None

    @model_validator(mode="after")
    def _operands(self) -> Condition:
        if self.op == "eq" and self.value is None:
            raise ValueError("op eq needs `value`")
        if self.op == "eq_question" and not self.other:
            raise ValueError("op eq_question needs `other`")
        if self.op == "min_selected" and not isinstance(self.value, int):
            raise ValueError("op min_selected needs an integer `value`")
        return self


class Criterion(_Model):
    id: str
    title: str
    legal_ref: str
    mandatory: bool
    conditions: list[Condition] = Field(alias="all", min_length=1)
    remediation: str
    levels: list[str] | None = None


class CriteriaSet(_Model):
    id: str
    title: str
    legal_basis: str
    levels: list[str]
    pass_share: Annotated[float, Field(gt=0, le=1)]
    criteria: list[Criterion]


class Indicator(_Model):
    id: str
    kind: Literal["answered_yes", "ratio", "count", "timeliness"]
    title: str
    points: Annotated[float, Field(gt=0)]
    question: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    target: int | Literal["all"] | None = None
    late_share: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _operands(self) -> Indicator:
        need = {"answered_yes": ["question"], "count": ["question", "target"], "ratio": ["numerator", "denominator"],
                "timeliness": []}[self.kind]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"indicator kind {self.kind} needs `{name}`")
        return self

    @property
    def questions(self) -> list[str]:
        return [q for q in (self.question, self.numerator, self.denominator) if q]


class IndicatorSection(_Model):
    id: str
    title: str
    indicators: list[Indicator]


class Grade(_Model):
    id: str
    label: str
    min: float
    color: str


class Scoring(_Model):
    criteria_set: str
    sections: list[IndicatorSection]
    grades: list[Grade]
    ward_target_share: Annotated[float, Field(gt=0, le=1)] = 0.7

    @model_validator(mode="after")
    def _grades_descending(self) -> Scoring:
        mins = [g.min for g in self.grades]
        if mins != sorted(mins, reverse=True) or not mins or mins[-1] != 0:
            raise ValueError("grades must be listed highest first and the last must have min 0")
        return self

    @property
    def indicators(self) -> list[Indicator]:
        return [i for s in self.sections for i in s.indicators]

    @property
    def total_points(self) -> float:
        return sum(i.points for i in self.indicators)


class MonthDay(_Model):
    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]
    year_offset: int = 0

    @model_validator(mode="after")
    def _every_year(self) -> MonthDay:
        try:
            date(2001, self.month, self.day)  # a common year: a yearly date must exist in every year
        except ValueError:
            raise ValueError(f"{self.day}/{self.month} is not a date in every year") from None
        return self


class CycleKind(_Model):
    label: str
    provisional: bool
    period_start: MonthDay
    period_end: MonthDay
    opens: MonthDay
    deadline: MonthDay
    closes: MonthDay
    report_due: MonthDay


class Schedule(_Model):
    """When the scheduled deployments run (`antt deploy`), at `run_at` office time; `antt.cycles` turns these into
    dates."""

    run_at: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    remind_days_before_deadline: list[Annotated[int, Field(ge=1)]]
    final_run_days_before_report_due: Annotated[int, Field(ge=0)]

    @field_validator("remind_days_before_deadline")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("list each number of days once")
        return value


class Cycles(_Model):
    timezone: str = "Asia/Ho_Chi_Minh"
    grace_days: Annotated[int, Field(ge=0)] = 0
    schedule: Schedule
    kinds: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*$")], CycleKind]


class ReportSections(_Model):
    """The headings of the official report's three sections (report.pdf, report.docx), which are also the section
    headings of the office's notes for a cycle (`notes/<cycle>.md`)."""

    results: str
    assessment: str
    proposals: str


class Office(_Model):
    # The language of the CLI, the Prefect artifacts and the failure e-mails (ANTT_LANG overrides it); antt/i18n.py.
    language: Literal["vi", "en"] = "vi"
    authority: str
    office: str
    office_short: str
    place: str
    document_number: str
    recipients: list[str]
    signer_title: list[str]
    signer_name: str
    contact_email: str
    # Who `antt report --send` (and the final scheduled run) e-mails the leadership report to.
    leadership_emails: list[str] = []
    plan_reference: str
    level_names: dict[str, str]
    # Above this many schools report.html lists only each ranking's top and bottom and links one page per unit.
    report_full_ranking_max: Annotated[int, Field(ge=0)] = 300
    report_top_bottom: Annotated[int, Field(ge=1)] = 20
    report_list_max: Annotated[int, Field(ge=1)] = 40
    report_sections: ReportSections
    # Above this many schools the official report's appendices print each ranking's top and bottom.
    official_full_ranking_max: Annotated[int, Field(ge=0)] = 2000

    @field_validator("leadership_emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        value = [a.strip() for a in value]
        bad = [a for a in value if not is_address(a)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an e-mail address")
        return value


class Config(_Model):
    """The whole configuration, validated across files."""

    root: Path
    form: Form
    criteria_sets: dict[str, CriteriaSet]
    scoring: Scoring
    cycles: Cycles
    office: Office
    checksum: str

    @property
    def criteria(self) -> CriteriaSet:
        """The criteria set the verdict is given under (scoring.yaml `criteria_set`)."""
        return self.criteria_sets[self.scoring.criteria_set]


def default_config_dir() -> Path:
    """The packaged config (wheel installs) or the repository's `config/` (editable installs)."""
    here = Path(__file__).resolve().parent
    packaged = here / "default_config"
    return packaged if packaged.is_dir() else here.parent / "config"


def _read_yaml(path: Path, files: dict[Path, bytes]) -> Any:
    if path not in files:
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.safe_load(files[path].decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def _parse(model: type[BaseModel], path: Path, files: dict[Path, bytes]) -> Any:
    data = _read_yaml(path, files)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {key}: {err['msg']}{more}") from None


def load_config(root: Path | str | None = None) -> Config:
    """Read and cross-check every file of a config folder. Each file is read once: what is parsed is what the
    checksum covers."""
    root = Path(root) if root else default_config_dir()
    if not root.is_dir():
        raise ConfigError(f"{root}: config folder not found")
    files = {path: path.read_bytes()
             for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))}
    form: Form = _parse(Form, root / "form.yaml", files)
    scoring: Scoring = _parse(Scoring, root / "scoring.yaml", files)
    cycles: Cycles = _parse(Cycles, root / "cycles.yaml", files)
    office: Office = _parse(Office, root / "office.yaml", files)
    sets: dict[str, CriteriaSet] = {}
    for path in sorted(p for p in files if p.parent == root / "criteria" and p.suffix == ".yaml"):
        cs: CriteriaSet = _parse(CriteriaSet, path, files)
        if cs.id != path.stem:
            raise ConfigError(f"{path}: id: {cs.id!r} must match the file name {path.stem!r}")
        _check_criteria(cs, form, path)
        sets[cs.id] = cs
    _check_scoring(scoring, form, sets, root / "scoring.yaml")
    digest = hashlib.sha256()
    for path, data in files.items():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + data)
    return Config(root=root, form=form, criteria_sets=sets, scoring=scoring, cycles=cycles, office=office,
                  checksum=digest.hexdigest())


def _check_criteria(cs: CriteriaSet, form: Form, path: Path) -> None:
    for i, crit in enumerate(cs.criteria):
        for j, cond in enumerate(crit.conditions):
            key = f"criteria.{i}.all.{j}"
            q = form.by_id.get(cond.question)
            if q is None:
                raise ConfigError(f"{path}: {key}.question: unknown question {cond.question!r} ({crit.id})")
            if cond.other and cond.other not in form.by_id:
                raise ConfigError(f"{path}: {key}.other: unknown question {cond.other!r} ({crit.id})")
            if cond.op in ("has_all_options", "min_selected") and q.type != "select_multiple":
                raise ConfigError(f"{path}: {key}.op: {cond.op} needs a select_multiple question, {q.id} is {q.type}")
            if cond.op == "eq" and q.type == "yes_no" and cond.value not in (form.answer_yes, form.answer_no):
                raise ConfigError(f"{path}: {key}.value: {q.id} is yes/no, "
                                  f"value must be {form.answer_yes!r} or {form.answer_no!r}")
            if cond.op == "eq" and q.type in NUMERIC_TYPES and not isinstance(cond.value, int):
                raise ConfigError(f"{path}: {key}.value: {q.id} is numeric, value must be a number")
        unknown = set(crit.levels or []) - set(form.levels)
        if unknown:
            raise ConfigError(f"{path}: criteria.{i}.levels: unknown levels {sorted(unknown)}")
    unknown = set(cs.levels) - set(form.levels)
    if unknown:
        raise ConfigError(f"{path}: levels: unknown levels {sorted(unknown)}")


def _check_scoring(scoring: Scoring, form: Form, sets: dict[str, CriteriaSet], path: Path) -> None:
    if scoring.criteria_set not in sets:
        raise ConfigError(f"{path}: criteria_set: unknown criteria set {scoring.criteria_set!r} "
                          f"(known: {', '.join(sorted(sets))})")
    for s, section in enumerate(scoring.sections):
        for i, ind in enumerate(section.indicators):
            for q in ind.questions:
                if q not in form.by_id:
                    raise ConfigError(f"{path}: sections.{s}.indicators.{i}: unknown question {q!r} ({ind.id})")
            if ind.kind == "answered_yes" and form.by_id[ind.question].type != "yes_no":
                raise ConfigError(f"{path}: sections.{s}.indicators.{i}.question: {ind.question} is not yes/no")
            if ind.target == "all" and form.by_id[ind.question].type != "select_multiple":
                raise ConfigError(f"{path}: sections.{s}.indicators.{i}.target: 'all' needs a select_multiple question")
