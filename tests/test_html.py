"""docs/spec.md §7: the leadership report and the school scorecards, rendered from a document the real stages built."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from conftest import REPO, Sheet, run_stages

from antt.config import load_config
from antt.intake.registry import load_registry
from antt.outputs.document import build_document, previous_summary, to_json
from antt.outputs.html import (
    Scorecards,
    inline_stylesheet,
    render_report,
    render_scorecards,
    render_units,
    stylesheet,
)
from antt.pipeline import write_scorecards
from antt.text import vi_number

REGISTRY = """school_code,school_name,level,ward,emails
MN01,Trường Mầm non <script>alert(1)</script>,MN,phường Hà An,mn01@truong.example.org
TH01,Trường Tiểu học Hà An,TH,phường Hà An,th01@truong.example.org
THCS01,Trường THCS Yên Giang,THCS,phường Yên Giang,thcs01@truong.example.org
TH02,Trường Tiểu học Yên Giang,TH,phường Yên Giang,th02@truong.example.org
TH03,Trường Tiểu học Cẩm La,TH,xã Cẩm La,th03@truong.example.org
"""
RUN_AT = {"2026-H1": "2026-06-12T09:30:00+07:00", "2026-Y": "2026-11-12T14:05:00+07:00"}
# Per cycle: on time, late (the score loses half the timeliness points: 96,5), wrong sender, and one school silent.
STAMPS = {"2026-H1": ("9/6/2026 8:00:00", "12/6/2026 9:00:00"), "2026-Y": ("5/11/2026 8:00:00", "12/11/2026 9:00:00")}


def _stages(folder: Path, cycle_id: str, registry: str, fill, previous: dict | None = None) -> tuple[dict, object]:
    """The stages of `antt run` up to the document, on a CSV export that `fill(sheet)` writes in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    schools = folder / "schools.csv"
    schools.write_text(registry, encoding="utf-8")
    config = load_config(REPO / "config")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    fill(sheet)
    stages = run_stages(sheet.write_csv(folder / "responses.csv"), REPO / "config", folder / "out", cycle_id, schools)
    return build_document(stages.results, config, stages.received.archived, rows_read=stages.prepared.rows_read,
                          previous=previous), config


def _run(folder: Path, cycle_id: str, fill: bool = True, previous: dict | None = None) -> tuple[dict, object]:
    on_time, late = STAMPS[cycle_id]

    def answers(sheet: Sheet) -> None:
        if fill:
            sheet.add("MN01", at=on_time, G2="<img src=x onerror=alert(1)>")
            sheet.add("TH01", at=on_time, D2="1")
            sheet.add("THCS01", at=late)
            sheet.add("TH03", at=on_time, email="someone@gmail.com")
        else:
            sheet.add("MN01", at="9/6/2025 8:00:00")  # last year's row: another cycle, never counted

    return _stages(folder, cycle_id, REGISTRY, answers, previous)


@pytest.fixture(scope="module")
def h1(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("h1"), "2026-H1")


@pytest.fixture(scope="module")
def annual(tmp_path_factory, h1):
    folder = tmp_path_factory.mktemp("y")
    (folder / "h1.json").write_bytes(to_json(h1[0]))
    return _run(folder, "2026-Y", previous=previous_summary(folder / "h1.json"))


def _report(doc_config, cycle_id: str = "2026-H1") -> str:
    document, config = doc_config
    return render_report(document, config, {"started_at": RUN_AT[cycle_id], "timings": {"score": 0.25}})


def _cards(doc_config) -> dict[str, str]:
    return dict(render_scorecards(*doc_config))


def _school(document: dict, code: str) -> dict:
    return next(s for s in document["schools"] if s["school_code"] == code)


def test_report_has_the_official_two_column_header(h1):
    html = _report(h1)
    for line in ("UBND THỊ XÃ QUẢNG YÊN", "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 "Độc lập – Tự do – Hạnh phúc", "Quảng Yên, ngày 12 tháng 6 năm 2026"):
        assert line in html
    assert html.index("CỘNG HÒA XÃ HỘI") < html.index("BÁO CÁO SƠ KẾT 6 THÁNG")


def test_report_title_names_the_cycle_and_its_period(h1):
    html = _report(h1)
    assert "Kỳ 2026-H1: số liệu từ ngày 16/11/2025 đến ngày 15/05/2026" in html


def test_six_month_report_says_its_verdict_is_provisional(h1, annual):
    assert "KẾT QUẢ TẠM THỜI" in _report(h1)
    assert "KẾT QUẢ TẠM THỜI" in _cards(h1)["TH01"]
    assert "KẾT QUẢ TẠM THỜI" not in _report(annual, "2026-Y")
    assert "KẾT QUẢ TẠM THỜI" not in _cards(annual)["TH01"]


def test_school_name_and_answers_from_the_sheet_are_escaped(h1):
    report, card = _report(h1), _cards(h1)["MN01"]
    for html in (report, card):
        assert "<script" not in html
        assert "Trường Mầm non &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in card and "&lt;img src=x onerror=alert(1)&gt;" in card


def test_every_school_gets_a_scorecard_linked_from_the_report(h1):
    document, _ = h1
    cards = _cards(h1)
    report = _report(h1)
    assert list(cards) == [s["school_code"] for s in document["schools"]]
    for code, html in cards.items():
        assert f'href="schools/{code}.html"' in report
        assert 'href="../report.html"' in html


def test_scores_and_times_use_vietnamese_formats(h1):
    document, _ = h1
    html = _report(h1)
    assert _school(document, "THCS01")["score"] == 96.5 and "96,5" in html
    for s in document["schools"]:
        if s["score"] is not None:
            assert f'<td class="num">{vi_number(s["score"])}</td>' in html
    assert "12/06/2026 09:00" in html and "2026-06-12T" not in html


def test_report_loads_nothing_from_the_network(h1):
    # the one link a scorecard has is to the stylesheet next to it in the cycle folder
    cards = "".join(_cards(h1).values()).replace('<link rel="stylesheet" href="../style.css">', "")
    html = _report(h1) + cards + stylesheet()
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"<(?:link|script|iframe|img)\b", html, re.IGNORECASE)
    assert "@import" not in html and "url(" not in html


def test_report_prints_on_a4_with_repeated_table_headers(h1):
    html = _report(h1)
    assert "size: A4" in html and "thead { display: table-header-group; }" in html


def test_schools_needing_attention_show_failed_criteria_fixes_and_blocking_issues(h1):
    _, config = h1
    html = _report(h1)
    attention = html[html.index("Trường cần quan tâm"):html.index("Nơi nhận")]
    k6 = next(c for c in config.criteria.criteria if c.id == "K6")
    assert "Trường Tiểu học Hà An" in attention and k6.title in attention and k6.remediation in attention
    assert "Trường Tiểu học Cẩm La" in attention and "chưa được đăng ký cho trường" in attention
    assert "someone@gmail.com" not in attention  # the sender's address stays on the data-quality page
    assert "Trường THCS Yên Giang" not in attention


def test_heat_map_counts_the_schools_failing_each_criterion(h1):
    html = _report(h1)
    heat = html[html.index('<table class="heat">'):]
    heat = heat[:heat.index("</table>")]
    footer = heat[heat.index("Số trường chưa đạt"):]
    assert re.findall(r'<td class="center">(\d+)</td>', footer)[5] == "1"  # K6, failed by TH01 only


def test_ward_table_shows_the_target_share(h1):
    html = _report(h1)
    assert "ít nhất 70% số trường" in html and "phường Hà An" in html and "xã Cẩm La" in html


def test_missing_school_scorecard_says_so_with_the_deadline(h1):
    card = _cards(h1)["TH02"]
    assert "chưa gửi báo cáo" in card and "trước ngày 10/06/2026" in card


def test_scorecard_shows_failed_criterion_its_answers_and_fix(h1):
    _, config = h1
    card = _cards(h1)["TH01"]
    k6 = next(c for c in config.criteria.criteria if c.id == "K6")
    assert k6.remediation in card
    assert "D2. Số vụ bạo lực học đường — yêu cầu: 0; trường trả lời: <strong>1</strong>" in card
    assert "Chưa đạt" in card


def test_scorecard_lists_the_school_issues_with_sheet_rows(h1):
    document, _ = h1
    card = _cards(h1)["TH03"]
    mine = [i for i in document["issues"] if i["school_code"] == "TH03"]
    assert mine and all(f'<td class="num">{i["sheet_row"]}</td>' in card for i in mine)
    assert "chưa được tính" in card


def test_report_compares_with_the_previous_cycle(annual):
    html = _report(annual, "2026-Y")
    assert "So sánh với kỳ trước (2026-H1)" in html and "so với kỳ 2026-H1" in html


def test_report_without_any_submission_still_renders(tmp_path):
    document, config = _run(tmp_path, "2026-H1", fill=False)
    assert document["kpis"]["submitted"] == 0
    html = render_report(document, config, {"started_at": RUN_AT["2026-H1"], "timings": {}})
    assert "Chưa có trường nào có báo cáo được tính" in html
    assert len(dict(render_scorecards(document, config))) == len(document["schools"])


def test_footer_names_run_time_input_checksum_and_config(h1):
    document, _ = h1
    html = _report(h1)
    assert "12/06/2026 09:30" in html and document["input"]["sha256"] in html
    assert document["config"]["checksum"] in html and document["config"]["form_version"] in html


def test_templates_ship_inside_the_package():
    folder = resources.files("antt") / "report_templates"
    names = ("base.html.j2", "_macros.html.j2", "report.html.j2", "_report.html.j2", "unit.html.j2",
             "scorecard.html.j2", "_scorecard.html.j2")
    assert all((folder / name).is_file() for name in names)


# A national run: more schools than `report_full_ranking_max` (300), in three units named as people name them.
UNITS = ("Phòng GD&ĐT Đông Triều", "../x", "Phòng GD&ĐT Uông Bí")
NATIONAL = 330


def _national_registry() -> str:
    lines = ["school_code,school_name,level,ward,emails,unit"]
    for n in range(NATIONAL):
        level = ("MN", "TH", "THCS")[n % 3]
        lines.append(f"S{n:03d},Trường {level} số {n},{level},phường {n % 11} ({n % 3}),s{n}@truong.example.org,"
                     f"{UNITS[n % 3]}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """Every eighth school silent, every eighth late, every fifth reporting a school-violence case (K6 fails)."""
    on_time, late = STAMPS["2026-H1"]

    def answers(sheet: Sheet) -> None:
        for n in range(NATIONAL):
            if n % 8 != 7:
                sheet.add(f"S{n:03d}", at=late if n % 8 == 6 else on_time, **({"D2": "1"} if n % 5 == 0 else {}))

    return _stages(tmp_path_factory.mktemp("national"), "2026-H1", _national_registry(), answers)


def _full(config):
    """The same config with the threshold raised: the report as a district office gets it."""
    return config.model_copy(update={"office": config.office.model_copy(update={"report_full_ranking_max": 10_000})})


def _section(html: str, start: str, end: str) -> str:
    at = html.index(start)
    return html[at:html.index(end, at)]


def test_above_the_threshold_rankings_show_top_and_bottom_and_say_how_many_are_left_out(national):
    document, config = national
    top_bottom = config.office.report_top_bottom
    ranking = _section(_report(national), "2. Xếp hạng chung", "3. Xếp hạng theo cấp học")
    listed = re.findall(r'href="schools/([^"]+)\.html"', ranking)
    codes = [s["school_code"] for s in document["schools"]]
    assert listed == codes[:top_bottom] + codes[-top_bottom:]
    assert f"… {NATIONAL - 2 * top_bottom} trường khác" in ranking and 'href="ranking.xlsx"' in ranking


def test_above_the_threshold_the_report_is_much_smaller(national):
    document, config = national
    scaled, full = _report(national), _report((document, _full(config)))
    assert len(scaled) < 0.4 * len(full)  # at 330 schools; at 50,000 it is 0.5 MB instead of 50 MB


def test_above_the_threshold_heat_map_still_counts_failing_schools_over_all_schools(national):
    document, _ = national
    heat = _section(_report(national), '<table class="heat">', "</table>")
    footer = heat[heat.index("Số trường chưa đạt"):]
    failing_k6 = sum(s["criteria"].get("K6") is False for s in document["schools"])
    assert failing_k6 > 40 and re.findall(r'<td class="center">(\d+)</td>', footer)[5] == str(failing_k6)


def test_above_the_threshold_long_lists_are_capped_with_the_count_of_the_rest(national):
    document, config = national
    most = config.office.report_list_max
    html = _report(national)
    missing = [s for s in document["schools"] if s["status"] == "missing"]
    assert len(missing) > most
    section = _section(html, "6. Trường chưa gửi, gửi muộn", "7. Trường cần quan tâm")
    assert f"Chưa gửi báo cáo ({len(missing)} trường)" in section
    assert f"… và {len(missing) - most} trường khác" in section
    attention = _section(html, "7. Trường cần quan tâm", "Nơi nhận")
    assert attention.count('class="attention"') == most


def test_above_the_threshold_the_report_links_one_page_per_unit(national):
    html = _report(national)
    pages = dict(render_units(*national))
    assert len(pages) == len(UNITS)
    units = _section(html, "5. Kết quả theo đơn vị", "6. Trường chưa gửi")
    for slug in pages:
        assert f'href="units/{slug}.html"' in units
    assert "Kết quả theo xã, phường" not in html


def test_unit_page_ranks_every_school_of_its_unit_and_links_back(national):
    document, _ = national
    pages = dict(render_units(*national))
    html = pages["phong-gd-dt-dong-trieu"]
    ranking = _section(html, "2. Xếp hạng", "3. Kết quả từng tiêu chí")
    mine = [s["school_code"] for s in document["schools"] if s["unit"] == "Phòng GD&ĐT Đông Triều"]
    assert re.findall(r'href="\.\./schools/([^"]+)\.html"', ranking) == mine
    assert 'href="../report.html"' in html and "phường 0 (0)" in html


def test_unit_file_names_are_safe_and_distinct(national):
    document, config = national
    renamed = {"Phòng GD&ĐT Đông Triều": "A/B", "../x": "A B"}
    twins = dict(document, schools=[dict(s, unit=renamed.get(s["unit"], s["unit"])) for s in document["schools"]])
    slugs = [slug for slug, _ in render_units(*national)]
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) for slug in slugs)
    assert sorted(slugs) == ["phong-gd-dt-dong-trieu", "phong-gd-dt-uong-bi", "x"]
    assert [slug for slug, _ in render_units(twins, config)] == ["a-b", "a-b-2", "phong-gd-dt-uong-bi"]


def test_every_school_still_gets_a_scorecard_above_the_threshold(national):
    document, _ = national
    assert [code for code, _ in render_scorecards(*national)] == [s["school_code"] for s in document["schools"]]


def test_scorecards_link_one_stylesheet_and_a_copy_that_leaves_the_folder_gets_it_inline(h1):
    inline = f"<style>\n{stylesheet()}</style>"
    cards = _cards(h1)
    link = '<link rel="stylesheet" href="../style.css">'
    assert all(link in card and "<style>" not in card for card in cards.values())
    assert inline in _report(h1) and "<link" not in _report(h1)  # the report is one file, its CSS inside
    for card in cards.values():
        alone = inline_stylesheet(card)
        assert link not in alone and alone == card.replace(link, inline)
        assert "<style>" in alone and "--accent" in alone


def test_scorecards_rendered_by_a_pool_are_the_bytes_one_process_writes(national, tmp_path):
    document, config = national
    trends = {document["schools"][0]["school_code"]: [{"cycle": "2025-Y", "label": "Năm", "period_end": "2025-11-15",
                                                       "status": "submitted", "verdict": "dat", "score": 80.0,
                                                       "rank_overall": 1}]}
    one, pool = tmp_path / "one", tmp_path / "pool"
    one.mkdir(), pool.mkdir()
    write_scorecards(one, document, config, trends, processes=1)
    write_scorecards(pool, document, config, trends, processes=2, chunk=7)  # several chunks, both processes
    names = sorted(p.name for p in (one / "schools").iterdir())
    assert names == sorted(f"{s['school_code']}.html" for s in document["schools"])
    assert names == sorted(p.name for p in (pool / "schools").iterdir())
    assert all((one / "schools" / n).read_bytes() == (pool / "schools" / n).read_bytes() for n in names)
    assert (one / "style.css").read_text(encoding="utf-8") == (pool / "style.css").read_text(encoding="utf-8") \
        == stylesheet()


def test_one_renderer_gives_the_same_pages_part_after_part_as_the_whole_at_once(national):
    """A forked worker renders its chunks with one `Scorecards`, keeping the rows it rendered for the next chunk."""
    document, config = national
    whole = list(render_scorecards(document, config))
    renderer = Scorecards(document, config)
    parts = [page for start in range(0, len(whole), 5) for page in renderer.pages(slice(start, start + 5))]
    assert parts == whole


def test_below_the_threshold_the_report_lists_every_school_and_there_are_no_unit_pages(h1, national):
    document, config = national
    assert list(render_units(*h1)) == [] and list(render_units(document, _full(config))) == []
    html = _report((document, _full(config)))
    assert all(f'href="schools/{s["school_code"]}.html"' in html for s in document["schools"])
    assert "Kết quả theo xã, phường" in html and "units/" not in html and "trường khác" not in html


def test_unit_kpis_count_as_the_document_kpis_do(h1, annual):
    from antt.outputs.document import kpis_of

    for document, _ in (h1, annual):
        assert kpis_of(document["schools"]) == document["kpis"]
