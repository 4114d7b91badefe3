"""Plan implementation score 0–100 and its grade (docs/spec.md §6.2, §6.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from antt.config import Form, Indicator, Scoring


def _applies(counted: pd.DataFrame, ind: Indicator, form: Form) -> pd.Series:
    ok = pd.Series(True, index=counted.index)
    for qid in ind.questions:
        levels = form.by_id[qid].applies_to
        if levels:
            ok &= counted["level"].isin(levels)
    return ok


def _share(ind: Indicator, counted: pd.DataFrame, form: Form) -> pd.Series:
    """The fraction (0–1) of the indicator's points a school earns; unanswered earns 0."""
    if ind.kind == "answered_yes":
        share = (counted[ind.question] == True).astype(float)  # noqa: E712
    elif ind.kind == "ratio":
        num = counted[ind.numerator].astype("Float64")
        den = counted[ind.denominator].astype("Float64")
        share = (num / den.where(den > 0)).clip(0, 1)
    elif ind.kind == "count":
        q = form.by_id[ind.question]
        value = counted[f"{q.id}__n"] if q.type == "select_multiple" else counted[q.id]
        target = len(q.options or []) if ind.target == "all" else ind.target
        share = (value.astype("Float64") / target).clip(0, 1)
    else:
        share = counted["on_time"].map({True: 1.0, False: ind.late_share})
    return pd.Series(share, index=counted.index).astype("Float64").fillna(0.0).astype(float)


def indicator_points(counted: pd.DataFrame, scoring: Scoring, form: Form) -> pd.DataFrame:
    """Points earned per indicator (columns), NaN where the indicator does not apply to the school's level."""
    out = pd.DataFrame(index=counted.index)
    for ind in scoring.indicators:
        out[ind.id] = (_share(ind, counted, form) * ind.points).where(_applies(counted, ind, form))
    return out


def plan_score(points: pd.DataFrame, scoring: Scoring) -> pd.Series:
    """Earned over the points possible for what applies to the school, scaled to 100, one decimal."""
    possible = pd.Series({i.id: i.points for i in scoring.indicators})
    applicable = points.notna().mul(possible, axis=1).sum(axis=1)
    earned = points.sum(axis=1, min_count=1)
    score = (earned / applicable.where(applicable > 0) * 100).round(1)
    return score.astype("Float64")


def grade(score: pd.Series, scoring: Scoring) -> pd.Series:
    """Grade id from the bands (highest first); NA where there is no score."""
    bands = scoring.grades
    conditions = [score.fillna(-1).to_numpy(float) >= g.min for g in bands]
    ids = np.select(conditions, [g.id for g in bands], default="")
    return pd.Series(ids, index=score.index, dtype="str").where(score.notna())
