"""From validated submissions to the cycle's results: counted submission, verdicts, scores, status, ranks."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from antt.config import Config
from antt.cycles import Cycle
from antt.intake.normalize import SCHOOL, TIMESTAMP
from antt.intake.registry import expected_in
from antt.scoring.criteria import evaluate_criteria, verdicts
from antt.scoring.indicators import grade, indicator_points, plan_score
from antt.scoring.ranking import rank_schools, ward_table
from antt.scoring.selection import drop_invalid_answers, school_status, select_counted, superseded_issues


@dataclass
class CycleResults:
    """Everything a cycle's outputs are written from. Frames are indexed by school code where per school."""

    cycle: Cycle
    ranked: pd.DataFrame          # one row per expected school, in rank order
    counted: pd.DataFrame         # the counted submission per school (typed answers)
    criteria: pd.DataFrame        # school × criterion of the verdict's set: True / False / NA
    points: pd.DataFrame          # school × indicator: points earned, NaN where not applicable
    other_verdicts: pd.DataFrame  # school × criteria set id: verdict under each configured set
    wards: pd.DataFrame
    issues: pd.DataFrame
    corrections: pd.DataFrame


@dataclass
class Scores:
    """The counted submission per school and what it earns; indexed by school code."""

    counted: pd.DataFrame
    criteria: pd.DataFrame
    verdict: pd.DataFrame
    points: pd.DataFrame
    score: pd.Series
    other_verdicts: pd.DataFrame
    issues: pd.DataFrame          # validation issues plus the superseded-submission notes
    corrections: pd.DataFrame     # the analyst's corrections that applied


def score_cycle(subs: pd.DataFrame, issues: pd.DataFrame, cycle: Cycle, config: Config,
                on_time_rows: set[int] = frozenset(), corrections: pd.DataFrame | None = None) -> Scores:
    """docs/spec.md §4 duplicates, §6.1 verdict and §6.2 plan score for each school's counted submission.

    `on_time_rows` are sheet rows the analyst accepted as on time although they arrived late.
    """
    form = config.form
    cleaned = drop_invalid_answers(subs, issues)
    counted, superseded = superseded_issues(select_counted(cleaned, issues, cycle, on_time_rows), form)
    counted = counted.set_index(SCHOOL, drop=False)
    criteria = evaluate_criteria(counted, config.criteria, form)
    points = indicator_points(counted, config.scoring, form)
    others = pd.DataFrame({cs.id: verdicts(evaluate_criteria(counted, cs, form), cs)["verdict"]
                           for cs in config.criteria_sets.values()}, index=counted.index)
    all_issues = pd.concat([issues, superseded], ignore_index=True) if len(superseded) else issues
    return Scores(counted=counted, criteria=criteria, verdict=verdicts(criteria, config.criteria), points=points,
                  score=plan_score(points, config.scoring), other_verdicts=others, issues=all_issues,
                  corrections=corrections if corrections is not None else pd.DataFrame())


def rank_cycle(scores: Scores, subs: pd.DataFrame, registry: pd.DataFrame, cycle: Cycle,
               config: Config) -> CycleResults:
    """docs/spec.md §6.3–6.6: grade and status of every expected school, ranks overall and per level, the ward table."""
    counted = scores.counted
    expected = expected_in(registry, cycle)
    table = expected.drop(columns=["emails", "opened", "closed"]).set_index("school_code", drop=False)
    table["status"] = school_status(expected, subs, counted).to_numpy()
    table["sheet_row"] = counted["sheet_row"].reindex(table.index).astype("Int64")
    table["submitted_at"] = counted[TIMESTAMP].reindex(table.index)
    table["on_time"] = counted["on_time"].reindex(table.index).astype("boolean")
    table["verdict"] = scores.verdict["verdict"].reindex(table.index)
    table["failed"] = scores.verdict["failed"].reindex(table.index).fillna("")
    table["score"] = scores.score.reindex(table.index)
    table["grade"] = grade(table["score"], config.scoring)
    ranked = rank_schools(table.reset_index(drop=True))
    return CycleResults(cycle=cycle, ranked=ranked, counted=counted, criteria=scores.criteria, points=scores.points,
                        other_verdicts=scores.other_verdicts,
                        wards=ward_table(ranked, config.scoring.ward_target_share), issues=scores.issues,
                        corrections=scores.corrections)


def rescore(counted: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Verdict, failed criteria, plan score and grade of rows shaped like the counted submissions, whatever their
    index: `score_cycle`'s own functions, for answers changed outside the run (a reply's proposed value), all rows
    at once."""
    form = config.form
    verdict = verdicts(evaluate_criteria(counted, config.criteria, form), config.criteria)
    score = plan_score(indicator_points(counted, config.scoring, form), config.scoring)
    return pd.DataFrame({"verdict": verdict["verdict"], "failed": verdict["failed"], "score": score,
                         "grade": grade(score, config.scoring)}, index=counted.index)
