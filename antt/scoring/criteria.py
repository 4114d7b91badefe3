"""ANTT verdict per school under a criteria set (docs/spec.md §6.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from antt.config import Condition, CriteriaSet, Form


def _applies(counted: pd.DataFrame, levels: list[str] | None) -> pd.Series:
    return pd.Series(True, index=counted.index) if not levels else counted["level"].isin(levels)


def _condition(counted: pd.DataFrame, cond: Condition, form: Form) -> pd.Series:
    """True where the condition holds, or where its question does not apply to the school's level (skipped)."""
    q = form.by_id[cond.question]
    values = counted[cond.question]
    if cond.op == "eq":
        want = (cond.value == form.answer_yes) if q.type == "yes_no" else cond.value
        holds = values == want
    elif cond.op == "eq_question":
        holds = values == counted[cond.other]
    elif cond.op == "has_all_options":
        holds = counted[f"{q.id}__n"] == len(q.options or [])
    else:
        holds = counted[f"{q.id}__n"] >= cond.value
    holds = pd.Series(holds, index=counted.index).astype("boolean").fillna(False).astype(bool)
    return holds | ~_applies(counted, q.applies_to)


def evaluate_criteria(counted: pd.DataFrame, criteria: CriteriaSet, form: Form) -> pd.DataFrame:
    """One boolean column per criterion (pass/fail), NA where the criterion does not apply to the school."""
    in_set = _applies(counted, criteria.levels)
    out = pd.DataFrame(index=counted.index)
    for crit in criteria.criteria:
        holds = pd.Series(True, index=counted.index)
        for cond in crit.conditions:
            holds &= _condition(counted, cond, form)
        applies = in_set & _applies(counted, crit.levels)
        out[crit.id] = holds.astype("boolean").where(applies)
    return out


def verdicts(results: pd.DataFrame, criteria: CriteriaSet) -> pd.DataFrame:
    """'dat' when every applicable mandatory criterion passes and the share passed reaches `pass_share`.

    Columns: verdict (dat / chua_dat / NA when no criterion applies), passed, applicable, failed (criterion ids
    joined by ', ', mandatory ones first).
    """
    mandatory = [c.id for c in criteria.criteria if c.mandatory]
    applicable = results.notna().sum(axis=1)
    passed = results.fillna(False).astype(bool).sum(axis=1)
    mandatory_ok = ~(results[mandatory] == False).any(axis=1)  # noqa: E712 (NA-aware comparison)
    share_ok = passed >= criteria.pass_share * applicable - 1e-9
    verdict = pd.Series("chua_dat", index=results.index, dtype="str")
    verdict = verdict.mask(mandatory_ok & share_ok, "dat").where(applicable > 0)
    order = mandatory + [c.id for c in criteria.criteria if not c.mandatory]
    failed = pd.Series("", index=results.index, dtype="str")
    for cid in order:
        failed = failed + np.where((results[cid] == False).fillna(False), cid + ", ", "")  # noqa: E712
    failed = failed.str.removesuffix(", ")
    return pd.DataFrame({"verdict": verdict, "passed": passed, "applicable": applicable, "failed": failed},
                        index=results.index)
