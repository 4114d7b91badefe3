"""docs/spec.md §4: reading a Google Forms response sheet, one rule per test."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest
from conftest import school
from openpyxl.utils import get_column_letter

from antt.errors import InputError
from antt.intake.normalize import match_headers, parse_decimal, parse_integer, parse_select_multiple, parse_yes_no
from antt.sources.files import read_export
from antt.sources.raw import RawTable


def _issues_for(issues: pd.DataFrame, row: int, rule: str | None = None) -> pd.DataFrame:
    hit = issues[issues["sheet_row"] == row]
    return hit[hit["rule"] == rule] if rule else hit


def test_header_matches_by_id_dot_prefix(config):
    found = match_headers(["Dấu thời gian", "A1. Trường", "A2. anything", "A5. x", "A6. y"] +
                          [f"{q}. ?" for q in ("D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9")], config.form)
    assert found.positions["A2"] == 2 and found.positions["D9"] == 13


def test_header_matches_by_bracket_prefix(config):
    headers = ["Timestamp", "[A1] School", "[A2] Reporter", "[A5] Staff", "[A6] Pupils"] + \
        [f"[D{i}] x" for i in range(1, 10)]
    found = match_headers(headers, config.form)
    assert found.positions["A1"] == 1 and found.positions["D5"] == 9


def test_header_matches_by_normalised_label_nfd_case_and_spaces(config):
    titles = [unicodedata.normalize("NFD", f"  {q.label.upper()}  ").replace(" ", "   ")
              for q in config.form.questions]
    found = match_headers(["Dấu thời gian"] + titles, config.form)
    assert set(found.positions) >= {q.id for q in config.form.questions}


def test_unknown_column_is_reported_not_fatal(sheet, run_core):
    sheet.headers.append("Ghi chú thêm")
    sheet.add("MN01")
    sheet.rows[0].append("xin chào")
    _, issues, res = run_core(sheet)
    note = issues[issues["rule"] == "unknown_column"]
    assert len(note) == 1 and "Ghi chú thêm" in note.iloc[0]["message"] and note.iloc[0]["sheet_row"] == 1
    assert school(res, "MN01")["status"] == "submitted"


def test_a_blank_header_over_data_is_reported_and_one_over_nothing_is_not(sheet, run_core):
    width = len(sheet.headers)
    sheet.headers += ["", "  "]  # two columns without a title; only the first holds anything
    sheet.add("MN01")
    sheet.rows[0] += ["ghi chú lạc cột", ""]
    _, issues, res = run_core(sheet)
    note = issues[issues["rule"] == "unnamed_column"]
    letter = get_column_letter(width + 1)
    assert note[["sheet_row", "severity", "value"]].values.tolist() == [[1, "warning", letter]]
    assert f"Cột {letter} có dữ liệu" in note.iloc[0]["message"]
    assert school(res, "MN01")["status"] == "submitted"


def test_missing_required_column_is_fatal_and_named(config, sheet):
    sheet.add("MN01")
    raw = sheet.raw()
    drop = raw.headers.index(config.form.by_id["D2"].title)
    headers = [h for i, h in enumerate(raw.headers) if i != drop]
    with pytest.raises(InputError, match="D2. Số vụ bạo lực học đường"):
        match_headers(headers, config.form)


def test_missing_optional_column_means_unanswered(config, sheet, run_core):
    sheet.add("MN01")
    raw = sheet.raw()
    drop = raw.headers.index(config.form.by_id["C8"].title)
    rows = [[c for i, c in enumerate(r) if i != drop] for r in [raw.headers] + sheet.rows]
    _, issues, res = run_core(RawTable.from_rows(rows, "t"))
    assert (issues["rule"] == "missing_optional_column").sum() == 1
    assert school(res, "MN01")["status"] == "submitted"


def test_duplicate_and_blank_headers_do_not_crash(sheet, run_core):
    sheet.headers += ["A2. Họ và tên người báo cáo", ""]
    sheet.add("MN01")
    sheet.rows[0] += ["Người khác", ""]
    _, issues, res = run_core(sheet)
    assert (issues["rule"] == "duplicate_column").sum() == 1
    assert res.counted.loc["MN01", "A2"] == "Nguyễn Thị Lan"


def test_nfd_answers_are_normalised_to_nfc(sheet, run_core):
    row = sheet.add("MN01", A2=unicodedata.normalize("NFD", "Nguyễn Thị Lan"), B2=unicodedata.normalize("NFD", "Có"))
    subs, issues, res = run_core(sheet)
    assert res.counted.loc["MN01", "A2"] == "Nguyễn Thị Lan"
    assert bool(res.counted.loc["MN01", "B2"]) is True
    assert _issues_for(issues, row).empty


def test_timestamp_is_read_in_ho_chi_minh_time(sheet, run_core):
    sheet.add("MN01", at="9/6/2026 8:05:31")
    _, _, res = run_core(sheet)
    assert res.counted.loc["MN01", "submitted_at"].isoformat() == "2026-06-09T08:05:31+07:00"


def test_unreadable_timestamp_blocks_the_row(sheet, run_core):
    row = sheet.add("MN01", at="hôm qua")
    _, issues, res = run_core(sheet)
    assert len(_issues_for(issues, row, "bad_timestamp")) == 1
    assert school(res, "MN01")["status"] == "needs_correction"


@pytest.mark.parametrize("text,value", [("1200", 1200), ("1.200", 1200), ("1,200", 1200), (" 12 ", 12),
                                        ("0", 0), ("20.000.000", 20_000_000)])
def test_integer_formats(text, value):
    values, invalid = parse_integer(pd.Series([text], dtype="str").str.strip())
    assert values.iloc[0] == value and pd.isna(invalid.iloc[0])


@pytest.mark.parametrize("text", ["khoảng 20", "1,5", "12a", "1.2.3"])
def test_integer_garbage_is_invalid_not_guessed(text):
    values, invalid = parse_integer(pd.Series([text], dtype="str"))
    assert pd.isna(values.iloc[0]) and invalid.iloc[0] == text


@pytest.mark.parametrize("text,value", [("0,95", 0.95), ("0.95", 0.95), ("1.200,5", 1200.5), ("1,200.5", 1200.5),
                                        ("12", 12.0), ("0,950", 0.95)])
def test_decimal_formats(text, value):
    values, invalid, ambiguous = parse_decimal(pd.Series([text], dtype="str"))
    assert values.iloc[0] == pytest.approx(value) and pd.isna(invalid.iloc[0]) and pd.isna(ambiguous.iloc[0])


def test_percent_sign_is_accepted():
    values, _, _ = parse_decimal(pd.Series(["95%", "87,5 %"], dtype="str"), percent=True)
    assert list(values) == [95.0, 87.5]


def test_ambiguous_decimal_is_an_issue_not_a_guess():
    values, invalid, ambiguous = parse_decimal(pd.Series(["1.200", "2,500"], dtype="str"))
    assert values.isna().all() and invalid.isna().all() and list(ambiguous) == ["1.200", "2,500"]


def test_non_integer_count_in_optional_question_is_a_warning_and_dropped(sheet, run_core):
    row = sheet.add("MN01", C2="khoảng 20")
    _, issues, res = run_core(sheet)
    hit = _issues_for(issues, row, "not_integer")
    assert list(hit["question_id"]) == ["C2"] and list(hit["severity"]) == ["warning"]
    assert "khoảng 20" in hit.iloc[0]["message"]
    assert school(res, "MN01")["status"] == "submitted" and pd.isna(res.counted.loc["MN01", "C2"])


def test_non_integer_in_required_question_blocks(sheet, run_core):
    row = sheet.add("MN01", D1="không có")
    _, issues, res = run_core(sheet)
    assert list(_issues_for(issues, row, "not_integer")["severity"]) == ["error"]
    assert school(res, "MN01")["status"] == "needs_correction"


@pytest.mark.parametrize("text,value", [("Có", True), ("có", True), (" CÓ ", True), ("Không", False),
                                        ("không", False), ("KHÔNG", False)])
def test_yes_no_variants(text, value):
    values, invalid = parse_yes_no(pd.Series([text], dtype="str").str.strip(), "Có", "Không")
    assert bool(values.iloc[0]) is value and pd.isna(invalid.iloc[0])


def test_yes_no_other_text_is_an_issue(sheet, run_core):
    row = sheet.add("MN01", B7="Đang làm")
    _, issues, _ = run_core(sheet)
    assert list(_issues_for(issues, row, "not_yes_no")["question_id"]) == ["B7"]


def test_checkbox_options_containing_comma_space_are_split_by_known_options(config):
    options = config.form.by_id["B4"].options
    answer = ", ".join([options[0], options[3]])  # both options contain ", " themselves
    joined, count, leftover = parse_select_multiple(pd.Series([answer], dtype="str"), options)
    assert count.iloc[0] == 2 and joined.iloc[0] == f"{options[0]}; {options[3]}" and pd.isna(leftover.iloc[0])


def test_checkbox_leftover_text_is_reported(config, sheet, run_core):
    options = config.form.by_id["C4"].options
    row = sheet.add("MN01", C4=f"{options[0]}, Loa phát thanh, {options[2]}")
    _, issues, res = run_core(sheet)
    hit = _issues_for(issues, row, "unknown_options")
    assert len(hit) == 1 and "loa phát thanh" in hit.iloc[0]["message"].casefold()
    assert res.counted.loc["MN01", "C4__n"] == 2


def test_blank_rows_are_skipped_and_counted(sheet, run_core):
    sheet.blank_row()
    row = sheet.add("MN01")
    sheet.blank_row()
    _, issues, res = run_core(sheet)
    assert row == 3 and res.counted.loc["MN01", "sheet_row"] == 3
    assert "2" in issues.loc[issues["rule"] == "blank_rows", "message"].iloc[0]


def test_trailing_empty_cells_are_padded(config, sheet, run_core):
    sheet.add("MN01", G3="")
    sheet.rows[0] = sheet.rows[0][:-1]  # Sheets drops trailing empty cells in some exports
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["status"] == "submitted"


def test_latest_valid_submission_before_deadline_counts(sheet, run_core):
    first = sheet.add("MN01", at="1/6/2026 8:00:00", C2="1")
    second = sheet.add("MN01", at="5/6/2026 8:00:00", C2="5")
    late = sheet.add("MN01", at="12/6/2026 8:00:00", C2="9")
    _, _, res = run_core(sheet)
    assert res.counted.loc["MN01", "sheet_row"] == second
    assert bool(school(res, "MN01")["on_time"]) is True
    superseded = res.issues[res.issues["rule"] == "superseded"]
    assert sorted(superseded["sheet_row"]) == [first, late]
    assert f"dòng {second}" in superseded.iloc[0]["message"]


def test_invalid_later_submission_does_not_replace_valid_one(sheet, run_core):
    good = sheet.add("MN01", at="1/6/2026 8:00:00")
    sheet.add("MN01", at="5/6/2026 8:00:00", B5="99")  # B5 > A5: blocking
    _, _, res = run_core(sheet)
    assert res.counted.loc["MN01", "sheet_row"] == good


def test_latest_valid_late_submission_counts_when_none_on_time(sheet, run_core):
    sheet.add("MN01", at="11/6/2026 8:00:00")
    last = sheet.add("MN01", at="14/6/2026 8:00:00")
    _, _, res = run_core(sheet)
    row = school(res, "MN01")
    assert res.counted.loc["MN01", "sheet_row"] == last and bool(row["on_time"]) is False
    assert row["status"] == "submitted"


def test_unregistered_sender_is_not_counted(sheet, run_core):
    real = sheet.add("MN01", at="1/6/2026 8:00:00", D2="1")
    impostor = sheet.add("MN01", at="5/6/2026 8:00:00", email="ai.do@gmail.com")
    _, issues, res = run_core(sheet)
    assert res.counted.loc["MN01", "sheet_row"] == real
    hit = _issues_for(issues, impostor, "unverified_sender")
    assert list(hit["severity"]) == ["error"] and "ai.do@gmail.com" in hit.iloc[0]["message"]


def test_sender_comparison_ignores_case(sheet, run_core, registry):
    mail = registry.set_index("school_code").loc["MN01", "emails"][0].upper()
    sheet.add("MN01", email=mail)
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["status"] == "submitted"


def test_only_unverified_submissions_means_needs_correction(sheet, run_core):
    sheet.add("MN01", email="ai.do@gmail.com")
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["status"] == "needs_correction"


def test_sheet_without_email_column_checks_no_sender(config, registry, run_core):
    from conftest import Sheet

    s = Sheet(config, registry, email_column=False)
    s.add("MN01")
    _, issues, res = run_core(s)
    assert school(res, "MN01")["status"] == "submitted" and not (issues["rule"] == "unverified_sender").any()


def test_unknown_school_code_is_an_error(sheet, run_core):
    row = sheet.add("XX99")
    _, issues, _ = run_core(sheet)
    hit = _issues_for(issues, row, "unknown_school")
    assert len(hit) == 1 and hit.iloc[0]["severity"] == "error"


def test_school_code_with_zero_width_space_and_lower_case_is_recognised(sheet, run_core):
    sheet.add("MN01", A1="\u200bmn01 – Trường Mầm non Quảng Yên")
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["status"] == "submitted"


def test_rows_of_another_cycle_are_listed_not_counted(sheet, run_core):
    old = sheet.add("MN01", at="5/11/2025 9:00:00")
    _, issues, res = run_core(sheet)
    hit = _issues_for(issues, old, "other_cycle")
    assert list(hit["severity"]) == ["info"]
    assert school(res, "MN01")["status"] == "missing"


def test_bounded_answer_above_its_bound_blocks(sheet, run_core):
    row = sheet.add("MN01", B5="45")  # A5 = 40
    _, issues, res = run_core(sheet)
    hit = _issues_for(issues, row, "above_other")
    assert list(hit["question_id"]) == ["B5"] and "(40)" in hit.iloc[0]["message"]
    assert school(res, "MN01")["status"] == "needs_correction"


def test_required_if_date_needed_only_when_plan_issued(sheet, run_core):
    needs = sheet.add("MN01", F1="Có", F2="")
    fine = sheet.add("TH01", F1="Không", F2="")
    _, issues, _ = run_core(sheet)
    assert list(_issues_for(issues, needs, "missing_required")["question_id"]) == ["F2"]
    assert _issues_for(issues, fine, "missing_required").empty


def test_question_not_applying_to_level_is_not_checked(sheet, run_core):
    row = sheet.add("MN01", A7="rất nhiều")  # A7 applies to THCS and TH&THCS only
    _, issues, _ = run_core(sheet)
    assert _issues_for(issues, row).empty


def test_zero_byte_file_is_an_input_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="tệp trống"):
        read_export(path)


def test_binary_file_is_an_input_error(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError):
        read_export(path)


def test_xlsx_export_reads_like_csv(tmp_path, sheet, run_core):
    from openpyxl import Workbook

    sheet.add("MN01")
    wb = Workbook()
    ws = wb.active
    ws.append(sheet.headers)
    for r in sheet.rows:
        ws.append([int(c) if c.isdigit() else c for c in r])
    path = tmp_path / "responses.xlsx"
    wb.save(path)
    _, _, res = run_core(read_export(path))
    assert school(res, "MN01")["status"] == "submitted" and res.counted.loc["MN01", "A5"] == 40


def test_xlsx_numbers_read_as_the_sheet_shows_them(tmp_path):
    """A typed 1.125 must not come back as '1.125', which reads as 1125 (docs/spec.md §4 thousands separator)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Dấu thời gian", "C1", "C2", "C3", "C4"])
    wb.active.append(["9/6/2026 8:00:00", 1.125, 40.0, 0.5, True])
    path = tmp_path / "responses.xlsx"
    wb.save(path)
    assert read_export(path).cells.loc[2].tolist() == ["9/6/2026 8:00:00", "1.1250", "40", "0.5", "TRUE"]
