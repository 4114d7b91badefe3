"""Run the suite once over the whole cycle's frame and turn every failure into an issue row."""

from __future__ import annotations

import functools
import logging
import os

import pandas as pd

from antt.config import Form
from antt.normalize import SCHOOL, HeaderMatch
from antt.text import vi_datetime, vi_number

ISSUE_COLUMNS = ["school_code", "sheet_row", "question_id", "severity", "message", "rule"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@functools.cache
def _batch_definition():
    """One ephemeral GX context per process, with a whole-dataframe batch definition reused by every run."""
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


def run_suite(frame: pd.DataFrame, suite) -> list:
    """One validation of the whole frame; returns GE's per-expectation results (COMPLETE, indexed by sheet row)."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE",
                                                  "unexpected_index_column_names": ["sheet_row"]})
    return list(result.results)


def issues_from_results(results: list, subs: pd.DataFrame, form: Form) -> pd.DataFrame:
    """Each unexpected row of each failed expectation → an issue row with a message in the form's wording."""
    by_row = subs.set_index("sheet_row")
    rows = []
    for res in results:
        meta = res.expectation_config.meta or {}
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {res.expectation_config.type} on {meta.get('question_id')} failed to "
                               f"run: {res.exception_info.get('exception_message')}")
        if res.success:
            continue
        qid = meta["question_id"]
        for hit in res.result.get("unexpected_index_list") or []:
            sheet_row = int(hit["sheet_row"])
            record = by_row.loc[sheet_row]
            values = {"label": form.by_id[qid].label if qid else "",
                      "value": _show(record.get(meta["value_column"])),
                      "min": vi_number(meta.get("min"), 0), "max": vi_number(meta.get("max"), 0)}
            if meta.get("other"):
                values |= {"other_label": form.by_id[meta["other"]].label,
                           "other_value": _show(record.get(meta["other"]))}
            code = record.get(SCHOOL)
            rows.append({"school_code": "" if pd.isna(code) else code, "sheet_row": sheet_row, "question_id": qid,
                         "severity": meta["severity"], "message": form.message(meta["rule"], **values),
                         "rule": meta["rule"]})
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def header_issues(header: HeaderMatch, headers: list[str], form: Form, blank_rows: int) -> pd.DataFrame:
    """Notes about the sheet's shape: unknown and duplicate columns, absent optional columns, blank rows."""
    rows = [{"question_id": "", "rule": "unknown_column", "message": form.message("unknown_column", value=h)}
            for _, h in header.unknown]
    rows += [{"question_id": "", "rule": "duplicate_column", "message": form.message("duplicate_column", value=h)}
             for _, h in header.duplicates]
    rows += [{"question_id": q, "rule": "missing_optional_column",
              "message": form.message("missing_optional_column", label=form.by_id[q].label)}
             for q in header.missing_optional]
    if blank_rows:
        rows.append({"question_id": "", "rule": "blank_rows", "message": form.message("blank_rows", value=blank_rows)})
    df = pd.DataFrame(rows, columns=["question_id", "rule", "message"])
    df["school_code"], df["sheet_row"] = "", 1
    df["severity"] = ["warning" if r in ("unknown_column", "duplicate_column") else "info" for r in df["rule"]]
    return df[ISSUE_COLUMNS]


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
