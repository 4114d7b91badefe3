"""The cycle's results as one plain, deterministic document: `results.json`, and what every page renders from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from antt.config import Config
from antt.results import CycleResults
from antt.sources.archive import ArchivedInput


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else value.isoformat()


def _plain(value: Any) -> Any:
    """pandas/numpy scalars → JSON values; missing → None."""
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def kpis(ranked: pd.DataFrame) -> dict[str, Any]:
    status = ranked["status"]
    submitted = status.eq("submitted")
    score = ranked["score"].astype("Float64")
    return {
        "expected": int(len(ranked)),
        "submitted": int(submitted.sum()),
        "on_time": int((submitted & ranked["on_time"].fillna(False).astype(bool)).sum()),
        "late": int((submitted & ~ranked["on_time"].fillna(True).astype(bool)).sum()),
        "needs_correction": int(status.eq("needs_correction").sum()),
        "missing": int(status.eq("missing").sum()),
        "dat": int(ranked["verdict"].eq("dat").fillna(False).sum()),
        "chua_dat": int(ranked["verdict"].eq("chua_dat").fillna(False).sum()),
        "average_score": None if score.dropna().empty else round(float(score.mean()), 1),
    }


def build_document(res: CycleResults, config: Config, archived: ArchivedInput, rows_read: int,
                   previous: dict | None) -> dict[str, Any]:
    """Everything a run decided, in rank order; no run time, so the same input gives the same bytes."""
    cycle, cs = res.cycle, config.criteria
    form = config.form
    answers = _records(res.counted[[q.id for q in form.questions]])
    criteria = _records(res.criteria)
    points = _records(res.points.round(2))
    by_set = _records(res.other_verdicts)
    schools = []
    for rec in res.ranked.to_dict("records"):
        code = rec["school_code"]
        schools.append({
            "school_code": code, "school_name": rec["school_name"], "level": rec["level"], "ward": rec["ward"],
            "status": rec["status"], "sheet_row": _plain(rec["sheet_row"]), "submitted_at": _iso(rec["submitted_at"]),
            "on_time": _plain(rec["on_time"]), "verdict": _plain(rec["verdict"]),
            "score": _plain(rec["score"]), "grade": _plain(rec["grade"]),
            "rank_overall": int(rec["rank_overall"]), "rank_in_level": int(rec["rank_in_level"]),
            "failed_criteria": [c for c in rec["failed"].split(", ") if c],
            "criteria": criteria.get(code, {}), "indicators": points.get(code, {}),
            "verdicts_by_set": by_set.get(code, {}), "answers": answers.get(code, {}),
        })
    issues = res.issues.sort_values(["sheet_row", "school_code", "question_id", "rule"], kind="stable")
    fail_counts = (res.criteria == False).sum() if len(res.criteria) else pd.Series(dtype=int)  # noqa: E712
    return {
        "cycle": {"id": cycle.id, "kind": cycle.kind, "label": cycle.label, "provisional": cycle.provisional,
                  "period_start": cycle.period_start.isoformat(), "period_end": cycle.period_end.isoformat(),
                  "opens_at": cycle.opens_at.isoformat(), "deadline_at": cycle.deadline_at.isoformat(),
                  "closes_at": cycle.closes_at.isoformat(), "report_due": cycle.report_due.isoformat()},
        "config": {"form_version": form.version, "criteria_set": cs.id, "checksum": config.checksum},
        "input": {"sha256": archived.sha256, "size": archived.size, "name": Path(archived.original).name,
                  "rows": rows_read},
        "kpis": kpis(res.ranked),
        "previous": previous,
        "schools": schools,
        "wards": [{k: _plain(v) for k, v in w.items()} for w in res.wards.to_dict("records")],
        "criteria": [{"id": c.id, "title": c.title, "mandatory": c.mandatory, "legal_ref": c.legal_ref,
                      "failing": int(fail_counts.get(c.id, 0))} for c in cs.criteria],
        "issues": [{k: _plain(v) for k, v in i.items()} for i in issues.to_dict("records")],
    }


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Frame indexed by school code → {code: {column: JSON value}}; dates as ISO dates."""
    plain = frame.astype(object).where(frame.notna(), None)
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            plain[col] = frame[col].dt.strftime("%Y-%m-%d").astype(object).where(frame[col].notna(), None)
    return {code: {k: _plain(v) for k, v in row.items()} for code, row in zip(plain.index, plain.to_dict("records"))}


def previous_summary(path: Path) -> dict | None:
    """KPIs and per-school score/verdict of an earlier cycle's results.json in the same output folder."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"cycle": doc["cycle"]["id"], "kpis": doc["kpis"],
            "schools": {s["school_code"]: {"score": s["score"], "verdict": s["verdict"], "rank": s["rank_overall"]}
                        for s in doc["schools"]}}


def to_json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
