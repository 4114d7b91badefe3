"""The yardstick: the cycle's rules as a hand-written plain-pandas script, no Prefect, no Great Expectations, no
reports. `bench/run.py` times it next to `antt run` on the same files; it is what an analyst could write in an
afternoon, so the ratio says what the product's guarantees (archive, validation, reports, history) cost.

    python bench/plain.py RESPONSES.csv SCHOOLS.csv CYCLE OUT_FOLDER

It reads the rules from the same config files (form, scoring, criteria, cycles) with PyYAML, reads both CSVs,
maps the header by question id, parses the answers, checks them (blank required answer, unknown school, unreadable
or out-of-range numbers, ticked options), keeps each school's latest valid submission (on time first), computes the
criteria verdict, the plan score and grade, ranks, and writes ranking.csv and issues.csv. It imports nothing of antt.
"""

from __future__ import annotations

import sys
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

CONFIG = Path(__file__).resolve().parent.parent / "config"
STATUS = {"submitted": 0, "needs_correction": 1, "missing": 2}


def _key(text: str) -> str:
    return unicodedata.normalize("NFC", str(text)).strip().casefold()


def _instant(spec: dict, year: int, tz: str, end_of_day: bool = False) -> pd.Timestamp:
    day = datetime(year + spec.get("year_offset", 0), spec["month"], spec["day"])
    return pd.Timestamp(day + (timedelta(days=1) if end_of_day else timedelta()), tz=tz)


def main(responses: Path, schools: Path, cycle_id: str, out: Path) -> None:
    cfg = CONFIG
    form = yaml.safe_load((cfg / "form.yaml").read_text(encoding="utf-8"))
    scoring = yaml.safe_load((cfg / "scoring.yaml").read_text(encoding="utf-8"))
    cycles = yaml.safe_load((cfg / "cycles.yaml").read_text(encoding="utf-8"))
    criteria = yaml.safe_load((cfg / "criteria" / f"{scoring['criteria_set']}.yaml").read_text(encoding="utf-8"))
    tz, year, kind = cycles["timezone"], int(cycle_id[:4]), cycles["kinds"][cycle_id[5:]]
    opens, closes = _instant(kind["opens"], year, tz), _instant(kind["closes"], year, tz, end_of_day=True)
    deadline = _instant(kind["deadline"], year, tz) + timedelta(days=cycles.get("grace_days", 0))
    questions = {q["id"]: q for q in form["questions"]}
    yes, no = _key(form["answer_yes"]), _key(form["answer_no"])

    registry = pd.read_csv(schools, dtype=str, keep_default_na=False)
    raw = pd.read_csv(responses, dtype=str, keep_default_na=False)
    names = {}
    for header in raw.columns:
        qid = header.split(".", 1)[0].strip()
        if qid in questions:
            names[header] = qid
        elif _key(header) in {_key(h) for h in form["timestamp_headers"]}:
            names[header] = "ts"
    raw = raw.rename(columns=names).replace("", np.nan)
    raw["sheet_row"] = np.arange(2, len(raw) + 2)
    raw = raw.dropna(how="all", subset=[c for c in raw.columns if c != "sheet_row"])

    subs = pd.DataFrame({"sheet_row": raw["sheet_row"]})
    subs["ts"] = pd.to_datetime(raw["ts"], format="%d/%m/%Y %H:%M:%S", errors="coerce").dt.tz_localize(tz)
    subs["school_code"] = raw["A1"].str.extract(r"^\[?([^\s\]–—-]+)", expand=False).str.upper()
    subs["level"] = subs["school_code"].map(registry.set_index("school_code")["level"])
    issues = [("error", subs["sheet_row"][subs["ts"].isna()], "", "bad_timestamp"),
              ("error", subs["sheet_row"][subs["level"].isna()], "A1", "unknown_school")]
    for qid, q in questions.items():
        if qid == "A1" or qid not in raw:
            continue
        text = raw[qid].str.strip()
        applies = subs["level"].isin(q["applies_to"]) if q.get("applies_to") else pd.Series(True, index=subs.index)
        text = text.where(applies)
        if q["type"] == "integer":
            value = pd.to_numeric(text.str.replace(r"[.,\s]", "", regex=True), errors="coerce")
            bad = text.notna() & value.isna()
            low = value < q["min"] if "min" in q else pd.Series(False, index=subs.index)
            high = value > raw[q["max_question"]].pipe(pd.to_numeric, errors="coerce") if "max_question" in q \
                else pd.Series(False, index=subs.index)
            issues += [(q.get("severity", "error"), subs["sheet_row"][bad], qid, "not_integer"),
                       ("error", subs["sheet_row"][low | high], qid, "out_of_range")]
            subs[qid] = value.where(~bad)
        elif q["type"] == "yes_no":
            key = text.map(_key, na_action="ignore")
            subs[qid] = key.map({yes: True, no: False})
            issues.append((q.get("severity", "error"), subs["sheet_row"][text.notna() & subs[qid].isna()], qid,
                           "not_yes_no"))
        elif q["type"] == "select_multiple":
            ticked = sum(text.str.contains(o, regex=False).fillna(False).astype(int) for o in q["options"])
            subs[qid + "__n"] = ticked.where(text.notna())
            subs[qid] = text
        else:
            subs[qid] = text
        if q.get("required"):
            issues.append(("error", subs["sheet_row"][applies & text.isna()], qid, "missing_required"))
    issues = pd.concat([pd.DataFrame({"sheet_row": rows, "severity": sev, "question_id": qid, "rule": rule})
                        for sev, rows, qid, rule in issues], ignore_index=True)
    issues["school_code"] = issues["sheet_row"].map(subs.set_index("sheet_row")["school_code"])

    blocked = issues.loc[issues["severity"] == "error", "sheet_row"]
    valid = subs[subs["level"].notna() & (subs["ts"] >= opens) & (subs["ts"] < closes)
                 & ~subs["sheet_row"].isin(blocked)].copy()
    valid["on_time"] = valid["ts"] < deadline
    counted = (valid.sort_values(["school_code", "on_time", "ts", "sheet_row"], ascending=[True, False, False, False])
               .drop_duplicates("school_code").set_index("school_code"))

    earned, possible = pd.Series(0.0, index=counted.index), pd.Series(0.0, index=counted.index)
    for section in scoring["sections"]:
        for ind in section["indicators"]:
            kind = ind["kind"]
            if kind == "answered_yes":
                share = (counted[ind["question"]] == True).astype(float)  # noqa: E712
            elif kind == "ratio":
                share = (counted[ind["numerator"]] / counted[ind["denominator"]].where(lambda d: d > 0)).clip(0, 1)
            elif kind == "count":
                q = questions[ind["question"]]
                value = counted[q["id"] + "__n"] if q["type"] == "select_multiple" else counted[q["id"]]
                share = (value / (len(q["options"]) if ind["target"] == "all" else ind["target"])).clip(0, 1)
            else:
                share = counted["on_time"].map({True: 1.0, False: ind["late_share"]})
            applies = pd.Series(True, index=counted.index)
            for qid in (ind.get("question"), ind.get("numerator"), ind.get("denominator")):
                if qid and questions[qid].get("applies_to"):
                    applies &= counted["level"].isin(questions[qid]["applies_to"])
            earned += (share.fillna(0.0) * ind["points"]).where(applies, 0.0)
            possible += applies * ind["points"]
    counted["score"] = (earned / possible.where(possible > 0) * 100).round(1)

    passed = pd.Series(0, index=counted.index)
    mandatory_ok = pd.Series(True, index=counted.index)
    for crit in criteria["criteria"]:
        holds = pd.Series(True, index=counted.index)
        for cond in crit["all"]:
            q, values = questions[cond["question"]], counted.get(cond["question"])
            if cond["op"] == "eq":
                ok = values == ((cond["value"] == form["answer_yes"]) if q["type"] == "yes_no" else cond["value"])
            elif cond["op"] == "eq_question":
                ok = values == counted[cond["other"]]
            elif cond["op"] == "has_all_options":
                ok = counted[q["id"] + "__n"] == len(q["options"])
            else:
                ok = counted[q["id"] + "__n"] >= cond["value"]
            skipped = ~counted["level"].isin(q["applies_to"]) if q.get("applies_to") else False
            holds &= ok.fillna(False).astype(bool) | skipped
        passed += holds
        if crit.get("mandatory"):
            mandatory_ok &= holds
    counted["verdict"] = np.where(mandatory_ok & (passed >= criteria["pass_share"] * len(criteria["criteria"])),
                                  "dat", "chua_dat")
    bands = scoring["grades"]
    counted["grade"] = np.select([counted["score"].fillna(-1) >= g["min"] for g in bands], [g["id"] for g in bands],
                                 default="")

    table = registry[["school_code", "school_name", "level", "ward"]].set_index("school_code", drop=False)
    table = table.join(counted[["ts", "on_time", "verdict", "score", "grade"]]).rename_axis(None)
    arrived = subs.loc[(subs["ts"] >= opens) & (subs["ts"] < closes), "school_code"]
    table["status"] = np.where(table.index.isin(counted.index), "submitted",
                               np.where(table.index.isin(arrived), "needs_correction", "missing"))
    table["order"] = table["status"].map(STATUS)
    table = table.sort_values(["order", "verdict", "score", "on_time", "ts", "school_code"],
                              ascending=[True, True, False, False, True, True], na_position="last")
    keys = table[["order", "verdict", "score"]].fillna({"verdict": "", "score": -1.0})
    changed = (keys != keys.shift()).any(axis=1).to_numpy()
    table["rank_overall"] = np.maximum.accumulate(np.where(changed, np.arange(1, len(table) + 1), 0))
    out.mkdir(parents=True, exist_ok=True)
    table.drop(columns="order").to_csv(out / "ranking.csv", index=False)
    issues.to_csv(out / "issues.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
