"""Issue 18, draft scorecards: on the deadline day every expected school gets its scorecard marked DỰ THẢO, with the
reply form's link and the last day to reply, at its registered addresses and nobody else's; through a real SMTP
server on 127.0.0.1 (aiosmtpd), on a district the size of the held-out one (13 schools, the demo's messy sheet)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import date

import pytest
from conftest import REPO, Sheet, run_stages
from smtp_server import Mailbox, smtp_server
from test_cli import antt, assert_one_line_error
from test_delivery import REACHABLE, REGISTRY, smtp_env, text

from antt.cycles import resolve_cycle
from antt.demo.synthetic import write_synthetic
from antt.errors import AnttError
from antt.intake.registry import load_registry
from antt.mail import report as report_mail
from antt.mail.report import ReportMail, read_document
from antt.text import is_address

CYCLE = "2026-H1"
DEADLINE_DAY = date(2026, 6, 10)


@pytest.fixture(scope="module")
def district(config, tmp_path_factory):
    """A written 2026-H1 cycle of 13 synthetic schools (on time, late, unverified senders, missing; the fourth school
    with no registered address, the sixth with one that is not an address): (folder, schools.csv, responses.csv)."""
    tmp = tmp_path_factory.mktemp("drafts")
    template = load_registry(REPO / "config" / "schools.csv", config.form.levels)
    schools, responses = write_synthetic(tmp, config, template, 13, [CYCLE])
    with open(schools, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[3]["emails"], rows[5]["emails"] = "", "hỏi thầy hiệu trưởng"
    with open(schools, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folder = run_stages(responses, REPO / "config", tmp / "out", CYCLE, schools).write()
    return folder, schools, responses


@pytest.fixture(scope="module")
def registry(config, district):
    return load_registry(district[1], config.form.levels)


def usable(registry) -> dict[str, list[str]]:
    """Each school's usable registered addresses, where it has any."""
    emails = {code: sorted(a for a in addresses if is_address(a))
              for code, addresses in zip(registry["school_code"], registry["emails"], strict=True)}
    return {code: addresses for code, addresses in emails.items() if addresses}


def send_drafts(folder, config, registry, out, server, monkeypatch, today=DEADLINE_DAY):
    for key, value in smtp_env(server).items():
        monkeypatch.setenv(key, value)
    mail = ReportMail.open(config, out, CYCLE, report=False, registry=registry, drafts=True, today=today)
    return mail.send(folder, report=False, drafts=True)


def test_deadline_day_drafts_reach_every_school_at_its_registered_addresses_and_nobody_else(
        config, district, registry, tmp_path, monkeypatch):
    folder, _, responses = district
    document = read_document(folder)
    expected = {s["school_code"] for s in document["schools"]}
    reachable = {code: to for code, to in usable(registry).items() if code in expected}
    assert len(expected) == 13 and {s["status"] for s in document["schools"]} >= {"submitted", "missing"}
    box = Mailbox()
    with smtp_server(box) as server:
        sent = send_drafts(folder, config, registry, tmp_path, server, monkeypatch)
    assert sorted(d.school_code for d in sent.deliveries if d.status == "sent") == sorted(reachable)
    assert {d.kind for d in sent.deliveries} == {"draft"}
    assert {u.school_code for u in sent.unreachable} == expected - set(reachable) and len(sent.unreachable) == 2
    assert len(box.received) == len(reachable)
    cycle = resolve_cycle(CYCLE, config.cycles)
    for got in box.received:
        msg = got.message
        [card] = msg.iter_attachments()
        code = card.get_filename().removeprefix("du-thao-phieu-ket-qua-").removesuffix(".html")
        assert sorted(got.rcpt_tos) == reachable[code], code
        assert sorted(a.addr_spec for a in msg["To"].addresses) == reachable[code]
        assert msg["Cc"] is None and msg["Bcc"] is None and not msg.defects
        assert msg["Subject"].startswith("DỰ THẢO – Phiếu kết quả báo cáo sơ kết 6 tháng kỳ 2026-H1: ")
        page = card.get_content()
        for part in (text(msg), text(msg, "html"), page):
            assert config.office.reply_form_url in part and "13/06/2026" in part
        assert "DỰ THẢO" in page and "../report.html" not in page
        assert page.count('class="notice provisional"') == 2  # the draft mark, and the provisional cycle's own
    everyone = {a for got in box.received for a in got.rcpt_tos}
    assert everyone == {a for to in reachable.values() for a in to}
    with open(responses, encoding="utf-8") as fh:
        senders = {row[1].strip().lower() for row in list(csv.reader(fh))[1:] if row[1].strip()}
    impostors = senders - {a for to in usable(registry).values() for a in to}
    assert impostors and not impostors & everyone  # the sheet's unregistered senders get nothing
    assert cycle.reply_last_day == date(2026, 6, 13)


def test_a_missing_schools_draft_says_nothing_arrived_and_how_to_reply(config, district, registry):
    document = read_document(district[0])
    reachable, _ = report_mail.scorecard_recipients(document, registry)
    draft = report_mail.draft_facts(resolve_cycle(CYCLE, config.cycles), config)
    by_status = {}
    for school, to in reachable:
        by_status.setdefault(school["status"], (school, to))
    missing = report_mail.scorecard_message(*by_status["missing"], "<html></html>", document, config, draft)
    assert missing.kind == "draft"
    assert "- Tình trạng: Chưa gửi" in missing.text and "chưa nhận được báo cáo của Nhà trường" in missing.text
    assert ("Nếu Nhà trường đã gửi báo cáo trước hạn (trước ngày 10/06/2026) mà dự thảo ghi là chưa gửi, xin gửi "
            "một phản hồi qua biểu mẫu phản hồi trước hết ngày 13/06/2026: "
            f"{config.office.reply_form_url}\n") in missing.text
    assert "ghi thời điểm đã gửi báo cáo và địa chỉ email đã dùng để gửi" in missing.text
    assert "còn nhận đến hết ngày 15/06/2026 và ghi nhận là gửi muộn" in missing.text
    assert "ghi thời điểm đã gửi báo cáo" in missing.html and "trước hết ngày\n  <strong>13/06/2026</strong>" in \
        missing.html
    submitted = report_mail.scorecard_message(*by_status["submitted"], "<html></html>", document, config, draft)
    assert "Mỗi phản hồi đề nghị điều chỉnh một câu trả lời" in submitted.text
    assert "chưa nhận được" not in submitted.text and "- Tiêu chuẩn “An toàn về ANTT”:" in submitted.text
    final = report_mail.scorecard_message(*by_status["submitted"], "<html></html>", document, config)
    assert final.kind == "scorecard" and "DỰ THẢO" not in final.text + final.html + final.subject
    assert "phản hồi" not in final.text


def test_a_second_send_the_same_day_mails_no_draft(config, district, registry, tmp_path, monkeypatch):
    folder = district[0]
    box = Mailbox()
    with smtp_server(box) as server:
        first = send_drafts(folder, config, registry, tmp_path, server, monkeypatch)
        again = send_drafts(folder, config, registry, tmp_path, server, monkeypatch)
    sent = [d for d in first.deliveries if d.status == "sent"]
    assert sent and len(box.received) == len(sent)
    assert [d.status for d in again.deliveries] == ["skipped"] * len(sent)
    log = [json.loads(ln) for ln in (tmp_path / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((e["day"], e["kind"], e["school_code"]) for e in log) == sorted(
        ("2026-06-10", "draft", d.school_code) for d in sent)


def test_no_draft_after_the_reply_window_or_without_the_reply_form(config, district, registry, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("ANTT_MAIL_FROM", "antt@pgd.example.org")
    with pytest.raises(AnttError, match=r"2026-H1: thời hạn phản hồi đã kết thúc sau ngày 13/06/2026"):
        ReportMail.open(config, tmp_path, CYCLE, report=False, registry=registry, drafts=True,
                        today=date(2026, 6, 14), dry_run=tmp_path / "eml")
    ReportMail.open(config, tmp_path, CYCLE, report=False, registry=registry, drafts=True, today=date(2026, 6, 13),
                    dry_run=tmp_path / "eml")
    office = config.office.model_copy(update={"reply_form_url": None})
    with pytest.raises(AnttError, match=r"office\.yaml"):
        ReportMail.open(config.model_copy(update={"office": office}), tmp_path, CYCLE, report=False,
                        registry=registry, drafts=True, today=DEADLINE_DAY, dry_run=tmp_path / "eml")


def test_cli_dry_run_writes_one_eml_per_reachable_school_and_sends_nothing(config, district, registry, tmp_path):
    folder, schools, _ = district
    out = tmp_path / "out"
    shutil.copytree(folder.parent, out)
    proc = antt("report", "--cycle", CYCLE, "--out", str(out), "--send-drafts", "--schools", str(schools),
                "--dry-run", str(tmp_path / "eml"), "--today", "2026-06-10",
                extra_env={"ANTT_MAIL_FROM": "antt@pgd.example.org"})
    assert proc.returncode == 0, proc.stderr
    expected = {s["school_code"] for s in read_document(folder)["schools"]}
    reachable = sorted(code for code in usable(registry) if code in expected)
    names = sorted(p.name for p in (tmp_path / "eml").iterdir())
    assert names == [f"{CYCLE}_2026-06-10_draft_{code}.eml" for code in reachable]
    raw = (tmp_path / "eml" / names[0]).read_bytes()
    assert b"du-thao-phieu-ket-qua-" in raw
    assert not (out / "mail").exists()
    unreachable = sorted(expected - set(reachable))
    assert f"đã ghi tệp {len(reachable)}, không có địa chỉ hợp lệ {len(unreachable)}" in proc.stderr
    assert all(code in proc.stderr for code in unreachable) and "phiếu kết quả dự thảo" in proc.stderr


@pytest.mark.parametrize("args, words", [
    (["--send-drafts", "--today", "2026-06-14"], "thời hạn phản hồi đã kết thúc sau ngày 13/06/2026"),
    (["--send-drafts", "--send-scorecards"], "chọn một"),
    (["--send-drafts", "--today", "14/6/2026"], "--today '14/6/2026'"),
], ids=["after-the-window", "draft-and-final", "bad-day"])
def test_cli_draft_errors_are_one_line_and_exit_2(district, tmp_path, args, words):
    folder, schools, _ = district
    proc = antt("report", "--cycle", CYCLE, "--out", str(folder.parent), "--schools", str(schools),
                "--dry-run", str(tmp_path / "eml"), *args, extra_env={"ANTT_MAIL_FROM": "antt@pgd.example.org"})
    assert_one_line_error(proc, words)
    assert proc.returncode == 2 and not (tmp_path / "eml").exists()


def test_cli_without_a_reply_form_link_says_where_to_set_it(district, tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    office = cfg / "office.yaml"
    office.write_text(re.sub(r"(?m)^reply_form_url:.*$", "", office.read_text(encoding="utf-8")), encoding="utf-8")
    proc = antt("report", "--cycle", CYCLE, "--out", str(district[0].parent), "--config", str(cfg), "--send-drafts",
                "--today", "2026-06-10", "--dry-run", str(tmp_path / "eml"),
                extra_env={"ANTT_MAIL_FROM": "antt@pgd.example.org"})
    assert_one_line_error(proc, "reply_form_url", "office.yaml")
    assert proc.returncode == 2


@pytest.mark.flow
def test_the_deadline_day_run_mails_every_school_its_draft(prefect_api_url, config, tmp_path, monkeypatch):
    """The scheduled run on the deadline day is run_cycle with send_drafts (test_deploy checks the schedule): a
    cycle whose reply window is still open, so next year's."""
    from antt.flows.cycle import run_cycle

    year = date.today().year + 1
    schools = tmp_path / "schools.csv"
    schools.write_text(REGISTRY, encoding="utf-8")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    sheet.add("MN01", at=f"9/6/{year} 8:00:00")
    sheet.add("TH01", at=f"9/6/{year} 9:00:00", D2="1")
    source = sheet.write_csv(tmp_path / "responses.csv")
    box = Mailbox()
    with smtp_server(box) as server:
        for key, value in smtp_env(server).items():
            monkeypatch.setenv(key, value)
        result = run_cycle(cycle=f"{year}-H1", source=str(source), schools=str(schools), out=str(tmp_path / "out"),
                           send_drafts=True)
    assert sorted(d["school_code"] for d in result["drafts_mail"] if d["status"] == "sent") == sorted(REACHABLE)
    assert "send_drafts" in result["timings"] and "report_mail" not in result
    assert {tuple(sorted(got.rcpt_tos)) for got in box.received} == {tuple(to) for to in REACHABLE.values()}
    subjects = sorted(got.message["Subject"] for got in box.received)
    assert all(s.startswith(f"DỰ THẢO – Phiếu kết quả báo cáo sơ kết 6 tháng kỳ {year}-H1: ") for s in subjects)
    assert all(f"13/06/{year}" in text(got.message) for got in box.received)
