"""`province`: every reporting unit's cycle as a subflow, concurrently, then one roll-up for Sở GDĐT.

A unit that fails (unreadable sheet, broken registry…) does not stop the others: its own `run-cycle` run fails
(and its hooks fire), and the roll-up names it with the one-line reason. The roll-up math is `antt.scoring.rollup`.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import allow_failure
from pydantic import BaseModel, ConfigDict, ValidationError

from antt.errors import ConfigError
from antt.flows.cycle import run_cycle
from antt.mail.failure import notify_analyst
from antt.outputs.publish import write_atomic
from antt.outputs.render import template
from antt.scoring import rollup
from antt.text import one_line

MAX_CONCURRENT_UNITS = 4


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
        raise ConfigError(f"{path}: cannot read the units file ({exc.strerror})") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {one_line(str(exc))}") from None
    names = [u.name for u in units]
    if not units or len(set(names)) != len(names):
        raise ConfigError(f"{path}: list at least one unit, each with its own name")

    def here(p: str | None) -> str | None:
        return str((path.parent / p).resolve()) if p and not p.startswith(("gsheet:", "gform:")) else p

    return [u.model_copy(update={"source": here(u.source), "registry": here(u.registry), "config": here(u.config),
                                 "out": here(u.out)}) for u in units]


@task(name="run-unit", task_run_name="{unit.name}", cache_policy=NO_CACHE)
def run_unit(unit: Unit, cycle: str) -> str:
    """The unit's cycle folder."""
    named = run_cycle.with_options(flow_run_name=f"{cycle} {unit.name}")
    return named(cycle=cycle, source=unit.source, schools=unit.registry, config=unit.config, out=unit.out)["folder"]


@task(name="roll-up", cache_policy=NO_CACHE)
def roll_up(cycle: str, units: list[Unit], finished: list) -> dict:
    """`finished` holds each unit's cycle folder, or the exception its run failed with. The units' documents are
    read here, not passed from task to task: Prefect walks task arguments, every school of every unit."""
    return rollup.rollup(cycle, [rollup.outcome(u.name, f) for u, f in zip(units, finished, strict=True)])


@task(name="write-rollup", cache_policy=NO_CACHE)
def write(document: dict, folder: Path) -> Path:
    write_atomic(folder / "province.json", (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())
    write_atomic(folder / "province.html", template("province.html.j2").render(**document).encode())
    return folder


@task(name="publish-rollup", cache_policy=NO_CACHE)
def publish(document: dict, folder: Path) -> None:
    k, failed = document["overall"] or {}, document["failed"]
    lines = [f"# Tổng hợp {len(document['units'])} đơn vị – kỳ {document['cycle']['id']}", "",
             f"- Trường phải báo cáo: {k.get('expected', 0)}; đã gửi: {k.get('submitted', 0)}; "
             f"đạt: {k.get('dat', 0)}", f"- Báo cáo: `{folder / 'province.html'}`"]
    lines += [f"- **Lỗi** {f['name']}: {f['reason']}" for f in failed]
    create_markdown_artifact("\n".join(lines), key=f"antt-{document['cycle']['id'].lower()}-province",
                             description="Tổng hợp các đơn vị")


@flow(name="province", flow_run_name="{cycle}", validate_parameters=True,
      task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_UNITS),
      on_failure=[notify_analyst], on_crashed=[notify_analyst])
def province(units_file: str, cycle: str, out: str = "out") -> dict:
    """Run `run_cycle` for every unit of `units_file` at once and write `<out>/province/<cycle>/province.{html,json}`.
    Returns the folder and the failed units; fails only when no unit finished."""
    units = load_units(units_file)
    finished = [run_unit.submit(u, cycle) for u in units]
    document = roll_up(cycle, units, allow_failure(finished))  # a failed unit is named, not fatal
    # Its own folder: a unit's run publishes <out>/<cycle>/ as a whole and would replace anything else there.
    folder = write(document, Path(out) / "province" / cycle)
    publish(document, folder)
    rollup.require_a_finished_unit(document)
    return {"folder": str(folder), "failed": document["failed"]}


