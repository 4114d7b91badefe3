"""Issue 8, items 3 and 4: what schools type and what the registry names stays inert text in every page, e-mail and
spreadsheet; school codes and cycle names cannot lead a file out of `--out`; reporters' contacts stay on the
analyst's page; no secret reaches a file, a log or the console; an impostor changes nothing until approved."""

from __future__ import annotations

import base64
import csv
import re
import shutil
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from conftest import REPO, Sheet, config_with_corrections, run_stages
from openpyxl import load_workbook

from antt.config import load_config
from antt.cycles import resolve_cycle
from antt.errors import AnttError, InputError
from antt.intake.registry import load_registry
from antt.outputs.tables import csv_bytes, neutralise

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PROBE = "x{{7*7}}x"  # a template that ran it would print x49x
STYLE = "</style>"
HOSTILE = f"{SCRIPT} {IMG} {PROBE} {STYLE}"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PHONE, SENDER = "0961357924", "lan.baocao.5521@truong.example.org"  # MN01's reporter, distinctive on purpose

# Names from the registry reach every page, the spreadsheets and the e-mail headers; units get their own pages.
REGISTRY = [
    ["school_code", "school_name", "level", "ward", "emails", "unit"],
    ["MN01", f"Trường Mầm non {SCRIPT} {IMG}", "MN", f"phường {PROBE} {STYLE}", SENDER, f"Đơn vị {SCRIPT}"],
    ["TH01", '=HYPERLINK("http://evil.example","Trường Tiểu học")', "TH", "+84 phường", "th01@truong.example.org",
     "-1+2 Đơn vị"],
    ["TH02", "@SUM(A1) Trường", "TH", "-2+3", "th02@truong.example.org", f"Đơn vị {SCRIPT}"],
    ["THCS01", f"Trường THCS {PROBE}\r\nBcc: spy@evil.example", "THCS", "=1+1", "thcs01@truong.example.org", "@unit"],
    ["TH03", "Trường Tiểu học Cẩm La", "TH", "xã Cẩm La", "th03@truong.example.org\r\nBcc: spy@evil.example", IMG],
]


def _fill(sheet: Sheet) -> None:
    """MN01 counted (free text hostile, a warning so the analyst's page lists its row), TH01 blocked by hostile
    answers in every typed question, TH02 sent from an address that is hostile and not registered, rows naming
    schools as formulas or markup, a row with a hostile timestamp; THCS01 and TH03 send nothing."""
    sheet.add("MN01", email=SENDER, A2=f"Lan {HOSTILE}", A3=HOSTILE, A4=PHONE, C3=HOSTILE, G2=HOSTILE,
              G3='https://minhchung.example.org/"><script>alert(1)</script>')
    sheet.add("TH01", **dict.fromkeys(("A2", "A3", "A4", "A5", "B2", "B4", "C4", "C9", "F2", "G1", "G2", "G3"),
                                      HOSTILE))
    sheet.add("TH02", email=f"{IMG}@evil.example")
    for school in (f"{SCRIPT} – {IMG}", '=HYPERLINK("http://evil.example") – x', "+SUM(1) – x", "@SUM(1) – x"):
        sheet.add("XX99", A1=school)
    sheet.add("MN01", at=HOSTILE)


def _config_with_unit_pages(folder: Path) -> Path:
    """The default config with the full-ranking threshold lowered, so this small run also writes units/*.html."""
    cfg = folder / "config"
    shutil.copytree(REPO / "config", cfg)
    office = yaml.safe_load((cfg / "office.yaml").read_text(encoding="utf-8"))
    office["report_full_ranking_max"] = 2
    (cfg / "office.yaml").write_text(yaml.safe_dump(office, allow_unicode=True), encoding="utf-8")
    return cfg


def _written(root: Path) -> set[Path]:
    return {p.resolve() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def hostile(prefect_api_url, tmp_path_factory) -> SimpleNamespace:
    """`antt run`, `antt remind --dry-run DIR` and `antt corrections template` on the hostile registry and sheet, from
    an empty working folder and with HOME pointed into the test folder, so a file written anywhere else shows."""
    from test_cli import antt

    tmp = tmp_path_factory.mktemp("hostile")
    cfg = _config_with_unit_pages(tmp)
    schools = tmp / "schools.csv"
    with open(schools, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(REGISTRY)
    config = load_config(cfg)
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    _fill(sheet)
    source = sheet.write_csv(tmp / "responses.csv")
    inputs = _written(tmp)
    run = SimpleNamespace(tmp=tmp, out=tmp / "out", drafts=tmp / "drafts", inputs=inputs,
                          cwd=tmp / "cwd", home=tmp / "home", prefect_home=tmp / "prefect-home")
    for folder in (run.cwd, run.home):
        folder.mkdir()
    env = {"HOME": str(run.home), "PREFECT_HOME": str(run.prefect_home)}
    common = ["--cycle", "2026-H1", "--source", str(source), "--schools", str(schools), "--config", str(cfg),
              "--out", str(run.out)]
    run.procs = [antt("run", *common, api_url=prefect_api_url, cwd=run.cwd, extra_env=env),
                 antt("remind", *common, "--dry-run", str(run.drafts), "--today", "2026-06-05",
                      api_url=prefect_api_url, cwd=run.cwd, extra_env=env),
                 antt("corrections", "template", *common, cwd=run.cwd, extra_env=env)]
    for proc in run.procs:
        assert proc.returncode == 0, proc.stderr
    run.cycle = run.out / "2026-H1"
    return run


# ------------------------------------------------------------------------------------------------ markup and templates

class _Markup(HTMLParser):
    """What a browser would make of a page: its elements, event-handler attributes and style blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.active: list[str] = []
        self.styles_opened = self.styles_closed = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "img", "iframe", "object", "embed", "svg"):
            self.active.append(f"<{tag}>")
        self.active += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        self.styles_opened += tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.styles_closed += tag == "style"


def _assert_inert(html: str, where: str) -> None:
    page = _Markup()
    page.feed(html)
    assert page.active == [], f"{where} runs what came from the sheet or the registry"
    assert page.styles_opened == page.styles_closed, f"{where}: a </style> from the data ends a style block"
    assert "x49x" not in html, f"{where} ran a template found in the data"


@pytest.mark.flow
def test_every_page_the_run_writes_shows_hostile_text_as_text(hostile):
    pages = sorted(hostile.cycle.rglob("*.html"))
    names = {p.relative_to(hostile.cycle).as_posix() for p in pages}
    assert {"report.html", "data_quality.html", "data_docs/index.html", "schools/MN01.html"} <= names
    assert any(n.startswith("units/") for n in names)
    for page in pages:
        _assert_inert(page.read_text(encoding="utf-8"), page.relative_to(hostile.cycle).as_posix())
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for name in ("report.html", "data_quality.html", "schools/MN01.html", "schools/TH01.html"):
        assert escaped in (hostile.cycle / name).read_text(encoding="utf-8"), name  # shown, not dropped
    assert PROBE in (hostile.cycle / "report.html").read_text(encoding="utf-8")


def _emails(folder: Path) -> dict[str, object]:
    return {p.name: BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


@pytest.mark.flow
def test_every_reminder_draft_shows_hostile_text_as_text(hostile):
    drafts = _emails(hostile.drafts)
    assert set(drafts) == {"2026-H1_2026-06-05_reminder_TH01.eml", "2026-H1_2026-06-05_reminder_TH02.eml",
                           "2026-H1_2026-06-05_reminder_THCS01.eml", "2026-H1_2026-06-05_summary.eml"}
    for name, msg in drafts.items():
        parts = {part.get_content_type(): part.get_content() for part in msg.walk() if not part.is_multipart()}
        assert "x49x" not in msg["Subject"] and all("x49x" not in text for text in parts.values()), name
        if "text/html" in parts:
            _assert_inert(parts["text/html"], name)
    th01 = drafts["2026-H1_2026-06-05_reminder_TH01.eml"].get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in th01  # the school is told what it typed


@pytest.mark.flow
def test_a_line_break_in_a_registry_name_or_address_adds_no_header(hostile):
    for name, msg in _emails(hostile.drafts).items():
        head = (hostile.drafts / name).read_bytes().split(b"\r\n\r\n", 1)[0].lower()
        assert not re.search(rb"(^|\r\n)(bcc|cc):", head), name
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
        to = [a.addr_spec for a in msg["To"].addresses]
        assert "spy@evil.example" not in to and all("\n" not in a and "\r" not in a for a in to)
    subject = _emails(hostile.drafts)["2026-H1_2026-06-05_reminder_THCS01.eml"]["Subject"]
    assert f"Trường THCS {PROBE} Bcc: spy@evil.example chưa gửi" in subject
    # TH03's only address carries a second line: it is not an address, so TH03 is listed to be called instead
    assert "cần liên hệ trực tiếp (1 trường): TH03." in _emails(hostile.drafts)["2026-H1_2026-06-05_summary.eml"] \
        .get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


# ------------------------------------------------------------------------------------------------ spreadsheet formulas

def _csv_cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.flow
def test_no_cell_of_any_csv_or_workbook_the_run_writes_is_a_formula(hostile):
    tables = sorted(p for p in hostile.out.rglob("*") if p.suffix in (".csv", ".xlsx") and "raw" not in p.parts)
    names = {p.relative_to(hostile.out).as_posix() for p in tables}
    assert names == {"2026-H1/ranking.csv", "2026-H1/issues.csv", "2026-H1/ranking.xlsx",
                     "corrections-template-2026-H1.csv"}
    neutralised = set()
    for path in tables:
        if path.suffix == ".csv":
            cells = [c for row in _csv_cells(path) for c in row]
        else:
            book = load_workbook(path)
            sheet_cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
            assert [c.coordinate for c in sheet_cells if c.data_type == "f"] == [], path.name
            cells = [c.value for c in sheet_cells if isinstance(c.value, str)]
        assert [c for c in cells if c.startswith(FORMULA_START)] == [], path.name
        neutralised |= {(path.name, c) for c in cells if c.startswith("'")}
    # the hostile names and codes are there, as text
    for name, cell in [("ranking.csv", "'=HYPERLINK(\"http://evil.example\",\"Trường Tiểu học\")"),
                       ("ranking.csv", "'-2+3"), ("ranking.csv", "'+84 phường"), ("ranking.csv", "'@SUM(A1) Trường"),
                       ("issues.csv", "'=HYPERLINK(\"HTTP://EVIL.EXAMPLE\")"), ("issues.csv", "'+SUM(1)"),
                       ("ranking.xlsx", "'=1+1"), ("corrections-template-2026-H1.csv", "'@SUM(1)")]:
        assert (name, cell) in neutralised, (name, cell)


@pytest.mark.flow
def test_numbers_in_the_workbook_stay_numbers(hostile):
    book = load_workbook(hostile.cycle / "ranking.xlsx")
    ws = book["Tổng hợp"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert rows and all(isinstance(r["Hạng"], int) for r in rows)
    scored = [r for r in rows if r["Điểm"] is not None]
    assert scored and all(isinstance(r["Điểm"], (int, float)) for r in scored)


def test_negative_numbers_are_numbers_not_text():
    assert neutralise(-5) == -5 and neutralise(-2.5) == -2.5 and neutralise("-5") == "'-5"
    frame = pd.DataFrame({"n": [-5, 3], "x": [-2.5, 1.0], "mixed": [-7, "-7"], "text": ["-1", "=1"]})
    assert csv_bytes(frame).decode().splitlines() == ["n,x,mixed,text", "-5,-2.5,-7,'-1", "3,1.0,'-7,'=1"]


# ------------------------------------------------------------------------------------------------ paths

@pytest.mark.flow
def test_every_file_the_commands_write_is_inside_out_or_the_drafts_folder(hostile):
    """Including Prefect's home (PREFECT_HOME, pointed into the test folder), HOME and the working folder."""
    allowed = (hostile.out.resolve(), hostile.drafts.resolve())
    assert sorted(p for p in _written(hostile.tmp) - hostile.inputs if not any(p.is_relative_to(a) for a in allowed)) \
        == []
    assert not any(hostile.cwd.iterdir()) and not any(hostile.home.iterdir())
    assert sorted(p.name for p in (hostile.cycle / "schools").iterdir()) == \
        ["MN01.html", "TH01.html", "TH02.html", "TH03.html", "THCS01.html"]


@pytest.mark.parametrize("cycle", ["../x", "/tmp/x", "2026-H1/../../x", "..\\x", "2026-H1\n", "2026-H1\x00",
                                   "x" * 300, "2026-H1 "])
def test_a_cycle_id_that_is_not_a_cycle_is_refused(config, cycle):
    with pytest.raises(AnttError, match="kỳ báo cáo không hợp lệ"):
        resolve_cycle(cycle, config.cycles)


@pytest.mark.parametrize("command", [["run", "--cycle", "../../escaped"], ["report", "--cycle", "../escaped", "--pdf"]])
def test_the_command_line_refuses_a_cycle_that_names_a_path(tmp_path, sheet, command):
    from test_cli import antt, assert_one_line_error

    sheet.add("MN01")
    source = ["--source", str(sheet.write_csv(tmp_path / "responses.csv"))] if command[0] != "report" else []
    before = _written(tmp_path)
    out = tmp_path / "work" / "out"
    out.mkdir(parents=True)
    proc = antt(*command, *source, "--out", str(out), cwd=out)
    assert_one_line_error(proc, "kỳ báo cáo không hợp lệ")
    assert [p for p in _written(tmp_path) - before if not p.is_relative_to(out.resolve())] == []
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("code", ["../../evil", "/etc/passwd", "a\\b", "a/b", "x" * 300, "CON", "lpt1.x",
                                  "=1+1", "@evil", "+1", "MN 01", ".hidden"])
def test_a_registry_code_that_could_name_a_path_or_a_formula_is_refused(tmp_path, code):
    path = tmp_path / "schools.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["school_code", "school_name", "level", "ward", "emails"],
                                  ["MN01", "A", "MN", "w", ""], [code, "B", "MN", "w", ""]])
    with pytest.raises(InputError, match=r"school_code .* không dùng được làm tên tệp") as refused:
        load_registry(path, ["MN"])
    assert "\n" not in str(refused.value)


def test_control_characters_in_a_registry_code_are_dropped_before_the_code_names_anything(tmp_path):
    path = tmp_path / "schools.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["school_code", "school_name", "level", "ward", "emails"],
                                  ["MN\x0001", "A", "MN", "w", ""], ["TH\x1b01\x7f", "B", "TH", "w", ""]])
    assert list(load_registry(path, ["MN", "TH"])["school_code"]) == ["MN01", "TH01"]


def test_a_registry_with_a_path_for_a_code_stops_the_run_with_one_line(tmp_path, sheet):
    from test_cli import antt, assert_one_line_error

    schools = tmp_path / "schools.csv"
    schools.write_text((REPO / "config" / "schools.csv").read_text(encoding="utf-8") + "/etc/passwd,X,MN,w,,,\n",
                       encoding="utf-8")
    sheet.add("MN01")
    source = sheet.write_csv(tmp_path / "responses.csv")
    before = _written(tmp_path)
    proc = antt("run", "--cycle", "2026-H1", "--source", str(source), "--schools", str(schools),
                "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "school_code '/ETC/PASSWD' không dùng được làm tên tệp")
    assert [p for p in _written(tmp_path) - before if not p.is_relative_to((tmp_path / "out").resolve())] == []
    assert not Path("/etc/passwd.html").exists()


# ------------------------------------------------------------------------------------------------ contacts

def _xlsx_text(path: Path) -> str:
    book = load_workbook(path)
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row
                     if c.value is not None)


@pytest.mark.flow
def test_reporters_contacts_stay_on_the_analysts_page(hostile):
    """Leadership's files (report, unit pages, ranking.*) carry no reporter phone or sender address; the analyst's
    data-quality page does. Scorecards, linked from the report and mailed to schools, carry neither."""
    cycle = hostile.cycle
    leadership = {"report.html": (cycle / "report.html").read_text(encoding="utf-8"),
                  "ranking.csv": (cycle / "ranking.csv").read_text(encoding="utf-8"),
                  "ranking.xlsx": _xlsx_text(cycle / "ranking.xlsx"),
                  **{f"units/{p.name}": p.read_text(encoding="utf-8") for p in (cycle / "units").iterdir()}}
    assert len(leadership) > 4
    for name, text in leadership.items():
        assert PHONE not in text and SENDER not in text, name
    quality = (cycle / "data_quality.html").read_text(encoding="utf-8")
    assert PHONE in quality and SENDER in quality
    for card in (cycle / "schools").iterdir():  # scorecards are linked from the report and mailed to schools
        text = card.read_text(encoding="utf-8")
        assert PHONE not in text and SENDER not in text, card.name


# ------------------------------------------------------------------------------------------------ impostor

@pytest.fixture
def impostor_run(tmp_path, sheet):
    """The real MN01 reports one school-violence case on 1/6; an unregistered address sends a clean report for
    MN01 on 5/6. `run(approve)` runs the stages, with or without the analyst approving the later row."""
    real = sheet.add("MN01", at="1/6/2026 8:00:00", D2="1", A2="Nguyễn Thị Lan")
    impostor = sheet.add("MN01", at="5/6/2026 8:00:00", email="mn01.hieutruong@gmail.com", A2="Kẻ Mạo Danh")

    def run(approve: bool):
        folder = tmp_path / ("approved" if approve else "as-sent")
        rows = [{"action": "approve_sender", "school_code": "MN01", "sheet_row": impostor}] if approve else []
        cfg = config_with_corrections(folder, rows, reason="đã gọi điện xác minh", by="Lan", at="2026-06-06")
        stages = run_stages(sheet.write_csv(folder / "responses.csv"), cfg, folder / "out")
        out = stages.write()
        return stages.results.ranked.set_index("school_code").loc["MN01"], stages.results.issues, out

    return SimpleNamespace(real=real, impostor=impostor, run=run)


def test_an_impostors_better_numbers_never_change_the_result_until_the_analyst_approves(impostor_run):
    mn01, issues, out = impostor_run.run(approve=False)
    assert (mn01["sheet_row"], mn01["verdict"], mn01["status"]) == (impostor_run.real, "chua_dat", "submitted")
    assert "K6" in mn01["failed"]  # the real answers: one school-violence case
    listed = issues[(issues["sheet_row"] == impostor_run.impostor) & (issues["rule"] == "unverified_sender")]
    assert list(listed["severity"]) == ["error"] and "mn01.hieutruong@gmail.com" in listed.iloc[0]["message"]
    issues_csv = (out / "issues.csv").read_text(encoding="utf-8")
    assert f"MN01,{impostor_run.impostor},,error," in issues_csv
    quality = (out / "data_quality.html").read_text(encoding="utf-8")
    not_counted = quality[quality.index("Bản gửi không được tính"):quality.index("Vấn đề theo trường")]
    assert "mn01.hieutruong@gmail.com" in not_counted and "Kẻ Mạo Danh" in not_counted

    approved, issues, _ = impostor_run.run(approve=True)
    assert (approved["sheet_row"], approved["verdict"]) == (impostor_run.impostor, "dat")
    rules = set(issues.loc[issues["sheet_row"] == impostor_run.impostor, "rule"])
    assert {"approved_sender", "approve_sender"} <= rules and "unverified_sender" not in rules


# ------------------------------------------------------------------------------------------------ secrets

SMTP_USER, SMTP_PASSWORD = "pgd", "Smtp-Pa55-7f2c9e1b"


def _prefect_logs_since(start: datetime) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp

    found, offset = [], 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_logs(LogFilter(timestamp=LogFilterTimestamp(after_=start)), limit=200, offset=offset)
            found += [f"{log.name} {log.level} {log.message}" for log in page]
            if len(page) < 200:
                return found
            offset += 200


@pytest.mark.flow
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_no_secret_reaches_a_file_a_log_or_the_console(prefect_api_url, config, tmp_path):
    """`antt run` from a live (fake) sheet and `antt remind` through a real SMTP server with a login, every log at
    DEBUG and routed to Prefect's API too: the service-account key, the OAuth token and the SMTP password appear in
    no file under the test folder, no console output and no Prefect log."""
    from fake_sheets import FakeSheets
    from smtp_server import Login, Mailbox, smtp_server
    from test_cli import antt
    from test_gsheet import as_sheets_holds_it

    schools = tmp_path / "schools.csv"
    schools.write_text("school_code,school_name,level,ward,emails\n"
                       "MN01,Trường Mầm non Quảng Yên,MN,phường Quảng Yên,mn01@truong.example.org\n"
                       "TH01,Trường Tiểu học Quảng Yên,TH,phường Quảng Yên,th01@truong.example.org\n", encoding="utf-8")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    sheet.add("MN01")
    sheet.add("TH01", B1="50")  # needs correction: TH01 gets a reminder
    out, home = tmp_path / "out", tmp_path / "home"
    home.mkdir()
    (tmp_path / "keys").mkdir()
    box = Mailbox()
    start = datetime.now(UTC)
    with FakeSheets() as fake, smtp_server(box, login=Login(SMTP_USER, SMTP_PASSWORD)) as server:
        fake.add_spreadsheet("secretKEY", {"Câu trả lời biểu mẫu 1": as_sheets_holds_it([sheet.headers] + sheet.rows)})
        key_file = fake.write_service_account(tmp_path / "keys" / "sa.json")
        env = {"ANTT_GOOGLE_CREDENTIALS": str(key_file), "ANTT_SHEETS_ENDPOINT": fake.endpoint,
               "ANTT_SMTP_HOST": "127.0.0.1", "ANTT_SMTP_PORT": str(server.port), "ANTT_SMTP_STARTTLS": "false",
               "ANTT_SMTP_USER": SMTP_USER, "ANTT_SMTP_PASSWORD": SMTP_PASSWORD,
               "ANTT_MAIL_FROM": "antt@pgd.example.org",
               "PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_LOGGING_ROOT_LEVEL": "DEBUG",
               "PREFECT_LOGGING_EXTRA_LOGGERS": "antt,gspread,google,urllib3,requests,smtplib",
               "PREFECT_HOME": str(tmp_path / "prefect-home"), "HOME": str(home)}
        source = ["--cycle", "2026-H1", "--source", "gsheet:secretKEY", "--schools", str(schools), "--out", str(out)]
        procs = [antt("run", *source, api_url=prefect_api_url, cwd=home, extra_env=env),
                 antt("remind", *source, "--today", "2026-06-05", api_url=prefect_api_url, cwd=home, extra_env=env)]
        tokens = set(fake.tokens)
        private_key = fake.service_account_info()["private_key"]
    for proc in procs:
        assert proc.returncode == 0, proc.stderr
    assert tokens and len(box.received) == 2 and all(r.login == SMTP_USER for r in box.received)
    body = private_key.splitlines()[1:-1]
    secrets = {"private key": body[len(body) // 2][:48], "SMTP password": SMTP_PASSWORD,
               "SMTP AUTH PLAIN": base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode(),
               **{f"token {t}": t for t in tokens}}
    logs = _prefect_logs_since(start)
    assert {"prefect.flow_runs", "google.auth.transport.requests", "urllib3.connectionpool"} <= \
        {line.split(" ")[0] for line in logs} and any(" 10 " in line for line in logs)  # DEBUG, the key's path too
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != key_file}
    assert (out / "history.sqlite") in files and (out / "mail" / "sent.jsonl") in files
    assert any(p.parent == out / "raw" for p in files)
    texts = {"stdout/stderr": "\n".join(p.stdout + p.stderr for p in procs), "Prefect logs": "\n".join(logs),
             "the mail sent": b"\n".join(r.content for r in box.received).decode("utf-8", "replace")}
    assert "DEBUG" in texts["stdout/stderr"]
    for what, secret in secrets.items():
        for where, text in texts.items():
            assert secret not in text, f"{what} in {where}"
        for path, data in files.items():
            assert secret.encode() not in data, f"{what} in {path}"
