"""The Great Expectations suite, generated from `config/form.yaml`, the registry and the cycle.

Each expectation carries in its `meta` what an issue row needs: the question, the rule (a key of the form's
`messages`), the severity, and which column holds the value to quote back to the school.
"""

from __future__ import annotations

from datetime import timedelta

import great_expectations as gx
import great_expectations.expectations as gxe

from antt.config import Form, Question
from antt.cycles import Cycle
from antt.intake.normalize import TIMESTAMP

_INVALID_RULE = {"integer": "not_integer", "decimal": "not_decimal", "percent": "not_decimal",
                 "yes_no": "not_yes_no", "date": "not_date", "phone": "not_phone", "url": "not_url",
                 "select_one": "not_in_options"}


def _meta(question: str, rule: str, severity: str, value_column: str, **extra: str) -> dict:
    return {"question_id": question, "rule": rule, "severity": severity, "value_column": value_column, **extra}


def _cond(column: str) -> dict:
    return {"row_condition": f"`{column}` == True", "condition_parser": "pandas"}


def build_suite(form: Form, cycle: Cycle, columns: set[str]) -> gx.ExpectationSuite:
    """Expectations for one cycle's validation frame (`columns` are those `normalize` produced).

    The registry enters through `normalize`'s joins: `level` is empty for a school code the registry does not
    know, `_registered_sender` for an e-mail not registered for the school.
    """
    expectations: list = []
    add = expectations.append
    school_q = form.school_question

    add(gxe.ExpectColumnValuesToBeNull(column=f"{TIMESTAMP}__invalid",
                                       meta=_meta("", "bad_timestamp", "error", f"{TIMESTAMP}__invalid")))
    add(gxe.ExpectColumnValuesToBeBetween(
        column=TIMESTAMP, min_value=cycle.opens_at, max_value=cycle.closes_at - timedelta(microseconds=1),
        meta=_meta("", "other_cycle", "info", TIMESTAMP)))
    add(gxe.ExpectColumnValuesToNotBeNull(column=school_q.id, **_cond(f"_need__{school_q.id}"),
                                          meta=_meta(school_q.id, "missing_required", "error", school_q.id)))
    add(gxe.ExpectColumnValuesToNotBeNull(column="level", **_cond("_school_check"),
                                          meta=_meta(school_q.id, "unknown_school", "error", school_q.id)))
    if "_school_zeros" in columns:
        add(gxe.ExpectColumnValuesToBeNull(column="_school_zeros",
                                           meta=_meta(school_q.id, "school_code_zeros", "info", "_school_zeros")))
    if "_sender_check" in columns:
        add(gxe.ExpectColumnValuesToNotBeNull(column="_registered_sender", **_cond("_sender_check"),
                                              meta=_meta("", "unverified_sender", "error", "email")))
    for q in form.questions:
        if q is not school_q:
            expectations += _question_expectations(q, form, columns)
    return gx.ExpectationSuite(name=f"antt-{form.version}-{cycle.id}", expectations=_grouped(expectations))


def _grouped(expectations: list) -> list:
    """The expectations in the order GX validates them: grouped by column, in the order each column first appears,
    those without one (column pairs) as one group. GX reorders a suite so before it validates it, and its results
    come in that order; listed so already, any part of the suite validates in the suite's own order too (see
    `validate.run_suite`), and the results are those of the suite as written."""
    groups: dict[str | None, list] = {}
    for e in expectations:
        column = e.configuration.kwargs.get("column")
        groups.setdefault(column if isinstance(column, str) else None, []).append(e)
    return [e for group in groups.values() for e in group]


def _question_expectations(q: Question, form: Form, columns: set[str]) -> list:
    """Unreadable answers block or are dropped per the question's severity; answers out of their bounds always
    block, because numbers that do not add up need the school to correct them, not a silent fix."""
    sev = q.severity
    bound = q.on_invalid or "error"
    out = []
    for suffix, rule in (("__invalid", _INVALID_RULE.get(q.type)), ("__ambiguous", "ambiguous_number"),
                         ("__unknown", "unknown_options")):
        if f"{q.id}{suffix}" in columns and rule:
            out.append(gxe.ExpectColumnValuesToBeNull(column=f"{q.id}{suffix}",
                                                      meta=_meta(q.id, rule, sev, f"{q.id}{suffix}")))
    if f"_need__{q.id}" in columns:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=q.id, **_cond(f"_need__{q.id}"),
                                                     meta=_meta(q.id, "missing_required", "error", q.id)))
    if q.min is not None:
        out.append(gxe.ExpectColumnValuesToBeBetween(column=q.id, min_value=q.min,
                                                     meta=_meta(q.id, "below_min", bound, q.id, min=q.min)))
    if q.max is not None:
        out.append(gxe.ExpectColumnValuesToBeBetween(column=q.id, max_value=q.max,
                                                     meta=_meta(q.id, "above_max", bound, q.id, max=q.max)))
    if q.max_question:
        other = form.by_id[q.max_question]
        out.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=other.id, column_B=q.id, or_equal=True, ignore_row_if="either_value_is_missing",
            meta=_meta(q.id, "above_other", bound, q.id, other=other.id)))
    return out
