"""Issue 15: every file an office actually holds. The response sheet re-saved by Excel (Vietnamese settings, Unicode
Text), LibreOffice and Google Sheets reads as the clean export does; the reason a header does not fit is one line;
school codes that lost their leading zeros still match; the registry is read with the same tolerance.

The variants are written by `saved_as` (which cites what each program writes), from the same rows, in the test.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pandas as pd
import pytest
import saved_as
from conftest import REPO, Sheet, school
from test_cli import EN, antt, assert_one_line_error

from antt.config import load_config
from antt.errors import InputError
from antt.intake.normalize import HeaderMismatch, match_headers, restore_lost_zeros
from antt.intake.registry import load_registry
from antt.sources.files import read_export, read_header

pytestmark = pytest.mark.usefixtures("english_module")  # these tests check the messages' English words


CLEAN = {"format": "text", "encoding": "UTF-8", "byte_order_mark": False, "separator": ",", "line_ending": "CRLF"}

# Each variant: how it is written, its file name, and what the reader must detect.
VARIANTS = {
    "excel_csv_utf8_vietnamese": (saved_as.excel_csv_utf8_vietnamese, "responses.csv", {
        "format": "text", "encoding": "UTF-8", "byte_order_mark": True, "separator": ";", "line_ending": "CRLF"}),
    "excel_csv_vietnamese_windows": (saved_as.excel_csv_vietnamese_windows, "responses.csv", {
        "format": "text", "encoding": "Windows-1258", "byte_order_mark": False, "separator": ";",
        "line_ending": "CRLF"}),
    "excel_unicode_text": (saved_as.excel_unicode_text, "responses.txt", {
        "format": "text", "encoding": "UTF-16 LE", "byte_order_mark": True, "separator": "\t", "line_ending": "CRLF"}),
    "libreoffice_quoted_semicolon": (saved_as.libreoffice_quoted_semicolon, "responses.csv", {
        "format": "text", "encoding": "UTF-8", "byte_order_mark": False, "separator": ";", "line_ending": "LF"}),
    "tab_separated": (saved_as.tab_separated, "responses.tsv", {
        "format": "text", "encoding": "UTF-8", "byte_order_mark": False, "separator": "\t", "line_ending": "LF"}),
    "utf16_be_old_mac": (saved_as.utf16_be_old_mac, "responses.csv", {
        "format": "text", "encoding": "UTF-16 BE", "byte_order_mark": True, "separator": ",", "line_ending": "CR"}),
    "utf8_bom_lf": (saved_as.utf8_bom_lf, "responses.csv", {
        "format": "text", "encoding": "UTF-8", "byte_order_mark": True, "separator": ",", "line_ending": "LF"}),
    "google_sheets_xlsx": (saved_as.google_sheets_xlsx, "responses.xlsx", {
        "format": "xlsx", "sheet": "Câu trả lời biểu mẫu 1", "sheets": ["Câu trả lời biểu mẫu 1"]}),
}


def rows_of(sheet: Sheet) -> list[list[str]]:
    return [list(sheet.headers)] + [list(r) for r in sheet.rows]


@pytest.fixture
def messy(sheet) -> Sheet:
    """Answers that test a writer: commas, semicolons, quotation marks, a line break, decomposed letters."""
    sheet.add("MN01", A2="Nguyễn Thị \"Lan\"", G2="Thiếu kinh phí; cần hỗ trợ, sớm\nvà đủ")
    sheet.add("TH01", A2="Trần Văn Hòa", A3="Phó hiệu trưởng", F3="20.000.000")
    sheet.add("THCS01", at="10/6/2026 9:15:00", A2="Lê Thị Thủy",
              G2="Đề nghị bổ sung camera")
    sheet.blank_row()
    sheet.add("MN02", A5=" 12 ", B2="có")
    return sheet


# Reading each variant

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_saved_form_reads_as_the_clean_export(tmp_path, messy, variant):
    write, name, detected = VARIANTS[variant]
    clean = read_export(messy.write_csv(tmp_path / "clean.csv"))
    raw = read_export(write(rows_of(messy), tmp_path / name))
    assert raw.read_as == detected
    assert raw.headers == clean.headers
    if variant == "google_sheets_xlsx":  # a date-time cell reads back in the sheet's own dd/mm/yyyy form
        raw.cells[0] = raw.cells[0].str.replace(r"^0?(\d+)/0?(\d+)/(\d{4}) 0?", r"\1/\2/\3 ", regex=True)
    assert raw.cells.equals(clean.cells)


def test_the_clean_export_says_how_it_was_read(tmp_path, sheet):
    sheet.add("MN01")
    assert read_export(sheet.write_csv(tmp_path / "r.csv")).read_as == CLEAN


def test_the_separator_comes_from_the_header_line_not_the_answers(tmp_path, sheet):
    sheet.add("MN01", G2="a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r;s;t;u;v;w;x;y;z;" * 10)
    raw = read_export(sheet.write_csv(tmp_path / "r.csv"))
    assert raw.read_as["separator"] == ","
    assert raw.cells.loc[2].tolist() == sheet.rows[0]


def test_a_quoted_header_cell_holding_the_other_separator_does_not_fool_it(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('"a;b;c;d";"e";"f"\r\n1;2;3\r\n', encoding="utf-8")
    assert read_export(path).headers == ["a;b;c;d", "e", "f"]


def test_header_line_is_all_the_header_check_reads(tmp_path, messy):
    path = saved_as.excel_unicode_text(rows_of(messy), tmp_path / "r.txt")
    path.write_bytes(path.read_bytes() + '"never closed'.encode("utf-16-le"))
    header = read_header(path)
    assert header.headers == messy.headers and header.read_as["separator"] == "\t" and header.cells.empty


def test_windows_1252_is_read_when_a_tone_byte_follows_a_consonant_with_a_warning(tmp_path, caplog):
    path = tmp_path / "r.csv"
    path.write_bytes("Timestamp,Name\r\n9/6/2026 8:00:00,Hòa Thì Còn\r\n".encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="antt.sources.files"):
        raw = read_export(path)
    assert raw.cells.loc[2].tolist() == ["9/6/2026 8:00:00", "Hòa Thì Còn"]
    assert raw.read_as["encoding"] == "Windows-1252"
    assert "Windows-1252" in caplog.text


def test_windows_1258_is_named_in_the_warning(tmp_path, messy, caplog):
    path = saved_as.excel_csv_vietnamese_windows(rows_of(messy), tmp_path / "r.csv")
    with caplog.at_level(logging.WARNING, logger="antt.sources.files"):
        read_export(path)
    assert "Windows-1258" in caplog.text


@pytest.mark.parametrize("content,what", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)), "picture"),
    (b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(range(256)), "picture"),
    (b"<!DOCTYPE html><html><head><title>Sign in</title>", "web page"),
])
@pytest.mark.parametrize("name", ["responses.csv", "responses.xlsx", "responses.txt"])
def test_a_file_that_is_not_a_spreadsheet_is_named_for_what_it_is(tmp_path, content, what, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=what) as refused:
        read_export(path)
    assert "\n" not in str(refused.value)


# A header that does not fit, in one line

def test_the_registry_given_as_responses_is_named(config):
    with pytest.raises(HeaderMismatch, match="^this is the school registry, not the response sheet$"):
        match_headers(["school_code", "school_name", "level", "ward", "emails"], config.form)


def test_a_corrections_file_given_as_responses_is_named(config):
    with pytest.raises(HeaderMismatch, match="corrections file, not the response sheet"):
        match_headers(["action", "school_code", "sheet_row", "question_id", "value"], config.form)


def test_a_header_row_read_with_the_wrong_separator_says_so(config, sheet):
    joined = [";".join(sheet.headers[:6]), *sheet.headers[6:]]
    with pytest.raises(HeaderMismatch) as caught:
        match_headers(joined, config.form, {"format": "text", "separator": ","})
    assert str(caught.value) == "the file looks separated by ';' but was read with ','"


def test_a_workbook_whose_columns_sit_in_one_cell_says_so(config, sheet):
    with pytest.raises(HeaderMismatch, match="several columns in one cell, separated by ';'"):
        match_headers([";".join(sheet.headers)], config.form, {"format": "xlsx", "sheet": "Sheet1",
                                                               "sheets": ["Sheet1"]})


def test_a_header_nearly_right_is_named_with_its_column(config, sheet):
    headers = list(sheet.headers)
    at = headers.index(config.form.by_id["A6"].title)
    headers[at] = headers[at].replace("A6. ", "A6 ")
    with pytest.raises(HeaderMismatch) as caught:
        match_headers(headers, config.form)
    assert str(caught.value) == (f"column {at + 1} '{headers[at]}' is nearly '{config.form.by_id['A6'].title}' "
                                 "but does not match it; rename it")


def test_many_missing_columns_are_counted_not_listed(config):
    with pytest.raises(HeaderMismatch) as caught:
        match_headers(["Dấu thời gian", "Ghi chú", "Khác"], config.form)
    message = str(caught.value)
    assert "required columns" in message and message.count('"') == 2
    assert len(caught.value.details) == 1 + sum(q.required or bool(q.options_from) for q in config.form.questions)


def test_a_workbook_whose_first_sheet_is_not_the_responses_names_its_sheets(tmp_path, messy):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Tổng hợp"
    wb.active.append(["Trường", "Điểm"])
    responses = wb.create_sheet("Câu trả lời biểu mẫu 1")
    for row in rows_of(messy):
        responses.append(row)
    wb.save(tmp_path / "responses.xlsx")
    proc = antt("validate", "--cycle", "2026-H1", "--source", str(tmp_path / "responses.xlsx"),
                "--out", str(tmp_path / "o"), extra_env=EN)
    assert_one_line_error(proc, "the first sheet 'Tổng hợp' is not the response sheet",
                          "'Tổng hợp', 'Câu trả lời biểu mẫu 1'")


def test_validate_lists_the_details_of_a_header_that_does_not_fit(tmp_path, sheet):
    sheet.add("MN01")
    sheet.headers[sheet.headers.index(sheet.config.form.by_id["A6"].title)] = "A6 Tổng số học sinh (trẻ)"
    src = sheet.write_csv(tmp_path / "responses.csv")
    proc = antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "o"), extra_env=EN)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "A6. Tổng số học sinh (trẻ)" in proc.stdout and "A6 Tổng số học sinh (trẻ)" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("error: column ")


# School codes that lost their leading zeros

def test_a_code_that_lost_its_zeros_matches_the_one_registry_code(config):
    codes = pd.Series(["101", "0101", "7", "12", None], dtype="str")
    known = pd.Series(["0101", "0007", "0012", "012", "MN01"], dtype="str")
    restored, given = restore_lost_zeros(codes, known)
    assert restored.fillna("").tolist() == ["0101", "0101", "0007", "12", ""]  # 0012 and 012 both fit 12
    assert given.fillna("").tolist() == ["101", "", "7", "", ""]


def test_a_registry_that_lost_its_zeros_matches_codes_that_kept_them():
    restored, given = restore_lost_zeros(pd.Series(["0101"], dtype="str"), pd.Series(["101"], dtype="str"))
    assert restored.tolist() == ["101"] and given.tolist() == ["0101"]


@pytest.fixture
def numeric_registry(tmp_path, config):
    """A registry of numeric codes, as many offices number their schools, saved by Excel: ';', Windows-1258, CRLF
    and the codes' zeros dropped ('0101' became 101), with its comment line kept."""
    rows = [["school_code", "school_name", "level", "ward", "emails"],
            ["101", "Trường Mầm non Quảng Yên", "MN", "phường Quảng Yên", "mn01@quangyen.example.org"],
            ["102", "Trường Tiểu học Quảng Yên", "TH", "phường Quảng Yên", "th01@quangyen.example.org;ht@x.org"],
            ["0201", "Trường THCS Đông Mai", "THCS", "phường Đông Mai", "thcs@dongmai.example.org"]]
    path = tmp_path / "schools.csv"
    path.write_bytes(saved_as.windows_1258("# danh sách; thử\r\n" + saved_as.delimited(rows, ";", "\r\n")))
    return path


def test_the_registry_is_read_as_offices_save_it_and_codes_stay_text(numeric_registry, config):
    registry = load_registry(numeric_registry, config.form.levels)
    assert registry["school_code"].tolist() == ["101", "102", "0201"]
    assert registry.loc[1, "emails"] == ["ht@x.org", "th01@quangyen.example.org"]
    assert registry.loc[2, "school_name"] == "Trường THCS Đông Mai"


def test_a_registry_saved_as_xlsx_reads_like_its_csv(tmp_path, config):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["school_code", "school_name", "level", "ward", "emails"])
    wb.active.append([101, "Trường A", "MN", "w", "a@x.org"])
    wb.active.append(["TH01", "Trường B", "TH", "w", None])
    wb.save(tmp_path / "schools.xlsx")
    registry = load_registry(tmp_path / "schools.xlsx", config.form.levels)
    assert registry["school_code"].tolist() == ["101", "TH01"] and registry.loc[1, "emails"] == []


def test_responses_with_zeros_match_a_registry_without_them_with_a_note(numeric_registry, config, run_core):
    from conftest import evaluate

    registry = load_registry(numeric_registry, config.form.levels)
    sheet = Sheet(config, registry)
    sheet.add("101", A1="0101 – Trường Mầm non Quảng Yên")
    sheet.add("0201", A1="201")
    _, issues, res = evaluate(sheet.raw(), config, registry)
    assert school(res, "101")["status"] == "submitted" and school(res, "0201")["status"] == "submitted"
    notes = issues[issues["rule"] == "school_code_zeros"]
    assert notes[["school_code", "sheet_row", "severity", "value"]].values.tolist() == [
        ["101", 2, "info", "0101"], ["0201", 3, "info", "201"]]
    assert "mất các số 0 ở đầu" in notes.iloc[0]["message"]


# End to end: the held-out-style responses in every form give the clean export's results

def _outputs(folder) -> tuple[bytes, bytes, dict, dict]:
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    source = document.pop("input")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return (folder / "ranking.csv").read_bytes(), (folder / "issues.csv").read_bytes(), \
        document | {"input": {"rows": source["rows"]}}, manifest["inputs"][0]


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory) -> tuple[list[list[str]], object]:
    """The demo's realistic sheet (duplicates, late rows, NFD text, '1.200' numbers, blank rows…) as rows, and its
    clean export (Google Sheets' CSV download)."""
    from antt.demo.build import write_demo_sheet

    config = load_config(REPO / "config")
    registry = load_registry(REPO / "config" / "schools.csv", config.form.levels)
    path = write_demo_sheet(tmp_path_factory.mktemp("demo") / "clean.csv", config, registry, ["2026-H1"])
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh)), path


@pytest.fixture(scope="module")
def clean_run(prefect_api_url, demo_rows, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean-run")
    proc = antt("run", "--cycle", "2026-H1", "--source", str(demo_rows[1]), "--out", str(out),
                api_url=prefect_api_url)
    assert proc.returncode == 0, proc.stderr
    return _outputs(out / "2026-H1")


@pytest.mark.flow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_antt_run_on_each_saved_form_gives_the_clean_exports_results(prefect_api_url, demo_rows, clean_run,
                                                                       tmp_path, variant):
    write, name, detected = VARIANTS[variant]
    source = write(demo_rows[0], tmp_path / name)
    proc = antt("run", "--cycle", "2026-H1", "--source", str(source), "--out", str(tmp_path / "o"),
                api_url=prefect_api_url)
    assert proc.returncode == 0, proc.stderr
    ranking, issues, document, recorded = _outputs(tmp_path / "o" / "2026-H1")
    assert ranking == clean_run[0]
    assert issues == clean_run[1]
    assert document == clean_run[2]
    assert recorded["read_as"] == detected and clean_run[3]["read_as"] == CLEAN
    assert recorded["original"] == str(source)


def test_csv_reader_quotes_only_what_needs_it_in_saved_as():
    """The writers themselves: Excel quotes a cell holding the separator, a quote or a line break, nothing else."""
    text = saved_as.delimited([["a;b", 'say "hi"', "x\ny", "plain", "1,5"]], ";", "\r\n")
    assert text == '"a;b";"say ""hi""";"x\ny";plain;1,5\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""), delimiter=";")) == [["a;b", 'say "hi"', "x\ny", "plain",
                                                                               "1,5"]]
