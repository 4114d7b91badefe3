"""Issue 13: the official report (Nghị định 30/2020/NĐ-CP) read as a person would.

The demo district (62 schools, both 2026 cycles) runs through the pipeline's stages; `antt report --pdf` prints
report.pdf, whose pages are measured (margins from the text's boxes, page numbers, fonts, how far down each page
the ink goes) and rendered to PNG (`tests/artifacts/official-*.png`, for people to look at). report.docx is read
back with python-docx and converted to PDF by LibreOffice (Debian's `libreoffice-writer-nogui`, which `make test`
installs when missing), whose text is checked too.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pdfplumber
import pypdf
import pypdfium2
import pytest
from conftest import REPO, Sheet, run_stages
from docx import Document
from docx.shared import Mm, Pt

from antt.config import load_config
from antt.demo.build import write_demo_sheet
from antt.errors import ConfigError
from antt.intake.registry import load_registry
from antt.outputs.docx import render_docx
from antt.outputs.notes import load_notes
from antt.outputs.official import official_report

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MM = 72 / 25.4  # PDF points per millimetre
RUN = {"started_at": "2026-11-16T08:00:00+07:00"}
NOTES = """## II. Đánh giá chung

Các trường đã **chủ động** triển khai kế hoạch; <còn> một số trường báo cáo *chậm*. {{ 7 * 7 }} {%p if x %}

- Công tác phối hợp với Công an xã, phường được duy trì.

## Đề xuất, kiến nghị

Đề nghị Sở GDĐT tổ chức tập huấn cho cán bộ phụ trách.
"""


def _run(source: Path, schools: Path, out: Path, cycle_id: str) -> Path:
    """`antt run`'s stages, without the engine, into `out/<cycle>/`."""
    return run_stages(source, REPO / "config", out, cycle_id, schools).write()


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))} | {"NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "antt", *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo district's 2026-H1 then 2026-Y, then `antt report --cycle 2026-Y --pdf`: the annual folder."""
    tmp = tmp_path_factory.mktemp("official")
    config = load_config(REPO / "config")
    schools = REPO / "config" / "schools.csv"
    source = write_demo_sheet(tmp / "responses.csv", config, load_registry(schools, config.form.levels),
                              ["2026-H1", "2026-Y"])
    _run(source, schools, tmp / "out", "2026-H1")
    folder = _run(source, schools, tmp / "out", "2026-Y")
    assert (folder / "report.docx").is_file() and not (folder / "report.pdf").exists()  # a run writes the docx
    proc = _cli("report", "--cycle", "2026-Y", "--out", str(tmp / "out"), "--pdf")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str((folder / "report.pdf").resolve())
    return folder


@pytest.fixture(scope="module")
def pdf(demo):
    with pdfplumber.open(demo / "report.pdf") as doc:
        yield doc


@pytest.fixture(scope="module")
def codes(demo) -> list[str]:
    with open(demo / "ranking.csv", encoding="utf-8", newline="") as fh:
        return [row["school_code"] for row in csv.DictReader(fh)]


def _lines(page) -> list[str]:
    return (page.extract_text() or "").splitlines()


def _number_words(page) -> list[dict]:
    """Words in the top margin (the page number's place)."""
    return [w for w in page.extract_words() if w["bottom"] < 20 * MM]


def _body_chars(page) -> list[dict]:
    return [c for c in page.chars if c["top"] >= 20 * MM - 1]


# ------------------------------------------------------------------------------------------------------ report.pdf

def test_pdf_is_readable_like_the_files_beside_it(demo):
    """Printed through a temporary file and a rename, report.pdf still gets the mode report.html has (not 0600)."""
    assert (demo / "report.pdf").stat().st_mode & 0o777 == (demo / "report.html").stat().st_mode & 0o777


def test_pdf_pages_are_a4_portrait_with_landscape_appendices(pdf):
    sizes = {(round(p.width), round(p.height)) for p in pdf.pages}
    assert sizes <= {(595, 842), (842, 595)}
    starts = {line: i for i, p in enumerate(pdf.pages) for line in _lines(p)[:3] if line.startswith("Phụ lục ")}
    assert list(starts) == ["Phụ lục I", "Phụ lục II", "Phụ lục III", "Phụ lục IV", "Phụ lục V"]
    landscape = [pdf.pages[i].width > pdf.pages[i].height for i in starts.values()]
    assert landscape == [True, True, False, True, False]  # the wide tables turn the page


def test_pdf_text_stays_inside_the_nd30_margins(pdf):
    """Top and bottom 20–25 mm, left 30–35 mm, right 15–20 mm, measured from every character's box; the justified
    prose of the body reaches the right margin."""
    signed = next(i for i, p in enumerate(pdf.pages) if "Nguyễn Minh Hoan" in (p.extract_text() or ""))
    for number, page in enumerate(pdf.pages, start=1):
        chars = _body_chars(page)
        left, right = min(c["x0"] for c in chars), max(c["x1"] for c in chars)
        top, bottom = min(c["top"] for c in chars), max(c["bottom"] for c in chars)
        assert 30 * MM - 1 <= left <= 35 * MM, (number, left / MM)
        assert right <= page.width - 15 * MM + 1, (number, (page.width - right) / MM)
        if number <= signed:
            assert right >= page.width - 20 * MM, (number, (page.width - right) / MM)
        assert top >= 20 * MM - 1 and bottom <= page.height - 20 * MM + 1, (number, top / MM, bottom / MM)


def test_pdf_pages_are_numbered_at_the_top_centre_from_page_2(pdf):
    assert _number_words(pdf.pages[0]) == []
    for number, page in enumerate(pdf.pages[1:], start=2):
        [word] = _number_words(page)
        assert word["text"] == str(number)
        centre = (30 * MM + page.width - 17 * MM) / 2  # of the text block between the margins, as Word centres it
        assert abs((word["x0"] + word["x1"]) / 2 - centre) < 3, number


def test_pdf_body_is_one_serif_face_at_13pt_embedded(pdf, demo):
    fonts = Counter(c["fontname"].split("+")[-1] for p in pdf.pages for c in p.chars)
    assert {f.replace("-", "").split(",")[0].removesuffix("BoldItalic").removesuffix("Bold").removesuffix("Italic")
            for f in fonts} == {"LiberationSerif"}, fonts  # every glyph, Vietnamese ones too: no fallback face
    body = Counter(round(c["size"]) for c in _body_chars(pdf.pages[1]))
    assert body.most_common(1)[0][0] == 13
    for page in pypdf.PdfReader(demo / "report.pdf").pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None:
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert any(k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")), font


def test_pdf_body_up_to_the_signature_fits_in_four_pages(pdf, demo):
    text = [p.extract_text() or "" for p in pdf.pages]
    signed = next(i for i, t in enumerate(text) if "Nguyễn Minh Hoan" in t)
    assert signed < 4 and text[signed + 1].splitlines()[1] == "Phụ lục I"
    body = " ".join(" ".join(text[:signed + 1]).split())
    for heading in ("BÁO CÁO", "I. KẾT QUẢ THỰC HIỆN", "II. ĐÁNH GIÁ CHUNG", "III. ĐỀ XUẤT, KIẾN NGHỊ", "Nơi nhận:",
                    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "KT. TRƯỞNG PHÒNG"):
        assert heading in body
    # every figure comes from the results
    import json

    kpis = json.loads((demo / "results.json").read_text(encoding="utf-8"))["kpis"]
    assert f"Tổng số trường phải báo cáo trong kỳ: {kpis['expected']} trường" in body
    assert f"{kpis['dat']}/{kpis['expected']} trường đạt tiêu chuẩn" in body
    assert "So với kỳ báo cáo sơ kết 6 tháng năm 2026" in body  # the previous cycle by its name, not its id


def test_pdf_method_annex_is_worded_as_report_html_s(pdf, demo):
    """Both annexes print _method.html.j2: the same rules in the same words."""
    import re

    html = " ".join(re.sub(r"<[^>]+>", " ", (demo / "report.html").read_text(encoding="utf-8")).split())
    start = next(i for i, p in enumerate(pdf.pages) if "Phụ lục V" in _lines(p)[:3])
    # the annex's text as one flow: each page's number (in the top margin) left out, so a sentence may cross pages
    body = [p.crop((0, 20 * MM, p.width, p.height)) for p in pdf.pages[start:]]
    annex = " ".join(" ".join(p.extract_text() or "" for p in body).split())
    for words in ("ngược lại là Chưa đạt , kèm các tiêu chí chưa đạt", "chỉ tiêu tỷ lệ được điểm theo tỷ lệ (tối đa đủ",
                  "thì đồng hạng (ví dụ 1, 2, 2, 4)", "(theo Thông tư 124/2021/TT-BCA)"):
        assert words in html
        assert words.replace(" ,", ",") in annex


def test_pdf_has_no_nearly_empty_page_but_a_sections_last(pdf, demo):
    """Rendered to PNG, each page's ink must reach past the middle of its text area, except the last page of the
    body or of an appendix (the next page starts "Phụ lục …", or it is the last page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    rendered = pypdfium2.PdfDocument(demo / "report.pdf")
    starts = [any(line.startswith("Phụ lục ") for line in _lines(p)[:3]) for p in pdf.pages] + [True]
    for i in range(len(rendered)):
        image = rendered[i].render(scale=1).to_pil().convert("L")
        image.save(ARTIFACTS / f"official-{i + 1:02d}.png")
        width, height = image.size
        top, bottom = round(20 * MM), height - round(20 * MM)
        pixels = image.load()
        inked = [y for y in range(top, bottom) if any(pixels[x, y] < 128 for x in range(0, width, 2))]
        reach = (inked[-1] - top) / (bottom - top) if inked else 0
        if not starts[i + 1]:
            assert reach > 0.75, f"page {i + 1} is nearly empty: ink reaches {reach:.0%} of it"
        assert inked, f"page {i + 1} is blank"


def test_pdf_lists_every_school_in_the_appendices_without_wrapping_codes_or_scores(pdf, codes):
    appendix = [w for p in pdf.pages if p.width > p.height for w in p.extract_words()]
    words = Counter(w["text"] for w in appendix)
    assert all(words[code] >= 2 for code in codes)  # the full ranking and the ranking of its level
    # codes, dates, scores and badges on one line: each whole on one line of the table
    assert all(words[d] for d in ("Xuất", "Đúng")) and "hạn" in words


# ----------------------------------------------------------------------------------------------------- report.docx

def test_docx_has_the_nd30_page_setup_and_styles(demo):
    doc = Document(demo / "report.docx")
    orientation = []
    for section in doc.sections:
        portrait = section.page_width < section.page_height
        orientation.append(portrait)
        short, long = sorted((section.page_width, section.page_height))
        assert abs(short - Mm(210)) < Mm(1) and abs(long - Mm(297)) < Mm(1)
        for margin, mm in ((section.top_margin, 20), (section.bottom_margin, 20), (section.left_margin, 30),
                           (section.right_margin, 15)):
            assert abs(margin - Mm(mm)) < Mm(0.1)
    assert orientation == [True, False, True, False, True]
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(13)
    first = doc.sections[0]
    assert first.different_first_page_header_footer
    assert 'w:instr="PAGE"' in first.header._element.xml and "PAGE" not in first.first_page_header._element.xml
    assert all(not s.different_first_page_header_footer and s.header.is_linked_to_previous for s in doc.sections[1:])


def test_docx_tables_hold_every_school_and_the_generated_sections_are_marked_for_review(demo, codes):
    doc = Document(demo / "report.docx")
    cells = Counter(cell.text for table in doc.tables for row in table.rows for cell in row.cells)
    assert all(cells[code] >= 2 for code in codes)  # the full ranking and its level's (and criteria × schools)
    review = [p.text for p in doc.paragraphs if p.style.name == "Cần xem lại"]
    assert any("Tồn tại, hạn chế" not in t and t.startswith("- ") for t in review)
    assert not any(p.style.name == "Cần xem lại" and "Tổng số trường phải báo cáo" in p.text for p in doc.paragraphs)
    assert not any("{{" in p.text or "{%" in p.text for p in doc.paragraphs)


def test_docx_opens_and_converts_in_libreoffice(demo, codes, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is missing: `make system-deps` installs Debian's `libreoffice-writer-nogui`"
    profile = (tmp_path / "lo-profile").as_uri()
    proc = subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                           "--outdir", str(tmp_path), str(demo / "report.docx")], capture_output=True, text=True,
                          timeout=300)
    converted = tmp_path / "report.pdf"
    assert converted.is_file(), proc.stderr + proc.stdout
    with pdfplumber.open(converted) as doc:
        page_texts = [p.extract_text() or "" for p in doc.pages]
    text, pages = " ".join(" ".join(page_texts).split()), len(page_texts)
    signed = next(i for i, t in enumerate(page_texts) if "Nguyễn Minh Hoan" in t)
    assert signed < 4, "the body up to the signature fits in four pages"
    # the closing block is one piece, with the body's last lines: never a signer's title cut from its name
    assert all(w in page_texts[signed] for w in ("Nơi nhận:", "KT. TRƯỞNG PHÒNG", "PHÓ TRƯỞNG PHÒNG", "Lưu: VT."))
    assert "theo dõi, hướng dẫn các trường thực hiện" in page_texts[signed]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "I. KẾT QUẢ THỰC HIỆN" in text
    assert "Phụ lục V" in text and "Nguyễn Minh Hoan" in text
    assert all(code in text for code in codes)
    print(f"report.docx converted by LibreOffice: {pages} pages")


def test_docx_is_the_same_bytes_for_the_same_report(demo):
    import json

    config = load_config(REPO / "config")
    document = json.loads((demo / "results.json").read_text(encoding="utf-8"))
    official = official_report(document, config, RUN, {})
    assert render_docx(official, config) == render_docx(official, config)


def test_above_the_threshold_the_appendices_hold_the_full_tables_first_and_last_rows_around_a_gap(demo):
    import json

    config = load_config(REPO / "config")
    document = json.loads((demo / "results.json").read_text(encoding="utf-8"))
    full = official_report(document, config, RUN, {})
    office = config.office.model_copy(update={"official_full_ranking_max": 10, "report_top_bottom": 3})
    capped = official_report(document, config.model_copy(update={"office": office}), RUN, {})

    schools = len(document["schools"])
    rows, gap = capped["ranking"]["rows"], capped["ranking"]["rows"][3]
    assert capped["ranking"]["hidden"] == schools - 6 and len(rows) == 7
    assert rows[:3] + rows[4:] == full["ranking"]["rows"][:3] + full["ranking"]["rows"][-3:]
    assert gap["gap"] and str(schools - 6) in gap["name"] and set(gap) == set(rows[0])
    assert all(not v for k, v in gap.items() if k not in ("gap", "name"))
    for short, whole in zip(capped["levels"], full["levels"], strict=True):
        kept = whole["rows"][:3] + whole["rows"][-3:] if len(whole["rows"]) > 6 else whole["rows"]
        assert [r for r in short["rows"] if not r["gap"]] == kept

# ----------------------------------------------------------------------------------------------- notes and input

@pytest.fixture
def config_copy(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path / "config"


def test_office_notes_replace_the_written_sections_escaped_and_unmarked(demo, config_copy, tmp_path):
    import json

    (config_copy / "notes").mkdir()
    (config_copy / "notes" / "2026-Y.md").write_text(NOTES, encoding="utf-8")
    config = load_config(config_copy)
    document = json.loads((demo / "results.json").read_text(encoding="utf-8"))
    official = official_report(document, config, RUN, load_notes(config, "2026-Y"))
    assert [s["review"] for s in official["sections"]] == [False, False, False]
    doc = Document(io.BytesIO(render_docx(official, config)))
    texts = [p.text for p in doc.paragraphs]
    assert any(t.startswith("Các trường đã chủ động triển khai kế hoạch; <còn>") and "{{ 7 * 7 }} {%p if x %}" in t
               for t in texts)
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert "chủ động" in bold
    assert "- Công tác phối hợp với Công an xã, phường được duy trì." in texts
    assert not any(p.style.name == "Cần xem lại" for p in doc.paragraphs)
    from antt.outputs.pdf import write_report_pdf

    with pdfplumber.open(write_report_pdf(official, tmp_path / "report.pdf")) as pdf:
        text = " ".join(" ".join(p.extract_text() or "" for p in pdf.pages).split())
    assert "<còn> một số trường báo cáo chậm. {{ 7 * 7 }} {%p if x %}" in text
    assert "Đề nghị Sở GDĐT tổ chức tập huấn" in text and "Tồn tại, hạn chế" not in text


@pytest.mark.parametrize(("notes", "says"), [
    ("## Đánh giá\n\nx\n", 'line 1: unknown section "Đánh giá"'),
    ("Lời mở đầu\n\n## Đánh giá chung\n\nx\n", "line 1: text before the first section heading"),
    ("## Đánh giá chung\n\nMột câu **chưa đóng\n", "line 3: unclosed **"),
    ("## Đánh giá chung\n\n<b>x</b>\n", "line 3: HTML is not supported"),
    ("## Đánh giá chung\n\n[Sở](https://example.org)\n", "line 3: a link is not supported"),
    ("## Đánh giá chung\n\nx\n\n## Đánh giá chung\n\ny\n", 'line 5: section "Đánh giá chung" appears twice'),
    ("## Đánh giá chung\n\n", 'section "Đánh giá chung" is empty'),
])
def test_a_broken_notes_file_is_one_config_error_naming_it(config_copy, notes, says, monkeypatch):
    monkeypatch.setenv("ANTT_LANG", "en")
    from antt import i18n

    i18n.use("en")
    (config_copy / "notes").mkdir()
    path = config_copy / "notes" / "2026-Y.md"
    path.write_text(notes, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_notes(load_config(config_copy), "2026-Y")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_a_template_missing_a_placeholder_is_one_line_naming_it(demo, config_copy, monkeypatch):
    import json

    from antt import i18n

    monkeypatch.setenv("ANTT_LANG", "en")
    i18n.use("en")
    packaged = REPO / "antt" / "report_templates" / "report.docx"
    with zipfile.ZipFile(packaged) as src, zipfile.ZipFile(config_copy / "report.docx", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"{{p matrix }}", b"")
            dst.writestr(item, data)
    config = load_config(config_copy)
    document = json.loads((demo / "results.json").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as caught:
        render_docx(official_report(document, config, RUN, {}), config)
    assert str(caught.value) == f"{config_copy / 'report.docx'}: the placeholder {{{{ matrix }}}} is missing; " \
                                "the report needs it"


HOSTILE = """school_code,school_name,level,ward,emails
MN01,"Trường Mầm non <b>&amp;</b> {{ 7*7 }} {%p for x in y %}",MN,phường Hà An,mn01@truong.example.org
TH01,Trường Tiểu học Hà An,TH,"phường {%tr endfor %} Hà An",th01@truong.example.org
THCS01,Trường THCS Yên Giang,THCS,phường Yên Giang,thcs01@truong.example.org
"""


def test_school_text_is_escaped_and_never_a_template_instruction(tmp_path):
    schools = tmp_path / "schools.csv"
    schools.write_text(HOSTILE, encoding="utf-8")
    config = load_config(REPO / "config")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    sheet.add("MN01", D2="1")
    sheet.add("TH01")
    folder = _run(sheet.write_csv(tmp_path / "responses.csv"), schools, tmp_path / "out", "2026-H1")
    doc = Document(folder / "report.docx")
    cells = {cell.text for table in doc.tables for row in table.rows for cell in row.cells}
    assert "Trường Mầm non <b>&amp;</b> {{ 7*7 }} {%p for x in y %}" in cells
    assert "phường {%tr endfor %} Hà An" in cells
    texts = " ".join(p.text for p in doc.paragraphs)
    assert "Trường Mầm non <b>&amp;</b> {{ 7*7 }} {%p for x in y %}" in texts  # the body names it as it is
