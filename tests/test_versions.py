"""Every version of every response, rebuilt from the archived snapshots under --out (issue 14, docs/spec.md §4b):
the Forms API by responseId, the Sheet by row while its respondent stays the same."""

from __future__ import annotations

import json

import pytest
from conftest import config_with_corrections, run_stages, school
from fake_forms import form_resource
from test_gform import FORM_ID, as_responses, zulu
from test_gsheet import as_sheets_holds_it

from antt.forms.apps_script import form_data

KEY = "1VERSIONSa0B1c2D3e4F5g6H7i8J9k0LmNoPqRsTu"


@pytest.fixture
def forms(fake_forms):
    return fake_forms


@pytest.fixture
def sheets(fake_sheets):
    return fake_sheets


def deadline_day(sheet, config):
    """The responses as they stand when the deadline-day run reads them: MN01 complete and on time, TH01 on time
    but missing a required answer, THCS01 on time."""
    sheet.add("MN01", at="8/6/2026 9:00:00", C2="6")
    sheet.add("TH01", at="8/6/2026 10:00:00", A5="")
    sheet.add("THCS01", at="9/6/2026 11:00:00")
    return as_responses(sheet, config)


def after_the_deadline(responses):
    """MN01 edits its on-time response after the deadline (fewer sessions, an incident); TH01 fixes its broken one
    late."""
    mn01, th01 = json.loads(json.dumps(responses[0])), json.loads(json.dumps(responses[1]))
    answers = {a["questionId"]: a for a in mn01["answers"].values()}
    c2 = next(q for q, a in answers.items() if a["textAnswers"]["answers"][0]["value"] == "6")
    mn01["answers"][c2]["textAnswers"]["answers"][0]["value"] = "2"
    mn01["lastSubmittedTime"] = zulu("12/6/2026 15:00:00")
    from fake_forms import question_id

    th01["answers"][question_id("A5")] = {"questionId": question_id("A5"),
                                          "textAnswers": {"answers": [{"value": "40"}]}}
    th01["lastSubmittedTime"] = zulu("12/6/2026 16:00:00")
    return mn01, th01


def test_the_later_run_counts_the_on_time_version_and_the_late_fix(forms, sheet, config, registry, tmp_path):
    """Done when: a deadline-day run, then one school edits its on-time response after the deadline and another
    fixes a broken one late; the later run, with the first snapshot archived under the same --out, counts the first
    school's on-time version (with its original answers) and the second school's late fix."""
    out = tmp_path / "out"
    forms.add_form(form_resource(FORM_ID, form_data(config, registry)), deadline_day(sheet, config))
    first = run_stages(f"gform:{FORM_ID}", None, out).results
    assert school(first, "MN01")["on_time"] and school(first, "MN01")["status"] == "submitted"
    assert school(first, "TH01")["status"] == "needs_correction"

    for edited in after_the_deadline(forms.responses[FORM_ID]):
        forms.put_response(FORM_ID, edited)
    later = run_stages(f"gform:{FORM_ID}", None, out)
    res = later.results
    mn01, th01 = school(res, "MN01"), school(res, "TH01")
    assert mn01["status"] == "submitted" and mn01["on_time"] and mn01["recovered"]
    assert mn01["sheet_row"] == 2 and mn01["submitted_at"].strftime("%d/%m %H:%M") == "08/06 09:00"
    assert res.counted.loc["MN01", "C2"] == 6  # its original answer, not the edit's 2
    assert th01["status"] == "submitted" and not th01["on_time"] and not th01["recovered"]
    assert th01["submitted_at"].strftime("%d/%m %H:%M") == "12/06 16:00"
    # the broken on-time version's error is still listed, on its own sheet row, saying which version it was
    missing_a5 = res.issues[(res.issues["question_id"] == "A5") & (res.issues["school_code"] == "TH01")]
    assert list(missing_a5["sheet_row"]) == [3] and missing_a5["message"].str.contains("08/06/2026 10:00").all()
    assert set(res.issues["sheet_row"].dropna()) <= {1, 2, 3, 4}

    folder = later.write()
    document = json.loads((folder / "results.json").read_text())
    by_code = {s["school_code"]: s for s in document["schools"]}
    assert by_code["MN01"]["version"] == {
        "sheet_row": 2, "response_id": "ACYDBNj00000", "submitted_at": "2026-06-08T09:00:00+07:00", "recovered": True,
        "versions": [{"submitted_at": "2026-06-08T09:00:00+07:00", "shown": "08/06/2026 09:00", "on_time": True,
                      "counted": True},
                     {"submitted_at": "2026-06-12T15:00:00+07:00", "shown": "12/06/2026 15:00", "on_time": False,
                      "counted": False}]}
    assert by_code["TH01"]["version"]["response_id"] == "ACYDBNj00001"
    assert by_code["THCS01"]["version"]["versions"] == []
    (mn01_edit,) = [e for e in document["edits"] if e["school_code"] == "MN01"]
    assert mn01_edit["changes"] == [[{"question_id": "C2", "label": config.form.by_id["C2"].label,
                                      "before": "6", "after": "2"}]]

    quality = (folder / "data_quality.html").read_text()
    assert "Câu trả lời đã sửa" in quality and "ACYDBNj00000" in quality
    scorecard = (folder / "schools" / "MN01.html").read_text()
    assert "08/06/2026 09:00" in scorecard and "12/06/2026 15:00" in scorecard and "khôi phục" in scorecard


def test_accept_late_still_chooses_the_late_version(forms, sheet, config, registry, tmp_path):
    out = tmp_path / "out"
    forms.add_form(form_resource(FORM_ID, form_data(config, registry)), deadline_day(sheet, config))
    run_stages(f"gform:{FORM_ID}", None, out)
    for edited in after_the_deadline(forms.responses[FORM_ID]):
        forms.put_response(FORM_ID, edited)
    cfg = config_with_corrections(tmp_path, [{"action": "accept_late", "school_code": "MN01", "sheet_row": "2",
                                              "reason": "Trường báo sửa số liệu", "by": "chuyên viên",
                                              "at": "2026-06-13"}])
    res = run_stages(f"gform:{FORM_ID}", cfg, out).results
    mn01 = school(res, "MN01")
    assert mn01["on_time"] and not mn01["recovered"] and res.counted.loc["MN01", "C2"] == 2


def test_reject_covers_every_version_of_the_response(forms, sheet, config, registry, tmp_path):
    out = tmp_path / "out"
    forms.add_form(form_resource(FORM_ID, form_data(config, registry)), deadline_day(sheet, config))
    run_stages(f"gform:{FORM_ID}", None, out)
    for edited in after_the_deadline(forms.responses[FORM_ID]):
        forms.put_response(FORM_ID, edited)
    cfg = config_with_corrections(tmp_path, [{"action": "reject", "school_code": "MN01", "sheet_row": "2",
                                              "reason": "Gửi nhầm", "by": "chuyên viên", "at": "2026-06-13"}])
    res = run_stages(f"gform:{FORM_ID}", cfg, out).results
    assert school(res, "MN01")["status"] == "needs_correction"
    rejected = res.issues[res.issues["rule"] == "reject"]
    assert list(rejected["sheet_row"]) == [2, 2] and rejected["message"].str.contains("08/06/2026 09:00").sum() == 1


def test_sheet_rows_are_versions_while_their_respondent_stays(sheets, sheet, config, tmp_path):
    out = tmp_path / "out"
    sheet.add("MN01", at="8/6/2026 9:00:00", C2="6")
    sheet.add("TH01", at="8/6/2026 10:00:00")
    sheets.add_spreadsheet(KEY, {"Form Responses 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    run_stages(f"gsheet:{KEY}", None, out)
    sheet.rows[0][0] = "12/6/2026 15:00:00"  # Google overwrote MN01's row with its late edit
    sheet.rows[0][sheet.headers.index(config.form.by_id["C2"].title)] = "2"
    sheets.add_spreadsheet(KEY, {"Form Responses 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    res = run_stages(f"gsheet:{KEY}", None, out).results
    mn01 = school(res, "MN01")
    assert mn01["on_time"] and mn01["recovered"] and mn01["sheet_row"] == 2 and res.counted.loc["MN01", "C2"] == 6
    assert not res.issues["rule"].eq("resorted_snapshot").any()


def test_a_resorted_sheet_is_reported_and_never_mixed(sheets, sheet, config, tmp_path):
    out = tmp_path / "out"
    sheet.add("MN01", at="8/6/2026 9:00:00", C2="6")
    sheet.add("TH01", at="8/6/2026 10:00:00")
    sheets.add_spreadsheet(KEY, {"Form Responses 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    run_stages(f"gsheet:{KEY}", None, out)
    sheet.rows.reverse()  # someone sorted the sheet by school
    sheet.rows[1][0] = "12/6/2026 15:00:00"
    sheets.add_spreadsheet(KEY, {"Form Responses 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    res = run_stages(f"gsheet:{KEY}", None, out).results
    (note,) = res.issues[res.issues["rule"] == "resorted_snapshot"].to_dict("records")
    assert note["severity"] == "warning" and "2 dòng đổi người gửi" in note["message"]
    mn01 = school(res, "MN01")
    assert not mn01["on_time"] and not mn01["recovered"]  # nothing recovered from the re-sorted snapshot


@pytest.mark.flow
def test_two_runs_of_antt_run_recover_the_on_time_version(prefect_api_url, forms, sheet, config, registry, tmp_path):
    """The two-run scenario through the command line, with one --out."""
    import os

    from test_cli import antt

    env = {"ANTT_GOOGLE_CREDENTIALS": os.environ["ANTT_GOOGLE_CREDENTIALS"],
           "ANTT_FORMS_ENDPOINT": os.environ["ANTT_FORMS_ENDPOINT"]}
    out = tmp_path / "out"
    forms.add_form(form_resource(FORM_ID, form_data(config, registry)), deadline_day(sheet, config))
    first = antt("run", "--cycle", "2026-H1", "--source", f"gform:{FORM_ID}", "--out", str(out),
                 api_url=prefect_api_url, extra_env=env)
    assert first.returncode == 0, first.stderr
    for edited in after_the_deadline(forms.responses[FORM_ID]):
        forms.put_response(FORM_ID, edited)
    later = antt("run", "--cycle", "2026-H1", "--source", f"gform:{FORM_ID}", "--out", str(out),
                 api_url=prefect_api_url, extra_env=env)
    assert later.returncode == 0, later.stderr
    ranking = {r.split(",")[0]: r.split(",") for r in (out / "2026-H1" / "ranking.csv").read_text().splitlines()}
    assert ranking["MN01"][4:7] == ["submitted", "2026-06-08T09:00:00+07:00", "true"]
    assert ranking["TH01"][4:7] == ["submitted", "2026-06-12T16:00:00+07:00", "false"]
    document = json.loads((out / "2026-H1" / "results.json").read_text())
    versions = {s["school_code"]: s["version"] for s in document["schools"]}
    assert versions["MN01"]["recovered"] and versions["MN01"]["response_id"] == "ACYDBNj00000"
    receipts = [json.loads(line) for line in (out / "raw" / "index.jsonl").read_text().splitlines()]
    # each run received one snapshot of the form, and the registry beside it (stored once, by content)
    assert sorted(r["original"].startswith("gform:") for r in receipts) == [False, False, True, True]
    assert len({r["sha256"] for r in receipts if not r["original"].startswith("gform:")}) == 1
