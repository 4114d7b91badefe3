"""Config is the single source and is validated on load: typos name the file and the key."""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO

from antt.config import load_config
from antt.errors import ConfigError, InputError
from antt.intake.registry import load_registry


@pytest.fixture
def config_copy(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_default_config_has_every_question_and_criterion(config):
    assert [q.id for q in config.form.questions][:7] == ["A1", "A2", "A3", "A4", "A5", "A6", "A7"]
    assert len(config.form.questions) == 44
    assert [c.id for c in config.criteria.criteria] == [f"K{i}" for i in range(1, 11)]
    assert config.scoring.total_points == 100
    assert {s.id: sum(i.points for i in s.indicators) for s in config.scoring.sections} == \
        {"II.1": 20, "II.2": 40, "II.3": 25, "III": 15}


def test_option_texts_are_the_contract(config):
    assert config.form.by_id["B4"].options[0] == "Nội quy, quy chế bảo vệ nhà trường"
    assert config.form.by_id["C1"].options[-1] == "KH 934/KH-PGDĐT – Phòng, chống mại dâm, ma túy"
    assert len(config.form.by_id["C5"].options) == 10 and len(config.form.by_id["C9"].options) == 7


def test_typo_in_criterion_operator_names_file_and_key(config_copy):
    _edit(config_copy / "criteria" / "tt23-2012.yaml", "op: has_all_options", "op: has_all_option")
    with pytest.raises(ConfigError, match=r"tt23-2012\.yaml: criteria\.1\.all\.0\.op"):
        load_config(config_copy)


def test_criterion_naming_unknown_question_is_rejected(config_copy):
    _edit(config_copy / "criteria" / "tt23-2012.yaml", "{question: D1, op: eq, value: 0}",
          "{question: D10, op: eq, value: 0}")
    with pytest.raises(ConfigError, match=r"criteria\.4\.all\.0\.question: không có câu hỏi 'D10'"):
        load_config(config_copy)


def test_yes_no_rule_with_wrong_answer_text_is_rejected(config_copy):
    _edit(config_copy / "criteria" / "tt23-2012.yaml", '{question: B2, op: eq, value: "Có"}',
          '{question: B2, op: eq, value: "Co"}')
    with pytest.raises(ConfigError, match="value phải là 'Có' hoặc 'Không'"):
        load_config(config_copy)


def test_indicator_on_unknown_question_is_rejected(config_copy):
    _edit(config_copy / "scoring.yaml", "question: C10", "question: C11")
    with pytest.raises(ConfigError, match=r"scoring\.yaml: sections\.1\.indicators\.7: không có câu hỏi 'C11'"):
        load_config(config_copy)


def test_unknown_verdict_criteria_set_is_rejected(config_copy):
    _edit(config_copy / "scoring.yaml", "criteria_set: tt23-2012", "criteria_set: tt99")
    with pytest.raises(ConfigError, match="không có bộ tiêu chí 'tt99'"):
        load_config(config_copy)


def test_a_config_error_speaks_english_with_antt_lang_en(config_copy, english):
    _edit(config_copy / "scoring.yaml", "criteria_set: tt23-2012", "criteria_set: tt99")
    with pytest.raises(ConfigError, match=r"scoring\.yaml: criteria_set: unknown criteria set 'tt99' \(known: "):
        load_config(config_copy)


def test_our_own_validation_messages_are_translated_and_unprefixed(config_copy):
    _edit(config_copy / "scoring.yaml", "min: 0", "min: 5")
    with pytest.raises(ConfigError, match=r"scoring\.yaml: \(cấp ngoài cùng\): các mức xếp loại phải liệt kê"):
        load_config(config_copy)


def test_wording_may_use_only_its_own_placeholders(config_copy):
    _edit(config_copy / "form.yaml", 'max_question: "Không lớn hơn câu {question}."',
          'max_question: "Không lớn hơn câu {cau}."')
    with pytest.raises(ConfigError, match=r"form\.yaml: exports\.hints: max_question: không có chỗ điền \{cau\} "
                                          r"\(câu chữ này chỉ được dùng: \{question\}\)"):
        load_config(config_copy)


def test_a_sheet_name_excel_refuses_is_a_config_error(config_copy):
    _edit(config_copy / "labels.yaml", 'criteria_sheet: "Tiêu chí"', 'criteria_sheet: "Tiêu chí [K1–K10]"')
    with pytest.raises(ConfigError, match=r"labels\.yaml: workbook\.criteria_sheet: .* không dùng được làm tên "
                                          r"trang tính Excel"):
        load_config(config_copy)


def test_labels_refuse_an_unknown_key(config_copy):
    _edit(config_copy / "labels.yaml", "  late: ", "  too_late: ")
    with pytest.raises(ConfigError, match=r"labels\.yaml: workbook\.late"):
        load_config(config_copy)


def test_changing_a_threshold_is_a_config_edit(config_copy):
    _edit(config_copy / "criteria" / "tt23-2012.yaml", "pass_share: 0.8", "pass_share: 0.9")
    assert load_config(config_copy).criteria.pass_share == 0.9


def test_malformed_yaml_is_one_line(config_copy):
    (config_copy / "cycles.yaml").write_text("kinds: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cycles.yaml: không phải YAML hợp lệ"):
        load_config(config_copy)


def test_changing_the_schedule_is_a_config_edit(config_copy):
    _edit(config_copy / "cycles.yaml", "remind_days_before_deadline: [7, 2]", "remind_days_before_deadline: [10, 3, 1]")
    _edit(config_copy / "cycles.yaml", 'run_at: "07:00"', 'run_at: "06:30"')
    schedule = load_config(config_copy).cycles.schedule
    assert (schedule.run_at, schedule.remind_days_before_deadline) == ("06:30", [10, 3, 1])


_CALENDAR_MISTAKES = [
    ("  final_run_days_before_report_due: 1", "  final_run_days_before_report: 1",
     r"cycles\.yaml: schedule\.final_run_days_before_report_due: thiếu mục bắt buộc \(và 1 lỗi khác\)",
     r"cycles\.yaml: schedule\.final_run_days_before_report_due: Field required \(and 1 more\)"),
    ('run_at: "07:00"', "run_at: 7:00", r"cycles\.yaml: schedule\.run_at: cần là một chuỗi văn bản",
     r"cycles\.yaml: schedule\.run_at: Input should be a valid string"),
    ('run_at: "07:00"', 'run_at: "7h"', r"schedule\.run_at: chuỗi cần khớp mẫu",
     r"schedule\.run_at: String should match"),
    ("[7, 2]", "[7, 7]", r"schedule\.remind_days_before_deadline: mỗi số ngày chỉ ghi một lần$",
     r"schedule\.remind_days_before_deadline: list each number of days once$"),
    ("deadline: {month: 6, day: 10}", "deadline: {month: 2, day: 29}",
     r"kinds\.H1\.deadline: 29/2 không phải là ngày có trong mọi năm", r"kinds\.H1\.deadline: 29/2 is not a date in"),
    ("closes: {month: 6, day: 15}", "closes: {month: 6, day: 31}", r"kinds\.H1\.closes: 31/6 không phải",
     r"kinds\.H1\.closes: 31/6 is not"),
    ("reply_closes: {month: 6, day: 13}", "reply_closes: {month: 6, day: 9}",
     r"kinds\.H1: ngày reply_closes phải từ hạn nộp trở đi và trước report_due",
     r"kinds\.H1: reply_closes must fall on or after the deadline and before report_due"),
    ("reply_closes: {month: 11, day: 13}", "reply_closes: {month: 11, day: 14}",
     r"kinds\.Y\.reply_closes: lần chạy cuối \(1 ngày trước report_due\) phải sau ngày",
     r"kinds\.Y\.reply_closes: the final run \(1 days before report_due\) must come after the day"),
    ("grace_days: 0", "grace_days: 4", r"kinds\.H1\.reply_closes: thời hạn phản hồi kết thúc trước khi",
     r"kinds\.H1\.reply_closes: the reply window closes before the deadline"),
]


@pytest.mark.parametrize("old, new, error, _english", _CALENDAR_MISTAKES)
def test_a_calendar_mistake_names_file_and_key(config_copy, old, new, error, _english):
    _edit(config_copy / "cycles.yaml", old, new)
    with pytest.raises(ConfigError, match=error):
        load_config(config_copy)


@pytest.mark.parametrize("old, new, _vietnamese, error", _CALENDAR_MISTAKES)
def test_a_calendar_mistake_in_english(config_copy, english, old, new, _vietnamese, error):
    _edit(config_copy / "cycles.yaml", old, new)
    with pytest.raises(ConfigError, match=error):
        load_config(config_copy)


def test_the_reply_window_is_on_each_cycle(config):
    from antt.cycles import resolve_cycle

    h1, year = resolve_cycle("2026-H1", config.cycles), resolve_cycle("2026-Y", config.cycles)
    assert (h1.reply_last_day.isoformat(), year.reply_last_day.isoformat()) == ("2026-06-13", "2026-11-13")
    assert h1.reply_closes_at.isoformat() == "2026-06-14T00:00:00+07:00"
    assert h1.deadline_at < h1.reply_closes_at <= h1.closes_at


def test_the_reply_form_shares_the_report_forms_conventions(config):
    reply, form = config.reply_form, config.form
    assert [q.id for q in reply.questions] == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert [q.id for q in reply.questions if q.required] == ["R1", "R2", "R3", "R4", "R6"]
    assert reply.school_question.id == "R1" and reply.by_id["R4"].type == "paragraph"
    # docs/spec.md §10's labels, so a reply sheet's headers match without their id prefix too
    assert [q.label for q in reply.questions[:5]] == ["Trường", "Câu hỏi cần sửa", "Giá trị đúng", "Giải thích",
                                                      "Đường dẫn minh chứng"]
    assert (reply.timestamp_headers, reply.email_headers) == (form.timestamp_headers, form.email_headers)
    options = reply.by_id["R2"].options
    assert len(options) == len(form.questions) - 1 and "A1. Trường" not in options
    assert "D1. Số vụ việc về an ninh (lộ, mất bí mật; tụ tập đông người; kích động; tuyên truyền tôn giáo trái " \
           "phép)" in options
    assert reply.exports.hints == form.exports.hints
    assert reply.exports.google_form.confirmation.startswith("Phòng GD&ĐT đã nhận phản hồi")
    assert reply.exports.google_form.sheet_title == form.exports.google_form.sheet_title
    assert config.office.reply_form_url.startswith("https://")


def test_a_reply_form_without_its_fixed_questions_is_rejected(config_copy):
    _edit(config_copy / "reply_form.yaml", "id: R6", "id: R7")
    with pytest.raises(ConfigError, match=r"reply_form\.yaml: questions: biểu mẫu phản hồi cần các câu R1, R2"):
        load_config(config_copy)


def test_only_the_reply_form_lists_the_forms_questions(config_copy):
    _edit(config_copy / "form.yaml", "options: [\"Đạt\", \"Chưa đạt\"]", "options_from: form_questions")
    with pytest.raises(ConfigError, match=r"form\.yaml: questions: chỉ biểu mẫu phản hồi"):
        load_config(config_copy)


def test_a_reply_form_link_must_be_a_link(config_copy):
    _edit(config_copy / "office.yaml", 'reply_form_url: "https://', 'reply_form_url: "forms/')
    with pytest.raises(ConfigError, match=r"office\.yaml: reply_form_url: 'forms/.*' không phải đường dẫn"):
        load_config(config_copy)


def test_registry_with_duplicate_codes_is_rejected(tmp_path, config):
    path = tmp_path / "schools.csv"
    path.write_text("school_code,school_name,level,ward,emails\nMN01,A,MN,w,\nMN01,B,MN,w,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"school_code bị trùng: MN01 \(dòng 2 và 3\)"):
        load_registry(path, config.form.levels)


def test_registry_with_unknown_level_is_rejected(tmp_path, config):
    path = tmp_path / "schools.csv"
    path.write_text("school_code,school_name,level,ward,emails\nX1,A,THPT,w,\n", encoding="utf-8")
    with pytest.raises(InputError, match="cấp học không hợp lệ 'THPT'"):
        load_registry(path, config.form.levels)


def test_demo_registry_is_realistic_and_marked(registry):
    assert 55 <= len(registry) <= 70
    assert set(registry["level"]) == {"MN", "TH", "THCS", "TH&THCS"}
    assert registry["ward"].nunique() >= 15
    assert (REPO / "config" / "schools.csv").read_text(encoding="utf-8").startswith("# DỮ LIỆU MẪU (demo)")
