"""`report.docx`: the official report as an editable Word file, rendered with docxtpl from a Word template.

Why docxtpl: the template is an ordinary .docx the office opens in Word. Its header block, signature, fixed
wording, tables and styles are the office's to change there, and its placeholders (Jinja tags typed into the text)
are filled on every run; python-docx alone would build the document in code, leaving the office only the styles.
The template is `config/report.docx` when the office has one, else the packaged `report_templates/report.docx`
(built by `tools/report_template.py`); a run never writes to either, so changes made in Word survive every run.

Context (every placeholder a template may use): `office` (office.yaml), `place_date`, `date_words` (the date line,
`_labels.j2`'s OFFICIAL_DATE), `subject_lines`, `subject_text`, `intro`, `sections` (each: number, title, body),
`ranking`, `levels` (each: name, count, rows), `wards`, `wards_reaching`, `ward_target`, `matrix`, `method`. Row
fields are those of `antt.outputs.official`. `intro`, each section's body, `matrix` and `method` are subdocuments
(`{{p … }}`): paragraphs in the template's styles "Body Text", "Heading 2" and the review style (sections written
from the data rather than by the office, to review before signing), tables in the table style with cells in the cell
style: the Word file's own style names, `_labels.j2`'s WORD_STYLES.

Everything that came from the sheet, the registry or the notes arrives as a value: docxtpl's autoescape escapes it
for XML and Jinja never reads it as a tag. The template renders in a sandboxed environment with the pages' filters
and undefined names as errors (`antt.outputs.render.word_environment`); a template without a placeholder the report
needs is a one-line error naming it.
"""

from __future__ import annotations

import io
import re
import zipfile
from copy import deepcopy
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from lxml import html as lxml_html

from antt.config import Config
from antt.errors import ConfigError
from antt.i18n import _
from antt.outputs.render import labels, word_environment

PACKAGED = Path(__file__).resolve().parent.parent / "report_templates" / "report.docx"
# What the report cannot do without: a template missing one of these would silently drop a part of the report.
REQUIRED = ("sections", "ranking", "levels", "wards", "matrix", "method")
# The template's own style names (report_templates/report.docx, made by tools/report_template.py): identifiers
# shared with the Word file; the office's language names the ones it added.
BODY, HEADING = "Body Text", "Heading 2"
REVIEW, CELL, TABLE = (labels().WORD_STYLES[key] for key in ("review", "cell", "table"))
# Characters XML 1.0 cannot hold, and the ones docxtpl would read as a line or page break inside a value.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def template_path(config: Config) -> Path:
    """The office's template (`config/report.docx`) when there is one, else the packaged one."""
    own = config.root / "report.docx"
    return own if own.is_file() else PACKAGED


def render_docx(official: dict, config: Config) -> bytes:
    """The official report (`antt.outputs.official.official_report`) as .docx bytes; the same input gives the same
    bytes."""
    from docxtpl import DocxTemplate

    path = template_path(config)
    try:
        tpl = DocxTemplate(path)
        env = word_environment()
        declared = tpl.get_undeclared_template_variables(jinja_env=env)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(_("{path}: not a Word template (.docx) ({reason})").format(path=path, reason=exc)) from None
    except TemplateError as exc:
        raise ConfigError(_("{path}: broken placeholder: {reason}").format(path=path, reason=exc.message)) from None
    missing = [name for name in REQUIRED if name not in declared]
    if missing:
        raise ConfigError(_("{path}: the placeholder {{{{ {name} }}}} is missing; the report needs it")
                          .format(path=path, name=missing[0]))
    try:
        tpl.render(context(official, tpl), jinja_env=env, autoescape=True)
    except TemplateError as exc:
        raise ConfigError(_("{path}: placeholder error: {reason}").format(path=path, reason=exc.message)) from None
    buffer = io.BytesIO()
    tpl.save(buffer)
    return _stable_zip(buffer.getvalue())


def context(official: dict, tpl) -> dict[str, Any]:
    """The template's context: the official content with its HTML fragments as subdocuments, every text cleaned
    of what XML cannot hold."""
    last = len(official["sections"]) - 1
    sections = [{"number": s["number"], "title": _clean(s["title"]),
                 "body": _subdoc(tpl, s["body"], review=s["review"], keep_with_next=i == last)}
                for i, s in enumerate(official["sections"])]
    return _cleaned({
        "office": official["office"].model_dump(), "place_date": official["place_date"],
        "date_words": official["date_words"],
        "subject_lines": official["subject"].splitlines(), "subject_text": " ".join(official["subject"].split()),
        "ranking": official["ranking"], "levels": official["levels"], "wards": official["wards"],
        "wards_reaching": str(official["wards_reaching"]), "ward_target": official["ward_target"],
    }) | {"intro": _subdoc(tpl, official["intro"]), "sections": sections,
          "matrix": _subdoc(tpl, official["matrix"], landscape=True), "method": _subdoc(tpl, official["method"])}


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- HTML → Word

def _subdoc(tpl, fragment: str, review: bool = False, landscape: bool = False, keep_with_next: bool = False):
    """An HTML fragment of the official report's vocabulary (see `_official.html.j2`) as a docxtpl subdocument in
    the template's styles. Text is taken from the parsed tree, so entities arrive decoded and nothing is markup.
    `keep_with_next`: the last paragraph stays on the page of what follows (the body's end with the signature)."""
    sub = tpl.new_subdoc()
    width_mm = (297 if landscape else 210) - 30 - 15
    root = lxml_html.fragment_fromstring(str(fragment), create_parent="div")
    for el in root:
        _block(sub, el, REVIEW if review else BODY, width_mm)
    if keep_with_next and sub.paragraphs:
        sub.paragraphs[-1].paragraph_format.keep_with_next = True
    return sub


def _block(sub, el, style: str, width_mm: float) -> None:
    tag = el.tag
    if tag == "p":
        _runs(sub.add_paragraph(style=style), el)
    elif tag == "h3":
        _runs(sub.add_paragraph(style=HEADING), el)
    elif tag in ("ul", "ol"):
        for number, li in enumerate(el.findall("li"), start=1):
            p = sub.add_paragraph(style=style)
            p.add_run(f"{number}. " if tag == "ol" else "- ")
            _runs(p, li)
    elif tag == "table":
        _table(sub, el, width_mm)


def _runs(paragraph, el, bold: bool = False, italic: bool = False) -> None:
    """The element's text as runs: bold inside <strong>/<b>, italic inside <em>/<i>, a line break for <br>."""
    if el.text:
        _run(paragraph, el.text, bold, italic)
    for child in el:
        if child.tag == "br":
            paragraph.add_run().add_break()
        elif child.tag == "p":  # a loose list item's paragraph
            _runs(paragraph, child, bold, italic)
        else:
            _runs(paragraph, child, bold or child.tag in ("strong", "b"), italic or child.tag in ("em", "i"))
        if child.tail:
            _run(paragraph, child.tail, bold, italic)


def _run(paragraph, text: str, bold: bool, italic: bool) -> None:
    text = _text(text)
    if text:
        run = paragraph.add_run(text)
        run.bold, run.italic = bold or None, italic or None


def _table(sub, el, width_mm: float) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    rows = el.findall(".//tr")
    widths = [float(re.search(r"[\d.]+", c.get("style", "")).group()) for c in el.findall("colgroup/col")]
    columns = len(widths) or max(sum(int(c.get("colspan", 1)) for c in r) for r in rows)
    total = sum(widths) or columns
    widths_mm = [width_mm * w / total for w in widths] if widths else [width_mm / columns] * columns
    table = sub.add_table(rows=0, cols=columns)
    table.style = TABLE
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm, strict=True):
        col.set(qn("w:w"), str(int(Mm(width).twips)))
    align = {"num": WD_ALIGN_PARAGRAPH.RIGHT, "center": WD_ALIGN_PARAGRAPH.CENTER}
    head_rows = len(el.findall("thead/tr"))
    # Built with python-docx, a cell costs about a millisecond: 15 s for the 15,000 cells of a 1,000-school matrix.
    # So each shape of row (cells, classes, spans, which are empty) is built once and copied for the next rows of
    # that shape, with their own text. The style's id is looked up once: python-docx finds a style by name through
    # every style of the template, 8 ms a cell.
    cell_style = sub.styles[CELL].style_id
    built: dict[tuple, Any] = {}
    for i, tr in enumerate(rows):
        shape = _shape(tr, header=i < head_rows)
        if shape in built:
            copied = deepcopy(built[shape])
            for t, td in zip(copied.iter(qn("w:t")), (td for td in tr if _text(td.text or "")), strict=True):
                t.text = _text(td.text)
            table._tbl.append(copied)
            continue
        row = table.add_row()
        trPr = row._tr.get_or_add_trPr()
        trPr.append(OxmlElement("w:cantSplit"))
        if i < head_rows:
            trPr.append(OxmlElement("w:tblHeader"))
        cells, col = row.cells, 0
        for td in tr:
            span = int(td.get("colspan", 1))
            cell = cells[col].merge(cells[col + span - 1]) if span > 1 else cells[col]
            cell.width = Mm(sum(widths_mm[col:col + span]))
            p = cell.paragraphs[0]
            p._p.style = cell_style
            classes = (td.get("class") or "").split()
            if td.tag == "th":
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for c in classes:
                if c in align:
                    p.alignment = align[c]
            if "nowrap" in classes or "num" in classes:
                cell._tc.get_or_add_tcPr().append(OxmlElement("w:noWrap"))
            _runs(p, td, bold=td.tag == "th")
            col += span
        if shape is not None:
            built[shape] = row._tr


def _shape(tr, header: bool) -> tuple | None:
    """What a row's Word form depends on but its text; None for a row with markup inside a cell (never copied)."""
    if any(len(td) for td in tr):
        return None
    return header, tuple((td.tag, td.get("class"), td.get("colspan"), bool(_text(td.text or ""))) for td in tr)


def _text(text: str) -> str:
    return _clean(re.sub(r"\s+", " ", text))


def _stable_zip(data: bytes) -> bytes:
    """The .docx with every member dated 1980-01-01 in a fixed order, so the same report gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            stable = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            stable.compress_type, stable.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
            dst.writestr(stable, src.read(info.filename))
    return out.getvalue()
