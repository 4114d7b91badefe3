"""Form as code: each export carries every question ("ID. label") and every option of config/form.yaml.

The Apps Script is checked by Node (syntax) and run by Node against a recording stand-in for Google's FormApp and
SpreadsheetApp; the XLSForm is converted by pyxform; the Excel template is read back with openpyxl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from antt.errors import AnttError
from antt.forms import FORMATS, export_form, export_steps
from antt.forms.common import school_options
from antt.forms.template import columns

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

# Google's services as the script meets them, recording every call; whatever is not modelled returns itself.
HARNESS = r"""
const fs = require('fs');
const vm = require('vm');
const items = [];
const settings = {};
function recorder(record) {
  const proxy = new Proxy({}, {get: (_, name) => {
    if (name === 'build') return () => record;
    return (...args) => { record[name] = args.length === 1 ? args[0] : args; return proxy; };
  }});
  return proxy;
}
const form = new Proxy({}, {get: (_, name) => {
  if (String(name).startsWith('add')) return () => { const rec = {kind: name}; items.push(rec); return recorder(rec); };
  if (name === 'getPublishedUrl' || name === 'getEditUrl') return () => 'https://forms.example/' + name;
  return (...args) => { settings[name] = args.length === 1 ? args[0] : args; return form; };
}});
const sheet = {};
const context = {
  FormApp: {
    create: (title) => { settings.create = title; return form; },
    createTextValidation: () => recorder({}),
    EmailCollectionType: {VERIFIED: 'VERIFIED'},
    DestinationType: {SPREADSHEET: 'SPREADSHEET'},
  },
  SpreadsheetApp: {create: (title) => {
    sheet.title = title;
    return {getId: () => 'sheet-id', getUrl: () => 'https://sheets.example/sheet-id',
            setSpreadsheetLocale: (l) => { sheet.locale = l; }, setSpreadsheetTimeZone: (z) => { sheet.timeZone = z; }};
  }},
  Logger: {log: () => {}},
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), context);
vm.runInContext('createAnttForm()', context);
process.stdout.write(JSON.stringify({items, settings, sheet}));
"""


def _run_script(script: Path, tmp_path: Path) -> dict:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    proc = subprocess.run([NODE, str(harness), str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def exported(config, registry, tmp_path):
    return {fmt: export_form(config, registry, fmt, tmp_path) for fmt in FORMATS}


@needs_node
def test_apps_script_is_valid_javascript(exported):
    proc = subprocess.run([NODE, "--check", str(exported["apps-script"])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@needs_node
def test_apps_script_creates_every_question_titled_id_label_with_its_options(config, registry, exported, tmp_path):
    run = _run_script(exported["apps-script"], tmp_path)
    questions = [i for i in run["items"] if i["kind"] not in ("addSectionHeaderItem", "addPageBreakItem")]
    assert [i["setTitle"] for i in questions] == [q.title for q in config.form.questions]
    by_title = {i["setTitle"]: i for i in questions}
    for q in config.form.questions:
        item = by_title[q.title]
        if q.type == "yes_no":
            assert item["kind"] == "addMultipleChoiceItem"
            assert item["setChoiceValues"] == [config.form.answer_yes, config.form.answer_no]
        elif q.type == "select_multiple":
            assert item["kind"] == "addCheckboxItem" and item["setChoiceValues"] == q.options
        elif q.options_from == "registry":
            assert item["kind"] == "addListItem" and item["setChoiceValues"] == school_options(registry)
        elif q.type == "select_one":
            assert item["setChoiceValues"] == q.options
        elif q.type == "date":
            assert item["kind"] == "addDateItem"
        assert item["setRequired"] is (q.required and not q.applies_to)


@needs_node
def test_apps_script_form_settings_collect_email_one_editable_response_and_link_a_sheet(config, exported, tmp_path):
    run = _run_script(exported["apps-script"], tmp_path)
    s = run["settings"]
    assert s["create"] == config.form.title and s["setDescription"] == config.form.description
    assert s["setEmailCollectionType"] == "VERIFIED"
    assert s["setLimitOneResponsePerUser"] is True and s["setAllowResponseEdits"] is True
    assert s["setDestination"] == ["SPREADSHEET", "sheet-id"]
    assert run["sheet"] == {"title": run["sheet"]["title"], "locale": "vi_VN", "timeZone": config.cycles.timezone}
    pages = [i["setTitle"] for i in run["items"] if i["kind"] in ("addSectionHeaderItem", "addPageBreakItem")]
    assert pages == [s.title for s in config.form.sections]


@needs_node
def test_apps_script_number_rules_and_conditional_requirements(config, exported, tmp_path):
    items = {i.get("setTitle"): i for i in _run_script(exported["apps-script"], tmp_path)["items"]}
    count = items[config.form.by_id["D1"].title]
    assert count["setValidation"]["requireTextMatchesPattern"] == "^[0-9]+$"
    assert "Không lớn hơn câu A5" in items[config.form.by_id["B1"].title]["setHelpText"]
    plan_date = items[config.form.by_id["F2"].title]
    assert plan_date["setRequired"] is False and "F1" in plan_date["setHelpText"]


@needs_node
def test_apps_script_escapes_quotes_backslashes_and_line_breaks(config, registry, tmp_path):
    tricky = 'Báo cáo "ANTT" \\ C:\\temp\n</script>\u2028 */ end'
    form = config.form.model_copy(update={"title": tricky, "description": "dòng 1\ndòng 2 'x' `y` ${z}"})
    path = export_form(config.model_copy(update={"form": form}), registry, "apps-script", tmp_path / "f.js")
    assert subprocess.run([NODE, "--check", str(path)], capture_output=True).returncode == 0
    run = _run_script(path, tmp_path)
    assert run["settings"]["create"] == tricky
    assert run["settings"]["setDescription"] == "dòng 1\ndòng 2 'x' `y` ${z}"


def test_xlsform_converts_with_pyxform(exported):
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    result = convert(str(exported["xlsform"]), warnings=warnings)
    assert warnings == []
    assert "<h:title>" in result.xform


def test_xlsform_holds_every_question_and_option(config, registry, exported):
    wb = load_workbook(exported["xlsform"], read_only=True)
    survey = _records(wb["survey"])
    choices = _records(wb["choices"])
    by_name = {row["name"]: row for row in survey}
    for q in config.form.questions:
        assert by_name[q.id]["label"] == q.title
    labels = {}
    for row in choices:
        labels.setdefault(row["list_name"], []).append(row["label"])
    for q in config.form.questions:
        if q.options:
            assert labels[q.id.lower()] == q.options
    assert labels["schools"] == school_options(registry)
    assert labels["yes_no"] == [config.form.answer_yes, config.form.answer_no]
    assert _records(wb["settings"])[0]["version"] == config.form.version


def test_xlsform_level_drives_school_list_and_relevance(exported):
    survey = {row["name"]: row for row in _records(load_workbook(exported["xlsform"])["survey"])}
    assert survey["level"]["type"] == "select_one levels"
    assert survey["A1"]["choice_filter"] == "level=${level}"
    assert survey["B6"]["relevant"] == "selected(${level}, 'THCS') or selected(${level}, 'TH_THCS')"
    assert survey["B6"]["constraint"] == ". >= 0 and (${A7} = '' or . <= ${A7})"
    assert survey["F2"]["required"] == "${F1} = 'yes'"
    assert survey["D1"]["required"] == "yes"


def _records(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_template_lists_every_question_and_option(config, registry, exported):
    words = config.form.exports.excel_template
    wb = load_workbook(exported["xlsx-template"])
    ws = wb[words.report_sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if tuple(r[:4]) == columns(words))
    keyed = {r[0]: r[1] for r in rows[header + 1:] if r[0]}
    for q in config.form.questions:
        assert keyed[q.id] == q.label
        if q.type == "select_multiple":
            assert [keyed[f"{q.id}.{i}"] for i in range(1, len(q.options) + 1)] == q.options
    lists = wb[words.lists_sheet]
    assert [c.value for c in lists["A"][1:3]] == [config.form.answer_yes, config.form.answer_no]
    assert [c.value for c in lists["B"][1:]] == school_options(registry)


def test_template_validates_answers_and_locks_everything_else(config, exported):
    words = config.form.exports.excel_template
    wb = load_workbook(exported["xlsx-template"])
    ws = wb[words.report_sheet]
    lists = words.lists_sheet
    assert ws.protection.sheet and wb.security.lockStructure and wb[lists].sheet_state == "hidden"
    first = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == words.columns.id) + 1
    row_of = {ws.cell(r, 1).value or ws.cell(r, 2).value: r for r in range(first, ws.max_row + 1)}
    rules = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            rules[rng.coord] = dv
    yes_no = rules[f"C{row_of['B2']}"]
    assert yes_no.type == "list" and yes_no.formula1 == f"'{lists}'!$A$2:$A$3"
    assert rules[f"C{row_of['B4.1']}"].formula1 == yes_no.formula1
    assert rules[f"C{row_of['A1']}"].formula1.startswith(f"'{lists}'!$B$2")
    staff = rules[f"C{row_of['A5']}"]
    assert (staff.type, staff.operator, staff.formula1) == ("whole", "greaterThanOrEqual", "1")
    assert f"$C${row_of['A5']}" in rules[f"C{row_of['B1']}"].formula1
    assert not ws.cell(row_of[words.sent_at], 3).protection.locked
    assert not ws.cell(row_of[words.email], 3).protection.locked
    for q in config.form.questions:
        assert ws.cell(row_of[q.id], 2).protection.locked
        assert ws.cell(row_of[q.id], 3).protection.locked is (q.type == "select_multiple"), q.id
        for i in range(1, len(q.options or []) + 1 if q.type == "select_multiple" else 1):
            assert not ws.cell(row_of[f"{q.id}.{i}"], 3).protection.locked


def test_export_into_a_folder_uses_the_default_name_and_steps_name_the_file(config, registry, tmp_path):
    path = export_form(config, registry, "apps-script", tmp_path)
    assert path == tmp_path / "antt-form.js"
    assert any("createAnttForm" in step for step in export_steps("apps-script", path))
    assert any(str(path) in step for step in export_steps("xlsx-template", path))


def test_unknown_format_is_one_line_error(config, registry, tmp_path):
    with pytest.raises(AnttError, match="định dạng biểu mẫu không hợp lệ 'pdf'"):
        export_form(config, registry, "pdf", tmp_path)


@pytest.fixture
def reply_exported(config, registry, tmp_path):
    return {fmt: export_form(config, registry, fmt, tmp_path / "reply", "reply") for fmt in FORMATS}


def test_the_report_form_is_the_default_export(config, registry, exported, tmp_path):
    for fmt, path in exported.items():
        again = export_form(config, registry, fmt, tmp_path / "again", "report")
        assert again.name == path.name
        if fmt == "apps-script":
            assert again.read_bytes() == path.read_bytes()


@needs_node
def test_reply_form_script_asks_school_person_question_value_reason_evidence(config, registry, reply_exported,
                                                                              tmp_path):
    path = reply_exported["apps-script"]
    assert path.name == "antt-reply-form.js"
    assert subprocess.run([NODE, "--check", str(path)], capture_output=True).returncode == 0
    assert "antt form export --form reply --format apps-script` from config/reply_form.yaml" in path.read_text()
    run = _run_script(path, tmp_path)
    reply = config.reply_form
    items = {i["setTitle"]: i for i in run["items"] if i["kind"] not in ("addSectionHeaderItem", "addPageBreakItem")}
    assert list(items) == [q.title for q in reply.questions] == [
        "R1. Trường", "R2. Câu hỏi cần sửa", "R3. Giá trị đúng", "R4. Giải thích", "R5. Đường dẫn minh chứng",
        "R6. Họ và tên người phản hồi"]
    school, question = items["R1. Trường"], items["R2. Câu hỏi cần sửa"]
    assert school["kind"] == "addListItem" and school["setChoiceValues"] == school_options(registry)
    assert question["kind"] == "addListItem"
    assert question["setChoiceValues"] == [q.title for q in config.form.questions[1:]]
    assert config.form.by_id["D1"].title in question["setChoiceValues"]
    assert items["R4. Giải thích"]["kind"] == "addParagraphTextItem"
    assert items["R5. Đường dẫn minh chứng"]["setValidation"]["requireTextIsUrl"] == []
    assert [i["setRequired"] for i in items.values()] == [True, True, True, True, False, True]
    s = run["settings"]
    assert s["create"] == reply.title and s["setEmailCollectionType"] == "VERIFIED"
    # A school may send several replies, one per answer, each kept as sent.
    assert s["setLimitOneResponsePerUser"] is False and s["setAllowResponseEdits"] is False
    assert s["setConfirmationMessage"] == reply.exports.google_form.confirmation
    assert run["sheet"]["title"] == f"{reply.title} (câu trả lời)"


def test_reply_xlsform_converts_with_pyxform_and_keeps_the_form_apart(config, registry, reply_exported):
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    assert "<h:title>" in convert(str(reply_exported["xlsform"]), warnings=warnings).xform
    assert warnings == []
    wb = load_workbook(reply_exported["xlsform"], read_only=True)
    survey = {row["name"]: row for row in _records(wb["survey"])}
    questions = config.reply_form.questions
    assert [survey[q.id]["label"] for q in questions] == [q.title for q in questions]
    assert survey["R1"]["choice_filter"] == "level=${level}"
    assert (survey["R4"]["type"], survey["R4"]["appearance"]) == ("text", "multiline")
    labels = [row["label"] for row in _records(wb["choices"]) if row["list_name"] == "r2"]
    assert labels == config.reply_form.by_id["R2"].options
    assert _records(wb["settings"])[0]["form_id"] == "antt_phan_hoi"


def test_reply_template_has_one_correction_and_lists_the_questions(config, registry, reply_exported):
    words = config.reply_form.exports.excel_template
    assert words.report_sheet == "Phản hồi" and words.lists_sheet == config.form.exports.excel_template.lists_sheet
    wb = load_workbook(reply_exported["xlsx-template"])
    ws = wb[words.report_sheet]
    keyed = {r[0]: r for r in ws.iter_rows(values_only=True) if r[0]}
    assert [keyed[q.id][1] for q in config.reply_form.questions] == [q.label for q in config.reply_form.questions]
    rules = {rng.coord: dv for dv in ws.data_validations.dataValidation for rng in dv.sqref.ranges}
    row_of = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    options = config.reply_form.by_id["R2"].options
    lists = wb[words.lists_sheet]
    column = rules[f"C{row_of['R2']}"].formula1.split("!")[1].split(":")[0].replace("$", "")[0]
    assert [c.value for c in lists[column][1:len(options) + 1]] == options


def test_cli_exports_the_reply_form_and_says_where_its_link_goes(tmp_path):
    def antt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "antt", "form", "export", *args], capture_output=True,
                              text=True, timeout=120)

    proc = antt("--form", "reply", "--format", "xlsx-template", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "phan-hoi-antt.xlsx") and "--replies FOLDER" in proc.stderr
    proc = antt("--form", "reply", "--format", "apps-script", "--out", str(tmp_path))
    assert "reply_form_url" in proc.stderr and (tmp_path / "antt-reply-form.js").is_file()
    proc = antt("--form", "answers", "--format", "xlsform", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--form 'answers'" in proc.stderr and proc.stderr.count("\n") == 1
