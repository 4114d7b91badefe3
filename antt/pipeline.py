"""The cycle's stages as plain functions: the Prefect flow and the CLI wire them, tests call them directly.

source → raw snapshot → normalised submissions → validation issues → scores and ranks → outputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pandas as pd

from antt.checks.suite import build_suite
from antt.checks.validate import header_issues, issues_from_results, run_suite, sort_issues
from antt.config import Config, load_config
from antt.cycles import Cycle, previous_cycle_id, resolve_cycle
from antt.errors import InputError
from antt.normalize import HeaderMatch, normalize
from antt.outputs.document import build_document, previous_summary, to_json
from antt.outputs.html import render_report, render_scorecards
from antt.outputs.publish import staged_folder, write_atomic
from antt.outputs.tables import csv_bytes, issues_frame, ranking_frame, ranking_xlsx
from antt.registry import load_registry
from antt.results import CycleResults, score_cycle
from antt.sources.archive import ArchivedInput, archive_input
from antt.sources.files import read_export
from antt.sources.raw import RawTable

log = logging.getLogger("antt.pipeline")
PACKAGES = ("antt", "prefect", "great_expectations", "pandas", "numpy", "jinja2", "openpyxl", "babel", "pydantic",
            "gspread")


@dataclass
class RunContext:
    """What every stage of one run needs to know: config, registry, cycle, output folder, and stage timings."""

    config: Config
    registry: pd.DataFrame
    registry_path: Path
    cycle: Cycle
    out: Path
    started_at: datetime
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; its start is logged on `antt.pipeline` so a CLI or the flow log can show progress."""
        log.info("stage %s", name, extra={"stage": name})
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)


def open_run(cycle_id: str, schools: Path | str | None, config_dir: Path | str | None, out: Path | str) -> RunContext:
    """Load config, registry and cycle; any problem is an AnttError with one line."""
    config = load_config(config_dir)
    registry_path = Path(schools) if schools else config.root / "schools.csv"
    registry = load_registry(registry_path, config.form.levels)
    cycle = resolve_cycle(cycle_id, config.cycles)
    return RunContext(config=config, registry=registry, registry_path=registry_path, cycle=cycle, out=Path(out),
                      started_at=datetime.now(ZoneInfo(config.cycles.timezone)))


def read_source(source: str, ctx: RunContext) -> tuple[RawTable, ArchivedInput]:
    """Archive the input byte for byte, then read it. Only files here; other sources come through `fetch`."""
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{source}: file not found" if not path.exists() else f"{source}: not a file")
    archived = archive_input(path, ctx.out)
    return read_export(archived.stored, label=source), archived


def normalize_stage(raw: RawTable, ctx: RunContext) -> tuple[pd.DataFrame, HeaderMatch]:
    return normalize(raw, ctx.config.form, ctx.registry, ctx.cycle)


def validate_stage(subs: pd.DataFrame, header: HeaderMatch, raw: RawTable, ctx: RunContext) -> pd.DataFrame:
    """One expectation-suite validation over the whole frame, plus notes on the sheet's shape."""
    suite = build_suite(ctx.config.form, ctx.registry, ctx.cycle, set(subs.columns))
    cell_issues = issues_from_results(run_suite(subs, suite), subs, ctx.config.form)
    shape = header_issues(header, raw.headers, ctx.config.form, blank_rows=len(raw.cells) - len(subs))
    return sort_issues(pd.concat([shape, cell_issues], ignore_index=True))


def score_stage(subs: pd.DataFrame, issues: pd.DataFrame, ctx: RunContext) -> CycleResults:
    return score_cycle(subs, issues, ctx.registry, ctx.cycle, ctx.config)


def write_stage(res: CycleResults, raw: RawTable, archived: ArchivedInput, ctx: RunContext) -> Path:
    """Write every SPEC §7 output into a staging folder and swap it in as `<out>/<cycle>/`."""
    config, cycle = ctx.config, ctx.cycle
    final = ctx.out / cycle.id
    previous = previous_summary(ctx.out / previous_cycle_id(cycle, config.cycles) / "results.json")
    document = build_document(res, config, archived, rows_read=len(raw.cells), previous=previous)
    with staged_folder(final) as staging:
        with ctx.stage("write_files"):
            write_atomic(staging / "results.json", to_json(document))
            write_atomic(staging / "ranking.csv", csv_bytes(ranking_frame(res)))
            write_atomic(staging / "issues.csv", csv_bytes(issues_frame(res)))
            ranking_xlsx(res, config, staging / "ranking.xlsx")
        with ctx.stage("render_report"):
            run = {"started_at": ctx.started_at.isoformat(timespec="seconds"), "timings": dict(ctx.timings)}
            write_atomic(staging / "report.html", render_report(document, config, run))
        with ctx.stage("render_scorecards"):
            (staging / "schools").mkdir()
            for code, html in render_scorecards(document, config):
                write_atomic(staging / "schools" / f"{code}.html", html)
        write_atomic(staging / "manifest.json", json.dumps(_manifest(ctx, archived, staging), ensure_ascii=False,
                                                               indent=1) + "\n")
    return final


def _manifest(ctx: RunContext, archived: ArchivedInput, folder: Path) -> dict:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    files = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
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
        "files": files,
    }
