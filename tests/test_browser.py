"""Issue 6 item 7: the rendered report opened from disk in a real browser (headless Chromium, Debian's `chromium`,
which `make test` installs when missing; Playwright drives it and downloads nothing).

Two real runs through the pipeline's stages write their output folders: the demo sheet's annual cycle 2026-Y, whose
previous cycle 2026-H1 ran first into the same folder (so every section of the report is there), and a small
2026-H1 run whose registry and answers carry markup. Screenshots for people to look at go to `tests/artifacts/`
(ignored by git).
"""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pypdf
import pytest
from conftest import REPO, Sheet, run_stages
from playwright.sync_api import Browser, Page, sync_playwright

from antt.config import load_config
from antt.demo.build import write_demo_sheet
from antt.intake.registry import load_registry
from antt.outputs.pdf import write_pdf

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
# A4 minus the report's @page side margins (25 mm + 15 mm) in CSS pixels: the width the print layout gets.
PRINT_WIDTH = round((210 - 25 - 15) / 25.4 * 96)


# ---------------------------------------------------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def browser() -> Browser:
    """One headless Chromium, the system one, never a downloaded build. Module-scoped, so launched once: while
    Playwright's sync API is open it leaves its event loop marked as running in this thread, and any later test
    calling `asyncio.run()` (Prefect flows) would fail."""
    executable = shutil.which("chromium")
    assert executable, "headless Chromium is missing: `make system-deps` installs Debian's `chromium` package"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@dataclass
class Opened:
    """A page opened from disk, with everything it did while loading and afterwards."""

    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No console error, no uncaught exception, no dialog, and no request but the file itself (or a `data:` URI),
        and for a scorecard its cycle's shared stylesheet: the page needs nothing from the network, and nothing from
        disk beyond its cycle folder's style.css."""
        assert self.requests[:1] == [self.url], self.requests
        own = {self.url}
        if "/schools/" in self.url:  # scorecards link ../style.css (one stylesheet for the cycle's pages on disk)
            own.add(self.url.rsplit("/schools/", 1)[0] + "/style.css")
        foreign = [u for u in self.requests if u not in own and not u.startswith("data:")]
        assert (self.errors, self.dialogs, foreign) == ([], [], []), self.url


@pytest.fixture
def open_page(browser):
    """`open_page(path, width=1280)`: the file in a fresh context of the given width, load finished."""
    contexts = []

    def _open(path: Path, width: int = 1280, height: int = 900) -> Opened:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN",
                                      timezone_id="Asia/Ho_Chi_Minh", java_script_enabled=True)
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page, path.resolve().as_uri())
        page.on("request", lambda r: opened.requests.append(r.url))
        page.on("console", lambda m: opened.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (opened.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.goto(opened.url, wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")  # any web font would have been requested by now
        return opened

    yield _open
    for context in contexts:
        context.close()


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    return path


# ------------------------------------------------------------------------------------------------------------- runs

def _write_run(source: Path, schools: Path, out: Path, cycle_id: str) -> Path:
    """`antt run`'s stages, without the engine, into `out/<cycle>/`."""
    return run_stages(source, REPO / "config", out, cycle_id, schools).write()


@pytest.fixture(scope="module")
def annual(tmp_path_factory) -> Path:
    """The demo sheet's 2026-H1 then 2026-Y into one output folder: the annual report compares with H1."""
    tmp = tmp_path_factory.mktemp("browser-demo")
    config = load_config(REPO / "config")
    schools = REPO / "config" / "schools.csv"
    source = write_demo_sheet(tmp / "responses.csv", config, load_registry(schools, config.form.levels),
                              ["2026-H1", "2026-Y"])
    _write_run(source, schools, tmp / "out", "2026-H1")
    return _write_run(source, schools, tmp / "out", "2026-Y")


HOSTILE_REGISTRY = f"""school_code,school_name,level,ward,emails
MN01,Trường Mầm non {SCRIPT},MN,phường Hà An,mn01@truong.example.org
TH01,Trường Tiểu học Hà An,TH,phường Hà An,th01@truong.example.org
THCS01,Trường THCS Yên Giang,THCS,phường Yên Giang,thcs01@truong.example.org
TH02,Trường Tiểu học Yên Giang,TH,phường Yên Giang,th02@truong.example.org
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A run whose registry names a school `Trường Mầm non <script>…` and whose schools typed markup in free-text
    answers (G2 difficulties and proposals, A2 reporter's name, A3 position)."""
    tmp = tmp_path_factory.mktemp("browser-hostile")
    schools = tmp / "schools.csv"
    schools.write_text(HOSTILE_REGISTRY, encoding="utf-8")
    config = load_config(REPO / "config")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    sheet.add("MN01", G2=SCRIPT, A3=IMG)
    sheet.add("TH01", G2=SCRIPT, D2="1")
    sheet.add("THCS01", at="12/6/2026 9:00:00", email="nguoi.la@gmail.com", A2=SCRIPT)  # an unregistered sender
    return _write_run(sheet.write_csv(tmp / "responses.csv"), schools, tmp / "out", "2026-H1")


def _ranking(folder: Path) -> list[dict]:
    with open(folder / "ranking.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------------------------------ tests

def test_report_loads_from_disk_with_no_console_error_and_no_network_request(annual, open_page):
    opened = open_page(annual / "report.html")
    page = opened.page
    assert page.title().startswith("Báo cáo tổng kết năm 2026-Y")
    opened.assert_clean()  # no font, style, script or image fetched
    # nothing that could load later either: no script, frame, image or stylesheet link in the document
    assert page.evaluate("document.querySelectorAll('script, iframe, img, link[rel=stylesheet], object').length") == 0
    _screenshot(page, "report-1280.png")


def test_report_has_every_section_visible(annual, open_page):
    page = open_page(annual / "report.html").page
    headings = [" ".join(h.split()) for h in page.locator("h2").all_inner_texts()]
    assert headings == [
        "1. Tổng quan", "2. Xếp hạng chung", "3. Xếp hạng theo cấp học",
        "4. Kết quả từng tiêu chí “An toàn về an ninh, trật tự”", "5. Kết quả theo xã, phường",
        "6. Trường chưa gửi, gửi muộn", "7. Trường cần quan tâm", "8. So sánh với kỳ trước (2026-H1)",
        "Phụ lục: Phương pháp đánh giá",
    ]
    for h in page.locator("h2").all():
        assert h.is_visible(), h.inner_text()

    def visible(selector: str, minimum: int = 1) -> int:
        found = page.locator(selector)
        n = found.count()
        assert n >= minimum, f"{selector}: {n} found, expected at least {minimum}"
        assert all(found.nth(i).is_visible() for i in range(n)), f"{selector}: not all visible"
        box = found.first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, selector
        return n

    rows = _ranking(annual)
    schools_by_status = {s: sum(r["status"] == s for r in rows) for s in ("submitted", "needs_correction", "missing")}
    assert all(schools_by_status.values())  # the demo has schools in every state: every list below has rows
    # header: issuing body and national motto side by side, title, date
    visible("header.official")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page.locator("header.official").inner_text()
    assert page.locator("h1").inner_text() == "BÁO CÁO TỔNG KẾT NĂM"
    # KPI strip: five KPIs, each compared with 2026-H1
    assert visible(".kpis .kpi") == 5
    assert page.locator(".kpis .kpi .delta").count() == 5
    assert page.locator(".kpis .kpi .value").first.inner_text() == str(len(rows))
    visible(".stack > span", 3)
    visible(".bars .bar")
    # overall ranking: every school, in ranking.csv's order
    ranked = page.locator("table.ranking tbody tr")
    assert ranked.count() == len(rows)
    assert ranked.locator("td.name a").all_inner_texts() == [r["school_name"] for r in rows]
    # rankings per level: one table per level present, together every school
    levels = sorted({r["level"] for r in rows})
    level_section = page.locator("section", has=page.locator("h2", has_text="3. Xếp hạng theo cấp học"))
    assert level_section.locator("h3").count() == len(levels)
    assert level_section.locator("table tbody tr").count() == len(rows)
    # heat map: one row per school with a counted report, one cell per criterion
    scored = schools_by_status["submitted"]
    assert visible("table.heat tbody tr") == scored
    criteria = page.locator("table.heat thead th.center").count()
    assert criteria >= 5 and page.locator("table.heat tbody td.cell").count() == scored * criteria
    # wards, missing / late, needing attention, changes since H1
    wards = {r["ward"] for r in rows}
    ward_section = page.locator("section", has=page.locator("h2", has_text="5. Kết quả theo xã, phường"))
    assert ward_section.locator("tbody tr").count() == len(wards)
    missing_section = page.locator("section", has=page.locator("h2", has_text="6. Trường chưa gửi"))
    assert missing_section.locator("table").first.locator("tbody tr").count() == schools_by_status["missing"]
    assert page.locator(".attention").count() == sum(
        r["status"] == "needs_correction" or r["verdict"] == "chua_dat" for r in rows)
    visible(".attention")
    changes = page.locator("section", has=page.locator("h2", has_text="8. So sánh với kỳ trước"))
    assert changes.locator("tbody tr").count() > len(rows) // 2
    assert changes.locator("tbody tr td.num", has_text=re.compile(r"^\+")).count() > 0  # some improved
    # signature block, method annex tables, footer
    visible(".signature .signer .name")
    annex = page.locator("section.annex")
    assert annex.locator("h3").count() == 7 and annex.locator("table").count() >= 3
    visible("footer.meta")


def test_report_fits_a_390_px_phone_without_horizontal_scrolling(annual, open_page):
    opened = open_page(annual / "report.html", width=390, height=844)
    page = opened.page
    opened.assert_clean()
    width, scroll = page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
    sticking_out = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > innerWidth + 1)
        .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 40)}`)""")
    assert width == 390 and scroll <= width + 1, f"page is {scroll} px wide at {width} px: {sticking_out}"
    assert sticking_out == []
    # wide tables scroll inside their own box instead
    assert page.evaluate("""[...document.querySelectorAll('.table-wrap')]
        .some(w => w.scrollWidth > w.clientWidth && getComputedStyle(w).overflowX === 'auto')""")
    # every bar chart keeps room for its bars next to the labels (the criteria's labels are long)
    bars = page.eval_on_selector_all(".bars .bar", "bs => bs.map(b => b.getBoundingClientRect().width)")
    assert len(bars) >= 8 and min(bars) >= 60, f"bar widths at 390 px: {bars}"
    # the official header stacks: the national motto below the issuing body
    org, nation = (page.locator(f"header.official .{c}").bounding_box() for c in ("org", "nation"))
    assert nation["y"] >= org["y"] + org["height"] - 1
    _screenshot(page, "report-390.png")


def test_scorecard_loads_cleanly_and_fits_a_phone(annual, open_page):
    rows = _ranking(annual)
    code = next(r["school_code"] for r in rows if r["verdict"] == "chua_dat")  # has fixes to show
    opened = open_page(annual / "schools" / f"{code}.html")
    page = opened.page
    opened.assert_clean()
    assert page.locator("h1").inner_text() == "PHIẾU KẾT QUẢ CỦA TRƯỜNG"
    name = next(r["school_name"] for r in rows if r["school_code"] == code)
    assert page.locator("p.subtitle").inner_text() == name
    assert page.locator("h2", has_text="Việc cần khắc phục").is_visible()
    assert page.locator(".badge.v-chua_dat").first.is_visible()
    # the shared stylesheet loaded and applies: the badge has its colour, not the browser's default
    assert page.eval_on_selector(".badge.v-chua_dat", "e => getComputedStyle(e).backgroundColor") != \
        "rgba(0, 0, 0, 0)"
    assert page.locator("a", has_text="Báo cáo tổng hợp").get_attribute("href") == "../report.html"
    _screenshot(page, "scorecard-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391


def test_print_emulation_uses_the_print_styles(annual, open_page):
    opened = open_page(annual / "report.html", width=PRINT_WIDTH)
    page = opened.page

    def style(selector: str, prop: str) -> str:
        return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")

    assert style(".table-wrap", "overflowX") == "auto"
    page.emulate_media(media="print")
    assert page.evaluate("matchMedia('print').matches")
    assert style("body", "backgroundColor") == "rgb(255, 255, 255)"
    assert style("body", "fontSize") == "14.6667px"  # 11pt
    assert style(".page", "paddingLeft") == "0px"
    assert style("table.ranking", "fontSize") == "11.3333px"  # 8.5pt
    # table headers repeat on every printed page
    assert set(page.eval_on_selector_all("thead", "ts => ts.map(t => getComputedStyle(t).display)")) \
        == {"table-header-group"}
    assert style("tfoot", "display") == "table-footer-group"
    # tables print whole rather than scroll, and every one fits between the A4 margins
    wraps = page.eval_on_selector_all(".table-wrap", """ws => ws.map(w => [getComputedStyle(w).overflowX,
        w.querySelector('table').getBoundingClientRect().right - w.getBoundingClientRect().right])""")
    assert {overflow for overflow, _ in wraps} == {"visible"}
    assert max(past for _, past in wraps) <= 1, f"tables wider than the printed page: {wraps}"
    assert set(page.eval_on_selector_all(".break-before", "ss => ss.map(s => getComputedStyle(s).breakBefore)")) \
        == {"page"}  # ranking, criteria and annex each start a printed page
    assert style("table.ranking tbody tr", "breakInside") == "avoid"
    opened.assert_clean()
    _screenshot(page, "report-print.png")


def test_script_in_free_text_and_school_name_shows_as_text(hostile, open_page):
    report = open_page(hostile / "report.html")
    card = open_page(hostile / "schools" / "MN01.html")
    quality = open_page(hostile / "data_quality.html")
    for opened in (report, card, quality):
        page = opened.page
        opened.assert_clean()  # no alert() ran, no <img src=x> was fetched
        assert page.evaluate("document.querySelectorAll('script, img').length") == 0, opened.url
    # the registry's school name: the literal text, in the ranking and on the scorecard's title
    name = f"Trường Mầm non {SCRIPT}"
    assert report.page.locator("table.ranking td.name a").first.inner_text() == name
    assert report.page.get_by_text(name, exact=True).first.is_visible()
    assert card.page.locator("p.subtitle").inner_text() == name
    # the school's free-text answers, read back as typed in the counted answers table
    answers = {r[0]: r[2] for r in (row.locator("td").all_inner_texts() for row in
                                    card.page.locator("table tr", has=card.page.locator("td")).all()) if len(r) == 3}
    assert answers["G2"] == SCRIPT and "A3" not in answers  # who filled the form: the analyst's page only
    assert card.page.get_by_text(SCRIPT, exact=True).is_visible()
    other = open_page(hostile / "schools" / "THCS01.html")
    other.assert_clean()
    # A2, THCS01's reporter's name, is shown as typed where the analyst finds whom to call about its sender
    assert quality.page.get_by_text(SCRIPT).first.is_visible()


def _pdf_section(pdf: Path, start: str, end: str) -> str:
    """The PDF's text from heading `start` to heading `end`, whitespace collapsed; reads only the pages needed."""
    text = ""
    for page in pypdf.PdfReader(pdf).pages:
        text += " " + " ".join((page.extract_text() or "").split())
        if start in text and end in text[text.index(start):]:
            at = text.index(start)
            return text[at:text.index(end, at)]
    raise AssertionError(f"no section {start!r} … {end!r} in {pdf}")


def test_pdf_has_as_many_ranked_rows_as_ranking_csv(annual):
    config = load_config(REPO / "config")
    rows = _ranking(annual)
    assert 10 < len(rows) <= config.office.report_full_ranking_max  # the report lists every school
    pdf = write_pdf((annual / "report.html").read_text(encoding="utf-8"), annual / "report.pdf", annual)
    section = _pdf_section(pdf, "2. Xếp hạng chung", "3. Xếp hạng theo cấp học")
    # one status badge per ranked row (the column header is "Tình trạng")
    status = {"submitted": "Đã gửi", "needs_correction": "Cần chỉnh sửa", "missing": "Chưa gửi"}
    badges = len(re.findall("|".join(status.values()), section))
    assert badges == len(rows), f"{badges} ranked rows in the PDF, {len(rows)} in ranking.csv"
    # and every row of ranking.csv, in its order: rank, school, level, ward, status
    at = 0
    for r in rows:
        row = f"{r['rank_overall']} {r['school_name']} {config.office.level_names[r['level']]} {r['ward']} " \
              f"{status[r['status']]}"
        found = section.find(row, at)
        assert found >= 0, f"ranked row not found in the PDF after position {at}: {row!r}"
        at = found + len(row)
    assert section.count("Hạng Trường Cấp học") >= 2  # the table spans pages and its header repeats
