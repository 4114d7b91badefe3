"""`remind`: e-mail every school that is missing or needs correction, and the analyst a summary, as a Prefect flow.

The cycle's stages are the same tasks as `run_cycle`'s; nothing is written under `<out>/<cycle>/`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from antt import pipeline
from antt.cycles import office_today
from antt.flows.cycle import normalize, rank, read, score, validate
from antt.mail import outbox as mail
from antt.mail import reminders
from antt.mail.failure import notify_analyst
from antt.pipeline import Run
from antt.store.locks import cycle_lock


@task(name="plan-reminders", cache_policy=NO_CACHE)
def plan(results, run: Run, day: date, analyst: str | None):
    with pipeline.stage("plan") as timing:
        planned = reminders.plan_reminders(results, run.registry, run.config, day, analyst)
    return planned, timing


@task(name="send-reminders", cache_policy=NO_CACHE)
def send(planned, run: Run, day: date, dry_run: str | None):
    with pipeline.stage("send") as timing:
        now = datetime.now(ZoneInfo(run.cycle.timezone))
        outbox = mail.Outbox.open(run.out, run.cycle.id, day, now, run.config.office.contact_email, dry_run)
        deliveries = outbox.send(planned)
    return deliveries, timing


@flow(name="remind", flow_run_name="{cycle}", validate_parameters=True,
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def remind(cycle: str, source: str, schools: str | None = None, config: str | None = None, out: str = "out",
           dry_run: str | None = None, today: date | None = None, analyst: str | None = None,
           corrections: str | None = None) -> dict:
    """Read, validate, score and rank the responses, then remind (or, with `dry_run`, write `.eml` files).
    Returns the day, the kind of message, counts per delivery status and every delivery."""
    run = pipeline.open_run(cycle, schools, config, out, corrections=corrections)
    day = today or office_today(run.config.cycles)
    kind = reminders.check_round(run.cycle, run.config, run.out, day, dry_run)
    with cycle_lock(run.out, run.cycle.id, job="reminder round"):  # two rounds at once would both send
        raw, _received, read_time = read(source, run)
        prepared, normalize_time = normalize(raw, run)
        del raw
        validation, validate_time = validate(prepared, run)
        scores, score_time = score(prepared, validation, run)
        results, rank_time = rank(scores, prepared, run)
        planned, plan_time = plan(results, run, day, analyst)
        deliveries, send_time = send(planned, run, day, dry_run)
    timings = read_time | normalize_time | validate_time | score_time | rank_time | plan_time | send_time
    return {"cycle": cycle, "day": day.isoformat(), "kind": kind, "dry_run": dry_run, "timings": timings,
            **mail.tally(deliveries)}
