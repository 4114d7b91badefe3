"""Issue 8 item 2: broken and unusual files, through the command line as a user meets it.

An unusable file is one line and a non-zero exit, never a traceback; a file that is merely unusual (UTF-16 or
Windows-1258 text, merged cells) is read correctly; a 200 MB export is streamed, not loaded whole. Zero-byte,
binary, missing and wrongly-typed files are in test_cli.py.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO, school
from test_cli import EN, antt, assert_one_line_error

from antt.errors import InputError
from antt.intake.registry import load_registry
from antt.sources.files import read_export, read_header

pytestmark = pytest.mark.usefixtures("english_module")  # these tests check the messages' English words

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def assert_fails_cleanly(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert_one_line_error(proc, *fragments)
    assert not proc.stdout.strip(), proc.stdout


def csv_text(sheet) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([sheet.headers] + sheet.rows)
    return buffer.getvalue()


def windows_1258(text: str) -> bytes:
    """Text as Windows-1258 stores it: ă â ê ô ơ ư đ precomposed, the five tone marks as combining characters."""
    out = []
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in TONE_MARKS))
        out.append(base + "".join(p for p in parts if p in TONE_MARKS))
    return "".join(out).encode("cp1258")


def validate(src: Path, out: Path, *more: str) -> subprocess.CompletedProcess:
    return antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(out), *more, extra_env=EN)


def run(src: Path, out: Path, *more: str, api_url: str | None = None) -> subprocess.CompletedProcess:
    return antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(out), *more, api_url=api_url,
                extra_env=EN)


# Truncated downloads

def test_csv_cut_inside_a_quoted_cell_is_one_line(tmp_path, sheet):
    sheet.add("MN01", G2="Khó khăn, thiếu kinh phí")  # quoted: it holds a comma
    text = csv_text(sheet)
    src = tmp_path / "responses.csv"
    src.write_text(text[:text.index("thiếu")], encoding="utf-8")
    assert_fails_cleanly(validate(src, tmp_path / "o"), "responses.csv", "cut off")


def test_csv_cut_mid_row_is_one_line(tmp_path, sheet):
    sheet.add("MN01")
    sheet.add("TH01")
    text = csv_text(sheet)
    src = tmp_path / "responses.csv"
    src.write_text(text[:text.index("TH01") + 40], encoding="utf-8")
    assert_fails_cleanly(validate(src, tmp_path / "o"), "responses.csv", "cut off", "sheet row 3")


def test_short_last_row_ending_in_a_line_break_is_not_a_cut(tmp_path, sheet, run_core):
    sheet.add("MN01", G3="")
    sheet.rows[0] = sheet.rows[0][:-1]
    _, _, res = run_core(read_export(sheet.write_csv(tmp_path / "responses.csv")))
    assert school(res, "MN01")["status"] == "submitted"


@pytest.mark.flow
def test_run_on_a_cut_csv_is_one_line(prefect_api_url, tmp_path, sheet):
    sheet.add("MN01")
    sheet.add("TH01")
    text = csv_text(sheet)
    src = tmp_path / "responses.csv"
    src.write_text(text[:text.index("TH01") + 40], encoding="utf-8")
    assert_fails_cleanly(run(src, tmp_path / "o", api_url=prefect_api_url), "cut off")
    assert not (tmp_path / "o" / "2026-H1").exists()


def test_header_check_reads_only_the_first_row(tmp_path, sheet):
    sheet.add("MN01")
    src = tmp_path / "responses.csv"
    src.write_text(csv_text(sheet) + '"never closed', encoding="utf-8")
    assert read_header(src).headers == sheet.headers
    with pytest.raises(InputError, match="cut off"):
        read_export(src)


# Encodings

@pytest.mark.parametrize("bom,codec", [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_utf16_export_with_byte_order_mark_reads_as_utf8(tmp_path, sheet, bom, codec):
    sheet.add("MN01", A2="Nguyễn Thị Lan")
    sheet.add("THCS01")
    src = tmp_path / "responses.csv"
    src.write_bytes(bom + csv_text(sheet).encode(codec))
    raw = read_export(src)
    assert raw.headers == sheet.headers and raw.cells.values.tolist() == sheet.rows
    proc = validate(src, tmp_path / "o", "--issues-csv", str(tmp_path / "issues.csv"))
    assert proc.returncode == 0, proc.stderr
    assert "2026-H1: 2 rows, 0 issues" in proc.stdout


def test_windows_1258_export_is_decoded_and_composed(tmp_path, sheet):
    sheet.add("MN01", A2="Nguyễn Thị Lan", G2="Đề nghị bổ sung kinh phí")
    sheet.add("THCS01", A3="Phó hiệu trưởng")
    src = tmp_path / "responses.csv"
    src.write_bytes(windows_1258(csv_text(sheet)))
    with pytest.raises(UnicodeDecodeError):
        src.read_bytes().decode("utf-8")
    raw = read_export(src)
    assert raw.headers == sheet.headers and raw.cells.values.tolist() == sheet.rows  # NFC, as typed
    proc = validate(src, tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    assert "2026-H1: 2 rows, 0 issues" in proc.stdout
    assert "read as Windows-1258" in proc.stderr  # the encoding used is said, once


def test_damaged_utf8_is_one_line_not_read_as_windows_1258(tmp_path, sheet):
    sheet.add("MN01")
    sheet.add("TH01", G2="Trường đề nghị")
    data = csv_text(sheet).encode("utf-8")
    at = data.index("đề nghị".encode())
    src = tmp_path / "responses.csv"
    src.write_bytes(data[:at] + b"\xff" + data[at + 1:])
    assert_fails_cleanly(validate(src, tmp_path / "o"), "line 3", "not valid UTF-8")


# Workbooks that are not workbooks

def test_xlsx_that_is_an_html_page_is_one_line(tmp_path):
    src = tmp_path / "responses.xlsx"
    src.write_text("<!DOCTYPE html><html><head><title>Đăng nhập – Tài khoản Google</title></head>"
                   "<body>…</body></html>", encoding="utf-8")
    assert_fails_cleanly(run(src, tmp_path / "o"), "responses.xlsx", "web page (HTML)")


def test_password_protected_workbook_is_one_line(tmp_path):
    # Excel encrypts a workbook by wrapping it in an OLE2 compound file; its header is all the reader needs to see.
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00\x06\x00"
              + bytes(10) + b"\x01\x00\x00\x00" + bytes(8) + b"\x00\x10\x00\x00")
    src = tmp_path / "responses.xlsx"
    src.write_bytes(header.ljust(512, b"\0") + b"\xff" * 4096)
    assert_fails_cleanly(run(src, tmp_path / "o"), "responses.xlsx", "password-protected")
    assert_fails_cleanly(validate(src, tmp_path / "o"), "password-protected")


def test_merged_cells_read_as_top_left_value_and_blanks(tmp_path, sheet):
    """A merged range keeps its value in the top-left cell and leaves the others blank, as Excel stores it:
    the merged-away answers are reported missing, never filled in by copying."""
    from openpyxl import Workbook

    first = sheet.add("MN01")
    second = sheet.add("MN02")
    wb = Workbook()
    ws = wb.active
    ws.append(sheet.headers)
    for row in sheet.rows:
        ws.append(row)
    d1 = sheet.headers.index(next(h for h in sheet.headers if h.startswith("D1."))) + 1
    ws.merge_cells(start_row=2, start_column=d1, end_row=3, end_column=d1 + 1)  # D1:D2 of both rows
    ws.merge_cells(start_row=1, start_column=len(sheet.headers) - 1, end_row=1, end_column=len(sheet.headers))
    src = tmp_path / "responses.xlsx"
    wb.save(src)
    raw = read_export(src)
    assert raw.cells.loc[first, d1 - 1] == "0" and raw.cells.loc[first, d1] == ""
    assert raw.cells.loc[second, d1 - 1] == "" and raw.headers[-1] == ""
    issues_csv = tmp_path / "issues.csv"
    proc = validate(src, tmp_path / "o", "--issues-csv", str(issues_csv))
    assert proc.returncode == 0, proc.stderr
    with open(issues_csv, encoding="utf-8") as fh:
        missing = {(r["school_code"], r["sheet_row"], r["question_id"]) for r in csv.DictReader(fh)
                   if r["severity"] == "error"}
    assert missing == {("MN01", str(first), "D2"), ("MN02", str(second), "D1"), ("MN02", str(second), "D2")}


# The registry

def test_registry_with_duplicate_codes_names_them_and_their_lines(tmp_path, sheet, config):
    registry = tmp_path / "schools.csv"
    registry.write_text("# danh sách trường\nschool_code,school_name,level,ward,emails\n"
                        "MN01,Trường A,MN,w,\nTH01,Trường B,TH,w,\n\nmn01,Trường C,MN,w,\n"
                        "TH01,Trường D,TH,w,\nTH01,Trường E,TH,w,\n", encoding="utf-8")
    message = "duplicate school_code MN01 (lines 3 and 6); TH01 (lines 4, 7 and 8)"
    with pytest.raises(InputError, match=re.escape(message)):
        load_registry(registry, config.form.levels)
    src = sheet.write_csv(tmp_path / "responses.csv")
    assert_fails_cleanly(validate(src, tmp_path / "o", "--schools", str(registry)), message)


# A large export

READER = """
import json, sys, time
from pathlib import Path
from antt.sources.archive import archive_input
from antt.sources.files import read_export, read_header

source, out = Path(sys.argv[1]), Path(sys.argv[2])
start = time.perf_counter()
headers = read_header(source).headers
sniffed = time.perf_counter() - start
archived = archive_input(source, out)
raw = read_export(archived.stored, label=str(source))
print(json.dumps({"rows": len(raw.cells), "columns": len(raw.headers), "sniff_s": sniffed,
                  "read_s": time.perf_counter() - start, "archived": archived.size}))
"""
# The reader runs in a child of this small process, so that RUSAGE_CHILDREN is the reader's peak alone.
MEASURE = """
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True)
if proc.returncode:
    sys.exit(proc.stderr)
result = json.loads(proc.stdout)
result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(result))
"""
# The whole table is in memory by design (every later stage works on whole columns), so the bound is what that
# costs, with room: the interpreter and pandas (~100 MiB) plus the table (~1-2x the file's size in Python strings).
# Before streaming, this file peaked at about 1.8 GiB: its bytes, the decoded text, a copy of it, then the rows.
PEAK_RSS_BOUND_MIB = 1024


def write_large_export(path: Path, sheet, registry, size: int) -> int:
    """A realistic export of about `size` bytes: every school once per block, each block with its own
    timestamps and reporter names, so the cells do not all repeat."""
    codes = list(registry["school_code"])
    for n, code in enumerate(codes):
        sheet.add(code, at=f"9/6/2026 7:{n // 60:02d}:{n % 60:02d}", A2=f"Người báo cáo {n} @@")
    block = csv_text(sheet).split("\r\n", 1)[1]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(csv_text(sheet).split("\r\n", 1)[0] + "\r\n")
        blocks = 0
        while fh.tell() < size:
            fh.write(block.replace("9/6/2026 7:", f"{blocks % 28 + 1}/6/2026 {blocks // 28 % 24}:")
                     .replace("@@", str(blocks)))
            blocks += 1
    return blocks * len(codes)


def test_200_mb_export_is_streamed_not_loaded_whole(tmp_path, sheet, registry):
    src = tmp_path / "responses.csv"
    rows = write_large_export(src, sheet, registry, 200 * 1024 * 1024)
    proc = subprocess.run([sys.executable, "-c", MEASURE, READER, str(src), str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    print(f"\n200 MB export: {json.dumps(result)}")
    assert result["rows"] == rows and result["columns"] == len(sheet.headers)
    assert result["archived"] == src.stat().st_size
    assert result["peak_rss_mib"] < PEAK_RSS_BOUND_MIB, result


def test_a_partial_copy_left_by_a_killed_archive_is_swept_once_stale(tmp_path):
    import os
    import time

    from antt.sources.archive import STALE_COPY_S, archive_input

    raw = tmp_path / "out" / "raw"
    raw.mkdir(parents=True)
    stale, fresh = raw / ".incoming.dead.tmp", raw / ".incoming.busy.tmp"  # a killed run's; a running one's
    for partial in (stale, fresh):
        partial.write_bytes(b"Timestamp,A1\n")
    old = time.time() - STALE_COPY_S - 60
    os.utime(stale, (old, old))
    source = tmp_path / "responses.csv"
    source.write_bytes(b"Timestamp,A1\n1/6/2026 8:00:00,x\n")
    archived = archive_input(source, tmp_path / "out")
    assert not stale.exists() and fresh.exists()
    assert archived.stored.read_bytes() == source.read_bytes()
