"""Command line: `antt run`, `validate`, `demo`, `remind`, `deploy`, `corrections template`, `form export`.

Errors are one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from antt import i18n
from antt.errors import AnttError
from antt.i18n import _
from antt.sources.quota import DEFAULT_SLOTS


def _office_language(argv: list[str]) -> str | None:
    """`language` in the office config the command line names (`--config DIR`), read before the commands are
    defined so that even `--help` speaks it. Any problem is left to the full config load to report."""
    import yaml

    from antt.config import default_config_dir

    folder = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if folder is None and "--config" in argv[:-1]:
        folder = argv[argv.index("--config") + 1]
    try:
        office = yaml.safe_load((Path(folder) if folder else default_config_dir()).joinpath("office.yaml")
                                .read_text(encoding="utf-8"))
        return office.get("language") if isinstance(office, dict) else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


try:
    i18n.use(i18n.language(_office_language(sys.argv[1:])))
except AnttError as exc:  # an unknown ANTT_LANG: say so in the source language, once
    Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    sys.exit(2)
i18n.speak_for_typer()  # Typer's own words (Options, [required]…) too



class _OwnWords:
    """The words Typer hard-codes rather than asking gettext for: the usage line's prefix and --help's help."""

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), _("Usage: "))

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class _Command(_OwnWords, TyperCommand):
    pass


class _Group(_OwnWords, TyperGroup):
    pass


def _typer(help_text: str, **kwargs) -> typer.Typer:
    return typer.Typer(cls=_Group, no_args_is_help=True, options_metavar=_("[OPTIONS]"),
                       subcommand_metavar=_("COMMAND [ARGS]..."), help=help_text, **kwargs)


app = _typer(_("antt: the school safety and security reporting pipeline."), add_completion=False,
             pretty_exceptions_enable=False)
console = Console(stderr=True)
out_console = Console()

CycleOpt = Annotated[str, typer.Option("--cycle", help=_("Cycle id, e.g. 2026-H1 or 2026-Y."))]
SourceOpt = Annotated[str, typer.Option("--source", help=escape(_(
    "Response sheet export (.csv, .txt, .tsv or .xlsx), a folder of filled .xlsx templates, "
    "gsheet:<key or URL>[#worksheet], or gform:<form id or URL> (or a Forms snapshot .json).")))]
SchoolsOpt = Annotated[str | None, typer.Option("--schools", help=escape(_(
    "School registry: a .csv/.txt/.xlsx file or gsheet:<key or URL>[#worksheet] (default: config's).")))]
CorrectionsOpt = Annotated[str | None, typer.Option("--corrections", help=escape(_(
    "The cycle's corrections: a file, gsheet:<key or URL>#<worksheet>, or gsheet:<key or URL> for its worksheet "
    "named after the cycle (default: the office's corrections_sheet, else config/corrections/<cycle>.csv).")))]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help=_("Config folder (default: the packaged one)."))]
OutOpt = Annotated[Path, typer.Option("--out", help=_("Output folder; everything a run keeps lives here."))]


def _prepare_environment(out: Path) -> None:
    """Keep Prefect's state under --out (its new database starts as a copy kept in the user's cache folder:
    `flows/local_server.py`), off the console, and without telemetry. A
    Prefect server the analyst configured (PREFECT_API_URL, in the environment or the active Prefect profile) is
    used as it is: no temporary server, and the runs are in its UI."""
    from antt.flows.local_server import configured_api_url

    if not configured_api_url():
        os.environ.setdefault("PREFECT_HOME", str((out / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's temporary server gets 20 s to start by default: on a busy two-core machine a start that would
    # succeed can take longer, and a failed start loses the whole run.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
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
            self.status.update(f"[bold]{_stage_name(stage)}[/] …")


def _stage_name(stage: str) -> str:
    """A pipeline stage (`antt.pipeline.stage`) as the analyst reads it."""
    return {"read": _("reading the responses"), "normalize": _("normalizing"), "validate": _("validating"),
            "score": _("scoring"), "rank": _("ranking"), "write_files": _("writing the files"),
            "render_report": _("rendering the report"), "render_scorecards": _("rendering the scorecards"),
            "render_data_quality": _("rendering the data quality page"), "finish_workbook": _("finishing ranking.xlsx"),
            "record_history": _("recording the history"), "read_replies": _("reading the replies"),
            "review_replies": _("reviewing the replies"), "plan": _("planning the e-mails"),
            "send": _("sending e-mail"), "send_report": _("sending the report"),
            "send_drafts": _("sending the draft scorecards")}.get(stage, stage)


def _seconds(value: float) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, format="0.00", locale=i18n.active_language())


def _error(message: str) -> None:
    console.print(_("[red]error:[/] {message}").format(message=message), highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    _error(message)
    raise typer.Exit(code)


def _with_progress(cycle: str, run):
    """Call `run()` (a flow) while a Rich status line shows the running stage."""
    stages = logging.getLogger("antt.pipeline")
    with console.status(_("[bold]{cycle}[/]: starting Prefect …").format(cycle=cycle)) as status:
        handler = _StageProgress(status)
        stages.addHandler(handler)
        stages.setLevel(logging.INFO)
        stages.propagate = False
        try:
            return run()
        finally:
            stages.removeHandler(handler)
            stages.propagate = True


def _run_cycle(cycle: str, source: str, schools: str | None, config: Path | None, out: Path,
               corrections: str | None = None, replies: str | None = None) -> dict:
    from antt.flows import local_server

    # The temporary server boots (3 s) while this process imports pandas, checks the input and imports Prefect and
    # Great Expectations; a run whose input is unusable stops it with its error.
    server = local_server.start()
    try:
        from antt import pipeline
        from antt.store import history

        pre = pipeline.preflight(cycle, source, schools, config, out, corrections)  # fails fast, before the engine
        if replies:
            pipeline.preflight_replies(replies, pre.run)
        with history.connected(out):  # a history database that cannot take the results stops the run here
            pass
    except BaseException:
        if server is not None:
            server.abandon()
        raise

    def flow() -> dict:
        from antt.checks.validate import batch_definition
        from antt.flows.cycle import run_cycle  # importing Prefect and GX takes seconds, meanwhile the server boots

        batch_definition()
        # what is imported and loaded by now lives as long as the command: the collector need not walk it again
        with pipeline.frozen_heap(), local_server.connected(server):
            return run_cycle(cycle=cycle, source=source, schools=schools, config=str(config) if config else None,
                             out=str(out), corrections=corrections, **({"replies": replies} if replies else {}))

    with pipeline.handed_over(pre):  # the flow uses what the pre-flight loaded and read
        return _with_progress(cycle, flow)


def _summary(result: dict) -> None:
    folder, doc = Path(result["folder"]), result["summary"]  # not results.json again: 100 MB at 50,000 schools
    k = doc["kpis"]
    table = Table(title=f"{doc['cycle']['label']} {doc['cycle']['id']}", show_header=False)
    for label, value in [(_("Schools expected to report"), k["expected"]), (_("Submitted"), k["submitted"]),
                         (_("On time"), k["on_time"]), (_("Needs correction"), k["needs_correction"]),
                         (_("Not submitted"), k["missing"]), (_("Meeting the standard"), k["dat"]),
                         (_("Data problems"), doc["issues"])]:
        table.add_row(label, str(value))
    timing = ", ".join(_("{stage} {seconds} s").format(stage=_stage_name(name), seconds=_seconds(seconds))
                       for name, seconds in result["timings"].items())
    console.print(table)
    console.print("[dim]" + _("stages: {timings}").format(timings=timing) + "[/]")
    out_console.print(str((folder / "report.html").resolve()), highlight=False, soft_wrap=True)


@app.command(cls=_Command, help=_("Run a whole cycle as a Prefect flow and print the report's path."))
def run(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
        out: OutOpt = Path("out"), corrections: CorrectionsOpt = None,
        replies: Annotated[str | None, typer.Option("--replies", help=escape(_(
            "The schools' replies to their draft scorecards (the reply form's responses: .csv or .xlsx, "
            "gsheet:<key or URL>[#worksheet] or gform:<form id or URL>); writes the review queue replies.csv.")))]
        = None) -> None:
    _prepare_environment(out)
    _summary(_run_cycle(cycle, source, schools, config, out, corrections, replies))


@app.command(cls=_Command, help=_("Validate a response sheet only (no scoring, no Prefect) and list the problems."))
def validate(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
             out: OutOpt = Path("out"), corrections: CorrectionsOpt = None,
             issues_csv: Annotated[Path | None, typer.Option("--issues-csv", help=_("Also write issues here."))]
             = None,
             strict: Annotated[bool, typer.Option(help=_("Exit 1 when any submission has a blocking error."))]
             = False,
             ) -> None:
    from antt import pipeline
    from antt.checks.validate import ISSUE_COLUMNS, severity_names
    from antt.intake.normalize import HeaderMismatch
    from antt.outputs.publish import write_atomic
    from antt.outputs.tables import csv_bytes

    out.mkdir(parents=True, exist_ok=True)
    run = pipeline.open_run(cycle, schools, config, out, corrections=corrections)
    raw, _received = pipeline.read_source(source, run)
    try:
        prepared = pipeline.normalize_stage(raw, run)
    except HeaderMismatch as exc:
        out_console.print(_header_details(exc.details))
        raise
    issues = pipeline.validate_stage(prepared, run).issues
    counts = issues["severity"].value_counts()
    table = Table(title=_("{cycle}: {rows} rows, {issues} issues ({errors} errors, {warnings} warnings, {notes} notes)")
                  .format(cycle=cycle, rows=len(prepared.subs), issues=len(issues), errors=counts.get("error", 0),
                          warnings=counts.get("warning", 0), notes=counts.get("info", 0)))
    for col in (_("School"), _("Sheet row"), _("Question"), _("Severity"), _("Problem")):
        table.add_column(col, overflow="fold")
    severity = severity_names()
    for rec in issues.head(200).itertuples(index=False):
        table.add_row(rec.school_code, str(rec.sheet_row), rec.question_id, severity.get(rec.severity, rec.severity),
                      rec.message)
    out_console.print(table)
    if issues_csv:
        write_atomic(issues_csv, csv_bytes(issues[ISSUE_COLUMNS]))
    if strict and counts.get("error", 0):
        raise typer.Exit(1)


def _header_details(details: list[dict[str, str]]) -> Table:
    """The required columns of the form against the file's header row: found where, or the nearest there is."""
    table = Table(title=_("Required columns of the form"))
    for title in (_("required column"), _("found in the file"), _("nearest header")):
        table.add_column(title, overflow="fold")
    for row in details:
        table.add_row(row["column"], row["found"] or "—", row["nearest"])
    return table


@app.command(cls=_Command, help=_("E-mail each school that is missing or needs correction (a reminder before the "
                                  "deadline, an overdue notice from it) and the analyst a summary. SMTP from the "
                                  "ANTT_SMTP_* variables; at most one message per school a day. Exit 1 when a "
                                  "message or a recipient was refused."))
def remind(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
           out: OutOpt = Path("out"), corrections: CorrectionsOpt = None,
           dry_run: Annotated[Path | None, typer.Option("--dry-run", help=_("Write the messages as .eml files in "
                                                                              "this folder; send nothing."))] = None,
           today: Annotated[str | None, typer.Option("--today", help=_("Plan as on this day, YYYY-MM-DD (default: "
                                                                        "today, office time zone)."))] = None,
           analyst: Annotated[str | None, typer.Option("--analyst", help=_("Where the summary goes (default: the "
                                                                             "office's contact_email)."))] = None,
           ) -> None:
    from antt import pipeline
    from antt.mail.reminders import check_round
    from antt.text import is_address

    day = _day(today)
    if analyst is not None and not is_address(analyst):
        _fail(_("--analyst {address!r} is not an e-mail address").format(address=analyst))
    _prepare_environment(out)
    pre = pipeline.preflight(cycle, source, schools, config, out, corrections)  # fails fast, before the engine
    check_round(pre.run.cycle, pre.run.config, out, day, dry_run)
    from antt.flows import local_server

    server = local_server.start()
    from antt.flows.remind import remind as remind_flow

    def flow() -> dict:
        with local_server.connected(server):
            return remind_flow(cycle=cycle, source=source, schools=schools, config=str(config) if config else None,
                               out=str(out), dry_run=str(dry_run) if dry_run else None, today=day, analyst=analyst,
                               corrections=corrections)

    with pipeline.handed_over(pre):  # the flow uses what the pre-flight loaded
        result = _with_progress(cycle, flow)
    console.print(_deliveries(f"{cycle} {result['day']}: {_kind_name(result['kind'])}", result["deliveries"]))
    console.print(_counts(result), highlight=False)
    target = dry_run if dry_run else out / "mail" / "sent.jsonl"
    out_console.print(str(target.resolve()), highlight=False, soft_wrap=True)
    if result["failed"] or result["refused"]:
        raise typer.Exit(1)


def _day(today: str | None):
    """--today as a date, or None for today."""
    from datetime import date

    try:
        return date.fromisoformat(today) if today else None
    except ValueError:
        _fail(_("--today {day!r} is not a date YYYY-MM-DD").format(day=today))


def _kind_name(kind: str) -> str:
    """A kind of message (or of reminder round) as the analyst reads it."""
    return {"reminder": _("reminder"), "overdue": _("overdue notice"), "summary": _("summary"),
            "report": _("report"), "scorecard": _("scorecard"), "draft": _("draft scorecard"),
            "failure": _("failure notice")}.get(kind, kind)


def _status_name(status: str) -> str:
    return {"sent": _("sent"), "skipped": _("already sent today"), "failed": _("failed"),
            "written": _("written")}.get(status, status)


def _counts(counts: dict, unreachable: int | None = None) -> str:
    """The one-line tally of a round of e-mail."""
    line = _("sent {sent}, already sent today {skipped}, failed {failed}, refused recipients {refused}, written "
             "{written}").format(sent=counts["sent"], skipped=counts["skipped"], failed=counts["failed"],
                                 refused=counts["refused"], written=counts["written"])
    if unreachable is None:
        return line
    return line + ", " + _("no valid address {n}").format(n=unreachable)


def _deliveries(title: str, deliveries: list[dict], extra_rows: list[tuple[str, ...]] = ()) -> Table:
    """A table of deliveries (`antt.mail.outbox.tally`'s dicts), one row each, then `extra_rows`."""
    from antt.mail.outbox import Delivery

    table = Table(title=title)
    for col in (_("School"), _("Kind"), _("Status"), _("Recipients"), _("Detail")):
        table.add_column(col, overflow="fold")
    for d in deliveries:
        table.add_row(d["school_code"] or (_("(leadership)") if d["kind"] == "report" else _("(analyst)")),
                      _kind_name(d["kind"]), _status_name(d["status"]), ", ".join(d["recipients"]),
                      Delivery(**d).detail)
    for row in extra_rows:
        table.add_row(*row)
    return table


corrections_app = _typer(_("The analyst's corrections file."))
app.add_typer(corrections_app, name="corrections")


@corrections_app.command("template", cls=_Command, help=_("Write a corrections file pre-filled with a suggested "
                                                          "action for every blocking problem."))
def corrections_template(cycle: CycleOpt, source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None,
                         out: OutOpt = Path("out"), corrections: CorrectionsOpt = None,
                         dest: Annotated[Path | None, typer.Option(help=_("Where to write it."))] = None) -> None:
    from antt import pipeline
    from antt.intake.corrections import template
    from antt.outputs.publish import write_atomic
    from antt.outputs.tables import csv_bytes

    out.mkdir(parents=True, exist_ok=True)
    run = pipeline.open_run(cycle, schools, config, out, corrections=corrections)
    raw, _received = pipeline.read_source(source, run)
    rows = template(pipeline.validate_stage(pipeline.normalize_stage(raw, run), run).issues)
    target = dest or out / f"corrections-template-{cycle}.csv"
    write_atomic(target, csv_bytes(rows))
    console.print(_("{n} suggested corrections. Review them, fill value/by/at, and copy the lines you approve into "
                    "{path}").format(n=len(rows), path=run.config.root / "corrections" / (cycle + ".csv")))
    out_console.print(str(target.resolve()), highlight=False, soft_wrap=True)


@app.command(cls=_Command, help=_("Render a cycle's report (report.html, report.docx), unit pages and scorecards again "
                                  "from the history database (no source is read) and print the report's path; with "
                                  "--pdf also print the official report to `<out>/<cycle>/report.pdf`. --send, "
                                  "--send-scorecards and --send-drafts e-mail it over the ANTT_SMTP_* settings, each "
                                  "message at most once a day; exit 1 when one was refused."))
def report(cycle: CycleOpt, out: OutOpt = Path("out"), config: ConfigOpt = None,
           pdf: Annotated[bool, typer.Option("--pdf", help=_("Also write report.pdf, the official report (Decree "
                                                             "30/2020/ND-CP layout), next to report.html."))] = False,
           send: Annotated[bool, typer.Option("--send", help=_("E-mail the report (report.pdf, report.docx, "
                                                               "ranking.xlsx and a summary) to office.yaml's "
                                                               "leadership_emails."))] = False,
           send_scorecards: Annotated[bool, typer.Option("--send-scorecards", help=_("E-mail each school its "
                                                         "scorecard at its registered addresses."))] = False,
           send_drafts: Annotated[bool, typer.Option("--send-drafts", help=_(
               "E-mail each school its scorecard as a draft at its registered addresses, with the reply "
               "form's link (office.yaml's reply_form_url) and the last day to reply (cycles.yaml's "
               "reply_closes)."))] = False,
           schools: SchoolsOpt = None,
           dry_run: Annotated[Path | None, typer.Option("--dry-run", help=_("With --send/--send-scorecards/"
                                                         "--send-drafts: write the messages as .eml files here; send "
                                                         "nothing."))] = None,
           today: Annotated[str | None, typer.Option("--today", help=_("Send as on this day, YYYY-MM-DD (default: "
                                                                        "today, office time zone)."))] = None,
           office: Annotated[str, typer.Option("--office", help=_("A province unit's name (units file): render "
                                                                  "its cycle from the shared history database."))]
           = "",
           ) -> None:
    from antt.config import load_config
    from antt.cycles import resolve_cycle
    from antt.pipeline import rerender_cycle
    from antt.store.locks import cycle_lock

    if dry_run and not (send or send_scorecards or send_drafts):
        _fail(_("--dry-run goes with --send, --send-scorecards or --send-drafts"))
    if send_scorecards and send_drafts:
        _fail(_("--send-scorecards and --send-drafts: a school gets its draft or its final scorecard, choose one"))
    day = _day(today)
    cfg = load_config(config)
    cycle_id = resolve_cycle(cycle, cfg.cycles).id  # a configured cycle before it names a lock file
    mail = _report_mail(cfg, cycle_id, out, schools, dry_run, send, send_scorecards, send_drafts, day)  # fails first
    with cycle_lock(out, cycle_id, job="report"):  # a run would swap the folder; two sends would both mail
        html = rerender_cycle(cycle_id, config, out, pdf=pdf, office=office)
        sent = mail.send(html.parent, report=send, scorecards=send_scorecards, drafts=send_drafts) if mail else None
    if sent is not None:
        _report_mail_summary(html.parent.name, sent, "draft" if send_drafts else "scorecard")
    out_console.print(str(html.resolve()), highlight=False, soft_wrap=True)
    if sent is not None and sent.problems():
        raise typer.Exit(1)


def _report_mail(cfg, cycle_id: str, out: Path, schools: str | None, dry_run: Path | None, send: bool,
                 send_scorecards: bool, send_drafts: bool, day):
    """The cycle's `ReportMail` for --send / --send-scorecards / --send-drafts (its checks pass), or None."""
    if not (send or send_scorecards or send_drafts):
        return None
    from antt.mail.report import ReportMail

    registry = _registry(schools, cfg, out) if send_scorecards or send_drafts else None
    return ReportMail.open(cfg, out, cycle_id, report=send, registry=registry, dry_run=dry_run, drafts=send_drafts,
                           today=day)


def _registry(schools: str | None, cfg, out: Path | None):
    """The registry `--schools` names (a file, or a Google Sheet whose snapshot is archived under `out`, or only
    for this command when there is no output folder), or the config's."""
    import tempfile

    from antt.intake.registry import load_registry

    if schools and schools.startswith("gsheet:"):
        from antt.pipeline import receive

        with tempfile.TemporaryDirectory(prefix="antt-registry-") as scratch:
            received = receive(schools, out or Path(scratch), _("school registry"), "--schools")
            return load_registry(received.archived.stored, cfg.form.levels, default_unit=cfg.office.office_short,
                                 label=schools)
    return load_registry(schools or cfg.root / "schools.csv", cfg.form.levels, default_unit=cfg.office.office_short)


def _report_mail_summary(cycle_id: str, sent, kind: str) -> None:
    """The report's delivery, whatever did not go and the schools without an address; then a one-line summary."""
    from antt.mail.outbox import tally

    counts = tally(sent.deliveries)
    table = _deliveries(
        _("{cycle}: e-mail").format(cycle=cycle_id),
        [d for d in counts["deliveries"] if d["kind"] == "report" or d["status"] == "failed" or d["refused"]],
        [(u.school_code, _kind_name(kind), _("no address"), "",
          f"{u.school_name}: " + (_("unusable {addresses}").format(addresses="; ".join(u.unusable)) if u.unusable
                                  else _("none registered")))
         for u in sent.unreachable])
    if table.row_count:
        console.print(table)
    console.print(_counts(counts, len(sent.unreachable)), highlight=False, soft_wrap=True)


@app.command(cls=_Command, help=_("Write realistic demo responses (2026-H1 and 2026-Y in one sheet), run both cycles "
                                  "offline, print the report."))
def demo(out: OutOpt = Path("out"),
         seed: Annotated[int, typer.Option(help=_("Seed of the demo responses."))] = 2026) -> None:
    from antt.config import load_config
    from antt.demo.build import write_demo_sheet
    from antt.intake.registry import load_registry

    _prepare_environment(out)
    config = load_config(None)
    registry = load_registry(config.root / "schools.csv", config.form.levels)
    sheet = write_demo_sheet(out / "demo" / "phan-hoi-bieu-mau.csv", config, registry, ["2026-H1", "2026-Y"],
                             seed=seed)
    console.print("[dim]" + _("demo responses: {path}").format(path=sheet) + "[/]")
    _run_cycle("2026-H1", str(sheet), None, None, out)
    _summary(_run_cycle("2026-Y", str(sheet), None, None, out))


@app.command(cls=_Command, help=_("Create or update the deployments (cron schedules in the office's time zone) on "
                                  "the Prefect server named by PREFECT_API_URL. Paths are stored absolute; "
                                  "credentials stay in the worker's environment."))
def deploy(source: SourceOpt, schools: SchoolsOpt = None, config: ConfigOpt = None, out: OutOpt = Path("out"),
           corrections: CorrectionsOpt = None,
           pool: Annotated[str, typer.Option(help=_("Prefect work pool (process type); created if missing."))]
           = "antt",
           analyst: Annotated[str | None, typer.Option(help=_("Analyst address for the reminder summary."))] = None,
           units: Annotated[Path | None, typer.Option(help=_("Units file (see config/units.example.yaml): also "
                                                                "deploy the province roll-up."))] = None,
           google_api_slots: Annotated[int, typer.Option(
               "--google-api-slots", min=1, help=_("Requests to Google APIs in flight at once, all runs together "
                                                   "(the google-api concurrency limit)."))] = DEFAULT_SLOTS,
           lost_after: Annotated[int | None, typer.Option(
               "--lost-after", min=60, help=_("Seconds without a heartbeat after which a run's worker counts as lost "
                                              "and the run as Crashed (default 300); keep it well above the "
                                              "workers' PREFECT_FLOWS_HEARTBEAT_FREQUENCY."))] = None,
           replies: Annotated[str | None, typer.Option("--replies", help=escape(_(
               "The reply form's responses (gsheet:…, gform:… or a file every worker can read): every cycle run "
               "also reviews the schools' replies to their draft.")))] = None,
           ) -> None:
    from antt.flows.deployments import deploy as apply_deployments

    table = Table(title=_("Deployments on work pool {pool!r}").format(pool=pool))
    table.add_column(_("Deployment"))
    table.add_column(_("Schedules"))
    for row in apply_deployments(source, schools, config, out, pool=pool, analyst=analyst, units=units,
                                 google_api_slots=google_api_slots, corrections=corrections, replies=replies,
                                 **({"lost_after_s": lost_after} if lost_after else {})):
        table.add_row(row["name"], "\n".join(row["schedules"]) or _("by hand"))
    out_console.print(table)
    console.print(_("Start a worker with `prefect worker start --pool {pool}`; run one now with `prefect deployment "
                    "run 'run-cycle/manual' --param cycle=2026-H1`.").format(pool=pool), highlight=False)


form_app = _typer(_("The forms schools fill, generated from config/form.yaml and config/reply_form.yaml."))
app.add_typer(form_app, name="form")


@form_app.command("export", cls=_Command, help=_("Write a form from config/ and the school registry, and print the "
                                                 "steps to use it."))
def form_export(
        fmt: Annotated[str, typer.Option("--format", help=_("apps-script, xlsform or xlsx-template."))],
        which: Annotated[str, typer.Option("--form", help=_("report (config/form.yaml, the default) or reply "
                                                            "(config/reply_form.yaml: a school's reply to its draft "
                                                            "scorecard)."))] = "report",
        out: Annotated[Path | None, typer.Option("--out", help=_("File or folder to write (default: a standard "
                                                                    "name in the current folder)."))] = None,
        schools: SchoolsOpt = None, config: ConfigOpt = None) -> None:
    from antt.config import load_config
    from antt.forms import DEFAULT_NAMES, FORMATS, FORMS, export_form, export_steps

    if fmt not in FORMATS:
        _fail(_("unknown --format {format!r}; expected one of {formats}").format(format=fmt,
                                                                                 formats=", ".join(FORMATS)))
    if which not in FORMS:
        _fail(_("unknown --form {form!r}; expected one of {forms}").format(form=which, forms=", ".join(FORMS)))
    cfg = load_config(config)
    registry = _registry(schools, cfg, None)
    path = export_form(cfg, registry, fmt, out or Path(DEFAULT_NAMES[which][fmt]), which).resolve()
    for number, step in enumerate(export_steps(fmt, path, which), start=1):
        console.print(f"{number}. {step}", highlight=False, soft_wrap=True)
    out_console.print(str(path), highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: AnttError → one line, exit 2; anything unexpected → one line, exit 1 (ANTT_DEBUG=1 for more)."""
    try:
        app()
    except AnttError as exc:
        _error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        console.print(_("[red]interrupted[/]"))
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 (the contract is one line, never a traceback)
        if os.environ.get("ANTT_DEBUG"):
            raise
        console.print(_("[red]internal error:[/] {error}: {message} (set ANTT_DEBUG=1 for details)")
                      .format(error=type(exc).__name__, message=exc), highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
