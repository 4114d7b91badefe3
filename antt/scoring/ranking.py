"""Ranking (docs/spec.md §6.5) and the ward table (§6.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

STATUS_ORDER = {"submitted": 0, "needs_correction": 1, "missing": 2}
VERDICT_ORDER = {"dat": 0, "chua_dat": 1}


def _order_keys(table: pd.DataFrame) -> pd.DataFrame:
    """Numeric sort keys: status, verdict, score (high first); then on time, earlier submission, school code."""
    return pd.DataFrame({
        "status": table["status"].map(STATUS_ORDER).astype(int),
        "verdict": table["verdict"].map(VERDICT_ORDER).fillna(2).astype(int),
        "score": -table["score"].astype("Float64").fillna(-1.0).astype(float),
        "late": table["on_time"].astype(object).map({True: 0, False: 1}).fillna(2).astype(int),
        "at": table["submitted_at"].rank(method="min", na_option="bottom").fillna(0),
        "code": table["school_code"],
    }, index=table.index)


def _competition_rank(keys: pd.DataFrame) -> np.ndarray:
    """keys already sorted: equal consecutive rows share the rank of the first of them (1, 2, 2, 4)."""
    if keys.empty:
        return np.array([], dtype=int)
    changed = (keys != keys.shift()).any(axis=1).to_numpy()
    position = np.arange(1, len(keys) + 1)
    return np.maximum.accumulate(np.where(changed, position, 0))


def rank_schools(table: pd.DataFrame) -> pd.DataFrame:
    """Sort schools and add `rank_overall` and `rank_in_level`; ties share (status, verdict, score)."""
    keys = _order_keys(table)
    order = keys.sort_values(list(keys.columns), kind="stable").index
    ranked = table.loc[order].copy()
    tie = keys.loc[order, ["status", "verdict", "score"]]
    ranked["rank_overall"] = _competition_rank(tie)
    ranked["rank_in_level"] = 0
    for _, idx in ranked.groupby("level", sort=False).groups.items():
        ranked.loc[idx, "rank_in_level"] = _competition_rank(tie.loc[idx])
    return ranked.reset_index(drop=True)


def ward_table(ranked: pd.DataFrame, target_share: float) -> pd.DataFrame:
    """Per ward: schools expected, submitted, meeting the standard, the share meeting it and whether it reaches
    the target (TT 124: every school registered, at least 70% recognised)."""
    g = ranked.assign(submitted=ranked["status"].eq("submitted"), dat=ranked["verdict"].eq("dat").fillna(False))
    keys = ["unit", "ward"] if "unit" in g.columns else ["ward"]  # the same ward name can exist in two units
    wards = g.groupby(keys, sort=True).agg(expected=("school_code", "size"), submitted=("submitted", "sum"),
                                             dat=("dat", "sum")).reset_index()
    wards["share_dat"] = (wards["dat"] / wards["expected"]).round(4)
    wards["reaches_target"] = wards["share_dat"] >= target_share - 1e-9
    return wards
