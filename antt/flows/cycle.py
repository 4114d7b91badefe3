"""`run_cycle`: one reporting cycle as a Prefect flow, one task per stage; with `send_report` it also e-mails the
leadership report (as the final scheduled run before the office's deadline does)."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from antt import pipeline
from antt.mail.failure import notify_analyst
from antt.mail.outbox import MailError
from antt.mail.report import ReportMail
from antt.outputs.artifacts import issues_table, summary_markdown
from antt.pipeline import RunContext
from antt.store.locks import cycle_lock


@task(name="read", cache_policy=NO_CACHE)
def read(source: str, ctx: RunContext):
    with ctx.stage("read"):
        return pipeline.read_source(source, ctx)


@task(name="normalize", cache_policy=NO_CACHE)
def normalize(raw, ctx: RunContext):
    with ctx.stage("normalize"):
        return pipeline.normalize_stage(raw, ctx)


@task(name="validate", cache_policy=NO_CACHE)
def validate(prepared, ctx: RunContext):
    with ctx.stage("validate"):
        return pipeline.validate_stage(prepared, ctx)


@task(name="score", cache_policy=NO_CACHE)
def score(prepared, issues, ctx: RunContext):
    with ctx.stage("score"):
        return pipeline.score_stage(prepared, issues, ctx)


@task(name="rank", cache_policy=NO_CACHE)
def rank(scores, prepared, ctx: RunContext):
    with ctx.stage("rank"):
        return pipeline.rank_stage(scores, prepared, ctx)


@task(name="write-outputs", cache_policy=NO_CACHE)
def write(results, rows_read: int, archived, ctx: RunContext):
    return pipeline.write_stage(results, rows_read, archived, ctx)


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish(results, folder) -> None:
    key = f"antt-{results.cycle.id.lower()}"
    create_markdown_artifact(summary_markdown(results, str(folder)), key=f"{key}-summary",
                             description="Tóm tắt kết quả chu kỳ")
    create_table_artifact(issues_table(results), key=f"{key}-issues", description="Vấn đề dữ liệu")


@task(name="send-report", cache_policy=NO_CACHE)
def deliver_report(folder, ctx: RunContext) -> dict:
    """E-mail the leadership report (at most once a day); a failed or refused delivery fails the run, loudly."""
    with ctx.stage("send_report"):
        sent = ReportMail.open(ctx.config, ctx.out, ctx.cycle.id).send(folder)
    if sent.problems():
        raise MailError("; ".join(sent.problems()))
    return asdict(sent.deliveries[0])


@flow(name="run-cycle", flow_run_name="{cycle}", validate_parameters=True,
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def run_cycle(cycle: str, source: str, schools: str | None = None, config: str | None = None,
              out: str = "out", send_report: bool = False) -> dict:
    """Read the responses, validate, score, rank and write `<out>/<cycle>/`; with `send_report`, e-mail the
    leadership report. Returns the folder, stage timings and, when sent, the report's delivery."""
    ctx = pipeline.open_run(cycle, schools, config, out)
    with cycle_lock(ctx.out, ctx.cycle.id):  # one run of a cycle at a time, from raw archive to history
        raw, archived = read(source, ctx)
        prepared = normalize(raw, ctx)
        del raw  # the normalised frame is all later stages need; the raw table can go
        issues = validate(prepared, ctx)
        results = rank(score(prepared, issues, ctx), prepared, ctx)
        folder = write(results, prepared.rows_read, archived, ctx)
        publish(results, folder)
        sent = deliver_report(folder, ctx) if send_report else None
    return {"folder": str(folder), "timings": ctx.timings, "input_sha256": archived.sha256,
            **({"report_mail": sent} if sent else {})}
