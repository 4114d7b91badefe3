"""End to end through the real Prefect engine: the demo sheet, both cycles, determinism, an empty sheet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from antt.demo.build import build_demo

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def demo(config, registry):
    return build_demo(config, registry, ["2026-H1", "2026-Y"], seed=2026)


@pytest.fixture(scope="module")
def demo_csv(demo, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sheet") / "responses.csv"
    path.write_text(demo.to_csv(), encoding="utf-8", newline="")
    return path


@pytest.fixture(scope="module")
def demo_run(prefect_api_url, demo_csv, tmp_path_factory):
    from antt.flows.cycle import run_cycle

    out = tmp_path_factory.mktemp("out")
    first = run_cycle(cycle="2026-H1", source=str(demo_csv), out=str(out))
    second = run_cycle(cycle="2026-Y", source=str(demo_csv), out=str(out))
    return out, first, second


def _doc(out: Path, cycle: str) -> dict:
    return json.loads((out / cycle / "results.json").read_text(encoding="utf-8"))


def _issues(out: Path, cycle: str) -> list[dict]:
    with open(out / cycle / "issues.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_every_output_is_written(demo_run, cycle):
    out = demo_run[0]
    folder = out / cycle
    for name in ("report.html", "ranking.csv", "ranking.xlsx", "issues.csv", "results.json", "manifest.json"):
        assert (folder / name).stat().st_size > 0, name
    doc = _doc(out, cycle)
    assert sorted(p.stem for p in (folder / "schools").glob("*.html")) == sorted(s["school_code"]
                                                                                for s in doc["schools"])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["sha256"] == doc["input"]["sha256"]
    assert set(manifest["timings_s"]) >= {"read", "normalize", "validate", "score", "rank", "write_files"}
    assert (out / manifest["inputs"][0]["archived_as"]).is_file()


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_statuses_match_the_designed_sheet(demo_run, demo, cycle):
    doc = _doc(demo_run[0], cycle)
    assert {s["school_code"]: s["status"] for s in doc["schools"]} == demo.status(cycle)


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_counted_row_is_the_designed_one(demo_run, demo, cycle):
    doc = _doc(demo_run[0], cycle)
    counted = {r.school_code: r.sheet_row for r in demo.rows if r.cycle_id == cycle and r.counted}
    assert {s["school_code"]: s["sheet_row"] for s in doc["schools"] if s["status"] == "submitted"} == counted


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_verdicts_follow_school_quality(demo_run, demo, cycle):
    doc = _doc(demo_run[0], cycle)
    by_code = {s["school_code"]: s for s in doc["schools"]}
    for row in demo.rows:
        if row.cycle_id == cycle and row.counted:
            expected = "dat" if row.quality in ("excellent", "good") else "chua_dat"
            assert by_code[row.school_code]["verdict"] == expected, (row.school_code, row.quality)


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_ranks_put_submitted_first_and_are_competition_ranks(demo_run, cycle):
    schools = _doc(demo_run[0], cycle)["schools"]
    order = {"submitted": 0, "needs_correction": 1, "missing": 2}
    assert [order[s["status"]] for s in schools] == sorted(order[s["status"]] for s in schools)
    assert schools[0]["rank_overall"] == 1 and schools[0]["verdict"] == "dat"
    for i, s in enumerate(schools):
        assert s["rank_overall"] <= i + 1
        if i and s["rank_overall"] != schools[i - 1]["rank_overall"]:
            assert s["rank_overall"] == i + 1
    missing = [s for s in schools if s["status"] == "missing"]
    assert len({s["rank_overall"] for s in missing}) == 1


@pytest.mark.parametrize("cycle", ["2026-H1", "2026-Y"])
def test_designed_problems_become_issue_rows(demo_run, demo, cycle):
    issues = _issues(demo_run[0], cycle)

    def rules_at(row: int) -> set[str]:
        return {(i["question_id"], i["severity"]) for i in issues if int(i["sheet_row"]) == row}

    for r in demo.tagged("impostor", cycle):
        assert ("", "error") in rules_at(r.sheet_row)
        assert any("không được đăng ký" in i["message"] for i in issues if int(i["sheet_row"]) == r.sheet_row)
    for r in demo.tagged("unknown_school", cycle):
        assert ("A1", "error") in rules_at(r.sheet_row)
    for r in demo.tagged("not_integer:D5", cycle):
        assert ("D5", "error") in rules_at(r.sheet_row)
    for r in demo.tagged("above_other:B5", cycle):
        assert ("B5", "error") in rules_at(r.sheet_row)
    for r in demo.tagged("missing_required:F2", cycle):
        assert ("F2", "error") in rules_at(r.sheet_row)
    for r in demo.tagged("other_cycle"):
        assert ("", "info") in rules_at(r.sheet_row)
    assert all(i["severity"] in ("error", "warning", "info") for i in issues)
    assert all(i["school_code"] or int(i["sheet_row"]) == 1 for i in issues if i["severity"] != "info")


def test_h1_verdict_is_provisional_and_annual_is_not(demo_run):
    out = demo_run[0]
    assert _doc(out, "2026-H1")["cycle"]["provisional"] is True
    assert _doc(out, "2026-Y")["cycle"]["provisional"] is False
    assert "tạm thời" in (out / "2026-H1" / "report.html").read_text(encoding="utf-8").casefold()


def test_annual_report_compares_with_the_6_month_cycle(demo_run):
    doc = _doc(demo_run[0], "2026-Y")
    assert doc["previous"]["cycle"] == "2026-H1"
    assert doc["previous"]["kpis"] == _doc(demo_run[0], "2026-H1")["kpis"]


def test_same_input_gives_identical_bytes(demo_run, demo_csv):
    from antt.flows.cycle import run_cycle

    out = demo_run[0]
    before = {n: (out / "2026-Y" / n).read_bytes() for n in ("ranking.csv", "results.json", "issues.csv")}
    archived = sorted(p.name for p in (out / "raw").glob("*.csv"))  # the responses and the registry
    run_cycle(cycle="2026-Y", source=str(demo_csv), out=str(out))
    after = {n: (out / "2026-Y" / n).read_bytes() for n in before}
    assert before == after
    assert sorted(p.name for p in (out / "raw").glob("*.csv")) == archived  # archived once, by content
    assert len(archived) == 2


def test_each_task_gets_what_it_uses_from_the_task_that_made_it(prefect_api_url, tmp_path, sheet):
    """The flow's task graph is its data flow: the validation result, the normalised frame and the received input
    reach write-outputs as arguments, so Prefect draws those edges."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from antt.flows.cycle import run_cycle

    sheet.add("MN01")
    state = run_cycle(cycle="2026-H1", source=str(sheet.write_csv(tmp_path / "responses.csv")),
                      out=str(tmp_path / "out"), return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    task = {r.id: r.name.rsplit("-", 1)[0] for r in runs}
    graph = {task[r.id]: {arg: {task[i.id] for i in inputs if getattr(i, "id", None) in task}
                          for arg, inputs in r.task_inputs.items()} for r in runs}
    assert {name: {arg: made for arg, made in args.items() if made} for name, args in graph.items()} == {
        "read": {},
        "normalize": {"raw": {"read"}},
        "validate": {"prepared": {"normalize"}},
        "score": {"prepared": {"normalize"}, "validation": {"validate"}},
        "rank": {"scores": {"score"}, "prepared": {"normalize"}},
        "write-outputs": {"results": {"rank"}, "prepared": {"normalize"}, "validation": {"validate"},
                          "received": {"read"}},
        "publish-artifacts": {"results": {"rank"}, "folder": {"write-outputs"}},
    }


def test_header_only_sheet_reports_every_school_missing(prefect_api_url, tmp_path, config, registry):
    from conftest import Sheet

    from antt.flows.cycle import run_cycle

    path = Sheet(config, registry).write_csv(tmp_path / "header-only.csv")
    result = run_cycle(cycle="2026-H1", source=str(path), out=str(tmp_path / "out"))
    doc = json.loads((Path(result["folder"]) / "results.json").read_text(encoding="utf-8"))
    assert doc["kpis"]["expected"] == len(doc["schools"]) > 50
    assert {s["status"] for s in doc["schools"]} == {"missing"}
    assert doc["kpis"]["submitted"] == 0
    assert (Path(result["folder"]) / "report.html").is_file()


def test_flow_run_publishes_a_summary_and_an_issues_table(demo_run):
    from prefect.artifacts import Artifact

    summary = Artifact.get("antt-2026-y-summary")
    table = Artifact.get("antt-2026-y-issues")
    assert summary is not None and "Trường phải báo cáo" in summary.data
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert rows[0]["Mức độ"] == "lỗi" and list(rows[0]) == ["Trường", "Dòng", "Câu hỏi", "Mức độ", "Nội dung"]
    assert any("không được đăng ký" in r["Nội dung"] for r in rows)
