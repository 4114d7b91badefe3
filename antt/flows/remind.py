"""`remind`: e-mail every school that is missing or needs correction, and the analyst a summary, as a Prefect flow.

The cycle's stages are the same tasks as `run_cycle`'s; nothing is written under `<out>/<cycle>/`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from antt import pipeline
from antt.flows.cycle import normalize, rank, read, score, validate
from antt.mail import outbox as mail
from antt.mail import reminders
from antt.mail.failure import notify_analyst
from antt.pipeline import RunContext
from antt.store.locks import cycle_lock


@task(name="plan-reminders", cache_policy=NO_CACHE)
def plan(results, ctx: RunContext, day: date, analyst: str | None):
    with ctx.stage("plan"):
        return reminders.plan_reminders(results, ctx.registry, ctx.config, day, analyst)


@task(name="send-reminders", cache_policy=NO_CACHE)
def send(planned, ctx: RunContext, day: date, dry_run: str | None):
    with ctx.stage("send"):
        now = datetime.now(ZoneInfo(ctx.cycle.timezone))
        return mail.Outbox.open(ctx.out, ctx.cycle.id, day, now, ctx.config.office.contact_email,
                                dry_run).send(planned)


@flow(name="remind", flow_run_name="{cycle}", validate_parameters=True,
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def remind(cycle: str, source: str, schools: str | None = None, config: str | None = None, out: str = "out",
           dry_run: str | None = None, today: date | None = None, analyst: str | None = None) -> dict:
    """Read, validate, score and rank the responses, then remind (or, with `dry_run`, write `.eml` files).
    Returns the day, the kind of message, counts per delivery status and every delivery."""
    ctx = pipeline.open_run(cycle, schools, config, out)
    day = today or datetime.now(ZoneInfo(ctx.cycle.timezone)).date()
    kind = reminders.check_round(ctx.cycle, ctx.config, ctx.out, day, dry_run)
    with cycle_lock(ctx.out, ctx.cycle.id, job="reminder round"):  # two rounds at once would both send
        raw, _ = read(source, ctx)
        prepared = normalize(raw, ctx)
        issues = validate(prepared, ctx)
        results = rank(score(prepared, issues, ctx), prepared, ctx)
        deliveries = send(plan(results, ctx, day, analyst), ctx, day, dry_run)
    return {"cycle": cycle, "day": day.isoformat(), "kind": kind, "dry_run": dry_run, "timings": ctx.timings,
            **mail.tally(deliveries)}
