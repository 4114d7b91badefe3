"""Issue 6 item 6, delivery: the leadership report and each school's scorecard by e-mail, through a real SMTP server
on 127.0.0.1 (aiosmtpd), read back with the stdlib parser; and the final scheduled run sending the report."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, Sheet, run_stages
from smtp_server import Mailbox, smtp_server
from test_cli import antt, assert_one_line_error

from antt.config import load_config
from antt.errors import ConfigError
from antt.intake.registry import load_registry
from antt.mail import report as report_mail
from antt.mail.outbox import Outbox
from antt.mail.report import ReportMail, read_document, report_pdf
from antt.text import vi_number, vi_percent

pytest.importorskip("weasyprint", reason="WeasyPrint (and Pango) are needed for report.pdf")

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FROM = "antt@pgd.example.org"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REGISTRY = """school_code,school_name,level,ward,emails
MN01,Trường Mầm non Quảng Yên,MN,phường Quảng Yên,mn01@truong.example.org
TH01,Trường Tiểu học Quảng Yên,TH,phường Quảng Yên,th01@truong.example.org
THCS01,Trường THCS Phong Cốc,THCS,phường Phong Cốc,thcs01@truong.example.org;HieuTruong.THCS01@truong.example.org
TH02,Trường Tiểu học Minh Thành,TH,phường Minh Thành,
TH03,Trường Tiểu học Hà An,TH,phường Hà An,hỏi thầy hiệu trưởng
"""
REACHABLE = {"MN01": ["mn01@truong.example.org"], "TH01": ["th01@truong.example.org"],
             "THCS01": ["hieutruong.thcs01@truong.example.org", "thcs01@truong.example.org"]}


@pytest.fixture(scope="module")
def written(config, tmp_path_factory):
    """A real cycle folder (pipeline stages, no engine): MN01 on time, TH01 late and failing a criterion, TH02 (no
    registered address, so its submission needs correction), THCS01 and TH03 (an unusable address) missing.
    Returns (folder, registry path)."""
    tmp = tmp_path_factory.mktemp("delivery")
    schools = tmp / "schools.csv"
    schools.write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(schools, config.form.levels)
    sheet = Sheet(config, registry)
    sheet.add("MN01")
    sheet.add("TH01", at="12/6/2026 9:00:00", D2="1")
    sheet.add("TH02", email="")
    source = sheet.write_csv(tmp / "responses.csv")
    folder = run_stages(source, REPO / "config", tmp / "out", "2026-H1", schools).write()
    started = time.perf_counter()
    report_pdf(folder, config)
    print(f"report.pdf rendered in {time.perf_counter() - started:.1f}s")
    return folder, schools


@pytest.fixture(scope="module")
def registry(config, written):
    return load_registry(written[1], config.form.levels)


def smtp_env(server) -> dict[str, str]:
    return {"ANTT_SMTP_HOST": "127.0.0.1", "ANTT_SMTP_PORT": str(server.port), "ANTT_SMTP_STARTTLS": "false",
            "ANTT_MAIL_FROM": FROM}


def outbox(out: Path, server) -> Outbox:
    now = datetime.now(TZ)
    return Outbox.open(out, "2026-H1", now.date(), now, "office@pgd.example.org", environ=smtp_env(server))


def send_report(folder, config, box):
    [sent] = ReportMail(config, box).send(folder).deliveries
    return sent


def send_scorecards(folder, config, registry, box):
    sent = ReportMail(config, box, registry).send(folder, report=False, scorecards=True)
    return sent.deliveries, sent.unreachable


def text(msg, subtype: str = "plain") -> str:
    return msg.get_body(preferencelist=(subtype,)).get_content().replace("\r\n", "\n")


def test_the_report_reaches_leadership_with_the_pdf_and_the_workbook(config, written, tmp_path):
    folder, _ = written
    box = Mailbox()
    with smtp_server(box) as server:
        sent = send_report(folder, config, outbox(tmp_path, server))
    assert sent.status == "sent" and sent.recipients == tuple(config.office.leadership_emails)
    [got] = box.received
    msg = got.message
    assert not msg.defects
    assert got.rcpt_tos == config.office.leadership_emails == ["truongphong@quangyen.example.org",
                                                               "lanhdao@quangyen.example.org"]
    assert [a.addr_spec for a in msg["To"].addresses] == config.office.leadership_emails
    assert msg["Subject"] == ("Báo cáo sơ kết 6 tháng kỳ 2026-H1: kết quả “An toàn về ANTT” của các trường "
                              "(tạm thời)")
    assert msg["From"].addresses[0].display_name == "Phòng GD&ĐT Quảng Yên"
    attachments = {a.get_filename(): a for a in msg.iter_attachments()}
    assert list(attachments) == ["report.pdf", "report.docx", "ranking.xlsx"]
    assert attachments["report.pdf"].get_content_type() == "application/pdf"
    assert attachments["report.pdf"].get_content() == (folder / "report.pdf").read_bytes()
    assert attachments["report.pdf"].get_content().startswith(b"%PDF-")
    assert attachments["ranking.xlsx"].get_content_type() == XLSX
    assert attachments["ranking.xlsx"].get_content() == (folder / "ranking.xlsx").read_bytes()
    assert attachments["report.docx"].get_content() == (folder / "report.docx").read_bytes()
    assert attachments["report.docx"].get_content_type().endswith("wordprocessingml.document")
    assert {a.get_content_disposition() for a in attachments.values()} == {"attachment"}


def test_every_figure_in_the_report_mail_is_the_one_in_results_json(config, written, tmp_path):
    folder, _ = written
    k = json.loads((folder / "results.json").read_text(encoding="utf-8"))["kpis"]
    box = Mailbox()
    with smtp_server(box) as server:
        send_report(folder, config, outbox(tmp_path, server))
    msg = box.received[0].message
    plain, html = text(msg), text(msg, "html")
    assert (k["expected"], k["submitted"], k["on_time"], k["late"], k["missing"]) == (5, 2, 1, 1, 2)
    figures = {
        "Số trường phải báo cáo": str(k["expected"]),
        "Đã gửi báo cáo, được tính": f"{k['submitted']} ({vi_percent(k['submitted'] / k['expected'])})",
        "Gửi đúng hạn": f"{k['on_time']} ({k['late']} trường gửi muộn)",
        "Đạt tiêu chuẩn “An toàn về ANTT”": f"{k['dat']} ({vi_percent(k['dat'] / k['expected'])} số trường)",
        "Điểm thực hiện kế hoạch bình quân (thang 100)": vi_number(k["average_score"], 1),
    }
    for label, value in figures.items():
        assert f"\n- {label}: {value}\n" in plain, label
    assert re.search(r"bình quân \(thang 100\): \d+,\d\n", plain)  # a decimal comma, as people write it
    assert f"chưa gửi: {k['missing']} trường." in plain
    assert "(40,0%)" in plain and "40.0" not in plain
    for value in (str(k["expected"]), vi_percent(k["submitted"] / k["expected"]), vi_number(k["average_score"], 1)):
        assert f"<strong>{value}</strong>" in html or f"({value})" in html
    assert "KẾT QUẢ TẠM THỜI." in plain and "kỳ 2026-Y" in plain and "KẾT QUẢ TẠM THỜI." in html


def test_an_annual_report_carries_no_provisional_note(config, written):
    document = read_document(written[0])
    document["cycle"] |= {"id": "2026-Y", "label": "Báo cáo tổng kết năm", "provisional": False}
    msg = report_mail.report_message(document, config, {"report.pdf": b"%PDF-1.7", "ranking.xlsx": b"PK"})
    assert msg.subject == "Báo cáo tổng kết năm kỳ 2026-Y: kết quả “An toàn về ANTT” của các trường"
    assert "TẠM THỜI" not in msg.text and "tạm thời" not in msg.html


def test_each_school_gets_exactly_its_own_scorecard(config, written, registry, tmp_path):
    folder, _ = written
    box = Mailbox()
    with smtp_server(box) as server:
        sent, unreachable = send_scorecards(folder, config, registry, outbox(tmp_path, server))
    assert sorted(d.school_code for d in sent if d.status == "sent") == sorted(REACHABLE)
    assert [(u.school_code, u.unusable) for u in unreachable] == [("TH02", ()), ("TH03", ("hỏi thầy hiệu trưởng",))]
    names = dict(zip(registry["school_code"], registry["school_name"], strict=True))
    assert len(box.received) == len(REACHABLE)
    for got in box.received:
        msg = got.message
        [code] = [c for c, to in REACHABLE.items() if sorted(got.rcpt_tos) == to]
        assert not msg.defects and msg["Cc"] is None and msg["Bcc"] is None
        assert msg["Subject"] == f"Phiếu kết quả báo cáo sơ kết 6 tháng kỳ 2026-H1: {names[code]}"
        [card] = msg.iter_attachments()
        assert (card.get_filename(), card.get_content_type()) == (f"phieu-ket-qua-{code}.html", "text/html")
        scorecard = (folder / "schools" / f"{code}.html").read_text(encoding="utf-8")
        # on disk it links the cycle folder's stylesheet; the copy that travels carries that very CSS inline
        link = '<link rel="stylesheet" href="../style.css">'
        assert link in scorecard and "<style>" not in scorecard
        css = (folder / "style.css").read_text(encoding="utf-8")
        assert card.get_content() == scorecard.replace(
            '<p class="back"><a href="../report.html">← Báo cáo tổng hợp của Phòng GD&amp;ĐT</a></p>\n', "").replace(
            link, f"<style>\n{css}</style>")
        assert "../report.html" not in card.get_content()
        everything = text(msg) + text(msg, "html") + card.get_content()
        assert names[code] in everything and f"mã trường {code}" in text(msg)
        others = [c for c in names if c != code]
        assert not [c for c in others if names[c] in everything or re.search(rf"\b{c}\b", everything)]


def test_a_scorecard_mail_says_how_the_school_did(config, written, registry):
    document = read_document(written[0])
    reachable, _ = report_mail.scorecard_recipients(document, registry)
    by_code = {s["school_code"]: (s, to) for s, to in reachable}
    th01, to = by_code["TH01"]
    msg = report_mail.scorecard_message(th01, to, "<html></html>", document, config)
    assert "- Tình trạng: Đã gửi\n- Tiêu chuẩn “An toàn về ANTT”: Chưa đạt\n" in msg.text
    assert f"- Điểm thực hiện kế hoạch: {vi_number(th01['score'], 1)} / 100\n" in msg.text
    assert f"- Hạng chung: {th01['rank_overall']} / 5\n" in msg.text
    missing = report_mail.scorecard_message(*by_code["THCS01"], "<html></html>", document, config)
    assert "- Tình trạng: Chưa gửi" in missing.text and "Điểm" not in missing.text


def test_a_second_send_the_same_day_mails_nothing(config, written, registry, tmp_path):
    folder, _ = written
    box = Mailbox()
    with smtp_server(box) as server:
        first = [send_report(folder, config, outbox(tmp_path, server))]
        first += send_scorecards(folder, config, registry, outbox(tmp_path, server))[0]
        again = [send_report(folder, config, outbox(tmp_path, server))]
        again += send_scorecards(folder, config, registry, outbox(tmp_path, server))[0]
    assert [d.status for d in first] == ["sent"] * 4 and len(box.received) == 4
    assert [d.status for d in again] == ["skipped"] * 4
    log = [json.loads(ln) for ln in (tmp_path / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((e["kind"], e["school_code"]) for e in log) == [("report", "")] + sorted(
        ("scorecard", c) for c in REACHABLE)


def test_a_line_break_in_a_school_name_cannot_inject_a_header(config, written, registry, tmp_path):
    document = read_document(written[0])
    reachable, _ = report_mail.scorecard_recipients(document, registry)
    school, to = next((s, to) for s, to in reachable if s["school_code"] == "TH01")
    evil = school | {"school_name": "Trường Tiểu học\r\nBcc: spy@evil.example"}
    box = Mailbox()
    with smtp_server(box) as server:
        outbox(tmp_path, server).send([report_mail.scorecard_message(evil, to, "<html></html>", document, config)])
    [got] = box.received
    assert got.rcpt_tos == ["th01@truong.example.org"] and got.message["Bcc"] is None
    assert got.message["Subject"].endswith(": Trường Tiểu học Bcc: spy@evil.example")
    assert not any(line.lower().startswith(b"bcc:") for line in got.content.splitlines())


def test_a_long_vietnamese_subject_keeps_every_space():
    """Python's own folder (before CPython gh-144156) drops the space where a subject splits into encoded words."""
    from email import policy
    from email.parser import BytesParser

    from antt.mail.message import Message, build_message

    words = ("Báo cáo sơ kết 6 tháng kỳ 2026-H1: kết quả “An toàn về ANTT” của các trường (tạm thời) "
             "Phiếu Trường Tiểu học Quảng Yên").split()  # email.policy.SMTP mangles 90 of these 100 subjects
    for n in range(1, 4 * len(words)):
        subject = " ".join((words * 4)[:n])
        raw = build_message(Message("scorecard", "TH01", ("a@b.example",), subject, "x", None, "antt", ""), FROM,
                            datetime.now(TZ)).as_bytes()
        assert BytesParser(policy=policy.default).parsebytes(raw)["Subject"] == subject
        assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_a_leadership_address_that_is_not_one_is_a_config_error(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    office = cfg / "office.yaml"
    office.write_text(re.sub(r"(?m)^leadership_emails:.*$", 'leadership_emails: ["lanhdao@pgd.example.org, x@y.z"]',
                             office.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"office.yaml: leadership_emails: .*không phải là địa chỉ email"):
        load_config(cfg)


def test_cli_sends_report_and_scorecards_then_prints_a_summary(written, tmp_path):
    folder, schools = written
    out = tmp_path / "out"
    shutil.copytree(folder.parent, out)
    (out / "2026-H1" / "report.pdf").unlink()  # --send prints it again
    args = ["report", "--cycle", "2026-H1", "--out", str(out), "--send", "--send-scorecards", "--schools",
            str(schools)]
    box = Mailbox()
    with smtp_server(box) as server:
        proc = antt(*args, extra_env=smtp_env(server))
        again = antt(*args, extra_env=smtp_env(server))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str((out / "2026-H1" / "report.html").resolve())
    assert ("đã gửi 4, đã gửi hôm nay 0, thất bại 0, người nhận bị từ chối 0, đã ghi tệp 0, không có địa chỉ hợp lệ 2"
            in proc.stderr)
    assert "TH02" in proc.stderr and "TH03" in proc.stderr
    assert again.returncode == 0 and "đã gửi 0, đã gửi hôm nay 4," in again.stderr
    assert len(box.received) == 4 and (out / "2026-H1" / "report.pdf").is_file()


def test_cli_dry_run_writes_eml_files_and_sends_nothing(written, tmp_path):
    folder, _ = written
    out = tmp_path / "out"
    shutil.copytree(folder.parent, out)
    proc = antt("report", "--cycle", "2026-H1", "--out", str(out), "--send", "--dry-run", str(tmp_path / "drafts"),
                extra_env={"ANTT_MAIL_FROM": FROM})
    assert proc.returncode == 0, proc.stderr
    [eml] = (tmp_path / "drafts").iterdir()
    assert eml.name.endswith("_report.eml") and b"report.pdf" in eml.read_bytes()
    assert not (out / "mail").exists()


@pytest.mark.parametrize("env, office_line, words", [
    ({}, None, "chưa đặt ANTT_SMTP_HOST"),
    ({"ANTT_SMTP_HOST": "127.0.0.1", "ANTT_MAIL_FROM": FROM}, "leadership_emails: []", "chưa có địa chỉ lãnh đạo"),
], ids=["no-smtp-settings", "empty-leadership-list"])
def test_cli_send_errors_are_one_line_and_exit_2(written, tmp_path, env, office_line, words):
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    if office_line:
        office = cfg / "office.yaml"
        office.write_text(re.sub(r"(?m)^leadership_emails:.*$", office_line, office.read_text(encoding="utf-8")),
                          encoding="utf-8")
    proc = antt("report", "--cycle", "2026-H1", "--out", str(written[0].parent), "--config", str(cfg), "--send",
                extra_env=env)
    assert_one_line_error(proc, words)
    assert proc.returncode == 2


@pytest.mark.flow
def test_the_run_and_the_cli_send_the_report_once_a_day(prefect_api_url, config, written, tmp_path, monkeypatch):
    from antt.flows.cycle import run_cycle

    sheet = Sheet(config, load_registry(written[1], config.form.levels))
    sheet.add("MN01")
    source = sheet.write_csv(tmp_path / "responses.csv")
    box = Mailbox()
    with smtp_server(box) as server:
        for key, value in smtp_env(server).items():
            monkeypatch.setenv(key, value)
        result = run_cycle(cycle="2026-H1", source=str(source), schools=str(written[1]), out=str(tmp_path / "out"),
                           send_report=True)
        # The CLI sends the report by the same path: the same sent-mail log, so not twice on one day.
        again = antt("report", "--cycle", "2026-H1", "--out", str(tmp_path / "out"), "--send",
                     extra_env=smtp_env(server))
    assert result["report_mail"]["status"] == "sent" and "send_report" in result["timings"]
    assert again.returncode == 0 and "đã gửi 0, đã gửi hôm nay 1," in again.stderr
    [got] = box.received
    assert got.rcpt_tos == config.office.leadership_emails
    assert [a.get_filename() for a in got.message.iter_attachments()] == ["report.pdf", "report.docx", "ranking.xlsx"]
    assert "- Số trường phải báo cáo: 5\n" in text(got.message)
