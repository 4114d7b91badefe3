"""Run the suite once over the whole cycle's frame and turn every failure into an issue row."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading

import pandas as pd
from openpyxl.utils import get_column_letter

from antt.config import Form
from antt.forking import forked
from antt.i18n import _
from antt.intake.normalize import SCHOOL, HeaderMatch
from antt.text import vi_datetime, vi_number

ISSUE_COLUMNS = ["school_code", "sheet_row", "question_id", "severity", "message"]  # issues.csv, a contract
ISSUE_FIELDS = ISSUE_COLUMNS + ["rule", "value"]  # kept internally: the rule's key and the value as given
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def severity_names() -> dict[str, str]:
    """An issue's severity as the analyst reads it (issues.csv keeps the ids)."""
    return {"error": _("error"), "warning": _("warning"), "info": _("note")}


_GX_LOCK = threading.Lock()


@functools.cache
def batch_definition():
    """One ephemeral GX context per process, with a whole-dataframe batch definition reused by every run. Built on
    first use; `antt run` calls it while Prefect's temporary server starts, so that its second or so is spent then."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # In-memory stores and no docs site: a run writes nothing outside its output folder.
    project = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    context = gx.get_context(mode="ephemeral", project_config=project)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("responses").add_dataframe_asset("submissions")
    return asset.add_batch_definition_whole_dataframe("cycle")


def suite_columns(suite) -> list[str]:
    """Every column the suite reads: checked columns, row-condition columns, the sheet row."""
    cols = {"sheet_row"}
    for exp in suite.expectations:
        kwargs = exp.configuration.kwargs
        cols |= {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        cols |= set(re.findall(r"`([^`]+)`", str(kwargs.get("row_condition") or "")))
    return sorted(cols)


RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["sheet_row"]}


def run_suite(frame: pd.DataFrame, suite, processes: int = 1):
    """One validation of the whole frame; returns GE's suite result (COMPLETE, unexpected rows by sheet row).

    Only the columns the suite reads are handed over, so row conditions copy as little as possible; `sheet_row`
    first, because GX finds the unexpected rows' index column by scanning the columns in order, once per unexpected
    row; text as plain object columns, which pandas keeps in one block, so each of GX's row filters copies one
    array of them rather than one per column; and a text column with no value at all (a question's `__invalid`
    column when every answer was valid, most of them) as float NaN, so the filters copy it as numbers rather than
    as 50,000 Python objects each. The results are the same (a test compares them).

    GX runs a suite's expectations one after another, on one core. With `processes` 2 (`antt run` on two cores) a
    forked process, which inherits the frame and the GX context, validates every other expectation while this one
    validates the rest, and the halves' results are put back in the suite's order as one suite result with GX's own
    statistics (`_merged`): the same as one process gives (a test compares them), since the suite lists its
    expectations in the order GX validates them (`suite._grouped`). An expectation that fails to run stops the run
    either way (`issues_from_results`).
    """
    columns = suite_columns(suite)
    frame = frame[["sheet_row", *(c for c in columns if c != "sheet_row")]]
    frame = frame.astype({c: object for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)})
    empty = frame.select_dtypes(object).isna().all()
    frame = frame.assign(**dict.fromkeys(empty.index[empty], float("nan"))).copy()  # None, NaN or pd.NA alike
    with _GX_LOCK:  # one GX context per process; units validated from concurrent threads take turns
        if processes < 2 or len(suite.expectations) < 2:
            return _validate(frame, suite)
        import great_expectations as gx

        first, second = [gx.ExpectationSuite(name=suite.name, expectations=[e.configuration for e in part])
                         for part in (suite.expectations[0::2], suite.expectations[1::2])]
        with forked({"validate:second half": lambda: _validate(frame, second)}, 1) as other:
            first_result = _validate(frame, first)
            return _merged(suite, first_result, other("validate:second half").value)


def _validate(frame: pd.DataFrame, suite):
    return batch_definition().get_batch(batch_parameters={"dataframe": frame}).validate(suite,
                                                                                        result_format=RESULT_FORMAT)


def _merged(suite, first, second):
    """The results of a suite's even and odd expectations (`first`, `second`) as the suite's one result: in the
    suite's order, with the statistics and success GX computes from them, and the first half's batch and meta."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    results = [None] * (len(first.results) + len(second.results))
    results[0::2], results[1::2] = first.results, second.results
    statistics = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        results=results, success=statistics.success, suite_name=suite.name,
        statistics={"evaluated_expectations": statistics.evaluated_expectations,
                    "successful_expectations": statistics.successful_expectations,
                    "unsuccessful_expectations": statistics.unsuccessful_expectations,
                    "success_percent": statistics.success_percent},
        meta=first.meta, batch_id=first.batch_id)


def issues_from_results(results, subs: pd.DataFrame, form: Form) -> pd.DataFrame:
    """Each unexpected row of each failed expectation → an issue row with a message in the form's wording.

    Work is per expectation and column-wise: the values quoted back are looked up for all its rows at once.
    """
    by_row = subs.set_index("sheet_row")
    parts = []
    for res in results.results:
        meta = res.expectation_config.meta or {}
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {res.expectation_config.type} on {meta.get('question_id')} failed to "
                               f"run: {res.exception_info.get('exception_message')}")
        if res.success:
            continue
        rows = [int(hit["sheet_row"]) for hit in res.result.get("unexpected_index_list") or []]
        if not rows:
            continue
        qid = meta["question_id"]
        label = form.by_id[qid].label if qid else ""
        values = by_row[meta["value_column"]].reindex(rows).tolist()
        others = by_row[meta["other"]].reindex(rows).tolist() if meta.get("other") else [None] * len(rows)
        other_label = form.by_id[meta["other"]].label if meta.get("other") else ""
        bounds = {"min": vi_number(meta.get("min"), 0), "max": vi_number(meta.get("max"), 0)}
        messages = [form.message(meta["rule"], label=label, value=_show(v), other_label=other_label,
                                 other_value=_show(o), **bounds) for v, o in zip(values, others, strict=True)]
        parts.append(pd.DataFrame({
            "school_code": by_row[SCHOOL].reindex(rows).fillna("").tolist(), "sheet_row": rows,
            "question_id": qid, "severity": meta["severity"], "message": messages, "rule": meta["rule"],
            "value": [_show(v) for v in values]}))
    if not parts:
        return pd.DataFrame(columns=ISSUE_FIELDS)
    return pd.concat(parts, ignore_index=True)[ISSUE_FIELDS]


def header_issues(header: HeaderMatch, headers: list[str], form: Form, blank_rows: int) -> pd.DataFrame:
    """Notes about the sheet's shape: unknown and duplicate columns, absent optional columns, blank rows."""
    rows = [{"question_id": "", "rule": "unknown_column", "message": form.message("unknown_column", value=h),
             "value": h} for _, h in header.unknown]
    rows += [{"question_id": "", "rule": "duplicate_column", "message": form.message("duplicate_column", value=h),
              "value": h} for _, h in header.duplicates]
    rows += [{"question_id": "", "rule": "unnamed_column", "value": get_column_letter(pos + 1),
              "message": form.message("unnamed_column", value=get_column_letter(pos + 1))} for pos in header.unnamed]
    rows += [{"question_id": q, "rule": "missing_optional_column",
              "message": form.message("missing_optional_column", label=form.by_id[q].label)}
             for q in header.missing_optional]
    if blank_rows:
        rows.append({"question_id": "", "rule": "blank_rows", "message": form.message("blank_rows", value=blank_rows)})
    df = pd.DataFrame(rows, columns=["question_id", "rule", "message", "value"])
    df["school_code"], df["sheet_row"] = "", 1
    warn = ("unknown_column", "duplicate_column", "unnamed_column")
    df["severity"] = ["warning" if r in warn else "info" for r in df["rule"]]
    return df[ISSUE_FIELDS]


def _show(value) -> str:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return vi_datetime(value)
    if isinstance(value, float):
        return vi_number(value, 0 if value.is_integer() else 2)
    return str(value)


def sort_issues(issues: pd.DataFrame) -> pd.DataFrame:
    """Stable order for files: by sheet row, then severity, then question."""
    key = issues["severity"].map(SEVERITY_ORDER)
    return (issues.assign(_sev=key).sort_values(["sheet_row", "_sev", "question_id", "rule"], kind="stable")
            .drop(columns="_sev").reset_index(drop=True))
