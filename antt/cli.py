"""Command line: `antt run`, `antt validate`, `antt demo`. Errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from antt.errors import AnttError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="antt: the 'An toàn về ANTT' school reporting pipeline.")
console = Console(stderr=True)
out_console = Console()

CycleOpt = Annotated[str, typer.Option("--cycle", help="Cycle id, e.g. 2026-H1 or 2026-Y.")]
SourceOpt = Annotated[str, typer.Option("--source", help="Response sheet export (.csv or .xlsx).")]
SchoolsOpt = Annotated[Optional[Path], typer.Option("--schools", help="School registry CSV (default: config's).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Config folder (default: the packaged one).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder; everything a run keeps lives here.")]


def _prepare_environment(out: Path) -> None:
    """Keep Prefect's state under --out (nothing written elsewhere), off the console, and without telemetry."""
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str((out / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The CLI owns the console: Prefect's own log lines (and task tracebacks) stay in its database and UI.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    out.mkdir(parents=True, exist_ok=True)


class _StageProgress(logging.Handler):
    """Shows the running stage of antt.pipeline in a Rich status line."""

    def __init__(self, status) -> None:
        super().__init__(logging.INFO)
        self.status = status

    def emit(self, record: logging.LogRecord) -> None:
        stage = getattr(record, "stage", None)
        if stage:
            self.status.update(f"[bold]{stage}[/] …")


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run_cycle(cycle: str, source: str, schools: Path | None, config: Path | None, out: Path) -> dict:
    from antt import pipeline
    from antt.normalize import match_headers
    from antt.sources.files import sniff_headers

    if source.startswith("gsheet:"):
        _fail("gsheet: sources are not available in this version; export the sheet as .csv or .xlsx")
    # Fail fast, before the engine starts: config, registry, cycle, and an input whose header row is usable.
    ctx = pipeline.open_run(cycle, schools, config, out)
    match_headers(sniff_headers(source), ctx.config.form)
    from antt.flows.cycle import run_cycle

    stages = logging.getLogger("antt.pipeline")
    with console.status(f"[bold]{cycle}[/]: starting Prefect …") as status:
        handler = _StageProgress(status)
        stages.addHandler(handler)
        stages.setLevel(logging.INFO)
        stages.propagate = False
        try:
            return run_cycle(cycle=cycle, source=source, schools=str(schools) if schools else None,
                             config=str(config) if config else None, out=str(out))
        finally:
            stages.removeHandler(handler)
            stages.propagate = True


def _summary(result: dict) -> None:
    import json

    folder = Path(result["folder"])
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    k = doc["kpis"]
    table = Table(title=f"{doc['cycle']['label']} {doc['cycle']['id']}", show_header=False)
    for label, value in [("Schools expected", k["expected"]), ("Submitted", k["submitted"]),
                         ("On time", k["on_time"]), ("Needs correction", k["needs_correction"]),
                         ("Missing", k["missing"]), ("Meeting the standard (Đạt)", k["dat"]),
                         ("Issues", len(doc["issues"]))]:
        table.add_row(label, str(value))
    timing = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in result["timings"].items())
    console.print(table)
    console.print(f"[dim]stages: {timing}[/]")
    out_console.print(str((folder / "report.html").resolve()), highlight=False, soft_wrap=True)


@app.command()
def run(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
        out: OutOpt = Path("out")) -> None:
    """Run a whole cycle as a Prefect flow and print the report's path."""
    _prepare_environment(out)
    _summary(_run_cycle(cycle, source, schools, config, out))


@app.command()
def validate(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
             out: OutOpt = Path("out"),
             issues_csv: Annotated[Optional[Path], typer.Option("--issues-csv", help="Also write issues here.")] = None,
             strict: Annotated[bool, typer.Option(help="Exit 1 when any submission has a blocking error.")] = False,
             ) -> None:
    """Validate a response sheet only (no scoring, no Prefect) and list the problems."""
    from antt import pipeline
    from antt.outputs.publish import write_atomic
    from antt.outputs.tables import csv_bytes

    out.mkdir(parents=True, exist_ok=True)
    ctx = pipeline.open_run(cycle, schools, config, out)
    raw, _ = pipeline.read_source(source, ctx)
    subs, header = pipeline.normalize_stage(raw, ctx)
    issues = pipeline.validate_stage(subs, header, raw, ctx)
    counts = issues["severity"].value_counts()
    table = Table(title=f"{cycle}: {len(subs)} rows, {len(issues)} issues "
                        f"({counts.get('error', 0)} errors, {counts.get('warning', 0)} warnings, "
                        f"{counts.get('info', 0)} notes)")
    for col in ("school_code", "sheet_row", "question_id", "severity", "message"):
        table.add_column(col, overflow="fold")
    for rec in issues.head(200).itertuples(index=False):
        table.add_row(rec.school_code, str(rec.sheet_row), rec.question_id, rec.severity, rec.message)
    out_console.print(table)
    if issues_csv:
        write_atomic(issues_csv, csv_bytes(issues.drop(columns="rule")))
    if strict and counts.get("error", 0):
        raise typer.Exit(1)


@app.command()
def demo(out: OutOpt = Path("out"),
         seed: Annotated[int, typer.Option(help="Seed of the demo responses.")] = 2026) -> None:
    """Write realistic demo responses (2026-H1 and 2026-Y in one sheet), run both cycles offline, print the report."""
    from antt.config import load_config
    from antt.demo import write_demo_sheet
    from antt.registry import load_registry

    _prepare_environment(out)
    config = load_config(None)
    registry = load_registry(config.root / "schools.csv", config.form.levels)
    sheet = write_demo_sheet(out / "demo" / "phan-hoi-bieu-mau.csv", config, registry, ["2026-H1", "2026-Y"],
                             seed=seed)
    console.print(f"[dim]demo responses: {sheet}[/]")
    _run_cycle("2026-H1", str(sheet), None, None, out)
    _summary(_run_cycle("2026-Y", str(sheet), None, None, out))


def main() -> None:
    """Entry point: AnttError → one line, exit 2; anything unexpected → one line, exit 1 (ANTT_DEBUG=1 for more)."""
    try:
        app()
    except AnttError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 (the contract is one line, never a traceback)
        if os.environ.get("ANTT_DEBUG"):
            raise
        console.print(f"[red]internal error:[/] {type(exc).__name__}: {exc} (set ANTT_DEBUG=1 for details)",
                      highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
