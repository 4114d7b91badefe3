"""The cycle's stages as plain functions: the Prefect flow and the CLI wire them, tests call them directly.

source → raw snapshot → normalised submissions → validation issues → scores and ranks → outputs.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import multiprocessing
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from antt import i18n
from antt.checks.data_docs import write_data_docs
from antt.checks.suite import build_suite
from antt.checks.validate import header_issues, issues_from_results, run_suite, sort_issues
from antt.config import Config, load_config
from antt.cycles import Cycle, previous_cycle_id, resolve_cycle
from antt.errors import InputError
from antt.intake.corrections import accepted_late, apply_answers, apply_reviews, check_corrections, load_corrections
from antt.intake.normalize import HeaderMatch, match_headers, normalize
from antt.intake.registry import load_registry
from antt.outputs.document import build_document, previous_summary, to_json
from antt.outputs.html import render_report, render_scorecards, render_units
from antt.outputs.publish import staged_folder
from antt.outputs.quality import render_data_quality, submission_contacts
from antt.outputs.tables import csv_bytes, issues_frame, ranking_frame, ranking_xlsx
from antt.scoring.results import CycleResults, Scores, rank_cycle, score_cycle
from antt.sources.archive import ArchivedInput, archive_bytes, archive_input
from antt.sources.files import read_export
from antt.sources.folder import folder_bytes, read_folder
from antt.sources.raw import RawTable
from antt.store import history
from antt.store.faults import checkpoint

log = logging.getLogger("antt.pipeline")
BACKGROUND_WORKBOOK_MIN = 5000
PACKAGES = ("antt", "prefect", "great_expectations", "pandas", "numpy", "jinja2", "openpyxl", "babel", "pydantic",
            "gspread")


class RunContext:
    """What every stage of one run needs to know: config, registry, cycle, output folder, and stage timings.

    A plain class on purpose: Prefect walks dataclass task arguments field by field, and this one carries
    per-row data (contacts, the validation result) that would cost seconds per task at national scale.
    """

    def __init__(self, config: Config, registry: pd.DataFrame, registry_path: Path, cycle: Cycle,
                 corrections: pd.DataFrame, out: Path, started_at: datetime) -> None:
        self.config, self.registry, self.registry_path, self.cycle = config, registry, registry_path, cycle
        self.corrections, self.out, self.started_at = corrections, out, started_at
        self.timings: dict[str, float] = {}
        self.source_files: dict = {}  # folder sources: sheet row → file, and files skipped
        self.validation = None  # the Great Expectations suite result of this run, for its Data Docs
        self.contacts: dict = {}  # sheet row → who sent it, for the data-quality page

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; its start is logged on `antt.pipeline` so a CLI or the flow log can show progress."""
        log.info("stage %s", name, extra={"stage": name})
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)
        checkpoint(f"after:{name}")


def open_run(cycle_id: str, schools: Path | str | None, config_dir: Path | str | None, out: Path | str) -> RunContext:
    """Load config, registry and cycle; any problem is an AnttError with one line."""
    config = load_config(config_dir)
    i18n.use(i18n.language(config.office.language))
    registry_path = Path(schools) if schools else config.root / "schools.csv"
    registry = load_registry(registry_path, config.form.levels, default_unit=config.office.office_short)
    cycle = resolve_cycle(cycle_id, config.cycles)
    corrections = load_corrections(config.root / "corrections" / f"{cycle.id}.csv")
    return RunContext(config=config, registry=registry, registry_path=registry_path, cycle=cycle,
                      corrections=corrections, out=Path(out),
                      started_at=datetime.now(ZoneInfo(config.cycles.timezone)))


def read_source(source: str, ctx: RunContext) -> tuple[RawTable, ArchivedInput]:
    """Archive the input byte for byte, then read it: an export file, a folder of filled xlsx templates (archived
    as one deterministic zip), or a Google Sheet fetched live (its CSV snapshot is what gets archived)."""
    if source.startswith("gsheet:"):
        from antt.sources.gsheet import fetch_sheet

        raw, archived = fetch_sheet(source, ctx.out)
        checkpoint("archived")
        log.info("read %s as snapshot %s", archived.original, archived.stored.name)
        return raw, archived
    path = Path(source)
    if path.is_dir():
        timezone = ctx.config.cycles.timezone
        data = folder_bytes(path, timezone)
        archived = archive_bytes(data, ".zip", source, ctx.out)
        checkpoint("archived")
        found = read_folder(path, timezone, packed=data)
        for name, reason in found.skipped:
            log.warning("skipped %s: %s", name, reason)
        ctx.source_files = {"rows": {str(i + 2): name for i, name in enumerate(found.files)},
                            "skipped": [{"file": n, "reason": r} for n, r in found.skipped]}
        return found.raw, archived
    if not path.is_file():
        raise InputError(f"{source}: file not found" if not path.exists() else f"{source}: not a file")
    archived = archive_input(path, ctx.out)
    checkpoint("archived")
    return read_export(archived.stored, label=source), archived


@dataclass
class Prepared:
    """Normalised submissions, the header mapping, and the analyst's corrections that apply (and those that don't)."""

    subs: pd.DataFrame
    header: HeaderMatch
    corrections: pd.DataFrame
    correction_issues: pd.DataFrame
    rows_read: int
    headers: list[str]


def normalize_stage(raw: RawTable, ctx: RunContext) -> Prepared:
    """Apply the analyst's `set` corrections to a copy of the raw table, then normalise it."""
    form = ctx.config.form
    header = match_headers(raw.headers, form)
    corrections, correction_issues = check_corrections(ctx.corrections, raw, header, form)
    subs, header = normalize(apply_answers(raw, corrections, header), form, ctx.registry, ctx.cycle, header)
    ctx.contacts = submission_contacts(subs, form)
    return Prepared(subs=subs, header=header, corrections=corrections, correction_issues=correction_issues,
                    rows_read=len(raw.cells), headers=raw.headers)


def validate_stage(prep: Prepared, ctx: RunContext) -> pd.DataFrame:
    """One expectation-suite validation over the whole frame, plus notes on the sheet's shape and the corrections."""
    form = ctx.config.form
    suite = build_suite(form, ctx.cycle, set(prep.subs.columns))
    ctx.validation = run_suite(prep.subs, suite)
    cell_issues = issues_from_results(ctx.validation, prep.subs, form)
    shape = header_issues(prep.header, prep.headers, form, blank_rows=prep.rows_read - len(prep.subs))
    issues = apply_reviews(pd.concat([shape, cell_issues], ignore_index=True), prep.corrections, form)
    return sort_issues(pd.concat([issues, prep.correction_issues], ignore_index=True))


def score_stage(prep: Prepared, issues: pd.DataFrame, ctx: RunContext) -> Scores:
    return score_cycle(prep.subs, issues, ctx.cycle, ctx.config, on_time_rows=accepted_late(prep.corrections),
                       corrections=prep.corrections)


def rank_stage(scores: Scores, prep: Prepared, ctx: RunContext) -> CycleResults:
    return rank_cycle(scores, prep.subs, ctx.registry, ctx.cycle, ctx.config)


def write_stage(res: CycleResults, rows_read: int, archived: ArchivedInput, ctx: RunContext) -> Path:
    """Write every docs/spec.md §7 output into a staging folder and swap it in as `<out>/<cycle>/`.

    Files go straight into the private staging folder; swapping that folder in is the one atomic step.
    """
    config, cycle = ctx.config, ctx.cycle
    final = ctx.out / cycle.id
    previous_id = previous_cycle_id(cycle, config.cycles)
    engine = history.open_history(ctx.out)  # ANTT_HISTORY_URL, else <out>/history.sqlite
    # "previous cycle" from the history database; an output folder from before the database still counts
    previous = history.previous_summary(engine, cycle.id, previous_id) \
        or previous_summary(ctx.out / previous_id / "results.json")
    with staged_folder(final) as staging, _workbook_executor(len(res.ranked)) as background, _frozen_heap():
        with ctx.stage("write_files"):
            workbook = background.submit(ranking_xlsx, res.ranked, res.criteria, config, staging / "ranking.xlsx")
            document = build_document(res, config, archived, rows_read=rows_read, previous=previous)
            (staging / "results.json").write_bytes(to_json(document))
            checkpoint("staged:results.json")
            (staging / "ranking.csv").write_bytes(csv_bytes(ranking_frame(res)))
            (staging / "issues.csv").write_bytes(csv_bytes(issues_frame(res)))
        with ctx.stage("render_report"):
            run = {"started_at": ctx.started_at.isoformat(timespec="seconds"), "timings": dict(ctx.timings)}
            _write_report(staging, document, config, run)
        with ctx.stage("render_scorecards"):
            _write_scorecards(staging, document, config, engine)
        with ctx.stage("render_data_quality"):
            docs = ctx.validation is not None
            (staging / "data_quality.html").write_text(
                render_data_quality(document, config, ctx.contacts, data_docs="data_docs/index.html" if docs else None),
                encoding="utf-8")
            if docs:
                write_data_docs(ctx.validation, staging / "data_docs")
        with ctx.stage("finish_workbook"):
            workbook.result()
        _write_manifest(staging, _manifest(ctx, archived, staging))
    try:
        with ctx.stage("record_history"):  # after the folder is published; one transaction, replaces this cycle only
            history.record_cycle(engine, document, run=run)
    finally:
        engine.dispose()
    return final


def _write_report(folder: Path, document: dict, config: Config, run: dict) -> None:
    """report.html and, for a registry too large to list whole, the unit pages."""
    (folder / "report.html").write_text(render_report(document, config, run), encoding="utf-8")
    _write_pages(folder / "units", render_units(document, config))


def _write_scorecards(folder: Path, document: dict, config: Config, engine) -> None:
    """schools/<code>.html, each with the school's results in the recorded cycles before this one."""
    trends = history.school_trends(engine, before=document["cycle"]["period_end"])
    _write_pages(folder / "schools", render_scorecards(document, config, trends), always=True)


def _write_manifest(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _contents(folder: Path) -> dict:
    """The manifest's account of a cycle folder: sha256 of each file, number of pages in each subfolder."""
    return {"files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"},
            "pages": {d.name: sum(1 for _ in d.iterdir()) for d in sorted(folder.iterdir()) if d.is_dir()}}


def _write_pages(folder: Path, pages: Iterator[tuple[str, str]], always: bool = False) -> None:
    """`<folder>/<name>.html` for each (name, html); the folder only exists if there are pages (or `always`)."""
    if always:
        folder.mkdir()
    for name, html in pages:
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.html").write_text(html, encoding="utf-8")


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The results and document live until the run ends: keep the garbage collector from re-walking them while
    tens of thousands of pages are rendered."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Inline(Executor):
    """Runs a submitted call at once: the small-registry path of `_workbook_executor`."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _workbook_executor(schools: int) -> Executor:
    """ranking.xlsx is the slowest single file to write. For a large registry a second process writes it while this
    one renders the pages (the machine has two cores); for a district it is written inline."""
    if schools < BACKGROUND_WORKBOOK_MIN:
        return _Inline()
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _manifest(ctx: RunContext, archived: ArchivedInput, folder: Path) -> dict:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "cycle": ctx.cycle.id,
        "run_started_at": ctx.started_at.isoformat(timespec="seconds"),
        "inputs": [{"role": "responses", "sha256": archived.sha256, "size": archived.size,
                    "original": archived.original, "archived_as": archived.stored.relative_to(ctx.out).as_posix()},
                   {"role": "registry", "sha256": hashlib.sha256(ctx.registry_path.read_bytes()).hexdigest(),
                    "original": str(ctx.registry_path)}],
        "config": {"dir": str(ctx.config.root), "form_version": ctx.config.form.version,
                   "criteria_set": ctx.config.criteria.id, "checksum": ctx.config.checksum},
        "packages": packages,
        "timings_s": dict(ctx.timings),
        **_contents(folder),
        **({"source_files": ctx.source_files} if ctx.source_files else {}),
    }


REPORT_PAGES = ("report.html", "units", "schools")


def rerender_cycle(cycle_id: str, config_dir: Path | str | None, out: Path | str) -> Path:
    """Render a recorded cycle's report, unit pages and scorecards again from the history database, without its
    source (`antt report`; the caller holds the cycle's lock). The cycle's other files (results.json, ranking.*,
    data_quality.html…) are kept as they are and the manifest accounts for the new pages; a cycle folder that is
    gone gets results.json back with the pages. Returns the report's path."""
    config, out = load_config(config_dir), Path(out)
    cycle = resolve_cycle(cycle_id, config.cycles)  # also keeps the id to what can name a folder
    if not history.exists(out):
        raise InputError(f"no history database in {out} (run `antt run --cycle {cycle.id} …` first)")
    engine = history.open_history(out)
    try:
        recorded = history.load_cycle(engine, cycle.id)
        if recorded is None:
            raise InputError(f"cycle {cycle.id} is not recorded in the history database "
                             f"(run `antt run --cycle {cycle.id} …` first)")
        document, run = recorded
        final = out / cycle.id
        with staged_folder(final) as staging:
            if final.is_dir():
                for item in final.iterdir():
                    if item.name not in REPORT_PAGES:
                        (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
            else:
                (staging / "results.json").write_bytes(to_json(document))
            _write_report(staging, document, config, run)
            _write_scorecards(staging, document, config, engine)
            manifest = staging / "manifest.json"
            if manifest.is_file():
                _write_manifest(staging, json.loads(manifest.read_text(encoding="utf-8")) | _contents(staging))
    finally:
        engine.dispose()
    return final / "report.html"
