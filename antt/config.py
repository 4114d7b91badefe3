"""Load and validate `config/`: the form, criteria sets, scoring, cycles, office header, output labels.

Everything the pipeline knows about the domain comes from here. Each file is validated with pydantic on load,
and cross-file references (a criterion naming a question, an indicator naming a criteria set) are checked too,
so a typo is a `ConfigError` naming the file and key rather than a KeyError at scoring time.
"""

from __future__ import annotations

import hashlib
import re
import string
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from antt.errors import ConfigError
from antt.i18n import _
from antt.text import is_address

QuestionType = Literal[
    "yes_no", "integer", "decimal", "percent", "date", "text", "paragraph", "url", "phone", "select_one",
    "select_multiple",
]
NUMERIC_TYPES = ("integer", "decimal", "percent")
MESSAGE_KEYS = (
    "missing_required", "not_integer", "ambiguous_number", "not_decimal", "not_yes_no", "not_date", "not_phone",
    "not_url", "below_min", "above_max", "above_other", "not_in_options", "unknown_options", "unknown_school",
    "school_code_zeros",
    "bad_timestamp", "unverified_sender", "superseded", "other_cycle", "unknown_column", "duplicate_column",
    "unnamed_column", "missing_optional_column", "blank_rows", "bad_correction",
    "correction_unknown_row", "correction_unknown_question", "correction_no_column",
    "correction_other_school", "correction_set", "correction_approve_sender", "correction_accept_late",
    "correction_reject", "earlier_version", "resorted_snapshot",
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
    # registry: the schools ("CODE – name"); form_questions (the reply form only): the report form's questions
    # ("ID. label"), filled in as `options` when the config is loaded.
    options_from: Literal["registry", "form_questions"] | None = None
    help: str | None = None
    on_invalid: Literal["error", "warning"] | None = None

    @model_validator(mode="after")
    def _options_match_type(self) -> Question:
        is_select = self.type in ("select_one", "select_multiple")
        if is_select and not (self.options or self.options_from):
            raise ValueError(_("{type} needs `options` or `options_from`").format(type=self.type))
        if not is_select and (self.options or self.options_from):
            raise ValueError(_("`options` only belong to select questions, not {type}").format(type=self.type))
        if (self.min is not None or self.max is not None or self.max_question) and self.type not in NUMERIC_TYPES:
            raise ValueError(_("`min`, `max` and `max_question` only belong to numeric questions"))
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


class _Wording(_Model):
    """Text the office edits: every field is a string, and may use only the placeholders `PLACEHOLDERS` names for
    it (so a typo is a ConfigError at load, not a KeyError in the middle of an export)."""

    PLACEHOLDERS: ClassVar[dict[str, set[str]]] = {}

    @model_validator(mode="after")
    def _known_placeholders(self) -> _Wording:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, str):
                continue
            allowed = self.PLACEHOLDERS.get(name, set())
            try:
                used = {field for _text, field, _spec, _conv in string.Formatter().parse(value) if field is not None}
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
            unknown = sorted(used - allowed)
            if unknown:
                raise ValueError(_("{key}: unknown placeholder {{{name}}} (this text may use: {known})").format(
                    key=name, name=unknown[0], known=", ".join(f"{{{p}}}" for p in sorted(allowed)) or _("none")))
        return self


class Hints(_Wording):
    """The rules every form export states under a question."""

    PLACEHOLDERS = {"required_if": {"question", "value"}, "applies_to": {"levels"}, "integer_min": {"min"},
                    "min": {"min"}, "max": {"max"}, "max_question": {"question"}}
    required: str
    required_if: str
    applies_to: str
    integer: str
    integer_min: str
    min: str
    max: str
    max_question: str
    phone: str
    url: str
    date: str


class GoogleFormWording(_Wording):
    PLACEHOLDERS = {"sheet_title": {"title"}}
    sheet_title: str
    confirmation: str
    digits_only: str
    whole_number: str
    number: str
    phone: str
    url: str


class XlsformWording(_Wording):
    PLACEHOLDERS = {"level_hint": {"question"}}
    level_label: str
    level_hint: str


class TemplateColumns(_Wording):
    id: str
    question: str
    answer: str
    hint: str


def _sheet_name(value: str) -> str:
    """A name Excel accepts for a sheet."""
    if not 0 < len(value) <= 31 or any(c in value for c in "[]:*?/\\"):
        raise ValueError(_("{name!r} cannot name an Excel sheet (1 to 31 characters, none of [ ] : * ? / \\)")
                         .format(name=value))
    return value


SheetName = Annotated[str, AfterValidator(_sheet_name)]


class ExcelTemplateWording(_Wording):
    """The one-school Excel template; its sheet names, column titles and the sent-at and e-mail rows are also what
    the folder source reads back."""

    PLACEHOLDERS = {"instructions": {"answer"}, "version": {"version"}, "pick_options": {"yes"},
                    "choose_yes_no": {"yes", "no"}}
    report_sheet: SheetName
    lists_sheet: SheetName
    columns: TemplateColumns
    sent_at: str
    email: str
    instructions: str
    version: str
    sent_at_hint: str
    email_hint: str
    yes_no_list: str
    pick_options: str
    choose_yes_no: str
    choose_option: str
    enter_date: str
    invalid_title: str
    invalid: str


class FormExports(_Model):
    hints: Hints
    google_form: GoogleFormWording
    xlsform: XlsformWording
    excel_template: ExcelTemplateWording


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
    exports: FormExports

    @model_validator(mode="after")
    def _consistent(self) -> Form:
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(_("duplicate question ids: {ids}").format(ids=", ".join(dupes)))
        sections = {s.id for s in self.sections}
        for q in self.questions:
            if q.section not in sections:
                raise ValueError(_("question {id}: unknown section {section!r}").format(id=q.id, section=q.section))
            for ref in filter(None, [q.max_question, q.required_if.question if q.required_if else None]):
                if ref not in ids:
                    raise ValueError(_("question {id}: refers to unknown question {other!r}")
                                     .format(id=q.id, other=ref))
            unknown = set(q.applies_to or []) - set(self.levels)
            if unknown:
                raise ValueError(_("question {id}: applies_to names unknown levels {levels}")
                                 .format(id=q.id, levels=sorted(unknown)))
        missing = [k for k in MESSAGE_KEYS if k not in self.messages]
        if missing:
            raise ValueError(_("messages: missing wording for {keys}").format(keys=", ".join(missing)))
        if sum(q.options_from == "registry" for q in self.questions) != 1:
            raise ValueError(_("exactly one question must identify the school (options_from: registry)"))
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
            raise ValueError(_("op eq needs `value`"))
        if self.op == "eq_question" and not self.other:
            raise ValueError(_("op eq_question needs `other`"))
        if self.op == "min_selected" and not isinstance(self.value, int):
            raise ValueError(_("op min_selected needs an integer `value`"))
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
                raise ValueError(_("indicator kind {kind} needs `{key}`").format(kind=self.kind, key=name))
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
            raise ValueError(_("grades must be listed highest first and the last must have min 0"))
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
            raise ValueError(_("{day}/{month} is not a date in every year").format(day=self.day, month=self.month)) \
                from None
        return self


def _day_in(md: MonthDay, year: int = 2001) -> date:
    """`md` in a common year (2001), to put a kind's dates in order."""
    return date(year + md.year_offset, md.month, md.day)


class CycleKind(_Model):
    label: str
    provisional: bool
    period_start: MonthDay
    period_end: MonthDay
    opens: MonthDay
    deadline: MonthDay
    closes: MonthDay
    report_due: MonthDay
    # The last day schools may reply to their draft scorecard (the reply form); the window closes at its end.
    reply_closes: MonthDay

    @model_validator(mode="after")
    def _reply_window(self) -> CycleKind:
        if not _day_in(self.deadline) <= _day_in(self.reply_closes) < _day_in(self.report_due):
            raise ValueError(_("reply_closes must fall on or after the deadline and before report_due"))
        return self


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
            raise ValueError(_("list each number of days once"))
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
    # The published reply form (config/reply_form.yaml) that draft scorecards link to (`antt report --send-drafts`).
    reply_form_url: str | None = None
    # The analyst's corrections kept in Google Sheets: `gsheet:<key or URL>`, one worksheet per cycle named by its id
    # (2026-H1). Unset: config/corrections/<cycle>.csv. `--corrections` on the command line names another source.
    corrections_sheet: str | None = None
    plan_reference: str
    level_names: dict[str, str]
    # Above this many schools report.html lists only each ranking's top and bottom and links one page per unit.
    report_full_ranking_max: Annotated[int, Field(ge=0)] = 300
    report_top_bottom: Annotated[int, Field(ge=1)] = 20
    report_list_max: Annotated[int, Field(ge=1)] = 40
    report_sections: ReportSections
    # Above this many schools the official report's appendices print each ranking's top and bottom.
    official_full_ranking_max: Annotated[int, Field(ge=0)] = 2000

    @field_validator("corrections_sheet")
    @classmethod
    def _sheet(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("gsheet:") or "#" in value):
            raise ValueError(f"{value!r} is not gsheet:<key or URL> (each cycle's worksheet is named by its id)")
        return value

    @field_validator("leadership_emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        value = [a.strip() for a in value]
        bad = [a for a in value if not is_address(a)]
        if bad:
            raise ValueError(_("{address!r} is not an e-mail address").format(address=bad[0]))
        return value

    @field_validator("reply_form_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://\S+", value.strip()):
            raise ValueError(_("{url!r} is not a link (it starts with http:// or https://)").format(url=value))
        return value.strip() if value is not None else None


class WorkbookColumns(_Wording):
    """ranking.xlsx's column titles, in the order of its columns."""

    rank_overall: str
    rank_in_level: str
    school_code: str
    school_name: str
    level: str
    ward: str
    status: str
    submitted_at: str
    on_time: str
    verdict: str
    score: str
    grade: str


class LegendColumns(_Wording):
    id: str
    title: str
    mandatory: str
    legal_ref: str


class WorkbookWording(_Wording):
    ranking_sheet: SheetName
    criteria_sheet: SheetName
    legend_sheet: SheetName
    columns: WorkbookColumns
    on_time: str
    late: str
    criterion_met: str
    criterion_not_met: str
    legend_columns: LegendColumns


class Labels(_Model):
    """`labels.yaml`: the words outputs use for what the pipeline computes."""

    workbook: WorkbookWording


class Config(_Model):
    """The whole configuration, validated across files."""

    root: Path
    form: Form
    # The form a school answers to correct its draft scorecard (config/reply_form.yaml).
    reply_form: Form
    criteria_sets: dict[str, CriteriaSet]
    scoring: Scoring
    cycles: Cycles
    office: Office
    labels: Labels
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
        raise ConfigError(_("{path}: file not found").format(path=path))
    try:
        return yaml.safe_load(files[path].decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: not valid YAML ({reason})").format(path=path, reason=str(exc).splitlines()[0])) \
            from None


def _parse(model: type[BaseModel], path: Path, files: dict[Path, bytes], data: Any = None) -> Any:
    data = _read_yaml(path, files) if data is None else data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or _("(top level)")
        reason = str(err["ctx"]["error"]) if err["type"] == "value_error" else _pydantic_reason(err)
        message = f"{path}: {key}: {reason}"
        if exc.error_count() > 1:
            message += " " + _("(and {n} more)").format(n=exc.error_count() - 1)
        raise ConfigError(message) from None


def _pydantic_reason(err: dict) -> str:
    """Pydantic's message for the mistakes a config edit makes, in the office's language; a rarer one as pydantic
    words it."""
    ctx = err.get("ctx") or {}
    reasons = {
        "missing": _("Field required"),
        "extra_forbidden": _("unknown key (check its spelling)"),
        "string_type": _("Input should be a valid string"),
        "int_type": _("Input should be a valid integer"),
        "int_parsing": _("Input should be a valid integer"),
        "int_from_float": _("Input should be a valid integer"),
        "float_type": _("Input should be a valid number"),
        "float_parsing": _("Input should be a valid number"),
        "bool_type": _("Input should be true or false"),
        "bool_parsing": _("Input should be true or false"),
        "list_type": _("Input should be a list"),
        "dict_type": _("Input should be a mapping of keys to values"),
        "model_type": _("Input should be a mapping of keys to values"),
        "literal_error": _("Input should be {expected}").format(expected=ctx.get("expected")),
        "string_pattern_mismatch": _("String should match pattern '{pattern}'").format(pattern=ctx.get("pattern")),
        "greater_than_equal": _("Input should be at least {ge}").format(ge=ctx.get("ge")),
        "less_than_equal": _("Input should be at most {le}").format(le=ctx.get("le")),
    }
    return reasons.get(err["type"], err["msg"])


def load_config(root: Path | str | None = None) -> Config:
    """Read and cross-check every file of a config folder. Each file is read once: what is parsed is what the
    checksum covers."""
    root = Path(root) if root else default_config_dir()
    if not root.is_dir():
        raise ConfigError(_("{path}: config folder not found").format(path=root))
    files = {path: path.read_bytes()
             for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))}
    form: Form = _parse(Form, root / "form.yaml", files)
    reply_form = _reply_form(form, root / "form.yaml", root / "reply_form.yaml", files)
    scoring: Scoring = _parse(Scoring, root / "scoring.yaml", files)
    cycles: Cycles = _parse(Cycles, root / "cycles.yaml", files)
    office: Office = _parse(Office, root / "office.yaml", files)
    labels: Labels = _parse(Labels, root / "labels.yaml", files)
    sets: dict[str, CriteriaSet] = {}
    for path in sorted(p for p in files if p.parent == root / "criteria" and p.suffix == ".yaml"):
        cs: CriteriaSet = _parse(CriteriaSet, path, files)
        if cs.id != path.stem:
            raise ConfigError(_("{path}: id: {id!r} must match the file name {name!r}").format(path=path, id=cs.id,
                                                                                              name=path.stem))
        _check_criteria(cs, form, path)
        sets[cs.id] = cs
    _check_scoring(scoring, form, sets, root / "scoring.yaml")
    _check_reply_window(cycles, root / "cycles.yaml")
    digest = hashlib.sha256()
    for path, data in files.items():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + data)
    return Config(root=root, form=form, reply_form=reply_form, criteria_sets=sets, scoring=scoring, cycles=cycles,
                  office=office, labels=labels, checksum=digest.hexdigest())


# What the reply form must keep, for the review of replies to read it (docs/spec.md §10): the school, the question
# (as "ID. label"), the value, the explanation, the evidence, and who replies.
REPLY_QUESTIONS = {"R1": "school", "R2": "question", "R3": "value", "R4": "explanation", "R5": "evidence",
                   "R6": "name"}


def _merged(base: Any, over: Any) -> Any:
    """`over` on top of `base`, mapping by mapping: a key `over` leaves out keeps `base`'s value."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    return {**base, **{key: _merged(base.get(key), value) for key, value in over.items()}}


def _reply_form(form: Form, form_path: Path, path: Path, files: dict[Path, bytes]) -> Form:
    """`reply_form.yaml`, a form of the same schema as `form.yaml`. What it leaves out (the response sheet's
    timestamp and e-mail headers, the yes/no answers, the levels, the data-problem wording, each export's wording)
    is the report form's, and its `options_from: form_questions` question lists the report form's questions
    ("ID. label") except the school's, which a reply cannot change."""
    data = _read_yaml(path, files)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {_('(top level)')}: {_('Input should be a mapping of keys to values')}")
    own = form.model_dump(include={"timestamp_headers", "email_headers", "answer_yes", "answer_no", "levels",
                                   "messages", "exports"})
    reply: Form = _parse(Form, path, files, _merged(own, data))
    if any(q.options_from == "form_questions" for q in form.questions):
        raise ConfigError(f"{form_path}: questions: "
                          + _("only the reply form lists the form's questions (options_from: form_questions)"))
    titles = [q.title for q in form.questions if q.options_from != "registry"]
    reply = reply.model_copy(update={"questions": [
        q.model_copy(update={"options": titles}) if q.options_from == "form_questions" else q
        for q in reply.questions]})
    missing = [qid for qid in REPLY_QUESTIONS if qid not in reply.by_id]
    if missing:
        raise ConfigError(f"{path}: questions: "
                          + _("the reply form needs the questions {ids}").format(ids=", ".join(REPLY_QUESTIONS)))
    if reply.by_id["R1"].options_from != "registry" or reply.by_id["R2"].options_from != "form_questions":
        raise ConfigError(f"{path}: questions: " + _("R1 lists the schools (options_from: registry) and R2 the "
                                                     "form's questions (options_from: form_questions)"))
    return reply


def _check_reply_window(cycles: Cycles, path: Path) -> None:
    """The reply window opens when collection's deadline (with its grace days) passes; the final run reports what
    the window changed, so it comes after the window closes."""
    final_days = cycles.schedule.final_run_days_before_report_due
    for kind_id, kind in cycles.kinds.items():
        reply_day = _day_in(kind.reply_closes)
        if _day_in(kind.deadline) + timedelta(days=cycles.grace_days) > reply_day:
            raise ConfigError(_("{path}: {key}: the reply window closes before the deadline and its grace days "
                                "pass").format(path=path, key=f"kinds.{kind_id}.reply_closes"))
        if _day_in(kind.report_due) - timedelta(days=final_days) <= reply_day:
            raise ConfigError(_("{path}: {key}: the final run ({days} days before report_due) must come after the "
                                "day the reply window closes").format(path=path, key=f"kinds.{kind_id}.reply_closes",
                                                                      days=final_days))


def _check_criteria(cs: CriteriaSet, form: Form, path: Path) -> None:
    for i, crit in enumerate(cs.criteria):
        for j, cond in enumerate(crit.conditions):
            key = f"criteria.{i}.all.{j}"
            q = form.by_id.get(cond.question)
            if q is None:
                raise ConfigError(_("{path}: {key}.question: unknown question {question!r} ({criterion})")
                                  .format(path=path, key=key, question=cond.question, criterion=crit.id))
            if cond.other and cond.other not in form.by_id:
                raise ConfigError(_("{path}: {key}.other: unknown question {question!r} ({criterion})")
                                  .format(path=path, key=key, question=cond.other, criterion=crit.id))
            if cond.op in ("has_all_options", "min_selected") and q.type != "select_multiple":
                raise ConfigError(_("{path}: {key}.op: {op} needs a select_multiple question, {question} is {type}")
                                  .format(path=path, key=key, op=cond.op, question=q.id, type=q.type))
            if cond.op == "eq" and q.type == "yes_no" and cond.value not in (form.answer_yes, form.answer_no):
                raise ConfigError(_("{path}: {key}.value: {question} is yes/no, value must be {yes!r} or {no!r}")
                                  .format(path=path, key=key, question=q.id, yes=form.answer_yes, no=form.answer_no))
            if cond.op == "eq" and q.type in NUMERIC_TYPES and not isinstance(cond.value, int):
                raise ConfigError(_("{path}: {key}.value: {question} is numeric, value must be a number")
                                  .format(path=path, key=key, question=q.id))
        unknown = set(crit.levels or []) - set(form.levels)
        if unknown:
            raise ConfigError(_("{path}: {key}: unknown levels {levels}").format(path=path, key=f"criteria.{i}.levels",
                                                                                levels=sorted(unknown)))
    unknown = set(cs.levels) - set(form.levels)
    if unknown:
        raise ConfigError(_("{path}: {key}: unknown levels {levels}")
                          .format(path=path, key="levels", levels=sorted(unknown)))


def _check_scoring(scoring: Scoring, form: Form, sets: dict[str, CriteriaSet], path: Path) -> None:
    if scoring.criteria_set not in sets:
        raise ConfigError(_("{path}: criteria_set: unknown criteria set {id!r} (known: {known})")
                          .format(path=path, id=scoring.criteria_set, known=", ".join(sorted(sets))))
    for s, section in enumerate(scoring.sections):
        for i, ind in enumerate(section.indicators):
            for q in ind.questions:
                if q not in form.by_id:
                    raise ConfigError(_("{path}: {key}: unknown question {question!r} ({indicator})")
                                      .format(path=path, key=f"sections.{s}.indicators.{i}", question=q,
                                              indicator=ind.id))
            if ind.kind == "answered_yes" and form.by_id[ind.question].type != "yes_no":
                raise ConfigError(_("{path}: {key}: {question} is not yes/no")
                                  .format(path=path, key=f"sections.{s}.indicators.{i}.question",
                                          question=ind.question))
            if ind.target == "all" and form.by_id[ind.question].type != "select_multiple":
                raise ConfigError(_("{path}: {key}: 'all' needs a select_multiple question")
                                  .format(path=path, key=f"sections.{s}.indicators.{i}.target"))
