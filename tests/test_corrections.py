"""The analyst's corrections: applied on top of the archived raw data, each one visible, a bad one an issue."""

from __future__ import annotations

import csv
import json
import re

import pytest
from conftest import config_with_corrections, run_stages

from antt.errors import InputError


@pytest.fixture
def run_with(tmp_path, sheet):
    """Run the pipeline stages (no engine) on `sheet` with the given corrections for 2026-H1."""

    def _run(rows: list[dict]):
        cfg = config_with_corrections(tmp_path, rows, reason="đã gọi điện xác minh", by="Lan", at="2026-06-11")
        stages = run_stages(sheet.write_csv(tmp_path / "responses.csv"), cfg, tmp_path / "out")
        doc = json.loads((stages.write() / "results.json").read_text(encoding="utf-8"))
        return {s["school_code"]: s for s in doc["schools"]}, doc, stages.received.archived

    return _run


def test_set_replaces_an_answer_and_the_archive_is_untouched(run_with, sheet):
    row = sheet.add("MN01", D1="")  # blocking: required answer missing
    schools, doc, archived = run_with([{"action": "set", "school_code": "MN01", "sheet_row": row,
                                        "question_id": "D1", "value": "0"}])
    assert schools["MN01"]["status"] == "submitted" and schools["MN01"]["answers"]["D1"] == 0
    assert doc["corrections"][0]["by"] == "Lan" and doc["corrections"][0]["action"] == "set"
    annex = (archived.stored.parent.parent / "2026-H1" / "report.html").read_text(encoding="utf-8")
    assert "Điều chỉnh của Phòng GD&amp;ĐT" in annex and "đã gọi điện xác minh" in annex
    with open(archived.stored, encoding="utf-8") as fh:
        archived_rows = list(csv.reader(fh))
    d1 = next(i for i, h in enumerate(archived_rows[0]) if h.startswith("D1."))
    assert archived_rows[row - 1][d1] == ""  # the archived raw input keeps what the school sent


def test_set_with_an_invalid_value_is_an_issue_not_a_crash(run_with, sheet):
    row = sheet.add("MN01", D1="")
    schools, doc, _ = run_with([{"action": "set", "school_code": "MN01", "sheet_row": row, "question_id": "D1",
                                 "value": "không rõ"}])
    assert schools["MN01"]["status"] == "needs_correction"
    assert any(i["rule"] == "not_integer" and i["sheet_row"] == row for i in doc["issues"])


def test_approve_sender_counts_an_unregistered_sender(run_with, sheet):
    row = sheet.add("MN01", email="hieupho.mn01@gmail.com")
    schools, doc, _ = run_with([{"action": "approve_sender", "school_code": "MN01", "sheet_row": row}])
    assert schools["MN01"]["status"] == "submitted"
    rules = {i["rule"] for i in doc["issues"] if i["sheet_row"] == row}
    assert "approved_sender" in rules and "unverified_sender" not in rules


def test_accept_late_treats_a_late_submission_as_on_time(run_with, sheet):
    row = sheet.add("MN01", at="12/6/2026 8:00:00")
    schools, _, _ = run_with([{"action": "accept_late", "school_code": "MN01", "sheet_row": row}])
    assert schools["MN01"]["on_time"] is True


def test_reject_never_counts_a_submission(run_with, sheet):
    first = sheet.add("MN01", at="1/6/2026 8:00:00")
    second = sheet.add("MN01", at="5/6/2026 8:00:00")
    schools, doc, _ = run_with([{"action": "reject", "school_code": "MN01", "sheet_row": second}])
    assert schools["MN01"]["sheet_row"] == first
    assert any(i["rule"] == "reject" and i["severity"] == "error" for i in doc["issues"])


@pytest.mark.parametrize("bad,fragment", [
    ({"action": "set", "school_code": "MN01", "sheet_row": 99, "question_id": "D1", "value": "0"}, "dòng 99"),
    ({"action": "set", "school_code": "MN01", "sheet_row": 2, "question_id": "Z9", "value": "0"}, "Z9"),
    ({"action": "approve_sender", "school_code": "TH01", "sheet_row": 2}, "MN01"),
])
def test_bad_correction_is_an_issue_row(run_with, sheet, bad, fragment):
    sheet.add("MN01")
    schools, doc, _ = run_with([bad])
    hit = [i for i in doc["issues"] if i["rule"] == "bad_correction"]
    assert len(hit) == 1 and fragment in hit[0]["message"]
    assert schools["MN01"]["status"] == "submitted"


def test_template_suggests_an_action_for_every_blocking_problem(tmp_path, sheet):
    from test_cli import antt

    impostor = sheet.add("MN01", email="ai.do@gmail.com")
    blank = sheet.add("TH01", D2="")
    src = sheet.write_csv(tmp_path / "responses.csv")
    proc = antt("corrections", "template", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    with open(proc.stdout.strip().splitlines()[-1], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["action", "school_code", "sheet_row", "question_id", "value", "reason", "by", "at"]
    assert {(r["action"], r["sheet_row"], r["question_id"]) for r in rows} == {
        ("approve_sender", str(impostor), ""), ("set", str(blank), "D2")}


def test_a_bad_correction_names_its_line_in_the_file_past_blank_and_comment_lines(tmp_path):
    from antt.intake.corrections import load_corrections

    path = tmp_path / "2026-H1.csv"
    path.write_text("action,school_code,sheet_row,question_id,value,reason,by,at\n"
                    "set,MN01,2,D2,0,gõ nhầm,Lan,2026-06-11\n"
                    "\n"
                    "# đã gọi điện cho trường\n"
                    "reject,MN02,3,,,trùng,Lan,2026-06-11\n", encoding="utf-8")
    assert load_corrections(path)[["action", "line"]].values.tolist() == [["set", "2"], ["reject", "5"]]


@pytest.mark.parametrize("bad,fragment", [
    ({"action": "delete", "school_code": "MN01", "sheet_row": "2"}, "row 3: action 'delete' is not one of set,"),
    ({"action": "reject", "school_code": "MN01", "sheet_row": "hai"}, "row 3: sheet_row 'hai' is not the number"),
    ({"action": "reject", "school_code": "MN01", "sheet_row": ""}, "row 3: sheet_row '' is not the number"),
    ({"action": "set", "school_code": "MN01", "sheet_row": "2", "value": "0"}, "row 3: a 'set' needs the question_id"),
])
def test_a_row_that_is_no_correction_refuses_the_file_in_one_line_naming_it(tmp_path, english, bad, fragment):
    from antt.intake.corrections import load_corrections

    cfg = config_with_corrections(tmp_path, [{"action": "reject", "school_code": "TH01", "sheet_row": "3"}, bad])
    with pytest.raises(InputError, match=re.escape(fragment)) as refused:
        load_corrections(cfg / "corrections" / "2026-H1.csv")
    assert "\n" not in str(refused.value)
