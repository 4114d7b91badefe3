"""The Google Sheets source (issue 4): the real gspread client against a fake Sheets API on loopback."""

from __future__ import annotations

import json
import re
import unicodedata

import pandas as pd
import pytest
from fake_sheets import CLIENT_EMAIL, DateCell

from antt.errors import InputError
from antt.sources.files import read_export
from antt.sources.gsheet import fetch_sheet, last_snapshot, parse_spec, preflight

KEY = "1FAKEa0B1c2D3e4F5g6H7i8J9k0LmNoPqRsTuVwXyZ"
FAST = {"timeout": 1.0, "backoff": 0.01, "max_delay": 10.0}


@pytest.fixture
def fake(fake_sheets):
    return fake_sheets


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"


def as_sheets_holds_it(rows: list[list[str]]) -> list[list]:
    """Cells typed as a Forms response sheet holds them: numbers as numbers, the timestamp column as a date cell
    (shown d/m/yyyy H:MM:SS), everything else (including "0912345678" and "1.200") as text."""
    typed = []
    for row in rows:
        cells = []
        for i, text in enumerate(row):
            if i == 0 and text:
                cells.append(DateCell(46182.333, text))
            elif re.fullmatch(r"-?(0|[1-9]\d*)", text):
                cells.append(int(text))
            elif re.fullmatch(r"-?\d+\.\d+", text):
                cells.append(float(text))
            else:
                cells.append(text or None)
        typed.append(cells)
    return typed


def responses(sheet) -> list[list]:
    return [list(sheet.headers)] + as_sheets_holds_it(sheet.rows)


def test_sheet_reads_as_the_same_raw_table_as_its_csv_export(fake, sheet, out, tmp_path):
    sheet.add("MN01")
    sheet.add("TH01", at="8/6/2026 17:30:05", A4="0987654321", C2="12")
    sheet.blank_row()
    sheet.add("THCS01", F3="20.000.000", G2="Trường có 1.200 học sinh, 0,95 đạt")
    fake.add_spreadsheet(KEY, {"Câu trả lời biểu mẫu 1": responses(sheet)})
    raw, archived = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    export = read_export(sheet.write_csv(tmp_path / "export.csv"))
    assert raw.headers == export.headers
    pd.testing.assert_frame_equal(raw.cells, export.cells)
    assert read_export(archived.stored).cells.equals(export.cells)
    assert archived.original == f"gsheet:{KEY}" and raw.source == f"gsheet:{KEY}"


def test_a_cycle_from_the_sheet_ranks_exactly_like_one_from_the_csv(fake, sheet, out, tmp_path, run_core):
    sheet.add("MN01")
    sheet.add("TH01", D2="1")
    sheet.add("THCS01", at="10/6/2026 9:00:00")
    fake.add_spreadsheet(KEY, {"Form Responses 1": responses(sheet)})
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    *_, from_sheet = run_core(raw)
    *_, from_csv = run_core(read_export(sheet.write_csv(tmp_path / "export.csv")))
    pd.testing.assert_frame_equal(from_sheet.ranked, from_csv.ranked)


def test_values_keep_the_form_a_csv_export_shows(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [
        ["Dấu thời gian", "code", "count", "ratio", "whole float", "flag", "vi number", "blank", "last"],
        [DateCell(46182.333, "9/6/2026 8:00:00"), "0101", 1200, 0.95, 40.0, True, "1.200", None, "x"]]})
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert list(raw.cells.loc[2]) == ["9/6/2026 8:00:00", "0101", "1200", "0.95", "40", "TRUE", "1.200", "", "x"]
    (read,) = fake.of_kind("values")
    assert read.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert read.query["dateTimeRenderOption"] == ["FORMATTED_STRING"]


def test_a_large_sheet_is_read_in_bounded_batches(fake, out):
    rows = [["Dấu thời gian", "A1. Trường", "A5"]] + [
        [DateCell(46182.0, f"9/6/2026 8:{i // 60 % 60:02d}:{i % 60:02d}"), f"S{i:05d}", i] for i in range(6000)]
    fake.add_spreadsheet(KEY, {"Form Responses 1": rows})
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert len(raw.cells) == 6000 and list(raw.cells.loc[6001]) == ["9/6/2026 8:39:59", "S05999", "5999"]
    reads = fake.of_kind("values", "batch")
    spans = [tuple(map(int, re.search(r"!A(\d+):[A-Z]+(\d+)$", r.path).groups())) for r in reads]
    assert spans == [(1, 2000), (2001, 4000), (4001, 6000), (6001, 6001)]


def test_rows_after_a_long_blank_gap_are_not_lost(fake, out):
    rows = [["h1", "h2"], ["a", 1]] + [[None, None]] * 30 + [["b", 2]]
    fake.add_spreadsheet(KEY, {"Sheet1": rows}, row_count=40)
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, batch_rows=10, **FAST)
    assert len(raw.cells) == 32 and list(raw.cells.loc[33]) == ["b", "2"]
    assert len(fake.of_kind("values")) == 4


def test_quota_429_twice_then_ok_succeeds_and_honours_retry_after(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.fail(429, times=2, on="values", retry_after="1")
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert list(raw.cells[0]) == ["v"]
    reads = fake.of_kind("values")
    assert [r.status for r in reads] == [429, 429, 200]
    assert all(b.at - a.at >= 0.95 for a, b in zip(reads, reads[1:], strict=False))


def test_server_error_for_ever_fails_after_bounded_retries_naming_sheet_and_status(fake, out):
    fake.add_spreadsheet(KEY, {"Form Responses 1": [["h"], ["v"]]})
    fake.fail(500, on="values")
    with pytest.raises(InputError, match=rf"^gsheet:{KEY}#Form Responses 1: Google Sheets trả lời 500 INTERNAL"):
        fetch_sheet(f"gsheet:{KEY}#Form Responses 1", out, attempts=3, **FAST)
    assert len(fake.of_kind("values")) == 3


def test_retries_stop_at_the_time_budget(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.fail(503)
    with pytest.raises(InputError, match="503 UNAVAILABLE"):
        fetch_sheet(f"gsheet:{KEY}", out, attempts=1000, timeout=1.0, backoff=0.05, max_delay=0.5)
    assert len(fake.of_kind("metadata")) < 20  # the budget, not the 1,000 attempts, stopped it


def test_slow_answer_is_a_timeout_after_retries(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.slow(5.0)
    with pytest.raises(InputError, match=r"không trả lời trong 0\.3 giây \(sau 2 lần thử\)"):
        fetch_sheet(f"gsheet:{KEY}", out, attempts=2, timeout=0.3, backoff=0.01, max_delay=10)
    assert len(fake.of_kind("metadata")) == 2


def test_a_slow_answer_once_is_retried(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.slow(5.0, times=1, on="values")
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, timeout=0.3, backoff=0.01, max_delay=10)
    assert list(raw.cells[0]) == ["v"]


def test_malformed_json_is_one_clear_error(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.malformed(on="values")
    with pytest.raises(InputError, match="không phải JSON; kiểm tra ANTT_SHEETS_ENDPOINT"):
        fetch_sheet(f"gsheet:{KEY}", out, **FAST)


def test_permission_denied_says_whom_to_share_the_sheet_with_and_is_not_retried(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fake.fail(403)
    with pytest.raises(InputError, match=rf"403 PERMISSION_DENIED: .*chia sẻ bảng tính với {re.escape(CLIENT_EMAIL)}"):
        fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert len(fake.of_kind("metadata")) == 1


def test_unknown_spreadsheet_is_404_with_what_to_do(fake, out):
    with pytest.raises(InputError, match=r"^gsheet:NoSuchKey: Google Sheets trả lời 404 NOT_FOUND: .*sao chép"):
        fetch_sheet("gsheet:NoSuchKey", out, **FAST)


def test_unknown_worksheet_names_the_worksheets_there_are(fake, out):
    fake.add_spreadsheet(KEY, {"Form Responses 1": [["h"]], "Tổng hợp": [["x"]]})
    with pytest.raises(InputError, match=r"không có trang tính 'Responses' \(chỉ có 'Form Responses 1', 'Tổng hợp'\)"):
        fetch_sheet(f"gsheet:{KEY}#Responses", out, **FAST)


def test_empty_worksheet_is_an_input_error_and_archives_nothing(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": []})
    with pytest.raises(InputError, match="trang tính trống"):
        fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert not (out / "raw").exists()


def test_failed_fetch_keeps_the_last_good_snapshot_and_archives_nothing(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["first"]]})
    _, good = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    before = sorted(p.name for p in (out / "raw").iterdir()), (out / "raw" / "index.jsonl").read_text()
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["second"]]})
    fake.fail(500)
    with pytest.raises(InputError, match=rf"bản lưu tốt gần nhất là {re.escape(str(good.stored))}"):
        fetch_sheet(f"gsheet:{KEY}", out, attempts=2, **FAST)
    assert (sorted(p.name for p in (out / "raw").iterdir()), (out / "raw" / "index.jsonl").read_text()) == before
    assert last_snapshot(f"gsheet:{KEY}", out) == good


def test_partial_fetch_archives_nothing(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"]] + [[f"r{i}"] for i in range(50)]}, row_count=51)
    fake.fail(500, on="values", skip=2)
    with pytest.raises(InputError, match="500"):
        fetch_sheet(f"gsheet:{KEY}", out, batch_rows=10, attempts=2, **FAST)
    assert [r.status for r in fake.of_kind("values")] == [200, 200, 500, 500]
    assert not (out / "raw").exists() and last_snapshot(f"gsheet:{KEY}", out) is None


def test_last_snapshot_is_the_newest_for_that_sheet_whatever_the_spec_spelling(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v1"]]})
    fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v2"]]})
    _, newest = fetch_sheet(f"gsheet:https://docs.google.com/spreadsheets/d/{KEY}/edit", out, **FAST)
    fake.add_spreadsheet("OtherKey", {"Sheet1": [["h"], ["other"]]})
    fetch_sheet("gsheet:OtherKey", out, **FAST)
    assert last_snapshot(f"gsheet:{KEY}", out) == newest
    assert read_export(newest.stored).cells.loc[2, 0] == "v2"
    assert [json.loads(line)["original"] for line in (out / "raw" / "index.jsonl").read_text().splitlines()] == \
        [f"gsheet:{KEY}", f"gsheet:{KEY}", "gsheet:OtherKey"]


def test_last_snapshot_is_none_before_any_fetch(tmp_path):
    assert last_snapshot(f"gsheet:{KEY}", tmp_path) is None


@pytest.mark.parametrize("spec, key, title, gid", [
    (f"gsheet:{KEY}", KEY, None, None),
    (f"gsheet:{KEY}#Form Responses 1", KEY, "Form Responses 1", None),
    (f"gsheet:https://docs.google.com/spreadsheets/d/{KEY}/edit?usp=sharing", KEY, None, None),
    (f"gsheet:https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=1234", KEY, None, 1234),
    (f"gsheet:https://docs.google.com/spreadsheets/d/{KEY}/edit#Câu trả lời biểu mẫu 1", KEY,
     "Câu trả lời biểu mẫu 1", None),
])
def test_spec_gives_key_and_worksheet(spec, key, title, gid):
    ref = parse_spec(spec)
    assert (ref.key, ref.title, ref.gid) == (key, title, gid)


@pytest.mark.parametrize("spec", ["gsheet:", "gsheet:not a key", "gsheet:https://example.org/sheet", "sheet:KEY"])
def test_bad_spec_is_one_line(spec):
    with pytest.raises(InputError, match="gsheet:<mã hoặc đường dẫn>|thanh địa chỉ"):
        parse_spec(spec)


def test_worksheet_is_chosen_by_title_nfd_or_nfc_by_gid_or_first(fake, out):
    fake.add_spreadsheet(KEY, {"Tổng hợp": [["h"], ["summary"]], "Câu trả lời biểu mẫu 1": [["h"], ["answers"]]})
    by_title, _ = fetch_sheet(f"gsheet:{KEY}#{unicodedata.normalize('NFD', 'Câu trả lời biểu mẫu 1')}", out, **FAST)
    by_gid, _ = fetch_sheet(f"gsheet:https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=1", out, **FAST)
    first, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert [t.cells.loc[2, 0] for t in (by_title, by_gid, first)] == ["answers", "answers", "summary"]


def test_requests_are_read_only_authorised_and_open_the_sheet_by_key(fake, out):
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    (token,) = fake.of_kind("token")
    assert token.claims["scope"] == "https://www.googleapis.com/auth/spreadsheets.readonly"
    assert token.claims["iss"] == CLIENT_EMAIL
    api = [r for r in fake.requests if r.kind != "token"]
    assert api and all(r.authorization == "Bearer fake-token-1" and r.path.startswith(f"/v4/spreadsheets/{KEY}")
                       for r in api)
    assert len(api) == 3  # spreadsheets.get to open it, spreadsheets.get to pick the worksheet, one values.get


def test_missing_credentials_say_which_variable_to_set(monkeypatch, out):
    monkeypatch.delenv("ANTT_GOOGLE_CREDENTIALS", raising=False)
    monkeypatch.delenv("ANTT_GOOGLE_SECRET_BLOCK", raising=False)
    with pytest.raises(InputError, match="đặt ANTT_GOOGLE_CREDENTIALS"):
        fetch_sheet(f"gsheet:{KEY}", out)


def test_unreadable_key_file_is_named(monkeypatch, out, tmp_path):
    (tmp_path / "sa.json").write_text('{"type": "authorized_user"}', encoding="utf-8")
    monkeypatch.setenv("ANTT_GOOGLE_CREDENTIALS", str(tmp_path / "sa.json"))
    with pytest.raises(InputError, match=r"ANTT_GOOGLE_CREDENTIALS=.*sa\.json: không phải khoá tài khoản dịch vụ"):
        fetch_sheet(f"gsheet:{KEY}", out)


def test_a_key_the_token_endpoint_refuses_is_one_clear_error(fake, out, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    info = fake.service_account_info()
    info["private_key"] = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    (tmp_path / "other.json").write_text(json.dumps(info), encoding="utf-8")
    monkeypatch.setenv("ANTT_GOOGLE_CREDENTIALS", str(tmp_path / "other.json"))
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    with pytest.raises(InputError, match=r"máy chủ cấp token .*/token từ chối tài khoản dịch vụ .*invalid_grant"):
        fetch_sheet(f"gsheet:{KEY}", out, **FAST)


@pytest.mark.flow
def test_key_can_come_from_a_prefect_secret_block(prefect_api_url, fake, out, monkeypatch):
    from prefect.blocks.system import Secret

    Secret(value=json.dumps(fake.service_account_info())).save("antt-google-key", overwrite=True)
    monkeypatch.delenv("ANTT_GOOGLE_CREDENTIALS")
    monkeypatch.setenv("ANTT_GOOGLE_SECRET_BLOCK", "antt-google-key")
    fake.add_spreadsheet(KEY, {"Sheet1": [["h"], ["v"]]})
    raw, _ = fetch_sheet(f"gsheet:{KEY}", out, **FAST)
    assert list(raw.cells[0]) == ["v"] and fake.of_kind("token")[0].claims["iss"] == CLIENT_EMAIL


@pytest.mark.flow
def test_a_missing_secret_block_is_one_line(prefect_api_url, out, monkeypatch):
    monkeypatch.delenv("ANTT_GOOGLE_CREDENTIALS", raising=False)
    monkeypatch.setenv("ANTT_GOOGLE_SECRET_BLOCK", "no-such-block")
    with pytest.raises(InputError, match="khối Secret 'no-such-block' của Prefect: không tải được"):
        fetch_sheet(f"gsheet:{KEY}", out)


def test_preflight_checks_spec_and_credentials_without_a_request(fake):
    assert preflight(f"gsheet:{KEY}#Form Responses 1").title == "Form Responses 1"
    assert fake.requests == []


@pytest.mark.flow
def test_antt_run_on_a_live_sheet_ranks_like_its_csv_export(prefect_api_url, fake, sheet, tmp_path):
    """The command line, end to end: `antt run --source gsheet:KEY` against the fake API on loopback."""
    import os

    from test_cli import antt

    sheet.add("MN01")
    sheet.add("TH01", D2="1")
    sheet.add("THCS01", at="12/6/2026 9:00:00")
    fake.add_spreadsheet("e2eKEY", {"Câu trả lời biểu mẫu 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    csv_path = sheet.write_csv(tmp_path / "export.csv")
    env = {"ANTT_GOOGLE_CREDENTIALS": os.environ["ANTT_GOOGLE_CREDENTIALS"],
           "ANTT_SHEETS_ENDPOINT": os.environ["ANTT_SHEETS_ENDPOINT"]}
    live = antt("run", "--cycle", "2026-H1", "--source", "gsheet:e2eKEY", "--out", str(tmp_path / "live"),
                api_url=prefect_api_url, extra_env=env)
    assert live.returncode == 0, live.stderr
    exported = antt("run", "--cycle", "2026-H1", "--source", str(csv_path), "--out", str(tmp_path / "file"),
                    api_url=prefect_api_url)
    assert exported.returncode == 0, exported.stderr
    for name in ("ranking.csv", "issues.csv"):
        assert (tmp_path / "live" / "2026-H1" / name).read_bytes() == \
            (tmp_path / "file" / "2026-H1" / name).read_bytes()
    assert fake.of_kind("values", "batch")

    fake.fail(429, times=3, on="api", retry_after="1")  # quota: three refusals in a row, then served
    quota = antt("run", "--cycle", "2026-H1", "--source", "gsheet:e2eKEY", "--out", str(tmp_path / "quota"),
                 api_url=prefect_api_url, extra_env=env)
    assert quota.returncode == 0, quota.stderr
    assert (tmp_path / "quota" / "2026-H1" / "ranking.csv").read_bytes() == \
        (tmp_path / "file" / "2026-H1" / "ranking.csv").read_bytes()
    assert sum(r.status == 429 for r in fake.requests) == 3


@pytest.mark.flow
@pytest.mark.parametrize("status,fragment", [(403, "403"), (404, "404")])
def test_antt_run_fails_cleanly_when_the_sheet_is_refused_or_unknown(prefect_api_url, fake, sheet, tmp_path,
                                                                     status, fragment):
    import os

    from test_cli import antt, assert_one_line_error

    sheet.add("MN01")
    fake.add_spreadsheet("e2eKEY", {"Sheet1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
    fake.fail(status, on="api")
    env = {"ANTT_GOOGLE_CREDENTIALS": os.environ["ANTT_GOOGLE_CREDENTIALS"],
           "ANTT_SHEETS_ENDPOINT": os.environ["ANTT_SHEETS_ENDPOINT"]}
    proc = antt("run", "--cycle", "2026-H1", "--source", "gsheet:e2eKEY", "--out", str(tmp_path / "o"),
                api_url=prefect_api_url, extra_env=env)
    assert_one_line_error(proc, "gsheet:e2eKEY", fragment)
    assert not (tmp_path / "o" / "2026-H1").exists()


def at_once(read, units: int) -> list[BaseException | None]:
    """`read(i)` for `units` units at the same instant, each in its own thread (as the province's units do), with
    this thread's Prefect settings; what each raised."""
    import contextvars
    import threading

    gate, raised = threading.Barrier(units), [None] * units

    def run(i: int) -> None:
        gate.wait()
        try:
            read(i)
        except BaseException as exc:  # noqa: B036 (handed to the test)
            raised[i] = exc

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, i)) for i in range(units)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return raised


def _read_at_once(fake, sheet, tmp_path, units: int) -> list[BaseException | None]:
    """`units` units reading their own sheets at once. No timeout: a request given up on would free its slot while
    the fake still counts it."""
    for i in range(units):
        fake.add_spreadsheet(f"{KEY}{i}", {"Form Responses 1": responses(sheet)})
    return at_once(lambda i: fetch_sheet(f"gsheet:{KEY}{i}", tmp_path / f"unit-{i}", timeout=60.0, max_delay=60.0),
                   units)


@pytest.mark.flow
def test_units_reading_at_once_never_hold_more_requests_than_the_google_api_limit(prefect_api_url, fake, sheet,
                                                                                   tmp_path):
    from prefect.client.orchestration import get_client

    from antt.sources.quota import GOOGLE_API_LIMIT, ensure_google_api_limit

    sheet.add("MN01")
    fake.slow(0.3)  # every request takes a while, so the four units' requests would overlap
    ensure_google_api_limit(2)
    try:
        assert _read_at_once(fake, sheet, tmp_path, units=4) == [None] * 4
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(GOOGLE_API_LIMIT)
    # per unit a token, the metadata twice (gspread's open, then the worksheet's) and one batch: none retried
    assert [len(fake.of_kind(k)) for k in ("token", "metadata", "values")] == [4, 8, 4]
    assert fake.most_at_once == 2  # the limit, reached and never passed


def test_without_a_prefect_server_units_read_without_the_limit(fake, sheet, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sheet.add("MN01")
    fake.slow(0.3)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert _read_at_once(fake, sheet, tmp_path, units=4) == [None] * 4
    assert fake.most_at_once > 2
