"""The analyst's data-quality page and the run's Great Expectations Data Docs: one page says whom to call about
what, and the Data Docs open without a network."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import config_with_corrections, run_stages

from antt.checks.data_docs import trimmed, write_data_docs
from antt.outputs.document import build_document
from antt.outputs.quality import quality_view, render_data_quality, submission_contacts


@pytest.fixture
def run(tmp_path, sheet):
    """Run the stages (no engine) on `sheet` for 2026-H1, with optional corrections; returns the document, the
    run's Great Expectations result and the contacts of every row."""

    def _run(corrections: list[dict] = ()):
        cfg = config_with_corrections(tmp_path, list(corrections))
        stages = run_stages(sheet.write_csv(tmp_path / "responses.csv"), cfg, tmp_path / "out")
        config, prep = stages.run.config, stages.prepared
        document = build_document(stages.results, config, stages.received.archived, rows_read=prep.rows_read,
                                  previous=None)
        return document, stages.validation.result, submission_contacts(prep.subs, config.form)

    return _run


class _Text(HTMLParser):
    """The page as a reader sees it: visible text, with each table row on its own line."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1
        if tag in ("tr", "li", "h3", "h4", "p"):
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r" *\n *", "\n", re.sub(r" +", " ", "".join(parser.parts)))


def block(html: str, anchor: str) -> str:
    """The visible text of one school's block on the page."""
    start = html.index(f'id="{anchor}"')
    return text_of(html[start:html.index("</article>", start)])


def test_a_needs_correction_school_lists_each_issue_with_row_label_value_and_expectation(run, sheet, config):
    row = sheet.add("MN01", A5="bốn mươi", D2="")
    document, _, contacts = run()
    html = render_data_quality(document, config, contacts)
    school = block(html, "s-MN01")
    assert "Cần chỉnh sửa" in school
    a5 = next(line for line in school.splitlines() if line.strip().startswith(f"{row} A5"))
    assert "Tổng số cán bộ, giáo viên, nhân viên" in a5 and "bốn mươi" in a5
    assert "Số nguyên, ≥ 1; bắt buộc" in a5  # what the form expects, from the question's config
    d2 = next(line for line in school.splitlines() if line.strip().startswith(f"{row} D2"))
    assert "Số vụ bạo lực học đường" in d2 and "(trống)" in d2 and "bắt buộc" in d2
    assert "Nguyễn Thị Lan" in school and "0912345678" in school  # whom to call


def test_schools_that_cannot_be_counted_come_before_those_with_warnings(run, sheet, config):
    sheet.add("TH01", C2="nhiều")  # optional question: a warning, the submission still counts
    sheet.add("MN01", A5="")
    document, _, _ = run()
    view = quality_view(document, config)
    assert [g for g, _ in view["groups"]] == ["needs_correction", "warning"]
    html = render_data_quality(document, config)
    assert html.index('id="s-MN01"') < html.index('id="s-TH01"')
    assert "nhiều" in block(html, "s-TH01")


def test_an_unverified_sender_and_a_superseded_row_are_listed_with_their_reasons(run, sheet, config):
    first = sheet.add("TH01", at="1/6/2026 8:00:00")
    sheet.add("TH01", at="5/6/2026 8:00:00")
    impostor = sheet.add("MN01", email="ai.do@gmail.com")
    document, _, contacts = run()
    view = quality_view(document, config, contacts)
    reasons = {r["sheet_row"]: [i["rule"] for i in r["reasons"]] for r in view["not_counted"]}
    assert reasons == {impostor: ["unverified_sender"], first: ["superseded"]}
    page = text_of(render_data_quality(document, config, contacts))
    table = page[page.index("Bản gửi không được tính\n"):page.index("Vấn đề theo trường")]
    blocked, noted = table.split("chỉ để theo dõi")  # rows that need someone to act come first
    assert re.search(rf"\n{impostor} MN01 ai\.do@gmail\.com [^\n]*\nNgười gửi chưa được xác nhận", blocked)
    assert re.search(rf"\n{first} TH01 [^\n]*Nguyễn Thị Lan[^\n]*\nĐã có bản gửi sau thay thế: [^\n]*dòng {first + 1}",
                     noted)


def test_unknown_duplicate_and_missing_optional_columns_are_listed(run, sheet, config):
    sheet.headers.append("Ghi chú thêm")
    sheet.headers[sheet.headers.index(config.form.by_id["G2"].title)] = "Cột đã đổi tên"
    sheet.headers.append(config.form.by_id["C2"].title)
    sheet.add("MN01")
    for cells in sheet.rows:
        cells += ["", "6"]
    document, _, _ = run()
    page = text_of(render_data_quality(document, config))
    shape = page[page.index("Cấu trúc bảng trả lời"):page.index("Bản gửi không được tính\n")]
    assert "Cột không khớp câu hỏi Ghi chú thêm" in shape and "Cột đã đổi tên" in shape
    assert "Cột trùng" in shape
    assert "Thiếu cột không bắt buộc G2 " + config.form.by_id["G2"].label in shape


def test_counts_by_severity_are_the_issue_rows_of_each_severity(run, sheet, config):
    sheet.add("MN01", A5="")                                 # error
    sheet.add("TH01", C2="nhiều", email="ai.do@gmail.com")   # warning + error
    sheet.add("TH02", at="1/6/2026 8:00:00")                 # superseded: info
    sheet.add("TH02", at="2/6/2026 8:00:00")
    document, _, _ = run()
    expected = {sev: sum(i["severity"] == sev for i in document["issues"]) for sev in ("error", "warning", "info")}
    assert expected == {"error": 2, "warning": 1, "info": 1}
    counts = {sev: (n, schools) for sev, n, schools in quality_view(document, config)["severity_counts"]}
    assert counts == {"error": (2, 2), "warning": (1, 1), "info": (1, 1)}
    page = text_of(render_data_quality(document, config))
    assert "\nLỗi 2 2" in page and "\nCảnh báo 1 1" in page and "\nThông tin 1 1" in page and "\nTổng 4" in page


def test_corrections_applied_and_refused_are_shown_with_who_when_and_why(run, sheet, config):
    row = sheet.add("MN01", D1="")
    document, _, _ = run([
        {"action": "set", "school_code": "MN01", "sheet_row": row, "question_id": "D1", "value": "0",
         "reason": "đã gọi điện xác minh", "by": "Lan", "at": "2026-06-11"},
        {"action": "approve_sender", "school_code": "TH01", "sheet_row": row},
    ])
    page = text_of(render_data_quality(document, config))
    section = page[page.index("Điều chỉnh của Phòng GD&ĐT"):]
    assert "Điều chỉnh câu trả lời MN01 2 D1" in section and "đã gọi điện xác minh Lan 2026-06-11" in section
    assert "Điều chỉnh không áp dụng được (1)" in section and "TH01" in section


def test_text_from_the_sheet_is_escaped(run, sheet, config):
    sheet.headers.append("<b>Cột lạ</b>")
    sheet.add("MN01", A2="<script>alert(1)</script>", A5="<i>40</i>")
    for cells in sheet.rows:
        cells.append("")
    document, _, contacts = run()
    html = render_data_quality(document, config, contacts)
    assert "<script>" not in html and "<b>Cột lạ</b>" not in html and "<i>40</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;Cột lạ&lt;/b&gt;" in html
    assert "&lt;i&gt;40&lt;/i&gt;" in html


def test_the_page_links_the_data_docs(run, sheet, config):
    sheet.add("MN01")
    document, _, _ = run()
    assert 'href="data_docs/index.html"' in render_data_quality(document, config)


class _Resources(HTMLParser):
    """Every URL the page would load by itself (scripts, stylesheets, images, frames), and every anchor."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.anchors: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "a" and a.get("href"):
            self.anchors.append(a["href"])
        elif tag == "link" and a.get("href"):
            self.loaded.append(a["href"])
        for name in ("src", "srcset", "data"):
            if a.get(name):
                self.loaded.append(a[name])


def test_data_docs_show_every_expectation_and_load_nothing_from_the_network(run, sheet, tmp_path):
    sheet.add("MN01", A5="abc")
    sheet.add("TH01", email="ai.do@gmail.com")
    _, validation, _ = run()
    index = write_data_docs(validation, tmp_path / "data_docs")
    html = index.read_text(encoding="utf-8")
    assert index == tmp_path / "data_docs" / "index.html"
    for kind in {r.expectation_config.type for r in validation.results}:
        assert kind in html
    assert "must never be null" in html and "must be null" in html  # each expectation, in GX's words
    assert "Unsuccessful Expectations" in html and "_registered_sender" in html and "A5__invalid" in html
    found = _Resources()
    found.feed(html)
    assert found.loaded == [] and found.scripts == 0
    assert not re.search(r"url\(\s*['\"]?https?:", html)
    assert all(not a.startswith("../../") for a in found.anchors)  # no links into a GX site that is not there
    assert 'href="../data_quality.html"' in html


def test_data_docs_trim_long_lists_of_unexpected_rows_and_say_so(run, sheet, tmp_path):
    rows = [sheet.add(code, A5="abc") for code in ("MN01", "TH01", "TH02")]
    _, validation, _ = run()
    html = write_data_docs(validation, tmp_path / "data_docs", most=2).read_text(encoding="utf-8")
    assert "chỉ liệt kê 2 dòng không đạt đầu tiên" in html
    shown, cut = trimmed(validation, most=2)
    assert cut == 1
    a5 = next(r for r in shown.results if r.expectation_config.kwargs["column"] == "A5__invalid")
    assert [hit["sheet_row"] for hit in a5.result["unexpected_index_list"]] == rows[:2]
    original = next(r for r in validation.results if r.expectation_config.kwargs.get("column") == "A5__invalid")
    assert len(original.result["unexpected_index_list"]) == 3  # the run's own result is untouched
