"""Reminders by e-mail, delivered to a real SMTP server on 127.0.0.1 (aiosmtpd) and read back with the stdlib parser."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Sheet, evaluate
from smtp_server import Login, Mailbox, make_certificates, smtp_server

from antt.errors import AnttError
from antt.intake.registry import load_registry
from antt.mail.outbox import MailError, SmtpSettings, deliver, write_eml
from antt.mail.reminders import plan_reminders

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BEFORE = date(2026, 6, 5)      # 2026-H1: deadline 10/06/2026 00:00, collection closes at the end of 15/06
FROM = "antt@pgd.example.org"
ANALYST = "chuyenvien@pgd.example.org"
# One school name in NFD, as some registries arrive: every message must still be NFC.
REGISTRY = f"""school_code,school_name,level,ward,emails
MN01,Trường Mầm non Quảng Yên,MN,phường Quảng Yên,mn01@truong.example.org
TH01,{unicodedata.normalize("NFD", "Trường Tiểu học Quảng Yên")},TH,phường Quảng Yên,th01@truong.example.org
THCS01,Trường THCS Quảng Yên,THCS,phường Quảng Yên,thcs01@truong.example.org;HieuTruong.THCS01@truong.example.org
TH02,Trường Tiểu học Minh Thành,TH,phường Minh Thành,
"""


@pytest.fixture(scope="module")
def registry(config, tmp_path_factory):
    path = tmp_path_factory.mktemp("registry") / "schools.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    return load_registry(path, config.form.levels)


def results(config, registry, **tweak):
    """MN01 submits a clean report, TH01 one with B1 above A5 (blocking), THCS01 and TH02 nothing."""
    sheet = Sheet(config, registry)
    sheet.add("MN01")
    sheet.add("TH01", **({"B1": "50"} | tweak))
    return evaluate(sheet.raw(), config, registry)


@pytest.fixture(scope="module")
def cycle_results(config, registry):
    return results(config, registry)


@pytest.fixture
def plan(config, registry, cycle_results):
    return plan_reminders(cycle_results[2], registry, config, BEFORE, analyst=ANALYST)


def settings(server, **env: str) -> SmtpSettings:
    return SmtpSettings.from_env({"ANTT_SMTP_HOST": "127.0.0.1", "ANTT_SMTP_PORT": str(server.port),
                                  "ANTT_SMTP_STARTTLS": "false", "ANTT_MAIL_FROM": FROM, **env})


def send(reminders, out, server, day: date = BEFORE, **env: str):
    return deliver(reminders, out, "2026-H1", day, datetime.now(TZ), settings(server, **env))


def body(msg, subtype: str = "plain") -> str:
    """A part's decoded text; MIME text travels with CRLF line ends."""
    return msg.get_body(preferencelist=(subtype,)).get_content().replace("\r\n", "\n")


def test_reminders_arrive_parse_and_decode_to_vietnamese(plan, tmp_path):
    box = Mailbox()
    with smtp_server(box) as server:
        outcome = send(plan, tmp_path, server)
    assert [d.status for d in outcome] == ["sent"] * 3
    assert len(box.received) == 3
    for planned, got in zip(plan, box.received, strict=True):
        msg = got.message
        assert not msg.defects
        assert msg["Subject"] == planned.subject and unicodedata.is_normalized("NFC", msg["Subject"])
        assert body(msg) == planned.text and unicodedata.is_normalized("NFC", body(msg))
        assert msg["From"].addresses[0].addr_spec == FROM
        assert msg["From"].addresses[0].display_name == "Phòng GD&ĐT Quảng Yên"
        assert msg["Message-ID"] and msg["Date"].datetime.tzinfo
    th01 = box.to("th01@truong.example.org")[0].message
    assert th01["Subject"] == ("Nhắc nhở: Trường Tiểu học Quảng Yên cần sửa và gửi lại báo cáo sơ kết 6 tháng "
                               "kỳ 2026-H1 (hạn gửi trước ngày 10/06/2026)")
    assert "Kính gửi: Ban Giám hiệu Trường Tiểu học Quảng Yên (mã trường TH01)." in body(th01)
    assert "Trường Tiểu học Quảng Yên" in body(th01, "html")


def test_each_school_is_mailed_at_its_registered_addresses_only(plan, tmp_path):
    box = Mailbox()
    with smtp_server(box) as server:
        send(plan, tmp_path, server)
    by_rcpt = {tuple(sorted(r.rcpt_tos)): r.message for r in box.received}
    assert set(by_rcpt) == {("th01@truong.example.org",),
                            ("hieutruong.thcs01@truong.example.org", "thcs01@truong.example.org"),
                            (ANALYST,)}
    for rcpts, msg in by_rcpt.items():
        assert sorted(a.addr_spec for a in msg["To"].addresses) == list(rcpts)
        assert msg["Cc"] is None and msg["Bcc"] is None
    assert all(r.mail_from == FROM for r in box.received)


def test_needs_correction_message_names_sheet_row_question_and_issue(config, plan, cycle_results):
    issue = cycle_results[1].query("school_code == 'TH01' and severity == 'error'").iloc[0]
    assert (issue["sheet_row"], issue["question_id"]) == (3, "B1")
    text = next(m for m in plan if m.school_code == "TH01").text
    assert "Bản gửi ở dòng 3 của bảng trả lời:" in text
    assert f'Câu B1 “{config.form.by_id["B1"].label}”: {issue["message"]}' in text
    assert "Giá trị 50 lớn hơn câu \"Tổng số cán bộ, giáo viên, nhân viên\" (40)." in text


def test_missing_school_is_told_the_deadline(plan):
    msg = next(m for m in plan if m.school_code == "THCS01")
    assert msg.kind == "reminder"
    assert msg.subject.startswith("Nhắc nhở: Trường THCS Quảng Yên chưa gửi báo cáo sơ kết 6 tháng kỳ 2026-H1")
    assert "chưa nhận được báo cáo sơ kết 6 tháng kỳ 2026-H1" in msg.text
    assert "Hạn gửi: trước ngày 10/06/2026." in msg.text


@pytest.mark.parametrize("today, kind, prefix", [(date(2026, 6, 9), "reminder", "Nhắc nhở: "),
                                                 (date(2026, 6, 10), "overdue", "Quá hạn: "),
                                                 (date(2026, 6, 15), "overdue", "Quá hạn: ")])
def test_reminder_before_the_deadline_overdue_notice_from_it(config, registry, cycle_results, today, kind, prefix):
    plan = plan_reminders(cycle_results[2], registry, config, today, analyst=ANALYST)
    schools = [m for m in plan if m.kind != "summary"]
    assert {m.kind for m in schools} == {kind}
    assert all(m.subject.startswith(prefix) for m in schools)
    if kind == "overdue":
        assert "Hạn gửi (trước ngày 10/06/2026) đã qua." in schools[0].text
        assert "còn nhận bản gửi đến hết ngày 15/06/2026 và ghi nhận là gửi muộn" in schools[0].text


@pytest.mark.parametrize("today, words", [(date(2026, 4, 30), "bắt đầu nhận báo cáo từ ngày 01/05/2026"),
                                          (date(2026, 6, 16), "đã hết thời gian nhận báo cáo sau ngày 15/06/2026")])
def test_no_reminders_outside_the_collection_window(config, registry, cycle_results, today, words):
    with pytest.raises(AnttError, match=words):
        plan_reminders(cycle_results[2], registry, config, today)


def test_no_reminders_outside_the_collection_window_in_english(config, registry, cycle_results, english):
    with pytest.raises(AnttError, match="collection closed after 15/06/2026; a submission now would not count"):
        plan_reminders(cycle_results[2], registry, config, date(2026, 6, 16))


def test_analyst_summary_lists_who_was_reminded_and_why(config, plan):
    summary = plan[-1]
    assert (summary.kind, summary.to) == ("summary", (ANALYST,))
    assert summary.subject == "Tổng hợp nhắc nhở 2026-H1 ngày 05/06/2026: 3 trường cần nhắc (2 chưa gửi, 1 cần sửa)"
    assert "Chưa gửi báo cáo (2 trường):\n" in summary.text
    assert "\n- THCS01 Trường THCS Quảng Yên (phường Quảng Yên): hieutruong.thcs01@truong.example.org, " in summary.text
    assert f'dòng 3, câu B1 “{config.form.by_id["B1"].label}”: Giá trị 50' in summary.text
    assert "cần liên hệ trực tiếp (1 trường): TH02." in summary.text
    assert "MN01" not in summary.text  # its report counts


def test_default_analyst_is_the_office_contact(config, registry, cycle_results):
    assert plan_reminders(cycle_results[2], registry, config, BEFORE)[-1].to == (config.office.contact_email,)


def test_rerun_on_the_same_day_sends_nothing_new(plan, tmp_path):
    box = Mailbox()
    with smtp_server(box) as server:
        send(plan, tmp_path, server)
        again = send(plan, tmp_path, server)
        assert [d.status for d in again] == ["skipped"] * 3 and len(box.received) == 3
        next_day = send(plan, tmp_path, server, day=date(2026, 6, 6))
    assert [d.status for d in next_day] == ["sent"] * 3 and len(box.received) == 6
    log = [json.loads(line) for line in (tmp_path / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["day"], e["kind"], e["school_code"]) for e in log[:3]] == [
        ("2026-06-05", "reminder", "TH01"), ("2026-06-05", "reminder", "THCS01"), ("2026-06-05", "summary", "")]
    assert log[0]["recipients"] == ["th01@truong.example.org"] and log[0]["message_id"].startswith("<")


def test_refused_recipient_is_reported_and_the_others_still_get_mail(plan, tmp_path):
    box = Mailbox(reject=("th01@truong.example.org", "hieutruong.thcs01@truong.example.org"))
    with smtp_server(box) as server:
        outcome = {d.school_code: d for d in send(plan, tmp_path, server)}
        th01, thcs01 = outcome["TH01"], outcome["THCS01"]
        assert th01.status == "failed" and th01.refused["th01@truong.example.org"].startswith("550 ")
        assert thcs01.status == "sent" and thcs01.recipients == ("thcs01@truong.example.org",)
        assert list(thcs01.refused) == ["hieutruong.thcs01@truong.example.org"]
        assert outcome[""].status == "sent"
        assert sorted(r for got in box.received for r in got.rcpt_tos) == [ANALYST, "thcs01@truong.example.org"]
        box.reject.clear()  # the school fixed its mailbox: a re-run reaches it, and only it
        retry = send(plan, tmp_path, server)
    assert [d.status for d in retry] == ["sent", "skipped", "skipped"]
    assert box.received[-1].rcpt_tos == ["th01@truong.example.org"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("starttls", [False, True], ids=["auth", "starttls+auth"])
def test_login_and_starttls(plan, tmp_path, monkeypatch, starttls):
    box = Mailbox()
    tls = None
    if starttls:
        ca, cert, key = make_certificates(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the client verifies the server against our test CA
        tls = (cert, key)
    with smtp_server(box, tls=tls, login=Login("pgd", "mat-khau-1")) as server:
        env = {"ANTT_SMTP_USER": "pgd", "ANTT_SMTP_STARTTLS": str(starttls).lower()}
        with pytest.raises(MailError, match="đăng nhập bằng pgd bị từ chối") as refused:
            send(plan, tmp_path, server, ANTT_SMTP_PASSWORD="sai-mat-khau", **env)
        assert "sai-mat-khau" not in str(refused.value)
        assert "mat-khau" not in repr(settings(server, ANTT_SMTP_PASSWORD="mat-khau-1", **env))
        outcome = send(plan, tmp_path, server, ANTT_SMTP_PASSWORD="mat-khau-1", **env)
    assert [d.status for d in outcome] == ["sent"] * 3
    assert [(r.login, r.tls) for r in box.received] == [("pgd", starttls)] * 3


def test_dry_run_writes_eml_files_that_parse_and_sends_nothing(plan, tmp_path):
    drafts = tmp_path / "drafts"
    outcome = write_eml(plan, drafts, tmp_path / "out", "2026-H1", BEFORE, datetime.now(TZ), FROM)
    assert [d.status for d in outcome] == ["written"] * 3
    names = sorted(p.name for p in drafts.iterdir())
    assert names == ["2026-H1_2026-06-05_reminder_TH01.eml", "2026-H1_2026-06-05_reminder_THCS01.eml",
                     "2026-H1_2026-06-05_summary.eml"]
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes((drafts / names[0]).read_bytes())
    assert msg["Subject"] == plan[0].subject and body(msg) == plan[0].text
    assert not (tmp_path / "out" / "mail").exists()


def test_a_line_break_in_a_school_name_cannot_inject_a_header(config, registry, tmp_path):
    evil = registry.copy()
    evil.loc[evil["school_code"] == "TH01", "school_name"] = "Trường Tiểu học\r\nBcc: spy@evil.example"
    res = results(config, evil)[2]
    box = Mailbox()
    with smtp_server(box) as server:
        send(plan_reminders(res, evil, config, BEFORE, analyst=ANALYST), tmp_path, server)
    got = box.to("th01@truong.example.org")[0]
    assert got.rcpt_tos == ["th01@truong.example.org"]
    assert all("spy@evil.example" not in r.rcpt_tos for r in box.received)
    assert got.message["Bcc"] is None
    assert got.message["Subject"].startswith("Nhắc nhở: Trường Tiểu học Bcc: spy@evil.example cần sửa")
    assert not any(line.lower().startswith(b"bcc:") for line in got.content.splitlines())


def test_html_alternative_escapes_what_came_from_the_sheet(config, registry):
    res = results(config, registry, A5="<b>40</b>")[2]
    msg = next(m for m in plan_reminders(res, registry, config, BEFORE) if m.school_code == "TH01")
    assert "&#34;&lt;b&gt;40&lt;/b&gt;&#34; không phải là một số nguyên" in msg.html
    assert "<b>40" not in msg.html
    assert '"<b>40</b>" không phải là một số nguyên' in msg.text


def test_smtp_settings_from_the_environment():
    s = SmtpSettings.from_env({"ANTT_SMTP_HOST": "smtp.example.org", "ANTT_SMTP_USER": "u",
                               "ANTT_SMTP_PASSWORD": "p"}, default_from="office@example.org")
    assert (s.port, s.starttls, s.mail_from) == (587, True, "office@example.org")
    plain = SmtpSettings.from_env({"ANTT_SMTP_HOST": "h", "ANTT_SMTP_STARTTLS": "false", "ANTT_MAIL_FROM": FROM})
    assert (plain.port, plain.starttls, plain.user) == (25, False, None)
    for env, words in _BAD_SETTINGS:
        with pytest.raises(MailError, match=words[0]):
            SmtpSettings.from_env(env, default_from=FROM)


_BAD_SETTINGS = [({}, ("chưa đặt ANTT_SMTP_HOST", "ANTT_SMTP_HOST is not set")),
                 ({"ANTT_SMTP_HOST": "h", "ANTT_SMTP_STARTTLS": "maybe"},
                  ("cần là true hoặc false", "expected true or false")),
                 ({"ANTT_SMTP_HOST": "h", "ANTT_SMTP_PORT": "smtp"}, ("không phải là số cổng", "not a port number")),
                 ({"ANTT_SMTP_HOST": "h", "ANTT_SMTP_USER": "u"},
                  ("chưa đặt ANTT_SMTP_PASSWORD", "ANTT_SMTP_PASSWORD is not")),
                 ({"ANTT_SMTP_HOST": "h", "ANTT_SMTP_USER": "u", "ANTT_SMTP_PASSWORD": "mật khẩu"}, ("ASCII", "ASCII")),
                 ({"ANTT_SMTP_HOST": "h", "ANTT_MAIL_FROM": "a@b\r\nBcc: c@d"},
                  ("không phải là địa chỉ email", "not an e-mail address"))]


def test_smtp_settings_errors_in_english(english):
    for env, words in _BAD_SETTINGS:
        with pytest.raises(MailError, match=words[1]):
            SmtpSettings.from_env(env, default_from=FROM)


@pytest.mark.flow
def test_remind_flow_dry_run_writes_drafts_and_sends_nothing(prefect_api_url, config, registry, tmp_path,
                                                            monkeypatch):
    from antt.flows.remind import remind

    sheet = Sheet(config, registry)
    sheet.add("MN01")
    sheet.add("TH01", B1="50")
    source = sheet.write_csv(tmp_path / "responses.csv")
    schools = tmp_path / "schools.csv"
    schools.write_text(REGISTRY, encoding="utf-8")
    box = Mailbox()
    with smtp_server(box) as server:
        for key, value in {"ANTT_SMTP_HOST": "127.0.0.1", "ANTT_SMTP_PORT": str(server.port),
                           "ANTT_SMTP_STARTTLS": "false", "ANTT_MAIL_FROM": FROM}.items():
            monkeypatch.setenv(key, value)
        summary = remind(cycle="2026-H1", source=str(source), schools=str(schools), out=str(tmp_path / "out"),
                         dry_run=str(tmp_path / "drafts"), today=date(2026, 6, 12), analyst=ANALYST)
    assert (summary["kind"], summary["day"], summary["written"], summary["sent"]) == ("overdue", "2026-06-12", 3, 0)
    assert box.received == [] and not (tmp_path / "out" / "mail").exists()
    drafts = sorted((tmp_path / "drafts").glob("*.eml"))
    assert [p.name for p in drafts][0] == "2026-H1_2026-06-12_overdue_TH01.eml"
    assert {"plan", "send", "rank"} <= set(summary["timings"])
