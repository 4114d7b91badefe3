"""`run_cycle`: one reporting cycle as a Prefect flow, one task per stage; with `send_drafts` it also e-mails every
school its draft scorecard (as the deadline-day scheduled run does), with `send_report` the leadership report (as the
final scheduled run, after the reply window, does).

Each task returns what its stage makes and its time, and gets what it uses as arguments: the task graph is the
data flow. The stages are `antt.pipeline`'s."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from antt import pipeline
from antt.i18n import _
from antt.mail.failure import notify_analyst
from antt.mail.outbox import MailError
from antt.mail.report import ReportMail
from antt.outputs.artifacts import issues_table, summary_markdown
from antt.pipeline import Run
from antt.store.locks import cycle_lock


@task(name="read", cache_policy=NO_CACHE)
def read(source: str, run: Run):
    with pipeline.stage("read") as timing:
        raw, received = pipeline.read_source(source, run)
    return raw, received, timing


@task(name="normalize", cache_policy=NO_CACHE)
def normalize(raw, run: Run):
    with pipeline.stage("normalize") as timing:
        prepared = pipeline.normalize_stage(raw, run)
    return prepared, timing


@task(name="validate", cache_policy=NO_CACHE)
def validate(prepared, run: Run):
    with pipeline.stage("validate") as timing:
        validation = pipeline.validate_stage(prepared, run)
    return validation, timing


@task(name="score", cache_policy=NO_CACHE)
def score(prepared, validation, run: Run):
    with pipeline.stage("score") as timing:
        scores = pipeline.score_stage(prepared, validation, run)
    return scores, timing


@task(name="rank", cache_policy=NO_CACHE)
def rank(scores, prepared, run: Run):
    with pipeline.stage("rank") as timing:
        results = pipeline.rank_stage(scores, prepared, run)
    return results, timing


@task(name="read-replies", cache_policy=NO_CACHE)
def read_replies(source: str, run: Run):
    with pipeline.stage("read_replies") as timing:
        raw, received = pipeline.read_source(source, run)
    return raw, received, timing


@task(name="review-replies", cache_policy=NO_CACHE)
def review_replies(replies_raw, replies_received, raw, prepared, results, run: Run):
    with pipeline.stage("review_replies") as timing:
        replies = pipeline.replies_stage(replies_raw, replies_received, raw, prepared, results, run)
    return replies, timing


@task(name="write-outputs", cache_policy=NO_CACHE)
def write(results, prepared, validation, received, run: Run, timings: dict, replies=None):
    return pipeline.write_stage(results, prepared, validation, received, run, timings, replies)


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish(results, folder) -> None:
    key = f"antt-{results.cycle.id.lower()}"
    create_markdown_artifact(summary_markdown(results, str(folder)), key=f"{key}-summary",
                             description=_("Summary of the cycle's results"))
    create_table_artifact(issues_table(results), key=f"{key}-issues", description=_("Data problems"))


@task(name="send-report", cache_policy=NO_CACHE)
def deliver_report(folder, run: Run):
    """E-mail the leadership report (at most once a day); a failed or refused delivery fails the run, loudly."""
    with pipeline.stage("send_report") as timing:
        sent = ReportMail.open(run.config, run.out, run.cycle.id).send(folder)
    if sent.problems():
        raise MailError("; ".join(sent.problems()))
    return asdict(sent.deliveries[0]), timing


@task(name="send-drafts", cache_policy=NO_CACHE)
def deliver_drafts(folder, run: Run):
    """E-mail every school its draft scorecard (each at most once a day); a failed or refused delivery fails the
    run, loudly, after every school's draft was tried."""
    with pipeline.stage("send_drafts") as timing:
        sent = _drafts_mail(run).send(folder, report=False, drafts=True)
    if sent.problems():
        raise MailError("; ".join(sent.problems()))
    return [asdict(d) for d in sent.deliveries], timing


def _drafts_mail(run: Run) -> ReportMail:
    """The ReportMail drafts go through: its checks (reply form link, reply window, mail settings) fail a run
    before it reads anything."""
    return ReportMail.open(run.config, run.out, run.cycle.id, report=False, registry=run.registry, drafts=True)


def _run_name() -> str:
    """A run's name: its cycle, and for a province unit the unit's name (e.g. `2026-H1 <unit name>`)."""
    from prefect.runtime import flow_run

    return " ".join(filter(None, [flow_run.parameters["cycle"], flow_run.parameters.get("office")]))


@flow(name="run-cycle", flow_run_name=_run_name, validate_parameters=True,
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def run_cycle(cycle: str, source: str, schools: str | None = None, config: str | None = None,
              out: str = "out", send_report: bool = False, office: str = "", send_drafts: bool = False,
              corrections: str | None = None, replies: str | None = None) -> dict:
    """Read the responses, validate, score, rank and write `<out>/<cycle>/`; with `replies` (a source of the reply
    form's responses), also the review queue of the schools' replies; with `send_drafts`, e-mail every school its
    draft scorecard; with `send_report`, the leadership report; `office` is the province unit whose history this
    is. Returns the folder, stage timings, the results' summary (cycle, KPIs, issue count) and, when sent, the
    deliveries."""
    run = pipeline.open_run(cycle, schools, config, out, office, corrections=corrections)
    if send_drafts:
        _drafts_mail(run)
    with cycle_lock(run.out, run.cycle.id):  # one run of a cycle at a time, from raw archive to history
        raw, received, read_time = read(source, run)
        replies_raw, replies_received, replies_time = read_replies(replies, run) if replies else (None, None, {})
        prepared, normalize_time = normalize(raw, run)
        # the normalised frame is all later stages need; only the replies' review reads the raw table again
        raw = raw if replies else None
        validation, validate_time = validate(prepared, run)
        scores, score_time = score(prepared, validation, run)
        results, rank_time = rank(scores, prepared, run)
        reviewed, review_time = review_replies(replies_raw, replies_received, raw, prepared, results, run) \
            if replies else (None, {})
        del raw, replies_raw
        written = write(results, prepared, validation, received, run,
                        read_time | replies_time | normalize_time | validate_time | score_time | rank_time
                        | review_time, reviewed)
        publish(results, written.folder)
        drafts, drafts_time = deliver_drafts(written.folder, run) if send_drafts else (None, {})
        sent, send_time = deliver_report(written.folder, run) if send_report else (None, {})
    return {"folder": str(written.folder), "timings": written.timings | drafts_time | send_time,
            "summary": written.summary,
            "input_sha256": received.archived.sha256, **({"drafts_mail": drafts} if drafts else {}),
            **({"report_mail": sent} if sent else {})}
