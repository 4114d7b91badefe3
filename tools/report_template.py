"""Build `antt/report_templates/report.docx`, the Word template of the official report, with python-docx.

The shipped template is this script's output; an office restyles its own copy in Word (`config/report.docx`, see
the README) and never needs this script. Run it after changing the layout here:

    .venv/bin/python tools/report_template.py

Layout of Nghị định 30/2020/NĐ-CP: A4, margins 20/20/30/15 mm, Times New Roman 13 pt, page numbers centred in the
header from page 2, landscape sections for the wide appendices. Placeholders are docxtpl's Jinja tags; the context
is `antt.outputs.docx.context` (see its docstring for every name).
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

OUT = Path(__file__).resolve().parent.parent / "antt" / "report_templates" / "report.docx"
FONT = "Times New Roman"
PORTRAIT_WIDTH = 210 - 30 - 15  # mm of text
LANDSCAPE_WIDTH = 297 - 30 - 15


def _font(style, size: float, bold: bool = False, italic: bool = False) -> None:
    style.font.name, style.font.size, style.font.bold, style.font.italic = FONT, Pt(size), bold, italic
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)
    style.font.color.rgb = None
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):  # a theme font would win
        fonts.attrib.pop(qn(attr), None)


def _styles(doc) -> None:
    styles = doc.styles
    normal = styles["Normal"]
    _font(normal, 13)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    body = styles["Body Text"]
    body.base_style = normal
    _font(body, 13)
    fmt = body.paragraph_format
    fmt.alignment, fmt.first_line_indent, fmt.space_after = WD_ALIGN_PARAGRAPH.JUSTIFY, Cm(1), Pt(5)
    for name, before in (("Heading 1", 8), ("Heading 2", 6)):
        heading = styles[name]
        heading.base_style = normal
        _font(heading, 13, bold=True)
        fmt = heading.paragraph_format
        fmt.first_line_indent, fmt.space_before, fmt.space_after = Cm(1), Pt(before), Pt(3)
        fmt.keep_with_next = True
    review = styles.add_style("Cần xem lại", WD_STYLE_TYPE.PARAGRAPH)
    review.base_style, review.quick_style = body, True
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), "FFF2CC")
    review.element.get_or_add_pPr().append(shd)
    cell = styles.add_style("Ô bảng", WD_STYLE_TYPE.PARAGRAPH)
    cell.base_style, cell.quick_style = normal, True
    _font(cell, 11)
    appendix = styles.add_style("Phụ lục", WD_STYLE_TYPE.PARAGRAPH)
    appendix.base_style, appendix.quick_style = normal, True
    _font(appendix, 14, bold=True)
    appendix.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = styles.add_style("Bảng số liệu", WD_STYLE_TYPE.TABLE)
    table.base_style = styles["Table Grid"]
    margins = OxmlElement("w:tblCellMar")  # compact columns: 1 mm each side instead of Word's 1.9 mm
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), "57")
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tblPr = table.element.find(qn("w:tblPr"))
    if tblPr is None:
        tblPr = OxmlElement("w:tblPr")
        table.element.append(tblPr)
    tblPr.append(margins)


def _page(section, landscape: bool) -> None:
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)


def _para(container, text: str = "", style: str | None = None, align=None, bold=None, italic=None, size=None,
          indent: float | None = 0, after: float | None = None):
    p = container.add_paragraph(style=style)
    if text:
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        if size:
            run.font.size = Pt(size)
    fmt = p.paragraph_format
    if align is not None:
        fmt.alignment = align
    if indent is not None and style in (None, "Normal", "Body Text"):
        fmt.first_line_indent = Cm(indent)
    if after is not None:
        fmt.space_after = Pt(after)
    return p


def _rule(cell, width_mm: float, cell_mm: float) -> None:
    """A short line under the line above, centred (NĐ 30: the line under an office name or the motto)."""
    p = cell.add_paragraph()
    side = Mm((cell_mm - width_mm) / 2)
    p.paragraph_format.left_indent = p.paragraph_format.right_indent = side
    p.paragraph_format.space_before, p.paragraph_format.space_after = Pt(1), Pt(4)
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        top.set(qn(key), value)
    borders.append(top)
    p._p.get_or_add_pPr().append(borders)
    run = p.add_run()
    run.font.size = Pt(2)


def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    table._tbl.tblPr.append(borders)


def _widths(table, widths_mm: list[float]) -> None:
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=False):
            cell.width = Mm(width)
    grid = table._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_mm, strict=False):
        col.set(qn("w:w"), str(int(Mm(width).twips)))


def _cell(cell, text: str, bold=False, align=None) -> None:
    p = cell.paragraphs[0]
    p.style = "Ô bảng"
    if align is not None:
        p.paragraph_format.alignment = align
    run = p.add_run(text)
    run.bold = bold


def _repeat_header(row) -> None:
    trPr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trPr.append(el)


def _cant_split(row) -> None:
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def _data_table(doc, width_mm: float, columns: list[tuple[str, float, str, str]], loop: str):
    """A table: header row, then `{%tr for … %}` / one row of placeholders / `{%tr endfor %}`.
    columns: (header, share of the width in %, placeholder or '' , alignment 'l'/'c'/'r')."""
    widths = [width_mm * share / 100 for _, share, _, _ in columns]
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = "Bảng số liệu"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, widths)
    aligns = {"l": WD_ALIGN_PARAGRAPH.LEFT, "c": WD_ALIGN_PARAGRAPH.CENTER, "r": WD_ALIGN_PARAGRAPH.RIGHT}
    for i, (head, _, value, align) in enumerate(columns):
        _cell(table.cell(0, i), head, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
        _cell(table.cell(2, i), value, align=aligns[align])
        if align != "l":  # codes aside, what is not left-aligned is a number, a date or a badge: never wrapped
            table.cell(2, i)._tc.get_or_add_tcPr().append(OxmlElement("w:noWrap"))
    _cell(table.cell(1, 0), "{%tr for s in " + loop + " %}")
    _cell(table.cell(3, 0), "{%tr endfor %}")
    _repeat_header(table.rows[0])
    for row in table.rows:  # a row never splits across pages
        _cant_split(row)
    return table


def _appendix_head(doc, number: str, title: str, page_break: bool) -> None:
    p = _para(doc, f"Phụ lục {number}", style="Phụ lục")
    p.paragraph_format.page_break_before = page_break
    _para(doc, title, style="Phụ lục")
    _para(doc, "(Kèm theo Báo cáo {{ date_words }} của {{ office.office_short }})", align=WD_ALIGN_PARAGRAPH.CENTER,
          italic=True, after=8)


def build(out: Path) -> None:
    doc = Document()
    _styles(doc)
    core = doc.core_properties
    core.title, core.author, core.subject = "Báo cáo", "{{ office.office_short }}", "{{ subject_text }}"
    core.comments, core.keywords, core.last_modified_by, core.revision = "", "", "", 1
    from datetime import datetime

    core.created = core.modified = datetime(2026, 1, 1)
    first = doc.sections[0]
    _page(first, landscape=False)
    first.different_first_page_header_footer = True
    header = first.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    header._p.append(field)
    first.first_page_header.paragraphs[0].text = ""

    # Header block: issuing body | national title and motto, place and date.
    block = doc.add_table(rows=1, cols=2)
    _no_borders(block)
    left_mm, right_mm = 72, PORTRAIT_WIDTH - 72
    _widths(block, [left_mm, right_mm])
    left, right = block.cell(0, 0), block.cell(0, 1)
    center = WD_ALIGN_PARAGRAPH.CENTER
    left.paragraphs[0].alignment = center
    left.paragraphs[0].add_run("{{ office.authority|upper }}").font.size = Pt(12)
    _para(left, "{{ office.office|upper }}", align=center, bold=True, size=12)
    _rule(left, 24, left_mm)
    _para(left, "{{ office.document_number }}", align=center, size=13)
    right.paragraphs[0].alignment = center
    r = right.paragraphs[0].add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    r.bold, r.font.size = True, Pt(12)
    _para(right, "Độc lập - Tự do - Hạnh phúc", align=center, bold=True, size=13)
    _rule(right, 58, right_mm)
    _para(right, "{{ place_date }}", align=center, italic=True, size=13)

    _para(doc, "", after=6)
    _para(doc, "BÁO CÁO", align=center, bold=True, size=14)
    _para(doc, "{%p for line in subject_lines %}")
    _para(doc, "{{ line }}", align=center, bold=True, size=14)
    _para(doc, "{%p endfor %}")
    rule = doc.add_table(rows=1, cols=1)
    _no_borders(rule)
    rule.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(rule, [PORTRAIT_WIDTH])
    rule.cell(0, 0).paragraphs[0].paragraph_format.space_after = Pt(0)
    _rule(rule.cell(0, 0), 40, PORTRAIT_WIDTH)

    _para(doc, "{{p intro }}")
    _para(doc, "{%p for section in sections %}")
    _para(doc, "{{ section.number }}. {{ section.title|upper }}", style="Heading 1")
    _para(doc, "{{p section.body }}")
    _para(doc, "{%p endfor %}")

    # Closing: Nơi nhận | signature.
    closing = doc.add_table(rows=1, cols=2)
    _no_borders(closing)
    _widths(closing, [PORTRAIT_WIDTH / 2, PORTRAIT_WIDTH / 2])
    to, sign = closing.cell(0, 0), closing.cell(0, 1)
    r = to.paragraphs[0].add_run("Nơi nhận:")
    r.bold, r.italic, r.font.size = True, True, Pt(12)
    _para(to, "{%p for recipient in office.recipients %}")
    _para(to, "- {{ recipient }};", size=11)
    _para(to, "{%p endfor %}")
    _para(to, "- Lưu: VT.", size=11)
    sign.paragraphs[0].add_run("{%p for line in office.signer_title %}")  # the title level with "Nơi nhận:"
    _para(sign, "{{ line }}", align=center, bold=True)
    _para(sign, "{%p endfor %}", align=center)
    for _ in range(4):
        _para(sign, "", align=center)
    _para(sign, "{{ office.signer_name }}", align=center, bold=True)
    _cant_split(closing.rows[0])  # the signature block is never cut by a page break

    # Phụ lục I and II: landscape.
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _page(section, landscape=True)
    section.different_first_page_header_footer = False
    _appendix_head(doc, "I", "BẢNG XẾP HẠNG CHUNG CÁC TRƯỜNG", page_break=False)
    _data_table(doc, LANDSCAPE_WIDTH, [
        ("Hạng", 5, "{{ s.rank }}", "r"), ("Mã", 11, "{{ s.code }}", "l"), ("Tên trường", 21, "{{ s.name }}", "l"),
        ("Cấp học", 9, "{{ s.level }}", "c"), ("Xã, phường", 15, "{{ s.ward }}", "l"),
        ("Ngày gửi", 9, "{{ s.date }}", "c"), ("Tình trạng", 10, "{{ s.state }}", "c"),
        ("Kết quả", 7, "{{ s.verdict }}", "c"), ("Điểm", 5, "{{ s.score }}", "r"),
        ("Xếp loại", 8, "{{ s.grade }}", "c")], "ranking.rows")
    _appendix_head(doc, "II", "BẢNG XẾP HẠNG THEO CẤP HỌC", page_break=True)
    _para(doc, "{%p for level in levels %}")
    _para(doc, "{{ loop.index }}. {{ level.name }} ({{ level.count }} trường)", style="Heading 2")
    _data_table(doc, LANDSCAPE_WIDTH, [
        ("Hạng", 5, "{{ s.rank }}", "r"), ("Mã", 11, "{{ s.code }}", "l"), ("Tên trường", 31, "{{ s.name }}", "l"),
        ("Xã, phường", 18, "{{ s.ward }}", "l"), ("Tình trạng", 11, "{{ s.state }}", "c"),
        ("Kết quả", 8, "{{ s.verdict }}", "c"), ("Điểm", 6, "{{ s.score }}", "r"),
        ("Xếp loại", 10, "{{ s.grade }}", "c")], "level.rows")
    _para(doc, "{%p endfor %}")

    # Phụ lục III: portrait.
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _page(section, landscape=False)
    _appendix_head(doc, "III", "KẾT QUẢ THEO XÃ, PHƯỜNG", page_break=False)
    _para(doc, "Mục tiêu: ít nhất {{ ward_target }} số trường trên địa bàn đạt tiêu chuẩn. {{ wards_reaching }}/"
               "{{ wards|length }} xã, phường đạt mục tiêu.", after=4)
    _data_table(doc, PORTRAIT_WIDTH, [
        ("TT", 7, "{{ s.number }}", "r"), ("Xã, phường", 35, "{{ s.ward }}", "l"),
        ("Số trường", 12, "{{ s.expected }}", "r"), ("Đã gửi", 12, "{{ s.submitted }}", "r"),
        ("Đạt", 10, "{{ s.dat }}", "r"), ("Tỷ lệ đạt", 12, "{{ s.share }}", "r"),
        ("Mục tiêu {{ ward_target }}", 12, "{{ s.reaches }}", "c")], "wards")

    # Phụ lục IV: landscape, one column per criterion.
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _page(section, landscape=True)
    _appendix_head(doc, "IV", "KẾT QUẢ TỪNG TIÊU CHÍ CỦA CÁC TRƯỜNG", page_break=False)
    _para(doc, "{{p matrix }}")

    # Phụ lục V: portrait.
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _page(section, landscape=False)
    _appendix_head(doc, "V", "PHƯƠNG PHÁP ĐÁNH GIÁ", page_break=False)
    _para(doc, "{{p method }}")
    doc.save(out)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(OUT if len(sys.argv) == 1 else sys.argv[1])
