"""Deployments on a real Prefect server, created by `antt deploy`: when they run comes from `config/cycles.yaml`.

For every cycle kind (H1, Y) two scheduled deployments run in the office's time zone, on the days `antt.cycles`
computes from the cycles and the `schedule` there (run hour, days before the deadline and the report):
- `scheduled-remind/<kind>`: the reminder rounds before the school deadline;
- `scheduled-cycle/<kind>`: the cycle run on the deadline day (submissions before it), which e-mails every school
  its draft scorecard (its schedule sets `send_drafts`), and a final run after the reply window closes and before
  the office report is due, which e-mails the report to leadership (its schedule sets `send_report`).
Scheduled runs take no cycle id: `scheduled_cycle` and `scheduled_remind` work it out from the run date. The
deployments without schedules, `run-cycle/manual`, `remind/manual` and (given a units file) `province/manual`, are
for runs by hand. A scheduled wrapper reports its failure to the analyst once (`antt.mail.failure`).

`province/manual` fans its units out as runs of `run-cycle/manual`, for every worker of the pool to share. For the
server as a whole, deploy also sets up what many workers need: the `google-api` global concurrency limit that every
request to Google holds a slot of (`antt.sources.quota`), and an automation that marks a run Crashed when its
heartbeats stop (its worker, or the worker's machine, was lost), so that nobody waits on it for ever and the
province names it and redoes it when run again. Workers send heartbeats every PREFECT_FLOWS_HEARTBEAT_FREQUENCY
seconds (deploy/worker.env.example sets 60; Prefect's default is 180), which must be well under `lost_after_s`.

Entry points are module paths (`antt.flows.cycle.run_cycle`) with no pull steps, so a process worker runs the
installed package; it starts each run in a temporary folder, which is why every path is made absolute here.
Parameters hold paths and sheet keys only (the responses, registry and corrections may each be a file or a Google
Sheet): SMTP and Google credentials stay in the worker's environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron, RRule

from antt import pipeline
from antt.config import Cycles, load_config
from antt.cycles import scheduled_days
from antt.errors import AnttError
from antt.flows.cycle import run_cycle
from antt.flows.remind import remind
from antt.i18n import _
from antt.mail.failure import notify_analyst
from antt.sources.quota import DEFAULT_SLOTS, ensure_google_api_limit

POOL = "antt"
TAG = "antt"  # every deployment's runs carry it; the lost-worker automation watches only those
LOST_AFTER_S = 300  # no heartbeat for this long: the run's worker is taken as lost
LOST_WORKER_AUTOMATION = "antt: crash runs whose worker was lost"


@dataclass(frozen=True)
class ScheduledRun:
    """One schedule: which deployment, for which cycle kind, when (`cron` or `rrule` in `timezone`), and the flow
    parameters this schedule's runs get on top of the deployment's."""

    deployment: str
    slug: str
    kind: str
    cron: str | None
    rrule: str | None
    timezone: str
    parameters: dict = field(default_factory=dict)

    def schedule(self):
        """The Prefect schedule object."""
        if self.cron:
            return Cron(self.cron, timezone=self.timezone, slug=self.slug, parameters=self.parameters)
        return RRule(self.rrule, timezone=self.timezone, slug=self.slug, parameters=self.parameters)


def schedule_plan(cycles: Cycles, path: Path | str = "cycles.yaml") -> list[ScheduledRun]:
    """Every scheduled run of every cycle kind: the days `antt.cycles` computes, as deployments and parameters."""
    mail = {"deadline": {"send_drafts": True}, "final": {"send_report": True}}
    return [ScheduledRun(f"scheduled-{day.job}", day.slug, day.kind, day.cron, day.rrule, cycles.timezone,
                         mail.get(day.slug, {})) for day in scheduled_days(cycles, path)]


def _quiet(subflow):
    """The subflow without failure hooks: its scheduled wrapper reports a failure once, whichever step failed."""
    quiet = subflow.with_options()
    quiet.on_failure_hooks, quiet.on_crashed_hooks = [], []
    return quiet


@flow(name="scheduled-cycle", flow_run_name="{kind}", on_failure=[notify_analyst], on_crashed=[notify_analyst])
def scheduled_cycle(kind: str, source: str, schools: str | None = None, config: str | None = None,
                    out: str = "out", send_report: bool = False, send_drafts: bool = False,
                    corrections: str | None = None, replies: str | None = None) -> dict:
    """`run_cycle` for the cycle of `kind` that today's date belongs to (and its drafts or its report e-mailed, if
    asked; with `replies`, the schools' replies reviewed)."""
    run = pipeline.open_scheduled_run(kind, schools, config, out, corrections)
    with pipeline.handed_over(pipeline.Preflight(run, source)):
        return _quiet(run_cycle)(cycle=run.cycle.id, source=source, schools=schools, config=config, out=out,
                                 send_report=send_report, send_drafts=send_drafts, corrections=corrections,
                                 **({"replies": replies} if replies else {}))


@flow(name="scheduled-remind", flow_run_name="{kind}", on_failure=[notify_analyst], on_crashed=[notify_analyst])
def scheduled_remind(kind: str, source: str, schools: str | None = None, config: str | None = None,
                     out: str = "out", analyst: str | None = None, corrections: str | None = None) -> dict:
    """`remind` for the cycle of `kind` that today's date belongs to."""
    run = pipeline.open_scheduled_run(kind, schools, config, out, corrections)
    with pipeline.handed_over(pipeline.Preflight(run, source)):
        return _quiet(remind)(cycle=run.cycle.id, source=source, schools=schools, config=config, out=out,
                              analyst=analyst, corrections=corrections)


def _absolute(path: str | Path | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


def _where(source: str | Path | None) -> str | None:
    """A source as a deployment stores it: a Google Sheet or Form as given, a file or folder by its absolute path."""
    return source if isinstance(source, str) and source.startswith(("gsheet:", "gform:")) else _absolute(source)


def deploy(source: str, schools: str | Path | None = None, config: str | Path | None = None,
           out: str | Path = "out", pool: str = POOL, analyst: str | None = None,
           units: str | Path | None = None, google_api_slots: int = DEFAULT_SLOTS,
           lost_after_s: int = LOST_AFTER_S, corrections: str | None = None, replies: str | None = None) -> list[dict]:
    """Create (or update) the work pool, the `google-api` limit (`google_api_slots` requests to Google at once),
    the lost-worker automation (`lost_after_s` without a heartbeat) and every deployment on the server in
    PREFECT_API_URL; with `units` (a units file) also `province/manual`, which fans the units out as runs of
    `run-cycle/manual`; with `replies` (the reply form's responses) every cycle run reviews the schools' replies,
    so the final run reports what the reply window changed. Returns one row per deployment: its full name and its
    schedules."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise AnttError(_("PREFECT_API_URL is not set: start `prefect server start` and export "
                          "PREFECT_API_URL=http://127.0.0.1:4200/api"))
    cfg = load_config(config)
    common = {"source": _where(source), "schools": _where(schools), "corrections": _where(corrections),
              "config": _absolute(config), "out": _absolute(out)}
    common = {k: v for k, v in common.items() if v is not None}
    reviewed = {"replies": _where(replies)} if replies else {}
    _ensure_pool(pool)
    ensure_google_api_limit(google_api_slots)
    _ensure_lost_worker_automation(lost_after_s)

    planned: list[tuple] = [(run_cycle, "manual", common | reviewed, []),
                            (remind, "manual", common | ({"analyst": analyst} if analyst else {}), [])]
    if units:
        from antt.flows.province import province

        planned.append((province, "manual", {"units_file": _absolute(units), "out": _absolute(out),
                                             "deployment": f"{run_cycle.name}/manual"}, []))
    plan = schedule_plan(cfg.cycles, cfg.root / "cycles.yaml")
    for kind in cfg.cycles.kinds:
        for target, extra in ((scheduled_remind, {"analyst": analyst} if analyst else {}),
                              (scheduled_cycle, reviewed)):
            schedules = [r.schedule() for r in plan if r.kind == kind and r.deployment == target.name]
            planned.append((target, kind, common | extra | {"kind": kind}, schedules))

    rows = []
    for target, name, parameters, schedules in planned:
        deployment = target.to_deployment(name=name, parameters=parameters, schedules=schedules, tags=[TAG],
                                          work_pool_name=pool, entrypoint_type=EntrypointType.MODULE_PATH)
        deployment.apply()
        rows.append({"name": f"{target.name}/{name}",
                     "schedules": [f"{s.slug}: {s.cron or s.rrule} ({s.timezone})"
                                   + "".join(f", {k}={v}" for k, v in s.parameters.items()) for s in schedules]})
    return rows


def _ensure_pool(name: str) -> None:
    """A process work pool named `name`, created with Prefect's default job template when it does not exist."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type=ProcessWorker.type,
                                                   base_job_template=ProcessWorker.get_default_base_job_template()))
            return
    if pool.type != ProcessWorker.type:
        raise AnttError(_("work pool {name!r} is of type {type!r}; antt runs on a process pool")
                        .format(name=name, type=pool.type))


def _ensure_lost_worker_automation(lost_after_s: int) -> None:
    """The automation that marks an antt run Crashed when no heartbeat came for `lost_after_s` seconds (Prefect's
    "zombie flow" recipe, kept to the runs of antt's deployments); created, or brought up to date."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    final = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}
    automation = Automation(
        name=LOST_WORKER_AUTOMATION,
        description=_("Marks an antt run Crashed when its worker stops sending heartbeats."),
        trigger=EventTrigger(
            # from Running on, not only from the first heartbeat: a run killed before its first one is caught too
            after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat"} | final,
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification({"prefect.resource.role": "tag",
                                                 "prefect.resource.id": f"prefect.tag.{TAG}"}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=lost_after_s)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=_(
            "no heartbeat for {seconds} s: the worker running it, or its machine, was lost; run it again").format(
            seconds=lost_after_s))])
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(LOST_WORKER_AUTOMATION)
        if found:
            client.update_automation(found[0].id, automation)
        else:
            automation.create()
