"""`province`: every reporting unit's cycle, then one roll-up for the province.

Two ways to run the units, one roll-up:
- fanned out (`deployment`, which `antt deploy --units` sets to `run-cycle/manual`): each unit becomes its own flow
  run of that deployment, created with `run_deployment`, so every worker polling the work pool, on any machine,
  takes a share; this flow only waits for them;
- here (no deployment: a laptop without a server): the units run as subflows of this process, a few at once.

Each unit's run records its results in the history database under the unit's name, and the roll-up reads them from
there, never from a worker's disk: across machines that is one database every worker reaches (`ANTT_HISTORY_URL`).

A unit that fails (unreadable sheet, broken registry, a source its worker cannot see, a worker lost mid-run) does
not stop the others: its own `run-cycle` run fails or crashes (and its hooks fire), and the roll-up names it with
the one-line reason. The roll-up is recorded in the history too: running the province again after a roll-up that
named failures redoes only those units and keeps the others' results; after a complete one, every unit runs
afresh. The roll-up math is `antt.scoring.rollup`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, ValidationError

from antt.errors import AnttError, ConfigError
from antt.flows.cycle import run_cycle
from antt.i18n import _
from antt.mail.failure import notify_analyst
from antt.outputs.artifacts import province_markdown
from antt.outputs.publish import write_atomic
from antt.outputs.render import template
from antt.scoring import rollup
from antt.store import history
from antt.text import one_line

MAX_CONCURRENT_UNITS = 4  # units run here at once (fanned out, the workers' --limit decides)
POLL_S = 2.0  # how often a fanned-out province asks the server how its units are doing
ENGINE_PREFIX = "Flow run encountered an exception:"  # how Prefect's engine begins a failed run's state message


class Unit(BaseModel):
    """One reporting unit (a district office): its sheet, registry, optional config folder and output folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    source: str
    registry: str | None = None
    config: str | None = None
    out: str


class Units(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    units: list[Unit]


def load_units(path: str | Path) -> list[Unit]:
    """The units file; relative paths are relative to its folder. Raises ConfigError naming the file."""
    path = Path(path)
    try:
        units = Units.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).units
    except OSError as exc:
        raise ConfigError(_("{path}: cannot read the units file ({reason})").format(path=path, reason=exc.strerror)) \
            from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {one_line(str(exc))}") from None
    names = [u.name for u in units]
    if not units or len(set(names)) != len(names):
        raise ConfigError(_("{path}: list at least one unit, each with its own name").format(path=path))

    def here(p: str | None) -> str | None:
        return str((path.parent / p).resolve()) if p and not p.startswith(("gsheet:", "gform:")) else p

    return [u.model_copy(update={"source": here(u.source), "registry": here(u.registry), "config": here(u.config),
                                 "out": here(u.out)}) for u in units]


@task(name="run-unit", task_run_name="{unit.name}", cache_policy=NO_CACHE)
def run_unit(unit: Unit, cycle: str) -> str:
    """The unit's cycle folder; its results are in the history database, under the unit's name."""
    return run_cycle(**_unit_parameters(unit, cycle))["folder"]


def _unit_parameters(unit: Unit, cycle: str) -> dict:
    """A unit's `run-cycle` parameters; every one is set, so none falls back to the deployment's own office."""
    return {"cycle": cycle, "source": unit.source, "schools": unit.registry, "config": unit.config, "out": unit.out,
            "office": unit.name, "replies": None}


def _run_here(units: list[Unit], cycle: str) -> dict[str, str]:
    """Every unit as a subflow of this process, a few at once: {unit: "" when it finished, else the reason}."""
    futures = [run_unit.submit(u, cycle) for u in units]
    reasons = {}
    for unit, future in zip(units, futures, strict=True):
        future.wait()
        state = future.state
        reasons[unit.name] = "" if state.is_completed() else \
            rollup.failure_reason(state.result(raise_on_failure=False))
    return reasons


def _fan_out(units: list[Unit], cycle: str, deployment: str, wait_minutes: float) -> dict[str, str]:
    """Every unit as its own flow run of `deployment` on its work pool, then wait for them all: {unit: "" when it
    finished, else the reason}."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    runs = {}
    for unit in units:
        try:
            runs[unit.name] = run_deployment(deployment, parameters=_unit_parameters(unit, cycle),
                                             flow_run_name=f"{cycle} {unit.name}", timeout=0).id
        except ObjectNotFound:
            raise AnttError(_("no deployment {name} on the Prefect server: run `antt deploy --units …` to create "
                              "it").format(name=deployment)) from None
    states = _wait_for(list(runs.values()), wait_minutes * 60)
    reasons = {}
    for name, run_id in runs.items():
        state = states[run_id]
        if state.is_completed():
            reasons[name] = ""
        elif state.is_final():
            reasons[name] = state_reason(state.name, state.message)
        else:
            reasons[name] = _("not finished after {minutes:g} minutes (its run is {state}): is a worker polling the "
                              "work pool?").format(minutes=wait_minutes, state=state.name)
    return reasons


def _wait_for(run_ids: list, timeout_s: float) -> dict:
    """The flow runs' states once all are final, or when `timeout_s` has passed: {run id: state}."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    if not run_ids:
        return {}
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)),
                                         limit=len(run_ids))
            states = {r.id: r.state for r in runs}
            if all(s is not None and s.is_final() for s in states.values()) or time.monotonic() > deadline:
                return states
            time.sleep(POLL_S)


def _ours() -> set[str]:
    """The names of antt's own errors, whose message is the whole story (as `rollup.failure_reason` has it)."""
    found, todo = set(), [AnttError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def state_reason(state_name: str, message: str | None) -> str:
    """A unit run's final state, as the API gives it, as the roll-up's one-line reason: an error of ours is its own
    message, another error keeps its type, a crash says so."""
    text = (message or "").strip()
    if ENGINE_PREFIX in text:
        text = text.split(ENGINE_PREFIX, 1)[1].strip()
        kind, sep, rest = text.partition(": ")
        return one_line(rest if sep and kind in _ours() else text)
    return one_line(f"{state_name}: {text}" if text else state_name)


@task(name="roll-up", cache_policy=NO_CACHE)
def roll_up(cycle: str, units: list[Unit], reasons: dict[str, str], kept: set[str]) -> dict:
    """The roll-up of every unit: `reasons` names each unit run this time ("" when it finished), `kept` the units
    whose results an earlier province run left. The units' documents are read here, from the history, not passed from
    task to task: Prefect walks task arguments, every school of every unit."""
    return rollup.rollup(cycle, _outcomes(units, cycle, reasons, kept))


def _outcomes(units: list[Unit], cycle: str, reasons: dict[str, str], kept: set[str]) -> list[rollup.UnitOutcome]:
    """Each unit's results from the history database it recorded them in (one engine per database), or its reason."""
    engines: dict[str, history.Engine] = {}
    outcomes = []
    try:
        for unit in units:
            reason = reasons.get(unit.name, "")
            document = None
            if not reason:
                url = history.history_url(unit.out)
                try:
                    if url not in engines:
                        engines[url] = history.open_history(url)
                    document = history.load_document(engines[url], cycle, office=unit.name)
                except history.HistoryError as exc:
                    reason = str(exc)
                else:
                    if document is None:
                        reason = _("finished, but its results are not in the history database {url}: give every "
                                   "worker the same {env}").format(url=history.shown(url), env=history.URL_ENV)
            outcomes.append(rollup.UnitOutcome(unit.name, reason=reason, kept=unit.name in kept,
                                               document=None if reason else document,
                                               folder="" if reason else str(Path(unit.out) / cycle)))
    finally:
        for engine in engines.values():
            engine.dispose()
    return outcomes


@task(name="write-rollup", cache_policy=NO_CACHE)
def write(document: dict, folder: Path) -> Path:
    write_atomic(folder / "province.json", (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())
    write_atomic(folder / "province.html", template("province.html.j2").render(**document).encode())
    return folder


@task(name="publish-rollup", cache_policy=NO_CACHE)
def publish(document: dict, folder: Path) -> None:
    create_markdown_artifact(province_markdown(document, folder),
                             key=f"antt-{document['cycle']['id'].lower()}-province",
                             description=_("Roll-up of the units"))


@flow(name="province", flow_run_name="{cycle}", validate_parameters=True,
      task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_UNITS),
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def province(units_file: str, cycle: str, out: str = "out", deployment: str | None = None,
             wait_minutes: float = 240) -> dict:
    """Run every unit of `units_file` (fanned out as runs of `deployment`, or here when None), then write
    `<out>/province/<cycle>/province.{html,json}` and record the roll-up. After a roll-up of this cycle that named
    failures, only those units run again. Returns the folder, the failed units and the units run this time; fails
    only when no unit finished."""
    units = load_units(units_file)
    with history.connected(out) as engine:  # the roll-up's own record: ANTT_HISTORY_URL, else <out>/history.sqlite
        previous = history.load_rollup(engine, cycle)
    kept = {u["name"] for u in previous["units"] if u["ok"]} if previous and previous["failed"] else set()
    todo = [u for u in units if u.name not in kept]
    reasons = _fan_out(todo, cycle, deployment, wait_minutes) if deployment else _run_here(todo, cycle)
    document = roll_up(cycle, units, reasons, kept)  # a failed unit is named, not fatal
    # Its own folder: a unit's run publishes <out>/<cycle>/ as a whole and would replace anything else there.
    folder = write(document, Path(out) / "province" / cycle)
    with history.connected(out) as engine:
        history.record_rollup(engine, document)
    publish(document, folder)
    rollup.require_a_finished_unit(document)
    return {"folder": str(folder), "failed": document["failed"], "ran": [u.name for u in todo]}


