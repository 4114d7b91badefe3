"""A folder of filled Excel templates reads like a Google Forms export, so the whole pipeline applies unchanged."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Sheet, evaluate, school
from openpyxl import Workbook, load_workbook

from antt.errors import InputError
from antt.forms import export_form
from antt.sources.folder import folder_bytes, read_folder

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def template(config, registry, tmp_path_factory) -> Path:
    return export_form(config, registry, "xlsx-template", tmp_path_factory.mktemp("form") / "bao-cao.xlsx")


def fill(template: Path, dest: Path, config, answers: dict[str, str], sent_at: object = datetime(2026, 6, 9, 8, 0),
         email: str = "") -> Path:
    """Fill the template as a secretary would: numbers typed as numbers, dates as dates, checkbox items ticked
    one by one ("Có") and the others answered "Không"."""
    words = config.form.exports.excel_template
    wb = load_workbook(template)
    ws = wb[words.report_sheet]
    rows = {ws.cell(r, 1).value or ws.cell(r, 2).value: r for r in range(1, ws.max_row + 1)}
    ws.cell(rows[words.sent_at], 3, sent_at)
    ws.cell(rows[words.email], 3, email)
    for q in config.form.questions:
        text = answers.get(q.id, "")
        if q.type == "select_multiple":
            chosen = {o for o in q.options if f", {o}, " in f", {text}, "}
            for i, option in enumerate(q.options, start=1):
                yes_no = config.form.answer_yes if option in chosen else config.form.answer_no
                ws.cell(rows[f"{q.id}.{i}"], 3, yes_no if text else None)
        elif text and q.type == "integer":
            ws.cell(rows[q.id], 3, int(text.replace(".", "")))
        elif text and q.type == "date":
            ws.cell(rows[q.id], 3, datetime.strptime(text, "%d/%m/%Y"))
        else:
            ws.cell(rows[q.id], 3, text or None)
    wb.save(dest)
    return dest


@pytest.fixture
def reports(tmp_path) -> Path:
    folder = tmp_path / "bao-cao"
    folder.mkdir()
    return folder


def test_two_filled_templates_score_exactly_like_the_same_google_export(config, registry, template, reports):
    sheet = Sheet(config, registry)
    for name, code in (("1-thcs.xlsx", "THCS01"), ("2-mn.xlsx", "MN01")):
        answers = sheet.good_answers(code)
        email = registry.set_index("school_code").loc[code, "emails"][0]
        fill(template, reports / name, config, answers, datetime(2026, 6, 9, 8, 0), email)
        sheet.add(code, at="9/6/2026 8:00:00", email=email)
    found = read_folder(reports, config.form)
    assert found.raw.headers == ["Dấu thời gian", "Địa chỉ email"] + [q.title for q in config.form.questions]
    assert found.files == ["1-thcs.xlsx", "2-mn.xlsx"] and found.skipped == []
    _, issues, results = evaluate(found.raw, config, registry)
    _, expected_issues, expected = evaluate(sheet.raw(), config, registry)
    for code in ("THCS01", "MN01"):
        got = school(results, code)
        assert got["status"] == "submitted"
        assert {k: got[k] for k in ("verdict", "score", "on_time")} == \
            {k: school(expected, code)[k] for k in ("verdict", "score", "on_time")}
    assert issues[["sheet_row", "question_id", "message"]].equals(
        expected_issues[["sheet_row", "question_id", "message"]])


def test_checkbox_items_containing_comma_space_round_trip(config, registry, template, reports):
    c4 = config.form.by_id["C4"].options
    comma_options = [o for o in c4 if ", " in o]
    answers = Sheet(config, registry).good_answers("TH01") | {"C4": ", ".join(comma_options)}
    fill(template, reports / "th01.xlsx", config, answers)
    found = read_folder(reports, config.form)
    cell = found.raw.cells.loc[2, found.raw.headers.index(config.form.by_id["C4"].title)]
    assert cell == ", ".join(comma_options)
    subs, issues, _ = evaluate(found.raw, config, registry)
    assert subs.loc[0, "C4"] == "; ".join(comma_options)
    assert not (issues["question_id"] == "C4").any()


def test_an_item_answered_neither_yes_nor_no_is_reported_not_guessed(config, registry, template, reports):
    path = fill(template, reports / "th01.xlsx", config, Sheet(config, registry).good_answers("TH01"))
    wb = load_workbook(path)
    ws = wb[config.form.exports.excel_template.report_sheet]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "C9.3")
    ws.cell(row, 3, "x")
    wb.save(path)
    _, issues, _ = evaluate(read_folder(reports, config.form).raw, config, registry)
    c9 = issues[issues["question_id"] == "C9"]
    assert len(c9) == 1 and f"{config.form.by_id['C9'].options[2]}: x".casefold() in c9["message"].iloc[0].casefold()


def test_unreadable_and_foreign_files_are_skipped_and_reported(config, registry, template, reports):
    fill(template, reports / "th01.xlsx", config, Sheet(config, registry).good_answers("TH01"))
    (reports / "ghi-chu.txt").write_text("nộp muộn", encoding="utf-8")
    (reports / "hong.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    Workbook().save(reports / "bang-khac.xlsx")
    shutil.copy(template, reports / "chua-dien.xlsx")
    (reports / ".DS_Store").write_bytes(b"\0\0")
    found = read_folder(reports, config.form)
    assert found.files == ["th01.xlsx"]
    reasons = dict(found.skipped)
    assert sorted(reasons) == ["bang-khac.xlsx", "chua-dien.xlsx", "ghi-chu.txt", "hong.xlsx"]
    assert "không phải mẫu báo cáo" in reasons["bang-khac.xlsx"]
    assert "mẫu còn trống" in reasons["chua-dien.xlsx"]
    assert ".xlsx" in reasons["ghi-chu.txt"]
    assert "không đọc được tệp Excel .xlsx" in reasons["hong.xlsx"]


def test_folder_without_a_usable_file_is_one_line_input_error(config, reports):
    (reports / "ghi-chu.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_folder(reports, config.form)
    assert "không có mẫu báo cáo (.xlsx) nào đã điền" in str(err.value) and "ghi-chu.txt" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="không tìm thấy thư mục"):
        read_folder(reports / "nope", config.form)


def test_blank_sending_date_falls_back_to_the_file_time_in_ho_chi_minh(config, registry, template, reports):
    path = fill(template, reports / "th01.xlsx", config, Sheet(config, registry).good_answers("TH01"), sent_at=None)
    moment = datetime(2026, 6, 8, 21, 30, 44, tzinfo=HCM)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    assert read_folder(reports, config.form).raw.cells.loc[2, 0] == "8/6/2026 21:30:44"


def test_sending_date_alone_means_the_start_of_that_day(config, registry, template, reports):
    good = Sheet(config, registry).good_answers("TH01")
    fill(template, reports / "a.xlsx", config, good, sent_at=datetime(2026, 6, 10))
    fill(template, reports / "b.xlsx", config, good, sent_at="9/6/2026")
    assert read_folder(reports, config.form).raw.cells[0].tolist() == ["10/6/2026 0:00:00", "9/6/2026 0:00:00"]


def test_folder_archive_is_deterministic_and_tracks_content(config, registry, template, reports, tmp_path):
    good = Sheet(config, registry).good_answers("TH01")
    for name in ("b.xlsx", "a.xlsx"):
        fill(template, reports / name, config, good)
    (reports / "ghi-chu.txt").write_text("x", encoding="utf-8")
    copy = tmp_path / "copy"
    shutil.copytree(reports, copy)  # copies modification times too
    assert folder_bytes(reports) == folder_bytes(reports) == folder_bytes(copy)
    fill(template, copy / "a.xlsx", config, good | {"A2": "Trần Văn B"})
    os.utime(copy / "a.xlsx", (os.stat(reports / "a.xlsx").st_mtime,) * 2)
    assert folder_bytes(copy) != folder_bytes(reports)


def test_the_pre_flight_reads_the_folder_once_for_the_whole_run(config, registry, template, reports, tmp_path):
    """`antt run` checks a folder's headers before the engine starts; the run it then starts archives and parses
    what the pre-flight read, and loads neither config nor registry again."""
    from antt import pipeline

    fill(template, reports / "th01.xlsx", config, Sheet(config, registry).good_answers("TH01"))
    out = tmp_path / "out"
    pre = pipeline.preflight("2026-H1", str(reports), None, None, out)
    (reports / "th01.xlsx").write_bytes(b"changed after the pre-flight")  # read again, this would show
    with pipeline.handed_over(pre):
        run = pipeline.open_run("2026-H1", None, None, str(out))  # as the flow, whose parameters are text
        raw, received = pipeline.read_source(str(reports), run)
    assert run is pre.run
    assert received.archived.stored.read_bytes() == pre.folder[0]
    assert raw is pre.folder[1].raw and received.files["rows"] == {"2": "th01.xlsx"}
    assert pipeline.open_run("2026-H1", None, None, str(out)) is not run  # outside the hand-over: loaded afresh
    with pytest.raises(InputError, match=r"thư mục không có mẫu báo cáo \(.xlsx\) nào đã điền"):
        pipeline.read_source(str(reports), run)
