"""Issue 15: everything the office edits can live in Google Sheets. The registry (`--schools gsheet:…`) and the
cycle's corrections (`--corrections gsheet:…#2026-H1`, or the office's `corrections_sheet`) are read with the
responses' client against the fake Sheets API on loopback, archived byte for byte before parsing, and recorded in
the manifest; bad ones are refused in one line."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import CORRECTION_FIELDS, REPO, run_stages
from test_cli import EN, antt, assert_one_line_error

from antt.errors import InputError

KEY = "1OFFICEa0B1c2D3e4F5g6H7i8J9k0LmNoPqRsTuVwX"
REGISTRY = f"gsheet:{KEY}#Danh sách trường"
CORRECTIONS = f"gsheet:{KEY}#2026-H1"


def registry_rows() -> list[list]:
    """config/schools.csv as the office keeps it in a sheet: its comment line dropped, every cell text."""
    with open(REPO / "config" / "schools.csv", encoding="utf-8", newline="") as fh:
        return [row for row in csv.reader(fh) if row and not row[0].startswith("#")]


def correction_rows(*rows: dict) -> list[list]:
    return [CORRECTION_FIELDS] + [[str(r.get(f, "")) for f in CORRECTION_FIELDS] for r in rows]


@pytest.fixture
def fake(fake_sheets):
    return fake_sheets


def office_sheet(fake, registry: list[list] | None = None, corrections: list[list] | None = None) -> None:
    worksheets = {"Danh sách trường": registry if registry is not None else registry_rows()}
    if corrections is not None:
        worksheets["2026-H1"] = corrections
    fake.add_spreadsheet(KEY, worksheets)


def test_registry_and_corrections_come_from_the_sheet_archived_and_recorded(fake, sheet, tmp_path):
    first = sheet.add("MN01", email="ai.do@gmail.com")
    late = sheet.add("TH01", at="12/6/2026 9:00:00")
    office_sheet(fake, corrections=correction_rows(
        {"action": "approve_sender", "school_code": "MN01", "sheet_row": first, "reason": "đã gọi", "by": "Lan"},
        {"action": "accept_late", "school_code": "TH01", "sheet_row": late, "reason": "mất điện", "by": "Lan"}))
    out = tmp_path / "out"
    stages = run_stages(sheet.write_csv(tmp_path / "responses.csv"), None, out, schools=REGISTRY,
                        corrections=CORRECTIONS)
    ranked = stages.results.ranked.set_index("school_code")
    assert ranked.loc["MN01", "status"] == "submitted" and ranked.loc["TH01", "on_time"]
    registry, corrections = stages.run.inputs
    assert registry["role"] == "registry" and registry["original"] == REGISTRY
    assert corrections["role"] == "corrections" and corrections["original"] == CORRECTIONS
    assert registry["read_as"] == {"format": "Google Sheets", "worksheet": "Danh sách trường"}
    with open(out / registry["archived_as"], encoding="utf-8", newline="") as fh:
        assert list(csv.reader(fh)) == registry_rows()  # archived as the sheet holds it, before parsing
    assert (out / corrections["archived_as"]).is_file()
    folder = stages.write()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [i["role"] for i in manifest["inputs"]] == ["responses", "registry", "corrections"]
    assert manifest["inputs"][1:] == [registry, corrections]


def test_the_offices_corrections_sheet_gives_each_cycle_its_worksheet(fake, sheet, tmp_path):
    impostor = sheet.add("MN01", email="ai.do@gmail.com")
    office_sheet(fake, corrections=correction_rows(
        {"action": "approve_sender", "school_code": "MN01", "sheet_row": impostor, "by": "Lan"}))
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    with open(cfg / "office.yaml", "a", encoding="utf-8") as fh:
        fh.write(f"corrections_sheet: \"gsheet:{KEY}\"\n")
    source = sheet.write_csv(tmp_path / "responses.csv")
    h1 = run_stages(source, cfg, tmp_path / "out")
    assert [i["original"] for i in h1.run.inputs] == [str(cfg / "schools.csv"), CORRECTIONS]
    assert h1.results.ranked.set_index("school_code").loc["MN01", "status"] == "submitted"
    year = run_stages(source, cfg, tmp_path / "out", cycle="2026-Y")  # no worksheet 2026-Y yet: no corrections
    assert [i["role"] for i in year.run.inputs] == ["registry"]
    # The spreadsheet alone on the command line (as a deployment stores it) means the same: the cycle's worksheet.
    given = run_stages(source, None, tmp_path / "out", corrections=f"gsheet:{KEY}")
    assert [i["original"] for i in given.run.inputs][1:] == [CORRECTIONS]
    assert given.results.ranked.set_index("school_code").loc["MN01", "status"] == "submitted"


def test_a_registry_sheet_read_twice_is_stored_once_and_every_receipt_kept(fake, sheet, tmp_path):
    sheet.add("MN01")
    office_sheet(fake)
    source = sheet.write_csv(tmp_path / "responses.csv")
    first = run_stages(source, None, tmp_path / "out", schools=REGISTRY).run.inputs[0]
    second = run_stages(source, None, tmp_path / "out", schools=REGISTRY).run.inputs[0]
    assert first["archived_as"] == second["archived_as"]
    receipts = [json.loads(line) for line in (tmp_path / "out" / "raw" / "index.jsonl").read_text().splitlines()]
    assert [r["original"] for r in receipts].count(REGISTRY) == 2
    assert len(list((tmp_path / "out" / "raw").glob("*.csv"))) == 2  # the responses and the registry, once each
    assert len(fake.of_kind("values")) == 2


def test_a_registry_sheet_without_its_columns_is_one_line(fake, sheet, tmp_path):
    sheet.add("MN01")
    office_sheet(fake, registry=[["Mã trường", "Tên trường"], ["MN01", "Trường A"]])
    proc = antt("validate", "--cycle", "2026-H1", "--source", str(sheet.write_csv(tmp_path / "r.csv")),
                "--schools", REGISTRY, "--out", str(tmp_path / "o"), extra_env=fake.env | EN)
    assert_one_line_error(proc, REGISTRY, "school registry lacks column(s) school_code, school_name, level")


def test_a_corrections_sheet_with_a_bad_row_is_one_line_naming_it(fake, sheet, tmp_path):
    sheet.add("MN01")
    office_sheet(fake, corrections=correction_rows(
        {"action": "reject", "school_code": "MN01", "sheet_row": 2, "by": "Lan"},
        {"action": "xoá", "school_code": "MN01", "sheet_row": 2, "by": "Lan"}))
    proc = antt("validate", "--cycle", "2026-H1", "--source", str(sheet.write_csv(tmp_path / "r.csv")),
                "--corrections", CORRECTIONS, "--out", str(tmp_path / "o"), extra_env=fake.env | EN)
    assert_one_line_error(proc, f"{CORRECTIONS}: row 3: action 'xoá' is not one of set, approve_sender")


def test_a_corrections_sheet_that_is_not_shared_is_refused_before_anything_runs(fake, sheet, tmp_path, english):
    sheet.add("MN01")
    office_sheet(fake)
    fake.fail(403, on="metadata")
    with pytest.raises(InputError, match="403 PERMISSION_DENIED.*share the sheet"):
        run_stages(sheet.write_csv(tmp_path / "r.csv"), None, tmp_path / "out", corrections=CORRECTIONS)


@pytest.mark.flow
def test_a_run_reads_its_registry_and_corrections_from_the_sheets_api(prefect_api_url, fake, sheet, tmp_path):
    impostor = sheet.add("MN01", email="ai.do@gmail.com")
    sheet.add("TH01")
    office_sheet(fake, corrections=correction_rows(
        {"action": "approve_sender", "school_code": "MN01", "sheet_row": impostor, "reason": "đã gọi", "by": "Lan"}))
    out = tmp_path / "out"
    proc = antt("run", "--cycle", "2026-H1", "--source", str(sheet.write_csv(tmp_path / "responses.csv")),
                "--schools", REGISTRY, "--corrections", CORRECTIONS, "--out", str(out),
                api_url=prefect_api_url, extra_env=fake.env)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "2026-H1" / "manifest.json").read_text(encoding="utf-8"))
    assert [(i["role"], i["original"]) for i in manifest["inputs"]][1:] == [("registry", REGISTRY),
                                                                             ("corrections", CORRECTIONS)]
    schools = {s["school_code"]: s for s in json.loads((out / "2026-H1" / "results.json").read_text())["schools"]}
    assert schools["MN01"]["status"] == "submitted"
    # The pre-flight loaded registry and corrections once and handed them to the flow: one read of each.
    assert len(fake.of_kind("values")) == 2
    receipts = (out / "raw" / "index.jsonl").read_text(encoding="utf-8")
    assert receipts.count(REGISTRY) == 1 and receipts.count(CORRECTIONS) == 1


@pytest.mark.flow
def test_a_deployment_stores_the_registry_and_corrections_sheets_like_the_source(prefect_api_url, tmp_path):
    from prefect.client.orchestration import get_client

    from antt.flows.deployments import deploy

    deploy(f"gsheet:{KEY}", schools=REGISTRY, corrections=f"gsheet:{KEY}", out=tmp_path / "out", pool="antt-office")
    with get_client(sync_client=True) as client:
        stored = [d.parameters for d in client.read_deployments() if d.work_pool_name == "antt-office"]
    assert stored and all(p["schools"] == REGISTRY and p["corrections"] == f"gsheet:{KEY}" for p in stored
                          if "source" in p)
