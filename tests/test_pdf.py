"""Issue 6 item 2: `report.pdf` from a real run's `report.html`, A4, Vietnamese glyphs embedded."""

from __future__ import annotations

import csv
import time

import pytest
from conftest import REPO, run_stages

pytest.importorskip("weasyprint", reason="WeasyPrint (and Pango) are needed for report.pdf")
pypdf = pytest.importorskip("pypdf")

from antt.outputs.pdf import write_pdf  # noqa: E402


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, config, registry):
    """A small real run (pipeline stages, no engine) and its report printed to PDF."""
    from conftest import Sheet

    tmp = tmp_path_factory.mktemp("pdf")
    sheet = Sheet(config, registry)
    codes = registry["school_code"].tolist()
    for code in codes[:4]:
        sheet.add(code)
    sheet.add(codes[4], at="12/6/2026 9:00:00", D2="1")  # late, and failing a criterion
    src = sheet.write_csv(tmp / "responses.csv")
    folder = run_stages(src, REPO / "config", tmp / "out").write()
    started = time.perf_counter()
    pdf = write_pdf((folder / "report.html").read_text(encoding="utf-8"), folder / "report.pdf", folder)
    return folder, pdf, time.perf_counter() - started


def _text(pdf) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(pdf).pages)


def test_pdf_is_written_next_to_the_report_as_a4(rendered):
    folder, pdf, seconds = rendered
    assert pdf == folder / "report.pdf" and pdf.read_bytes().startswith(b"%PDF-")
    assert not list(folder.glob(".report.pdf.*"))  # no temporary file left behind
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) >= 2
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.3) < 1.5 and abs(float(box.height) - 841.9) < 1.5  # A4 in points
    print(f"report.pdf: {pdf.stat().st_size} bytes, {len(reader.pages)} pages, {seconds:.1f}s")


def test_pdf_text_has_the_vietnamese_header_and_school_names(rendered):
    folder, pdf, _ = rendered
    text = _text(pdf)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO" in text
    with open(folder / "ranking.csv", encoding="utf-8") as fh:
        names = [row["school_name"] for row in csv.DictReader(fh)]
    flat = " ".join(text.split())
    assert names[0] in flat and any(n in flat for n in names if n != names[0])


def test_pdf_fonts_are_embedded(rendered):
    _, pdf, _ = rendered
    fonts = {}
    for page in pypdf.PdfReader(pdf).pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:  # Type0 (CID) fonts
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            fonts[str(font.get("/BaseFont"))] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts, "no fonts in the PDF"
    assert all(fonts.values()), f"fonts not embedded: {[f for f, ok in fonts.items() if not ok]}"


def test_write_pdf_replaces_an_existing_file(tmp_path):
    dest = tmp_path / "r" / "report.pdf"
    html = "<html><body><p>Trường Tiểu học Hà An – Độc lập – Tự do – Hạnh phúc</p></body></html>"
    write_pdf(html, dest, tmp_path)
    first = dest.stat().st_size
    write_pdf(html.replace("Hà An", "Yên Giang, Cẩm La, Phong Cốc"), dest, tmp_path)
    assert dest.stat().st_size != first
    assert "Yên Giang, Cẩm La, Phong Cốc" in _text(dest)


def _cli(*args: str):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))} | {"NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "antt", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)


def test_cli_report_pdf_writes_report_pdf_next_to_the_html(rendered, tmp_path):
    import shutil

    folder, _, _ = rendered
    out = tmp_path / "out"
    shutil.copytree(folder, out / "2026-H1")
    shutil.copy2(folder.parent / "history.sqlite", out / "history.sqlite")  # the report is rendered from it
    (out / "2026-H1" / "report.pdf").unlink()
    proc = _cli("report", "--cycle", "2026-H1", "--out", str(out), "--pdf")
    assert proc.returncode == 0, proc.stderr
    pdf = out / "2026-H1" / "report.pdf"
    assert proc.stdout.strip().splitlines()[-1] == str(pdf.resolve())
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in _text(pdf)
    missing = _cli("report", "--cycle", "2025-Y", "--out", str(out), "--pdf")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "2025-Y" in missing.stderr
