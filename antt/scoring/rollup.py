"""Province roll-up: several reporting units' results for one cycle become one ranking and one set of KPIs,
per unit and overall, with every unit that failed named with its one-line reason. Pure functions over the units'
results documents; the parent flow (`antt.flows.province`) reads them from the history and writes the roll-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from antt.errors import AnttError
from antt.i18n import _
from antt.outputs.document import kpis
from antt.scoring.ranking import rank_schools
from antt.text import one_line

RANKING_COLUMNS = ["reporting_unit", "school_code", "school_name", "level", "ward", "status", "submitted_at",
                   "on_time", "verdict", "score", "grade", "rank_in_unit", "rank_overall", "rank_in_level"]


@dataclass(frozen=True)
class UnitOutcome:
    """One unit's run: its results document when it finished, else the reason it did not; `kept` when the results
    are those of an earlier province run that this one did not redo."""

    name: str
    document: dict | None = None
    folder: str = ""
    reason: str = ""
    kept: bool = False

    @property
    def ok(self) -> bool:
        return self.document is not None


def failure_reason(exc: BaseException | None) -> str:
    """An exception as the one line a person reads: our own errors say it all, others are prefixed by their type."""
    if exc is None:
        return _("no reason given")
    text = str(exc) if isinstance(exc, AnttError) else f"{type(exc).__name__}: {exc}"
    return one_line(text)


def require_a_finished_unit(document: dict[str, Any]) -> None:
    """A roll-up without a single finished unit is a failed run (its document, naming every failure, is written
    first)."""
    if len(document["failed"]) == len(document["units"]):
        failures = "; ".join(f"{f['name']}: {f['reason']}" for f in document["failed"])
        raise AnttError(_("no unit finished {cycle}: {failures}").format(cycle=document["cycle"]["id"],
                                                                         failures=failures))


def unit_schools(outcomes: list[UnitOutcome]) -> pd.DataFrame:
    """Every school of every unit that finished, one row each, with its unit and its rank there."""
    frames = []
    for o in outcomes:
        if o.ok and o.document["schools"]:
            frame = pd.DataFrame.from_records(o.document["schools"])
            frames.append(frame.assign(reporting_unit=o.name, rank_in_unit=frame["rank_overall"]))
    if not frames:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    schools = pd.concat(frames, ignore_index=True)
    # Rank on the instant, not on its text; the text (ISO with the office's offset) is what the roll-up keeps.
    schools["submitted_iso"] = schools["submitted_at"]
    schools["submitted_at"] = pd.to_datetime(schools["submitted_at"], utc=True, format="ISO8601")
    schools["on_time"] = schools["on_time"].astype(object)
    return schools


def province_ranking(schools: pd.DataFrame) -> pd.DataFrame:
    """The units' schools ranked together by the same rule as one unit's ranking (docs/spec.md §6.5)."""
    if schools.empty:
        return schools
    ranked = rank_schools(schools.drop(columns=["rank_overall", "rank_in_level"]))
    return ranked.assign(submitted_at=ranked["submitted_iso"])[RANKING_COLUMNS]


def rollup(cycle_id: str, outcomes: list[UnitOutcome]) -> dict[str, Any]:
    """The roll-up document: overall KPIs, each unit's KPIs (or its failure), and the province-wide ranking."""
    ranked = province_ranking(unit_schools(outcomes))
    finished = [o for o in outcomes if o.ok]
    cycle = finished[0].document["cycle"] if finished else {"id": cycle_id}
    units = [{"name": o.name, "ok": o.ok, "folder": o.folder, "reason": o.reason, "kept": o.kept,
              "kpis": o.document["kpis"] if o.ok else None} for o in outcomes]
    records = ranked.astype(object).where(ranked.notna(), None).to_dict("records")
    return {
        "cycle": cycle,
        "overall": kpis(ranked) if len(ranked) else None,
        "units": units,
        "failed": [{"name": o.name, "reason": o.reason} for o in outcomes if not o.ok],
        "ranking": records,
    }
