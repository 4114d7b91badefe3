"""The command line as a user meets it: bad input is one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

EN = {"ANTT_LANG": "en"}  # for a test that checks a message's English words


def antt(*args: str, api_url: str | None = None, cwd: Path | None = None,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))}
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "NO_COLOR": "1", "COLUMNS": "200"} | (extra_env or {})
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return subprocess.run([sys.executable, "-m", "antt", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or REPO, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_zero_byte_file(tmp_path):
    src = tmp_path / "responses.csv"
    src.write_bytes(b"")
    assert_one_line_error(antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "o")),
                          "tệp trống")


def test_not_a_csv_file(tmp_path):
    src = tmp_path / "responses.pdf"
    src.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    assert_one_line_error(antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path)),
                          "không hỗ trợ loại tệp .pdf")


def test_binary_content_named_csv(tmp_path):
    src = tmp_path / "responses.csv"
    src.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path)),
                          "responses.csv")


def test_missing_file(tmp_path):
    assert_one_line_error(antt("run", "--cycle", "2026-H1", "--source", str(tmp_path / "nope.csv"),
                               "--out", str(tmp_path)), "không tìm thấy tệp")


def test_unreadable_registry(tmp_path, sheet):
    src = sheet.write_csv(tmp_path / "responses.csv")
    registry = tmp_path / "schools.csv"
    registry.write_bytes(b"\xff\xfe\x00garbage\x00")
    assert_one_line_error(antt("run", "--cycle", "2026-H1", "--source", str(src), "--schools", str(registry),
                               "--out", str(tmp_path / "o")), "danh sách trường")


def test_unknown_cycle(tmp_path, sheet):
    src = sheet.write_csv(tmp_path / "responses.csv")
    assert_one_line_error(antt("run", "--cycle", "2026-Q3", "--source", str(src), "--out", str(tmp_path)),
                          "kỳ báo cáo không hợp lệ '2026-Q3'")


def test_broken_config_names_file_and_key(tmp_path, sheet):
    import shutil

    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    path = cfg / "criteria" / "tt23-2012.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("pass_share: 0.8", "pass_share: 8"), encoding="utf-8")
    src = sheet.write_csv(tmp_path / "responses.csv")
    assert_one_line_error(antt("validate", "--cycle", "2026-H1", "--source", str(src), "--config", str(cfg),
                               "--out", str(tmp_path)), "tt23-2012.yaml: pass_share")


def test_missing_required_column_in_validate(tmp_path, sheet, config):
    sheet.headers = [h for h in sheet.headers if not h.startswith("D2.")]
    src = sheet.write_csv(tmp_path / "responses.csv")
    assert_one_line_error(antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path)),
                          "D2. Số vụ bạo lực học đường")


@pytest.mark.flow
def test_missing_required_column_in_run(prefect_api_url, tmp_path, sheet):
    sheet.add("MN01")
    sheet.headers = [h for h in sheet.headers if not h.startswith("A5.")]
    src = sheet.write_csv(tmp_path / "responses.csv")
    assert_one_line_error(antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "o"),
                               api_url=prefect_api_url), "thiếu cột bắt buộc", "A5.")
    assert not (tmp_path / "o" / "2026-H1").exists()


@pytest.mark.flow
def test_run_prints_report_path_and_exits_zero(prefect_api_url, tmp_path, sheet):
    sheet.add("MN01")
    sheet.add("TH01", D1="")
    src = sheet.write_csv(tmp_path / "responses.csv")
    proc = antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "o"),
                api_url=prefect_api_url)
    assert proc.returncode == 0, proc.stderr
    report = Path(proc.stdout.strip().splitlines()[-1])
    assert report == (tmp_path / "o" / "2026-H1" / "report.html").resolve() and report.is_file()


def _servers_of(home: Path) -> list[int]:
    """Processes whose environment names `home` as their Prefect home: a temporary server of a run there."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"PREFECT_HOME={home}".encode() in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def _alembic_head(database: Path) -> str:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.mark.flow
def test_a_run_with_no_server_configured_uses_prefects_temporary_server_under_out(tmp_path, sheet):
    """The first run on a machine migrates its new database and keeps a copy of it in the user's cache; the next new
    --out starts from that copy (Prefect finds it at its head). Neither run leaves its server behind."""
    from importlib.metadata import version

    sheet.add("MN01")
    src = sheet.write_csv(tmp_path / "responses.csv")
    env = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    template = tmp_path / "cache" / "antt" / f"prefect-{version('prefect')}.db"
    for out in ("o", "o2"):
        proc = antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / out), extra_env=env)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / out / "2026-H1" / "report.html").is_file()
        database = tmp_path / out / ".prefect" / "prefect.db"
        assert database.is_file()  # the temporary server kept its state there
        assert template.is_file() and _alembic_head(database) == _alembic_head(template)
        assert not _servers_of((tmp_path / out / ".prefect").resolve())
    assert [p.name for p in template.parent.iterdir()] == [template.name]  # no temporary file left beside it


def test_a_run_with_unusable_input_stops_the_temporary_server_it_started(tmp_path):
    """The temporary server starts with the command, before the input is checked: a run whose input is unusable
    stops it with its one-line error, and leaves no half-migrated database for the next run (no cached copy here)."""
    src = tmp_path / "responses.csv"
    src.write_bytes(b"")
    out = tmp_path / "o"
    proc = antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(out),
                extra_env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert_one_line_error(proc, "tệp trống")
    assert not _servers_of((out / ".prefect").resolve())
    assert not list((out / ".prefect").glob("prefect.db*"))


@pytest.mark.flow
def test_a_killed_run_takes_its_temporary_server_with_it(tmp_path, sheet):
    import signal
    import time

    sheet.add("MN01")
    src = sheet.write_csv(tmp_path / "responses.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))}
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    home = (tmp_path / "o" / ".prefect").resolve()
    proc = subprocess.Popen([sys.executable, "-m", "antt", "run", "--cycle", "2026-H1", "--source", str(src),
                             "--out", str(tmp_path / "o")], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _servers_of(home) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _servers_of(home), "the run started no temporary server"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 60
    while _servers_of(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _servers_of(home)


@pytest.mark.flow
def test_a_server_in_the_active_prefect_profile_is_used_as_it_is(prefect_api_url, tmp_path, sheet):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'active = "office"\n\n[profiles.office]\nPREFECT_API_URL = "{prefect_api_url}"\n',
                        encoding="utf-8")
    sheet.add("MN01")
    src = sheet.write_csv(tmp_path / "responses.csv")
    proc = antt("run", "--cycle", "2026-Y", "--source", str(src), "--out", str(tmp_path / "o"),
                extra_env={"PREFECT_PROFILES_PATH": str(profiles)})
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "o" / ".prefect").exists()  # no temporary server, no state of its own
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["2026-Y"])))
    assert [r.parameters["out"] for r in runs if r.parameters["out"] == str(tmp_path / "o")]


def test_validate_lists_problems_and_strict_exits_one(tmp_path, sheet):
    sheet.add("MN01", D1="")
    src = sheet.write_csv(tmp_path / "responses.csv")
    proc = antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path),
                "--issues-csv", str(tmp_path / "issues.csv"))
    assert proc.returncode == 0 and "Chưa trả lời câu bắt buộc" in proc.stdout
    header = (tmp_path / "issues.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "school_code,sheet_row,question_id,severity,message"
    strict = antt("validate", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path), "--strict")
    assert strict.returncode == 1


@pytest.mark.flow
def test_demo_writes_both_cycles_and_prints_the_report(prefect_api_url, tmp_path):
    proc = antt("demo", "--out", str(tmp_path / "o"), api_url=prefect_api_url)
    assert proc.returncode == 0, proc.stderr
    report = Path(proc.stdout.strip().splitlines()[-1])
    assert report == (tmp_path / "o" / "2026-Y" / "report.html").resolve() and report.is_file()
    assert (tmp_path / "o" / "2026-H1" / "ranking.csv").is_file()
    assert (tmp_path / "o" / "demo" / "phan-hoi-bieu-mau.csv").is_file()


def test_the_help_is_vietnamese_by_default_whatever_the_machine_locale():
    proc = antt("run", "--help", extra_env={"LANG": "en_US.UTF-8", "LC_ALL": "C.UTF-8"})
    assert proc.returncode == 0, proc.stderr
    for words in ("Cách dùng: ", "antt run [TÙY CHỌN]", "Chạy trọn một kỳ báo cáo bằng luồng Prefect",
                  "Tùy chọn", "Mã kỳ báo cáo, ví dụ 2026-H1", "gsheet:<mã hoặc URL>[#trang tính]",
                  "gform:<mã biểu mẫu hoặc URL>", "[bắt buộc]", "[mặc định: out]", "Hiện hướng dẫn này rồi thoát."):
        assert words in proc.stdout, words
    for words in ("Usage", "Options", "required", "default", "Show this message"):
        assert words not in proc.stdout, words


def test_the_help_is_english_with_antt_lang_en():
    proc = antt("run", "--help", extra_env={"ANTT_LANG": "en"})
    assert proc.returncode == 0, proc.stderr
    for words in ("Usage: ", "antt run [OPTIONS]", "Run a whole cycle as a Prefect flow and print the report's path.",
                  "Options", "Cycle id, e.g. 2026-H1", "gsheet:<key or URL>[#worksheet]", "[required]",
                  "[default: out]", "Show this message and exit."):
        assert words in proc.stdout, words


def test_the_office_config_chooses_the_language_and_antt_lang_overrides_it(tmp_path):
    import shutil

    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    office = cfg / "office.yaml"
    office.write_text(office.read_text(encoding="utf-8") + "\nlanguage: en\n", encoding="utf-8")
    assert "antt validate [OPTIONS]" in antt("validate", "--help", "--config", str(cfg)).stdout
    assert "antt validate [TÙY CHỌN]" in antt("validate", "--help", "--config", str(cfg),
                                             extra_env={"ANTT_LANG": "vi"}).stdout


def test_an_error_line_in_each_language(tmp_path, sheet):
    src = sheet.write_csv(tmp_path / "responses.csv")
    args = ("validate", "--cycle", "2026-Q3", "--source", str(src), "--out", str(tmp_path))
    assert_one_line_error(antt(*args), "lỗi: ", "kỳ báo cáo không hợp lệ '2026-Q3'")
    assert_one_line_error(antt(*args, extra_env={"ANTT_LANG": "en"}), "error: ", "unknown cycle '2026-Q3'")


def test_a_usage_error_in_vietnamese():
    proc = antt("run", "--cycle", "2026-H1")
    assert proc.returncode == 2
    assert "Cách dùng: " in proc.stderr and "antt run [TÙY CHỌN]" in proc.stderr and "Lỗi" in proc.stderr, proc.stderr
