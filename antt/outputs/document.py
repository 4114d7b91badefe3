"""The cycle's results as one plain, deterministic document: `results.json`, and what every page renders from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from antt.config import Config
from antt.scoring.results import CycleResults
from antt.sources.archive import ArchivedInput
from antt.text import iso_instants


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


def kpis_of(schools: list[dict]) -> dict[str, Any]:
    """The KPIs (`kpis`) over some of the document's schools (a unit, a level), counted on its records: a frame per
    unit would cost seconds at national scale (794 units: 1.4 s against 0.13 s). The two must agree: a test compares
    them on a whole run."""
    submitted = [s for s in schools if s["status"] == "submitted"]
    scores = [s["score"] for s in schools if s["score"] is not None]
    return {
        "expected": len(schools), "submitted": len(submitted),
        "on_time": sum(s["on_time"] is True for s in submitted), "late": sum(s["on_time"] is False for s in submitted),
        "needs_correction": sum(s["status"] == "needs_correction" for s in schools),
        "missing": sum(s["status"] == "missing" for s in schools),
        "dat": sum(s["verdict"] == "dat" for s in schools),
        "chua_dat": sum(s["verdict"] == "chua_dat" for s in schools),
        "average_score": round(sum(scores) / len(scores), 1) if scores else None,
    }


def build_document(res: CycleResults, config: Config, archived: ArchivedInput, rows_read: int,
                   previous: dict | None, edits: list[dict] | None = None,
                   replies: dict | None = None) -> dict[str, Any]:
    """Everything a run decided, in rank order; no run time, so the same input gives the same bytes.

    For a Google source, each school also records the version that counted (`version`) and the document lists
    every edited response with its versions (`edits`, from antt.intake.versions). A run given the schools' replies
    (`replies`, from `replies_document`) records them, and on each school the replies the office accepted and, when
    they changed anything, its results without them (`before_replies`)."""
    cycle, cs = res.cycle, config.criteria
    form = config.form
    answers = _records(res.counted[[q.id for q in form.questions]])
    criteria = _records(res.criteria)
    points = _records(res.points.round(2))
    by_set = _records(res.other_verdicts)
    ranked = res.ranked
    ts = ranked["submitted_at"]
    base = _natives(pd.DataFrame({
        "school_code": ranked["school_code"], "school_name": ranked["school_name"], "level": ranked["level"],
        "ward": ranked["ward"], "unit": ranked["unit"], "status": ranked["status"], "sheet_row": ranked["sheet_row"],
        "submitted_at": iso_instants(ts) if len(ts) else ts,
        "on_time": ranked["on_time"], "verdict": ranked["verdict"], "score": ranked["score"],
        "grade": ranked["grade"], "rank_overall": ranked["rank_overall"], "rank_in_level": ranked["rank_in_level"],
    }))
    failed = [[c for c in f.split(", ") if c] for f in ranked["failed"].tolist()]
    version = _versions(ranked, edits or [], cycle.deadline_at) if "counted_row" in ranked.columns else None
    accepted: dict[str, list[dict]] = {}
    for reply in (replies or {}).get("queue", []):
        if reply["status"] == "accepted":
            accepted.setdefault(reply["school_code"], []).append(
                {k: reply[k] for k in ("reply_row", "question_id", "value", "reason", "at", "evidence")})
    # what a school with accepted replies had without them, when they changed anything
    before = {c["school_code"]: {k: c[f"{k}_before"] for k in ("status", "verdict", "score", "rank_overall")}
              for c in (replies or {}).get("changes", [])}
    schools = []
    for rec, fails in zip(_rows(base), failed, strict=True):
        code = rec["school_code"]
        rec |= {"failed_criteria": fails, "criteria": criteria.get(code, {}), "indicators": points.get(code, {}),
                "verdicts_by_set": by_set.get(code, {}), "answers": answers.get(code, {})}
        if version is not None:
            rec["version"] = version.get(code)
        if replies is not None:
            rec["accepted_replies"] = accepted.get(code, [])
            rec["before_replies"] = before.get(code) if code in accepted else None
        schools.append(rec)
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
        "wards": _natives(res.wards).to_dict("records"),
        "criteria": [{"id": c.id, "title": c.title, "mandatory": c.mandatory, "legal_ref": c.legal_ref,
                      "failing": int(fail_counts.get(c.id, 0))} for c in cs.criteria],
        "issues": _natives(issues).to_dict("records"),
        "corrections": [{k: v for k, v in c.items() if k != "line"} for c in res.corrections.to_dict("records")],
        **({"edits": [e | {"versions": [_shown(v, cycle.deadline_at) for v in e["versions"]]} for e in edits]}
           if version is not None else {}),
        **({"replies": replies} if replies is not None else {}),
    }


REPLY_FIELDS = ["reply_row", "at", "school_code", "sheet_row", "question_id", "question", "answer_now", "value",
                "reason", "evidence", "replier", "email", "status", "if_verdict", "if_score", "if_grade"]


def replies_document(queue: pd.DataFrame, changes: pd.DataFrame, window: tuple[datetime, datetime]) -> dict:
    """The reply window in results.json: its dates, the replies by status (`received` every one of the cycle's,
    `accepted` those a correction applies, `pending` those suggested and not yet accepted, `declined` the rest),
    every reply as the review queue has it, and the schools the accepted replies moved (`changes`)."""
    status = queue["status"].value_counts()
    accepted, pending = int(status.get("accepted", 0)), int(status.get("suggested", 0))
    return {"opens_at": window[0].isoformat(), "closes_at": window[1].isoformat(), "received": len(queue),
            "accepted": accepted, "pending": pending, "declined": len(queue) - accepted - pending,
            "by_status": {k: int(v) for k, v in sorted(status.items())},
            "queue": _natives(queue[REPLY_FIELDS]).to_dict("records"),
            "changes": _natives(changes).to_dict("records")}


def _shown(version: dict, deadline: datetime) -> dict:
    """A version as documents show it: its time and whether it was on time (its row in the run is internal)."""
    at = version["submitted_at"]
    return {"submitted_at": at, "shown": version["shown"],
            "on_time": None if at is None else datetime.fromisoformat(at) < deadline}


def _versions(ranked: pd.DataFrame, edits: list[dict], deadline: datetime) -> dict[str, dict | None]:
    """School → the version that counted: its sheet row, response id, submitted time, whether it was recovered from
    the archive (overwritten later), and every version of that response (each marked counted or not)."""
    of_row = {e["sheet_row"]: e for e in edits}
    found = {}
    for rec in _natives(ranked[["school_code", "sheet_row", "counted_row", "response_id", "recovered",
                                "submitted_at"]]).to_dict("records"):
        if rec["sheet_row"] is None:
            found[rec["school_code"]] = None
            continue
        edit = of_row.get(rec["sheet_row"])
        found[rec["school_code"]] = {
            "sheet_row": rec["sheet_row"], "response_id": rec["response_id"],
            "submitted_at": rec["submitted_at"].isoformat(), "recovered": bool(rec["recovered"]),
            "versions": [_shown(v, deadline) | {"counted": v["row"] == rec["counted_row"]} for v in edit["versions"]]
            if edit else []}
    return found


def _natives(frame: pd.DataFrame) -> pd.DataFrame:
    """Python scalars (int, float, bool, str) with None for missing: what JSON and templates expect."""
    return frame.astype(object).where(frame.notna(), None)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`frame.to_dict("records")` of a `_natives` frame (whose values are Python scalars already), column-wise:
    without pandas boxing each of a national registry's 700,000 values again."""
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*(frame[c].tolist() for c in frame.columns),
                                                                  strict=True)]


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Frame indexed by school code → {code: {column: JSON value}}; dates as ISO dates. Column-wise, then zipped."""
    names = [str(c) for c in frame.columns]
    columns = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        columns.append(values.astype(object).where(values.notna(), None).tolist())
    codes = frame.index.tolist()
    if not columns:
        return {code: {} for code in codes}
    rows = zip(*columns, strict=True)
    return {code: dict(zip(names, row, strict=True)) for code, row in zip(codes, rows, strict=True)}


def previous_summary(path: Path) -> dict | None:
    """KPIs and per-school score/verdict of an earlier cycle's results.json in the same output folder."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"cycle": doc["cycle"]["id"], "kpis": doc["kpis"],
            "schools": {s["school_code"]: {"score": s["score"], "verdict": s["verdict"], "rank": s["rank_overall"]}
                        for s in doc["schools"]}}


def to_json(document: dict) -> bytes:
    """Compact UTF-8 JSON, one school per line, so a national file stays small and still diffs line by line."""
    return b"".join(json_parts(document))


def write_json(document: dict, path: Path) -> None:
    """`to_json`'s bytes written to `path` a school at a time: a national document (100 MB of JSON) is never held
    whole in memory, nor copied while it is joined."""
    with path.open("wb") as f:
        f.writelines(json_parts(document))


def json_parts(document: dict) -> Iterator[bytes]:
    """`to_json`'s bytes a piece at a time (the head, then each school): for a writer or a compressor that should
    never hold a national document's 100 MB whole."""
    head = {k: v for k, v in document.items() if k != "schools"}
    yield orjson.dumps(head)[:-1] + b',"schools":[\n'
    for i, school in enumerate(document["schools"]):
        yield orjson.dumps(school) if i == 0 else b",\n" + orjson.dumps(school)
    yield b"\n]}\n"
