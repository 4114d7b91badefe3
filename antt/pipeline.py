"""The cycle's stages as plain functions: the Prefect flows and the CLI wire them, tests call them directly.

source → raw table (the input archived first) → normalised submissions → validation → scores → ranking → outputs.

What a stage makes is its return value, handed to the stages that use it, so a flow's task graph is the data flow.
`Run` holds only what every stage may read and none writes: config, registry, cycle, corrections, output folder and
start time, loaded once per run. Each stage's time is its own return value too (`stage`).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from antt import i18n
from antt.checks.data_docs import write_data_docs
from antt.checks.validate import header_issues, issues_from_results, run_suite, sort_issues
from antt.config import Config, load_config
from antt.cycles import Cycle, cycle_on, office_today, previous_cycle_id, resolve_cycle
from antt.errors import InputError
from antt.forking import forked, release_memory
from antt.i18n import _
from antt.intake.corrections import (
    accepted_late,
    apply_answers,
    apply_reviews,
    check_corrections,
    load_corrections,
    no_corrections,
)
from antt.intake.normalize import HeaderMatch, match_headers, normalize
from antt.intake.registry import expected_in, load_registry
from antt.intake.replies import COLUMNS as REPLY_COLUMNS
from antt.intake.replies import read_replies, reply_changes, review_queue
from antt.intake.versions import Snapshot, Versions, attribute, every_version, with_versions
from antt.mail.outbox import SentLog
from antt.outputs.document import build_document, previous_summary, replies_document, write_json
from antt.outputs.docx import render_docx
from antt.outputs.html import STYLESHEET, Scorecards, render_report, render_scorecards, render_units, stylesheet
from antt.outputs.notes import load_notes
from antt.outputs.official import official_report
from antt.outputs.pdf import write_report_pdf
from antt.outputs.publish import staged_folder, write_atomic
from antt.outputs.quality import render_data_quality, submission_contacts
from antt.outputs.tables import csv_bytes, issues_frame, ranking_frame, ranking_xlsx
from antt.scoring.results import CycleResults, Scores, rank_cycle, rescore, score_cycle
from antt.sources.archive import ArchivedInput, archive_bytes, archive_input, receipts
from antt.sources.files import read_export, read_header, read_table
from antt.sources.folder import FolderRead, folder_bytes, read_folder
from antt.sources.raw import RawTable
from antt.store import history
from antt.store.faults import checkpoint
from antt.store.locks import ensure_free

log = logging.getLogger("antt.pipeline")
SCORECARD_POOL_MIN = 2000  # from this many schools, other processes write report.docx, ranking.xlsx, scorecards
SCORECARD_CHUNK = 1000  # schools per task of that pool
FORMS_SNAPSHOT = ".json"  # what the gform: source archives; passed as --source, it is read again
PACKAGES = ("antt", "prefect", "great_expectations", "pandas", "numpy", "jinja2", "openpyxl", "babel", "pydantic",
            "gspread")


class Run:
    """The read-only facts of one run: config, school registry, cycle, the analyst's corrections, output folder,
    start time, whose history it records (`office`: "" for a lone office, a unit's name in a province), and the
    manifest's account of the registry and corrections as they were received (`inputs`).
    Stages read it; what they make they return.

    A plain class, not a dataclass: Prefect walks dataclass and pydantic task arguments field by field to find
    upstream results, and walking the config costs about 40 ms per task argument.
    """

    __slots__ = ("config", "registry", "cycle", "corrections", "inputs", "out", "started_at", "office",
                 "opened_with")

    def __init__(self, config: Config, registry: pd.DataFrame, cycle: Cycle, corrections: pd.DataFrame,
                 inputs: tuple[dict, ...], out: Path, started_at: datetime, office: str, opened_with: tuple) -> None:
        given = locals()
        for name in self.__slots__:
            object.__setattr__(self, name, given[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Run is read-only: stages return what they make ({name})")


@contextmanager
def stage(name: str, timings: dict[str, float] | None = None) -> Iterator[dict[str, float]]:
    """Time the block as stage `name` into `timings` (a new dict unless given), which it yields: the stage's time
    is part of what it returns. The start is logged on `antt.pipeline` so a CLI or the flow log can show progress;
    the crash tests' `after:<name>` point follows a stage that finished."""
    timings = {} if timings is None else timings
    log.info("stage %s", name, extra={"stage": name})
    start = time.perf_counter()
    try:
        yield timings
    finally:
        timings[name] = round(time.perf_counter() - start, 3)
    checkpoint(f"after:{name}")


@dataclass(frozen=True)
class Preflight:
    """What was loaded and read before a flow started, in this process, for that flow to use rather than load or
    read again (`handed_over`): the run and, for a folder source, its packed bytes and the rows read from them."""

    run: Run
    source: str
    folder: tuple[bytes, FolderRead] | None = None


_HANDED_OVER: ContextVar[Preflight | None] = ContextVar("antt_preflight", default=None)


def open_run(cycle_id: str, schools: Path | str | None, config_dir: Path | str | None, out: Path | str,
             office: str = "", corrections: str | None = None) -> Run:
    """Load config, registry, cycle and corrections; any problem is an AnttError with one line. Inside
    `handed_over`, the run a pre-flight opened with the same arguments is the one returned: nothing is loaded twice.

    `schools` and `corrections` are a file or `gsheet:KEY[#worksheet]`; without them, the config's registry and
    the cycle's corrections (`corrections_sheet` in office.yaml, else `corrections/<cycle>.csv`)."""
    opened_with = _arguments(cycle_id, schools, config_dir, out, office, corrections)
    handed = _HANDED_OVER.get()
    if handed is not None and handed.run.opened_with == opened_with:
        return handed.run
    return _open(load_config(config_dir), cycle_id, schools, out, office, corrections, opened_with)


def open_scheduled_run(kind: str, schools: str | None, config_dir: str | None, out: str,
                       corrections: str | None = None) -> Run:
    """`open_run` for the cycle of `kind` that today's date (office time) belongs to: what a scheduled run is about."""
    config = load_config(config_dir)
    cycle_id = cycle_on(kind, office_today(config.cycles), config.cycles)
    return _open(config, cycle_id, schools, out, "", corrections,
                 _arguments(cycle_id, schools, config_dir, out, "", corrections))


def _arguments(cycle_id: str, schools, config_dir, out, office: str, corrections) -> tuple:
    """A run's arguments as a flow's parameters carry them (text), to tell whether a handed-over run is this one."""
    return (cycle_id, str(schools) if schools else None, str(config_dir) if config_dir else None, str(out), office,
            corrections or None)


def _open(config: Config, cycle_id: str, schools, out, office: str, corrections: str | None,
          opened_with: tuple) -> Run:
    i18n.use(i18n.language(config.office.language))
    out = Path(out)
    cycle = resolve_cycle(cycle_id, config.cycles)
    registry_input = receive(str(schools) if schools else str(config.root / "schools.csv"), out,
                             _("school registry"), "--schools")
    registry = load_registry(registry_input.archived.stored, config.form.levels,
                             default_unit=config.office.office_short, label=registry_input.archived.original)
    inputs = [registry_input.record("registry", out)]
    corrections_input = _corrections_input(corrections, config, cycle, out)
    if corrections_input is None:
        table = no_corrections()
    else:
        table = load_corrections(corrections_input.archived.stored, label=corrections_input.archived.original)
        inputs.append(corrections_input.record("corrections", out))
    return Run(config=config, registry=registry, cycle=cycle, corrections=table, inputs=tuple(inputs), out=out,
               started_at=datetime.now(ZoneInfo(config.cycles.timezone)), office=office, opened_with=opened_with)


def _corrections_input(spec: str | None, config: Config, cycle: Cycle, out: Path) -> Received | None:
    """The cycle's corrections as received: `spec` (a file, or a worksheet), else the worksheet named after the cycle
    in the spreadsheet `spec` or the office's `corrections_sheet` names (none yet: no corrections), else
    `corrections/<cycle>.csv` if it exists. A spreadsheet without a worksheet is what a deployment stores: each
    scheduled run reads its own cycle's."""
    spreadsheet = spec is not None and spec.startswith("gsheet:") and "#" not in spec
    if spec and not spreadsheet:
        return receive(spec, out, _("corrections file"), "--corrections")
    sheet = spec or config.office.corrections_sheet
    if sheet:
        from antt.sources.gsheet import WorksheetMissing

        try:
            return receive(f"{sheet}#{cycle.id}", out, _("corrections file"), "--corrections")
        except WorksheetMissing:
            log.info("%s has no worksheet %s: no corrections for this cycle", sheet, cycle.id)
            return None
    path = config.root / "corrections" / f"{cycle.id}.csv"
    return receive(str(path), out, _("corrections file"), "--corrections") if path.is_file() else None


def receive(spec: str, out: Path, what: str, option: str) -> Received:
    """An office file archived byte for byte before anything parses it: a file on disk, or a Google Sheet (fetched
    with the responses' client and retries; its CSV snapshot is what gets archived). The archive keeps each content
    once, so receiving the same registry every run stores it once. `what` names it in messages; a failed fetch
    names its last good snapshot, to pass as `option`."""
    if spec.startswith("gsheet:"):
        from antt.sources.gsheet import fetch_sheet

        raw, archived = fetch_sheet(spec, out, option=option)
        return Received(archived, read_as=raw.read_as)
    path = Path(spec)
    if not path.is_file():
        raise InputError(_("{name}: {what} not found").format(name=spec, what=what))
    archived = archive_input(path, out)
    return Received(archived, read_as=read_table(archived.stored, f"{spec} ({what})", limit=1, comments=True).read_as)


def preflight(cycle_id: str, source: str, schools: Path | str | None, config_dir: Path | str | None,
              out: Path | str, corrections: str | None = None) -> Preflight:
    """Fail fast, before the engine starts: config, registry, cycle, and an input whose header row is usable.

    A folder's templates are read (once) to find their header; the flow started inside `handed_over` archives those
    very bytes and keeps those rows. An export's header row alone is read here; a Google Sheet is not fetched
    (its spec and credentials are checked): the flow reads each once.
    """
    config = load_config(config_dir)
    ensure_free(out, resolve_cycle(cycle_id, config.cycles).id)  # a busy cycle is refused before anything is archived
    run = _open(config, cycle_id, schools, out, "", corrections,
                _arguments(cycle_id, schools, config_dir, out, "", corrections))
    form = run.config.form
    if source.startswith("gsheet:"):
        from antt.sources.gsheet import preflight as sheet_preflight

        sheet_preflight(source)
        return Preflight(run, source)
    if source.startswith("gform:"):
        from antt.sources.gform import preflight as form_preflight

        form_preflight(source)
        return Preflight(run, source)
    path = Path(source)
    if path.suffix.lower() == FORMS_SNAPSHOT and path.is_file():  # an archived Forms snapshot: items as header
        match_headers(_forms_snapshot(path, run).headers, form)
        return Preflight(run, source)
    if path.is_dir():
        packed = folder_bytes(path, run.config.cycles.timezone)
        found = read_folder(path, form, run.config.cycles.timezone, packed=packed)
        match_headers(found.raw.headers, form)
        return Preflight(run, source, folder=(packed, found))
    header = read_header(source)
    match_headers(header.headers, form, header.read_as)
    return Preflight(run, source)


def preflight_replies(source: str, run: Run) -> None:
    """Fail fast on a replies source: a Google one's spec and credentials, an export's header row (the reply form's
    columns and the respondents' e-mail)."""
    if source.startswith("gsheet:"):
        from antt.sources.gsheet import preflight as sheet_preflight

        sheet_preflight(source)
    elif source.startswith("gform:"):
        from antt.sources.gform import preflight as form_preflight

        form_preflight(source)
    elif Path(source).is_file() and Path(source).suffix.lower() != FORMS_SNAPSHOT:
        read_replies(read_header(source), run.config.reply_form, run.config.form, run.cycle.timezone)


@contextmanager
def handed_over(pre: Preflight) -> Iterator[Preflight]:
    """Within the block (and the flows it starts in this thread), `open_run` and `read_source` use what `pre` holds.
    A flow's parameters stay plain values, as a deployment stores them; this is how an in-process caller's work
    reaches the flow all the same."""
    token = _HANDED_OVER.set(pre)
    try:
        yield pre
    finally:
        _HANDED_OVER.reset(token)


@dataclass(frozen=True)
class Received:
    """The input as the run received it: its archived copy, how it was read (a file's encoding, separator and line
    ending, a workbook's or Google Sheet's worksheet) and, for a folder of templates, the file behind each sheet row
    and the files skipped (the manifest lists all of it)."""

    archived: ArchivedInput
    files: dict = field(default_factory=dict)
    read_as: dict = field(default_factory=dict)

    def record(self, role: str, out: Path) -> dict:
        """The manifest's entry for this input."""
        archived = self.archived
        return {"role": role, "sha256": archived.sha256, "size": archived.size, "original": archived.original,
                "archived_as": archived.stored.relative_to(out).as_posix(),
                **({"read_as": self.read_as} if self.read_as else {})}


def read_source(source: str, run: Run) -> tuple[RawTable, Received]:
    """Archive the input byte for byte, then read it: an export file, a folder of filled xlsx templates (archived
    as one deterministic zip), a Google Sheet (its CSV snapshot is what gets archived) or a Google Form (its JSON
    snapshot) fetched live, or a Forms snapshot archived earlier."""
    if source.startswith(("gsheet:", "gform:")):
        if source.startswith("gsheet:"):
            from antt.sources.gsheet import fetch_sheet

            raw, archived = fetch_sheet(source, run.out)
        else:
            from antt.sources.gform import fetch_form

            form = run.config.form
            raw, archived = fetch_form(source, run.out, timezone=run.config.cycles.timezone,
                                       headers=(form.timestamp_headers[0], form.email_headers[0]))
        checkpoint("archived")
        log.info("read %s as snapshot %s", archived.original, archived.stored.name)
        return raw, Received(archived, read_as=raw.read_as)
    path = Path(source)
    if path.is_dir():
        timezone = run.config.cycles.timezone
        handed = _HANDED_OVER.get()
        if handed is not None and handed.run is run and handed.source == source and handed.folder:
            data, found = handed.folder
        else:
            data, found = folder_bytes(path, timezone), None
        archived = archive_bytes(data, ".zip", source, run.out)
        checkpoint("archived")
        found = found or read_folder(path, run.config.form, timezone, packed=data)
        for name, reason in found.skipped:
            log.warning("skipped %s: %s", name, reason)
        return found.raw, Received(archived, files={
            "rows": {str(i + 2): name for i, name in enumerate(found.files)},
            "skipped": [{"file": n, "reason": r} for n, r in found.skipped]})
    if not path.exists():  # on a worker, most often a path that exists only on the machine that deployed it
        raise InputError(_("{source}: no such file on {host}; give a source this machine can read (for runs on "
                           "workers: a shared folder mounted on every worker, or a gsheet: or gform: source)").format(
            source=source, host=socket.gethostname()))
    if not path.is_file():
        raise InputError(_("{path}: not a file").format(path=source))
    archived = archive_input(path, run.out)
    checkpoint("archived")
    if path.suffix.lower() == FORMS_SNAPSHOT:
        return _forms_snapshot(archived.stored, run), Received(archived)
    raw = read_export(archived.stored, label=source)
    return raw, Received(archived, read_as=raw.read_as)


def _forms_snapshot(path: Path, run: Run) -> RawTable:
    from antt.sources.gform import read_snapshot

    form = run.config.form
    return read_snapshot(path, timezone=run.config.cycles.timezone,
                         headers=(form.timestamp_headers[0], form.email_headers[0]))


@dataclass
class Prepared:
    """Normalised submissions (every version of every response), the header mapping, the analyst's corrections that
    apply (and those that don't), and the versions rebuilt from the archive."""

    subs: pd.DataFrame
    header: HeaderMatch
    corrections: pd.DataFrame
    correction_issues: pd.DataFrame
    rows_read: int
    headers: list[str]
    versions: Versions | None = None


def normalize_stage(raw: RawTable, run: Run) -> Prepared:
    """Rebuild the earlier versions of a Google source's responses from its archived snapshots, apply the analyst's
    `set` corrections to a copy of the raw table, then normalise it."""
    form = run.config.form
    header = match_headers(raw.headers, form, raw.read_as)
    # Corrections name rows of the sheet as the analyst sees it, never an appended earlier version.
    corrections, correction_issues = check_corrections(run.corrections, raw, header, form)
    versions = None
    if raw.source.startswith(("gsheet:", "gform:")):
        versions = with_versions(raw, _snapshots(raw.source, run), form, run.config.cycles.timezone)
        raw = versions.table
    subs, header = normalize(apply_answers(raw, corrections, header), form, run.registry, run.cycle, header)
    return Prepared(subs=subs, header=header, corrections=corrections, correction_issues=correction_issues,
                    rows_read=len(raw.cells), headers=raw.headers, versions=versions)


def _snapshots(source: str, run: Run) -> list[Snapshot]:
    """Every archived snapshot of a Google source under `--out`, oldest first, each content once."""
    form, zone = run.config.form, run.config.cycles.timezone
    if source.startswith("gform:"):
        from antt.sources.gform import SUFFIX, read_snapshot

        def read(path: Path) -> RawTable:
            return read_snapshot(path, timezone=zone, headers=(form.timestamp_headers[0], form.email_headers[0]))
    else:
        from antt.sources.gsheet import SUFFIX

        def read(path: Path) -> RawTable:
            return read_export(path, label=source)
    found, done = [], set()
    for archived, received in receipts(source, run.out, SUFFIX):
        if archived.sha256 in done:
            continue
        done.add(archived.sha256)
        try:
            found.append(Snapshot(read(archived.stored), received))
        except InputError as exc:  # an unreadable old snapshot loses its versions, not the run
            log.warning("snapshot %s left out: %s", archived.stored.name, exc)
    return found


@dataclass(frozen=True)
class Validation:
    """The run's issue rows and the one Great Expectations result most of them come from (its Data Docs are
    written with the outputs)."""

    issues: pd.DataFrame
    result: Any  # great_expectations' ExpectationSuiteValidationResult: a leaf to Prefect, not walked


def validate_stage(prep: Prepared, run: Run) -> Validation:
    """One expectation-suite validation over the whole frame, plus notes on the sheet's shape and the corrections."""
    from antt.checks.suite import build_suite  # Great Expectations takes seconds to import: not in a pre-flight

    form = run.config.form
    suite = build_suite(form, run.cycle, set(prep.subs.columns))
    result = run_suite(prep.subs, suite, processes=min(2, os.cpu_count() or 1))  # GX itself uses one core
    cell_issues = issues_from_results(result, prep.subs, form)
    shape = header_issues(prep.header, prep.headers, form, blank_rows=prep.rows_read - len(prep.subs))
    reviews = every_version(prep.corrections, prep.versions) if prep.versions else prep.corrections
    issues = apply_reviews(pd.concat([shape, cell_issues, _resorted_notes(prep, form)], ignore_index=True),
                           reviews, form)
    return Validation(issues=sort_issues(pd.concat([issues, prep.correction_issues], ignore_index=True)),
                      result=result)


def _resorted_notes(prep: Prepared, form) -> pd.DataFrame:
    """A warning on the sheet for each archived snapshot left out because its rows changed respondent."""
    resorted = prep.versions.resorted if prep.versions else []
    return pd.DataFrame({"school_code": "", "sheet_row": 1, "question_id": "", "severity": "warning",
                         "message": [form.message("resorted_snapshot", value=at, count=n) for at, n in resorted],
                         "rule": "resorted_snapshot", "value": [at for at, _n in resorted]},
                        index=range(len(resorted)))


def score_stage(prep: Prepared, validation: Validation, run: Run) -> Scores:
    return score_cycle(prep.subs, validation.issues, run.cycle, run.config,
                       on_time_rows=accepted_late(prep.corrections), corrections=prep.corrections)


def rank_stage(scores: Scores, prep: Prepared, run: Run) -> CycleResults:
    results = rank_cycle(scores, prep.subs, run.registry, run.cycle, run.config)
    return attribute(results, prep.versions, run.config.form) if prep.versions else results


@dataclass(frozen=True)
class Replies:
    """The reply window's review queue (`antt.intake.replies`, with the verdict, score and grade accepting each
    reply would give: `if_*`), the schools the accepted replies moved, and the replies source as archived."""

    queue: pd.DataFrame
    changes: pd.DataFrame
    received: Received


def replies_stage(replies_raw: RawTable, received: Received, raw: RawTable, prep: Prepared, res: CycleResults,
                  run: Run) -> Replies:
    """The cycle's replies to their draft scorecards as a review queue. When the analyst has accepted some (copied
    into the corrections), the sheet is scored once more without them: the schools whose status, verdict, score or
    rank differ are what the reply window changed."""
    config, cycle = run.config, run.cycle
    replies = read_replies(replies_raw, config.reply_form, config.form, cycle.timezone)
    first, after = _reply_span(cycle, config)
    at = replies["at"]
    replies = replies[at.isna() | ((at >= first) & (at < after))]
    queue, proposed = review_queue(replies, res.counted, expected_in(run.registry, cycle), config.form,
                                   (cycle.deadline_at, cycle.reply_closes_at),
                                   SentLog(run.out).first_sent(cycle.id, "draft"), prep.corrections)
    queue = queue.join(rescore(proposed, config).add_prefix("if_"))
    accepted = queue[queue["status"] == "accepted"]
    before = _without_replies(accepted, raw, prep, run) if len(accepted) else res
    return Replies(queue=queue, changes=reply_changes(res.ranked, before.ranked), received=received)


def _reply_span(cycle: Cycle, config: Config) -> tuple[datetime, datetime]:
    """From this cycle's opening to the next cycle's: the replies a run of this cycle lists, so that every reply
    belongs to exactly one cycle (one reply sheet serves every cycle, as the report form's does)."""
    kinds = config.cycles.kinds
    later = [resolve_cycle(f"{y}-{k}", config.cycles).opens_at for y in (cycle.year, cycle.year + 1) for k in kinds]
    return cycle.opens_at, min(t for t in later if t > cycle.opens_at)


def _without_replies(accepted: pd.DataFrame, raw: RawTable, prep: Prepared, run: Run) -> CycleResults:
    """The cycle's results as they would be without the corrections that accept `accepted` replies."""
    key = ["school_code", "sheet_row", "question_id", "value"]
    sets = prep.corrections[prep.corrections["action"] == "set"]
    hit = pd.MultiIndex.from_frame(sets[key].astype({"sheet_row": "int64"})).isin(
        pd.MultiIndex.from_frame(accepted[key].astype({"sheet_row": "int64"})))
    lines = set(sets.loc[hit, "line"])
    other = Run(**{name: getattr(run, name) for name in Run.__slots__} |
                {"corrections": run.corrections[~run.corrections["line"].isin(lines)]})
    before = normalize_stage(raw, other)
    return rank_stage(score_stage(before, validate_stage(before, other), other), before, other)


@dataclass(frozen=True)
class Written:
    """The published cycle folder, the run's stage times (those handed to `write_stage`, then its own) and what the
    CLI prints of its results: the cycle, the KPIs and how many issues (rather than reading results.json back)."""

    folder: Path
    timings: dict[str, float]
    summary: dict[str, Any] = field(default_factory=dict)


def write_stage(res: CycleResults, prep: Prepared, validation: Validation, received: Received, run: Run,
                timings: Mapping[str, float] | None = None, replies: Replies | None = None) -> Written:
    """Write every docs/spec.md §7 output into a staging folder and swap it in as `<out>/<cycle>/`, then record the
    cycle in the history database. `timings` (the earlier stages' times) are shown in the report and the manifest;
    with the schools' `replies`, also replies.csv, the queue on data_quality.html and what the window changed.

    Files go straight into the private staging folder; swapping that folder in is the one atomic step.
    """
    config, cycle = run.config, run.cycle
    timings = dict(timings or {})
    final = run.out / cycle.id
    previous_id = previous_cycle_id(cycle, config.cycles)
    engine = history.open_history(run.out)  # ANTT_HISTORY_URL, else <out>/history.sqlite
    # "previous cycle" from the history database, never a draft; an output folder from before the database (the
    # cycle not recorded at all) still counts
    previous = history.previous_summary(engine, cycle.id, previous_id, run.office)
    if previous is None and not history.is_recorded(engine, previous_id, run.office):
        previous = previous_summary(run.out / previous_id / "results.json")
    background: dict[str, float] = {}  # work done by other processes while this one went on: their own times
    processes = _processes(len(res.ranked))
    with staged_folder(final) as staging, frozen_heap(), ExitStack() as side:
        with stage("write_files", timings):
            document = build_document(res, config, received.archived, rows_read=prep.rows_read, previous=previous,
                                      edits=prep.versions.edits if prep.versions else [],
                                      replies=replies_document(replies.queue, replies.changes,
                                                               (cycle.deadline_at, cycle.reply_closes_at))
                                      if replies else None)
            # For a large registry a forked process writes report.docx from here on (its XML tree alone holds
            # 350 MiB at 50,000 schools), then ranking.xlsx, while this one writes the other files, the data quality
            # page, report.html and the unit pages; then a pool of forked processes (one per core) writes the
            # scorecards. For a district each file is written when waited for. The official report reads only the
            # run's start from the footer.
            started = {"started_at": run.started_at.isoformat(timespec="seconds")}

            def report_docx() -> None:  # the official report's content stays in its process
                _write_docx(staging, document, config, started)

            side_done = side.enter_context(forked(
                {"report_docx": report_docx,
                 "write_workbook": lambda: ranking_xlsx(res.ranked, res.criteria, config, staging / "ranking.xlsx")},
                1 if processes > 1 else 0, release=True))
            write_json(document, staging / "results.json")
            checkpoint("staged:results.json")
            if replies:
                (staging / "replies.csv").write_bytes(csv_bytes(replies.queue[REPLY_COLUMNS]))
            (staging / "ranking.csv").write_bytes(csv_bytes(ranking_frame(res)))
            (staging / "issues.csv").write_bytes(csv_bytes(issues_frame(res)))
        footer = started | {"timings": dict(timings)}
        if processes > 1:  # while report.docx takes its peak, this process keeps none of what it freed
            release_memory()
        with stage("render_data_quality", timings):
            contacts = submission_contacts(prep.subs, config.form)  # whom the analyst calls about a row
            (staging / "data_quality.html").write_text(
                render_data_quality(document, config, contacts, data_docs="data_docs/index.html"),
                encoding="utf-8")
            write_data_docs(validation.result, staging / "data_docs")
        if processes > 1:
            release_memory()
        with stage("render_report", timings):  # with a large registry: and the wait for report.docx
            (staging / "report.html").write_text(render_report(document, config, footer), encoding="utf-8")
            # the unit pages (a national registry's 800) while report.docx's process ends, rather than in the pool
            _write_pages(staging / "units", render_units(document, config))
            done = {"report_docx": side_done("report_docx").seconds}
        # that process goes on with ranking.xlsx while the pool below writes the scorecards
        with _scorecards(staging, document, config, _trends(engine, document, run.office), processes) as pages:
            # the history's rows are made while the pool works (not while report.docx holds its peak), and recorded
            # once the folder is published: both are record_history's time
            preparing = time.perf_counter()
            recording = history.prepare_cycle(document, footer, run.office, is_draft(run),
                                              json=_chunks(staging / "results.json"))
            preparing = time.perf_counter() - preparing
            with stage("render_scorecards", timings):  # the pages: with a pool, the wait for them
                scorecards = pages()
            with stage("finish_workbook", timings):  # with a large registry: the wait for it
                done["write_workbook"] = side_done("write_workbook").seconds
            if scorecards.processes > 1:
                background |= {"render_scorecards": scorecards.seconds, **done}
        manifest = _manifest(run, received, staging, timings, replies.received if replies else None, background)
        _write_manifest(staging, manifest)
    try:
        with stage("record_history", timings):  # after the folder is published; one transaction, this cycle only
            history.record_cycle(engine, document, run=footer, office=run.office, draft=is_draft(run),
                                 prepared=recording)
        timings["record_history"] = round(timings["record_history"] + preparing, 3)
    finally:
        engine.dispose()
    # the published manifest gains the history's time (a run stopped before this keeps the manifest without it)
    _write_manifest(final, manifest | {"timings_s": dict(timings)})
    return Written(final, timings, {"cycle": {k: document["cycle"][k] for k in ("id", "label")},
                                    "kpis": document["kpis"], "issues": len(document["issues"])})


def is_draft(run: Run) -> bool:
    """A run that started before the cycle's reply window closed (the deadline-day run, and any run by hand until
    the end of `reply_closes`) is a draft: schools may still reply, so its results are not yet the cycle's."""
    return run.started_at < run.cycle.reply_closes_at


def _write_report(folder: Path, document: dict, config: Config, run: dict, pdf: bool = False) -> None:
    """report.html, the official report.docx (and, asked for, report.pdf) and, for a registry too large to list
    whole, the unit pages."""
    (folder / "report.html").write_text(render_report(document, config, run), encoding="utf-8")
    official = _write_docx(folder, document, config, run)
    if pdf:
        write_report_pdf(official, folder / "report.pdf")
    _write_pages(folder / "units", render_units(document, config))


def _write_docx(folder: Path, document: dict, config: Config, run: dict) -> dict:
    """The official report.docx; returns the official report's content it was rendered from."""
    official = official_report(document, config, run, load_notes(config, document["cycle"]["id"]))
    (folder / "report.docx").write_bytes(render_docx(official, config))
    return official


def _trends(engine, document: dict, office: str) -> dict[str, list[dict]]:
    """Each school's results in the office's recorded cycles before this one, for its scorecard."""
    return history.school_trends(engine, before=document["cycle"]["period_end"], office=office)


def write_scorecards(folder: Path, document: dict, config: Config, trends: dict, processes: int | None = None,
                     chunk: int = SCORECARD_CHUNK) -> None:
    """`<folder>/style.css` and `<folder>/schools/<code>.html` for every school of `document` (see `_scorecards`)."""
    with _scorecards(folder, document, config, trends, processes, chunk) as done:
        done()


def _processes(schools: int) -> int:
    """How many processes write a registry's files: from SCORECARD_POOL_MIN schools one per core for the scorecards
    (and report.docx and ranking.xlsx in one of their own), else this one."""
    return (os.cpu_count() or 1) if schools >= SCORECARD_POOL_MIN else 1


@dataclass(frozen=True)
class Rendered:
    """How the scorecards were written: by how many processes, and the seconds from the first page's start to the
    last page's end (with a pool, time it spent while this process did other work)."""

    processes: int
    seconds: float


@contextmanager
def _scorecards(folder: Path, document: dict, config: Config, trends: dict, processes: int | None = None,
                chunk: int = SCORECARD_CHUNK) -> Iterator[Callable[[], Rendered]]:
    """Write the scorecards and the stylesheet they share; the block gets the function that returns once they are
    all written. For `processes` > 1 (by default: `_processes`) chunks of `chunk` schools go at once to a pool of
    forked processes, which inherit the document (and one `Scorecards` renderer each) rather than receive a copy and
    write their pages themselves while the block goes on; each page depends on its school alone, so the bytes are
    those one process writes. With one process, the pages are written when that function is called."""
    count = len(document["schools"])
    if processes is None:
        processes = _processes(count)
    (folder / STYLESHEET).write_text(stylesheet(), encoding="utf-8")
    pages = folder / "schools"
    pages.mkdir()
    if processes <= 1:
        def inline() -> Rendered:
            start = time.monotonic()
            _write_pages(pages, render_scorecards(document, config, trends))
            return Rendered(1, round(time.monotonic() - start, 3))

        yield inline
        return
    renderer = Scorecards(document, config, trends)  # set up once, inherited by each worker
    parts = {f"scorecards:{start}": functools.partial(_write_part, pages, renderer, slice(start, start + chunk))
             for start in range(0, count, chunk)}
    workers = min(processes, len(parts))
    with forked(parts, workers) as wait:
        yield lambda: Rendered(workers, max(wait(name).seconds for name in parts))


def _write_manifest(folder: Path, manifest: dict) -> None:
    """`<folder>/manifest.json`, written atomically (the published folder's is rewritten with the history's time)."""
    write_atomic(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


def _contents(folder: Path) -> dict:
    """The manifest's account of a cycle folder: sha256 of each file, number of pages in each subfolder."""
    return {"files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"},
            "pages": {d.name: len(list(d.iterdir())) for d in sorted(folder.iterdir()) if d.is_dir()}}


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes a piece at a time (results.json, 100 MB at 50,000 schools, for the history)."""
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


def _write_part(folder: Path, renderer: Scorecards, part: slice) -> None:
    """One chunk of the scorecards, in a forked worker."""
    _write_pages(folder, renderer.pages(part))


def _write_pages(folder: Path, pages: Iterator[tuple[str, str]]) -> None:
    """`<folder>/<name>.html` for each (name, html), as `Path.write_text` writes it (UTF-8, mode 0o666 less the
    umask); the folder only exists if there are pages. Through one handle on the folder: 50,000 pages are 50,000
    file creations, and each path is resolved from the folder rather than from the root."""
    directory = None
    try:
        for name, html in pages:
            if directory is None:
                folder.mkdir(exist_ok=True)
                directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            data = html.encode("utf-8")
            fd = os.open(f"{name}.html", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666, dir_fd=directory)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
    finally:
        if directory is not None:
            os.close(directory)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the garbage collector from re-walking what is alive now (each full collection walks every object, and
    the imports alone are a million) until the block ends: the results and document while tens of thousands of
    pages are rendered, or `antt run`'s modules for its whole flow. Nested, the outermost block thaws them all."""
    frozen = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()


def _manifest(run: Run, received: Received, folder: Path, timings: Mapping[str, float],
              replies: Received | None = None, background: Mapping[str, float] | None = None) -> dict:
    """The manifest. `timings_s`: this process's stages, one after the other (for a large registry `render_report`
    is report.html, the unit pages and the wait for report.docx, `render_scorecards` and `finish_workbook` the wait
    for the pool's scorecards and ranking.xlsx); `background_s`: what forked processes did meanwhile, each from its
    process's or pool's start to its end: `report_docx` overlapped the end of `write_files` (from the document on),
    `render_data_quality` and `render_report`; `write_workbook` and `render_scorecards` (to the last scorecard's
    end) overlapped `render_scorecards` and `finish_workbook`."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "cycle": run.cycle.id,
        "run_started_at": run.started_at.isoformat(timespec="seconds"),
        "inputs": [received.record("responses", run.out), *run.inputs,
                   *([replies.record("replies", run.out)] if replies else [])],
        "config": {"dir": str(run.config.root), "form_version": run.config.form.version,
                   "criteria_set": run.config.criteria.id, "checksum": run.config.checksum},
        "packages": packages,
        "timings_s": dict(timings),
        **({"background_s": dict(background)} if background else {}),
        **_contents(folder),
        **({"source_files": received.files} if received.files else {}),
    }


REPORT_PAGES = ("report.html", "report.docx", "units", "schools", STYLESHEET)


def rerender_cycle(cycle_id: str, config_dir: Path | str | None, out: Path | str, pdf: bool = False,
                   office: str = "") -> Path:
    """Render a recorded cycle's report (report.html, report.docx and, with `pdf`, report.pdf), unit pages and
    scorecards again from the history database, without its source (`antt report`; the caller holds the cycle's
    lock); `office` names a province unit's history. The cycle's other files (results.json, ranking.*,
    data_quality.html…) are kept as they are and the manifest accounts for the new pages; a cycle folder that is
    gone gets results.json back with the pages. Returns the report's path (report.pdf with `pdf`)."""
    config, out = load_config(config_dir), Path(out)
    cycle = resolve_cycle(cycle_id, config.cycles)  # also keeps the id to what can name a folder
    if not history.exists(out):
        raise InputError(_("no history database in {out} (run `antt run --cycle {cycle} …` first)")
                         .format(out=out, cycle=cycle.id))
    engine = history.open_history(out)
    try:
        recorded = history.load_cycle(engine, cycle.id, office)
        if recorded is None:
            raise InputError((_("cycle {cycle} of {office} is not recorded in the history database (run `antt run "
                                "--cycle {cycle} …` first)") if office else
                              _("cycle {cycle} is not recorded in the history database (run `antt run --cycle "
                                "{cycle} …` first)")).format(cycle=cycle.id, office=office))
        document, run = recorded
        final = out / cycle.id
        with staged_folder(final) as staging:
            if final.is_dir():
                for item in final.iterdir():
                    if item.name not in REPORT_PAGES:
                        (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
            else:
                write_json(document, staging / "results.json")
            _write_report(staging, document, config, run, pdf=pdf)
            write_scorecards(staging, document, config, _trends(engine, document, office))
            manifest = staging / "manifest.json"
            if manifest.is_file():
                _write_manifest(staging, json.loads(manifest.read_text(encoding="utf-8")) | _contents(staging))
    finally:
        engine.dispose()
    return final / ("report.pdf" if pdf else "report.html")
