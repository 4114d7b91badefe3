"""docs/method.md, the scoring method for the office, is generated from config and says what the report's annex says."""

from __future__ import annotations

import html
import re
from pathlib import Path

from conftest import REPO, Sheet

from antt.config import load_config
from antt.outputs.document import build_document
from antt.outputs.html import render_method, render_report
from antt.sources.archive import ArchivedInput

METHOD = REPO / "docs" / "method.md"


def _words(text: str) -> str:
    """Text as a reader sees it: tags, Markdown emphasis and line breaks gone, entities decoded."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("**", "")
    return " ".join(text.split())


def test_committed_method_page_is_the_one_config_gives():
    """Regenerating docs/method.md from config/ gives the committed bytes; after a config edit, run `make docs`."""
    assert render_method(load_config(REPO / "config")) == METHOD.read_text(encoding="utf-8"), \
        "docs/method.md is stale: run `make docs` and commit it"


def test_method_page_says_what_the_report_annex_says(config, registry, run_core):
    """Every heading, paragraph and table cell of report.html's method annex is on the method page, word for word
    (less the cycle's own dates and the run's own corrections)."""
    sheet = Sheet(config, registry)
    sheet.add("TH01", D2="1")
    sheet.add("MN01")
    _, _, results = run_core(sheet)
    archived = ArchivedInput(sha256="0" * 64, size=1, original="responses.csv", stored=Path("responses.csv"))
    document = build_document(results, config, archived, rows_read=2, previous=None)
    report = render_report(document, config, {"started_at": "2026-06-12T09:30:00+07:00", "timings": {}})
    annex = report[report.index('<section class="break-before annex">'):]
    annex = annex[:annex.index("</section>")]
    annex = annex[:annex.index("<h3>7.")]  # the corrections this run applied: the page explains them in general
    page = _words(METHOD.read_text(encoding="utf-8"))
    blocks = re.findall(r"<(h2|h3|p|th|td)[^>]*>(.*?)</\1>", annex, flags=re.S)
    assert len(blocks) > 60
    for _, block in blocks:
        said = re.sub(r"^\d+\. ", "", _words(block))
        said = re.sub(r"\s*\(từ ngày \d\d/\d\d/\d{4}; hạn gửi trước ngày \d\d/\d\d/\d{4}\)", "", said)
        assert said in page, said


def test_method_page_follows_the_config(tmp_path):
    """A threshold, a grade band and a criterion edited in config change the page: nothing on it is written twice."""
    import shutil

    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder)
    scoring = folder / "scoring.yaml"
    scoring.write_text(scoring.read_text(encoding="utf-8").replace("ward_target_share: 0.7", "ward_target_share: 0.85")
                       .replace('label: "Khá", min: 70', 'label: "Khá", min: 75'), encoding="utf-8")
    criteria = folder / "criteria" / "tt23-2012.yaml"
    criteria.write_text(criteria.read_text(encoding="utf-8").replace("pass_share: 0.8", "pass_share: 0.9"),
                        encoding="utf-8")
    page = _words(render_method(load_config(folder)))
    assert "ít nhất 85% số trường trên địa bàn" in page
    assert "Khá | từ 75 đến dưới 90" in page and "Trung bình | từ 50 đến dưới 75" in page
    assert "đạt ít nhất 90% số tiêu chí áp dụng" in page
