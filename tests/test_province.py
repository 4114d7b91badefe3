"""The province roll-up on a laptop (no server): three units run at once as subflows, one of them broken; the others
still report, the roll-up reads their results from the history database, ranks their schools together and names the
broken unit with its reason; a second run redoes only that unit. (Fanned out over workers: tests/test_deploy.py.)"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Sheet

from antt.errors import InputError
from antt.scoring import rollup


def _registry(path: Path, codes: list[str]) -> Path:
    lines = (REPO / "config" / "schools.csv").read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("school_code,"))
    path.write_text("\n".join([lines[header]] + [line for line in lines[header + 1:]
                                                 if line.split(",", 1)[0] in codes]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def province_run(prefect_api_url, config, registry, tmp_path_factory):
    from antt.flows.province import province

    root = tmp_path_factory.mktemp("province")
    north = Sheet(config, registry)
    for code in ("MN01", "TH01", "THCS01"):
        north.add(code)
    south = Sheet(config, registry)
    south.add("MN02")
    south.add("TH02", D2="1")  # school violence: fails a mandatory criterion
    (root / "north").mkdir()
    (root / "south").mkdir()
    north.write_csv(root / "north" / "responses.csv")
    south.write_csv(root / "south" / "responses.csv")
    _registry(root / "north" / "schools.csv", ["MN01", "TH01", "THCS01", "THCS02"])
    _registry(root / "south" / "schools.csv", ["MN02", "TH02"])
    units = {"units": [
        {"name": "Phòng GD&ĐT Bắc", "source": "north/responses.csv", "registry": "north/schools.csv",
         "out": "out/north"},
        {"name": "Phòng GD&ĐT Hỏng", "source": "broken/responses.csv", "registry": "north/schools.csv",
         "out": "out/broken"},
        {"name": "Phòng GD&ĐT Nam", "source": "south/responses.csv", "registry": "south/schools.csv",
         "out": "out/south"},
    ]}
    units_file = root / "units.yaml"
    units_file.write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    started = time.monotonic()
    result = province(units_file=str(units_file), cycle="2026-H1", out=str(root / "out" / "province"))
    print(f"three-unit roll-up: {time.monotonic() - started:.1f}s")
    folder = Path(result["folder"])
    return result, json.loads((folder / "province.json").read_text(encoding="utf-8")), folder, units_file


pytestmark = pytest.mark.deploy


def test_a_broken_unit_is_named_with_its_reason_and_the_others_still_report(province_run):
    result, doc, *_ = province_run
    assert [(u["name"], u["ok"]) for u in doc["units"]] == [
        ("Phòng GD&ĐT Bắc", True), ("Phòng GD&ĐT Hỏng", False), ("Phòng GD&ĐT Nam", True)]
    [failed] = doc["failed"]
    assert failed["name"] == "Phòng GD&ĐT Hỏng" and "\n" not in failed["reason"]
    # a source the machine cannot see: the reason names the file, the machine, and where a source must live
    assert "broken/responses.csv" in failed["reason"] and socket.gethostname() in failed["reason"]
    assert "gsheet:" in failed["reason"]
    assert result["failed"] == doc["failed"] and len(result["ran"]) == 3


def test_each_unit_keeps_its_own_outputs(province_run):
    _, doc, folder, _units = province_run
    root = folder.parent.parent.parent  # <root>/out/province/province/<cycle>
    for unit in ("north", "south"):
        assert (root / unit / "2026-H1" / "report.html").is_file()
    assert not (root / "broken" / "2026-H1").exists()


def test_overall_kpis_are_the_sum_of_the_units(province_run):
    _, doc, *_ = province_run
    units = [u["kpis"] for u in doc["units"] if u["ok"]]
    assert [u["expected"] for u in units] == [4, 2]
    for key in ("expected", "submitted", "on_time", "missing", "dat", "chua_dat"):
        assert doc["overall"][key] == sum(u[key] for u in units), key
    assert doc["overall"]["missing"] == 1 and doc["overall"]["chua_dat"] == 1


def test_schools_of_all_units_are_ranked_together(province_run):
    _, doc, *_ = province_run
    ranking = doc["ranking"]
    assert sorted((s["reporting_unit"], s["school_code"]) for s in ranking) == [
        ("Phòng GD&ĐT Bắc", "MN01"), ("Phòng GD&ĐT Bắc", "TH01"), ("Phòng GD&ĐT Bắc", "THCS01"),
        ("Phòng GD&ĐT Bắc", "THCS02"), ("Phòng GD&ĐT Nam", "MN02"), ("Phòng GD&ĐT Nam", "TH02")]
    last_two = [(s["school_code"], s["rank_overall"]) for s in ranking[-2:]]
    assert last_two == [("TH02", 5), ("THCS02", 6)]  # Chưa đạt after every Đạt, missing last
    assert ranking[0]["rank_overall"] == 1 and ranking[0]["verdict"] == "dat"
    th02 = next(s for s in ranking if s["school_code"] == "TH02")
    assert th02["rank_in_unit"] == 2 and th02["submitted_at"].endswith("+07:00")


def test_the_html_roll_up_shows_units_failures_and_ranking(province_run):
    folder = province_run[2]
    html = (folder / "province.html").read_text(encoding="utf-8")
    for text in ("Phòng GD&amp;ĐT Bắc", "Phòng GD&amp;ĐT Nam", "Phòng GD&amp;ĐT Hỏng", "Toàn tỉnh", "THCS02"):
        assert text in html, text
    assert "http" not in html.replace("http-equiv", "")  # self-contained


def test_an_error_of_ours_is_its_own_reason_and_others_carry_their_type():
    assert rollup.failure_reason(InputError("responses.csv: file not found")) == "responses.csv: file not found"
    assert rollup.failure_reason(KeyError("A1")) == "KeyError: 'A1'"
    assert rollup.failure_reason(ValueError("two\nlines")) == "ValueError: two lines"


def test_the_roll_up_reads_each_unit_from_its_history_not_its_folder(province_run):
    from antt.store import history

    _, doc, folder, _units = province_run
    root = folder.parent.parent.parent
    north = history.load_document(root / "north", "2026-H1", office="Phòng GD&ĐT Bắc")
    assert doc["units"][0]["kpis"] == north["kpis"] and history.load_document(root / "north", "2026-H1") is None
    assert history.load_rollup(root / "province", "2026-H1") == doc


def test_running_the_province_again_redoes_only_the_unit_that_did_not_finish(province_run, config, registry):
    from antt.flows.province import province

    _, first, folder, units_file = province_run
    root = units_file.parent
    (root / "broken").mkdir()
    fixed = Sheet(config, registry)
    fixed.add("THCS02")
    fixed.write_csv(root / "broken" / "responses.csv")
    result = province(units_file=str(units_file), cycle="2026-H1", out=str(root / "out" / "province"))
    doc = json.loads((folder / "province.json").read_text(encoding="utf-8"))
    assert result["ran"] == ["Phòng GD&ĐT Hỏng"] and doc["failed"] == []
    assert [(u["name"], u["ok"], u["kept"]) for u in doc["units"]] == [
        ("Phòng GD&ĐT Bắc", True, True), ("Phòng GD&ĐT Hỏng", True, False), ("Phòng GD&ĐT Nam", True, True)]
    assert doc["units"][0]["kpis"] == first["units"][0]["kpis"]
    assert (root / "out" / "broken" / "2026-H1" / "report.html").is_file()


@pytest.mark.parametrize("name, message, reason", [
    ("Failed", "Flow run encountered an exception: InputError: /srv/a.csv: no such file on w2; give …",
     "/srv/a.csv: no such file on w2; give …"),
    ("Failed", "Flow run encountered an exception: KeyError: 'A1'", "KeyError: 'A1'"),
    ("Crashed", "Flow run infrastructure exited with non-zero status code -9.",
     "Crashed: Flow run infrastructure exited with non-zero status code -9."),
    ("Cancelled", None, "Cancelled"),
])
def test_a_unit_run_s_final_state_becomes_a_one_line_reason(name, message, reason):
    from antt.flows.province import state_reason

    assert state_reason(name, message) == reason
