"""Issue 6 item 5: every cycle's results in one SQLite (or any SQLAlchemy) database, on real files."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import REPO, Sheet, run_stages

from antt.config import load_config
from antt.intake.registry import load_registry
from antt.outputs.document import build_document, previous_summary, to_json
from antt.store import history
from antt.text import vi_number

REGISTRY = """school_code,school_name,level,ward,emails
MN01,Trường Mầm non Hà An,MN,phường Hà An,mn01@truong.example.org
TH01,Trường Tiểu học Hà An,TH,phường Hà An,th01@truong.example.org
THCS01,Trường THCS Yên Giang,THCS,phường Yên Giang,thcs01@truong.example.org
TH03,Trường Tiểu học Cẩm La,TH,xã Cẩm La,th03@truong.example.org
"""
STAMPS = {"2026-H1": ("9/6/2026 8:00:00", "12/6/2026 9:00:00"), "2026-Y": ("5/11/2026 8:00:00", "12/11/2026 9:00:00")}


def _document(folder: Path, cycle_id: str, previous: dict | None = None) -> dict:
    """The real stages of `antt run` up to the results document, on a small CSV export."""
    folder.mkdir(parents=True, exist_ok=True)
    schools = folder / "schools.csv"
    schools.write_text(REGISTRY, encoding="utf-8")
    config = load_config(REPO / "config")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    on_time, late = STAMPS[cycle_id]
    sheet.add("MN01", at=on_time)
    sheet.add("TH01", at=on_time, D2="1")
    sheet.add("THCS01", at=late)
    stages = run_stages(sheet.write_csv(folder / "responses.csv"), REPO / "config", folder / "out", cycle_id, schools)
    return build_document(stages.results, config, stages.received.archived, rows_read=stages.prepared.rows_read,
                          previous=previous)


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("history-docs")
    h1 = _document(base / "h1", "2026-H1")
    (base / "h1.json").write_bytes(to_json(h1))
    annual = _document(base / "y", "2026-Y", previous=previous_summary(base / "h1.json"))
    return {"2026-H1": h1, "2026-Y": annual}


def _file_summary(tmp_path: Path, document: dict) -> dict:
    path = tmp_path / f"{document['cycle']['id']}.json"
    path.write_bytes(to_json(document))
    return previous_summary(path)


def _rows(db: Path, cycle_id: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT school_code, score, verdict, status FROM school_results WHERE cycle_id = ? "
                            "ORDER BY position", (cycle_id,)).fetchall()


def test_previous_summary_from_the_database_equals_the_file_based_one(tmp_path, docs):
    db = tmp_path / "out"
    for doc in docs.values():
        history.record_cycle(db, doc)
    assert (db / "history.sqlite").is_file()
    for cycle_id, doc in docs.items():
        assert history.previous_summary(db, "2026-Z", cycle_id) == _file_summary(tmp_path, doc)
    assert history.previous_summary(db, "2026-Y", "2025-Y") is None  # never recorded
    assert history.previous_summary(db, "2026-Y", "2026-Y") is None  # a cycle is not its own previous


def test_the_database_is_sqlite_in_wal_mode_with_one_row_per_school(tmp_path, docs):
    db = tmp_path / "history.sqlite"
    history.record_cycle(f"sqlite:///{db}", docs["2026-H1"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        head = conn.execute("SELECT id, kind, input_sha256, config_checksum, recorded_at FROM cycles").fetchall()
    doc = docs["2026-H1"]
    assert head[0][:4] == ("2026-H1", "H1", doc["input"]["sha256"], doc["config"]["checksum"]) and head[0][4]
    assert [r[0] for r in _rows(db, "2026-H1")] == [s["school_code"] for s in doc["schools"]]
    assert history.load_document(f"sqlite:///{db}", "2026-H1") == doc


def test_rerecording_a_cycle_replaces_only_that_cycle(tmp_path, docs):
    engine = history.open_history(tmp_path)
    history.record_cycle(engine, docs["2026-H1"])
    history.record_cycle(engine, docs["2026-Y"])
    before_y = _rows(tmp_path / "history.sqlite", "2026-Y")
    changed = copy.deepcopy(docs["2026-H1"])
    changed["schools"] = changed["schools"][:2]
    changed["schools"][0]["score"] = 12.5
    changed["kpis"]["expected"] = 2
    history.record_cycle(engine, changed)
    rows = _rows(tmp_path / "history.sqlite", "2026-H1")
    assert len(rows) == 2 and rows[0][1] == 12.5
    assert _rows(tmp_path / "history.sqlite", "2026-Y") == before_y
    assert history.previous_summary(engine, "2026-Y", "2026-H1")["kpis"]["expected"] == 2
    assert [c["id"] for c in history.recorded_cycles(engine)] == ["2026-H1", "2026-Y"]


def test_a_failure_mid_transaction_leaves_the_previous_rows(tmp_path, docs, monkeypatch):
    engine = history.open_history(tmp_path)
    history.record_cycle(engine, docs["2026-H1"])
    before = _rows(tmp_path / "history.sqlite", "2026-H1")
    real_insert = history.school_results.insert

    class Killed(Exception):
        pass

    def dying_insert(*args, **kwargs):  # the old rows are already deleted when this runs
        raise Killed()

    monkeypatch.setattr(history.school_results, "insert", dying_insert)
    changed = copy.deepcopy(docs["2026-H1"])
    changed["kpis"]["expected"] = 99
    with pytest.raises(Killed):
        history.record_cycle(engine, changed)
    monkeypatch.setattr(history.school_results, "insert", real_insert)
    assert _rows(tmp_path / "history.sqlite", "2026-H1") == before
    assert history.previous_summary(engine, "x", "2026-H1")["kpis"] == docs["2026-H1"]["kpis"]


def test_school_trend_is_in_cycle_order(tmp_path, docs):
    engine = history.open_history(tmp_path)
    earlier = copy.deepcopy(docs["2026-Y"])  # last year's annual cycle, recorded after this year's
    earlier["cycle"] |= {"id": "2025-Y", "period_start": "2024-11-16", "period_end": "2025-11-15"}
    earlier["schools"][0]["score"] = 40.0
    for doc in (docs["2026-Y"], docs["2026-H1"], earlier):
        history.record_cycle(engine, doc)
    code = docs["2026-H1"]["schools"][0]["school_code"]
    trend = history.school_trend(engine, code)
    assert [t["cycle"] for t in trend] == ["2025-Y", "2026-H1", "2026-Y"]
    assert set(trend[0]) == {"cycle", "label", "period_end", "score", "verdict", "rank_overall", "status"}
    assert trend[0]["score"] == 40.0 and trend[0]["period_end"] == "2025-11-15"
    h1 = next(s for s in docs["2026-H1"]["schools"] if s["school_code"] == code)
    assert trend[1] == {"cycle": "2026-H1", "label": docs["2026-H1"]["cycle"]["label"],
                        "period_end": docs["2026-H1"]["cycle"]["period_end"],
                        **{k: h1[k] for k in ("score", "verdict", "rank_overall", "status")}}
    # a scorecard shows the cycles before its own
    assert [t["cycle"] for t in history.school_trend(engine, code, before="2026-11-15")] == ["2025-Y", "2026-H1"]
    assert history.school_trends(engine, [code])[code] == trend
    assert history.school_trend(engine, "NOPE") == []
    # with no id named, the previous cycle is the latest recorded one of the same kind
    assert history.previous_summary(engine, "2026-Y", None)["cycle"] == "2025-Y"


def test_a_cycle_is_loaded_back_with_its_run(tmp_path, docs):
    engine = history.open_history(tmp_path)
    run = {"started_at": "2026-06-10T07:00:00+07:00", "timings": {"read": 0.5}}
    history.record_cycle(engine, docs["2026-H1"], run=run)
    history.record_cycle(engine, docs["2026-Y"])
    assert history.load_cycle(engine, "2026-H1") == (docs["2026-H1"], run)
    document, recorded = history.load_cycle(engine, "2026-Y")
    assert document == docs["2026-Y"] and recorded["timings"] == {} and recorded["started_at"]
    assert history.load_cycle(engine, "2030-H1") is None


def test_a_database_from_before_the_run_column_gets_it(tmp_path, docs):
    db = tmp_path / "history.sqlite"
    with sqlite3.connect(db) as conn:  # the cycles table as the first release created it
        conn.execute("CREATE TABLE cycles (id VARCHAR(32) PRIMARY KEY, kind VARCHAR(16) NOT NULL, label TEXT, "
                     "period_start VARCHAR(10), period_end VARCHAR(10), kpis JSON NOT NULL, input_sha256 VARCHAR(64), "
                     "config_checksum VARCHAR(128), recorded_at DATETIME NOT NULL, document BLOB)")
    run = {"started_at": "2026-06-10T07:00:00+07:00", "timings": {}}
    history.record_cycle(f"sqlite:///{db}", docs["2026-H1"], run=run)
    assert history.load_cycle(f"sqlite:///{db}", "2026-H1") == (docs["2026-H1"], run)


def test_history_url_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(history.URL_ENV, f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    assert history.history_url(tmp_path / "out") == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    monkeypatch.delenv(history.URL_ENV)
    assert history.history_url(tmp_path / "out") == f"sqlite:///{(tmp_path / 'out').resolve()}/history.sqlite"


def test_fifty_thousand_schools_record_and_re_record_whole(tmp_path, docs):
    """A national cycle in one transaction, twice (a re-run deletes then inserts); its speed is bench/run.py's."""
    doc = copy.deepcopy(docs["2026-H1"])
    template = doc["schools"][0]
    doc["schools"] = [template | {"school_code": f"S{i:06d}", "rank_overall": i + 1} for i in range(50_000)]
    engine = history.open_history(tmp_path)
    history.record_cycle(engine, doc)
    history.record_cycle(engine, doc)  # a re-run: delete then insert again
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM school_results")).scalar() == 50_000
    assert len(history.previous_summary(engine, "2026-Y", "2026-H1")["schools"]) == 50_000


def test_the_pipeline_records_each_cycle_and_takes_previous_from_the_database(tmp_path, config, registry):
    import shutil

    sheet = Sheet(config, registry)
    codes = registry["school_code"].tolist()
    sheet.add(codes[0])
    sheet.add(codes[1], at="5/11/2026 8:00:00")
    src = sheet.write_csv(tmp_path / "responses.csv")
    out = tmp_path / "out"
    for cycle_id in ("2026-H1", "2026-Y"):
        run_stages(src, REPO / "config", out, cycle_id).write()
        if cycle_id == "2026-H1":
            shutil.rmtree(out / "2026-H1")  # the old folder is gone: "previous" must come from the database
    assert [c["id"] for c in history.recorded_cycles(out)] == ["2026-H1", "2026-Y"]
    import json

    annual = json.loads((out / "2026-Y" / "results.json").read_text(encoding="utf-8"))
    assert annual["previous"] == history.previous_summary(out, "2026-Y", "2026-H1")
    assert annual["previous"]["schools"][codes[0]]["verdict"] is not None


@pytest.fixture
def two_cycles(tmp_path, config, registry):
    """2026-H1 then 2026-Y through the real stages into one output folder; the first school reports in both."""
    sheet = Sheet(config, registry)
    codes = registry["school_code"].tolist()
    sheet.add(codes[0], at="9/6/2026 8:00:00", D2="1")  # fails a criterion in H1 …
    sheet.add(codes[0], at="5/11/2026 8:00:00")  # … and meets the standard in Y
    sheet.add(codes[1], at="5/11/2026 9:00:00")
    src = sheet.write_csv(tmp_path / "responses.csv")
    out = tmp_path / "out"
    for cycle_id in ("2026-H1", "2026-Y"):
        run_stages(src, REPO / "config", out, cycle_id).write()
    return out, codes, src


def test_a_scorecard_shows_the_school_over_the_past_cycles(two_cycles):
    import json

    out, codes, _ = two_cycles
    annual = json.loads((out / "2026-Y" / "results.json").read_text(encoding="utf-8"))
    this = next(s for s in annual["schools"] if s["school_code"] == codes[0])
    page = (out / "2026-Y" / "schools" / f"{codes[0]}.html").read_text(encoding="utf-8")
    trend = page[page.index("Kết quả qua các kỳ"):page.index("</table>", page.index("Kết quả qua các kỳ"))]
    assert trend.index("2026-H1") < trend.index("2026-Y")  # in cycle order, this cycle last
    h1 = history.school_trend(out, codes[0])[0]
    assert h1["cycle"] == "2026-H1" and h1["verdict"] == "chua_dat" and this["verdict"] == "dat"
    assert "Chưa đạt" in trend and "Đạt" in trend
    assert '<svg class="trend"' in trend and vi_number(this["score"]) in trend and vi_number(h1["score"]) in trend
    first = (out / "2026-H1" / "schools" / f"{codes[0]}.html").read_text(encoding="utf-8")
    assert "Đây là kỳ đầu tiên của trường" in first  # nothing recorded before H1


def test_report_is_rendered_again_from_the_database_alone(two_cycles):
    import shutil

    from antt.errors import AnttError
    from antt.pipeline import rerender_cycle

    out, codes, src = two_cycles
    folder = out / "2026-Y"
    pages = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.html") if p.name != "data_quality.html"}
    kept = {name: (folder / name).read_bytes() for name in ("ranking.xlsx", "results.json", "data_quality.html")}
    src.unlink()  # the source is not needed
    (folder / "report.html").unlink()
    shutil.rmtree(folder / "schools")
    assert rerender_cycle("2026-Y", None, out) == folder / "report.html"
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.html")
            if p.name != "data_quality.html"} == pages  # the same bytes as the run wrote
    assert {name: (folder / name).read_bytes() for name in kept} == kept  # the rest is left as it was
    shutil.rmtree(folder)
    rerender_cycle("2026-Y", None, out)
    assert (folder / "results.json").read_bytes() == kept["results.json"] and (folder / "report.html").is_file()
    with pytest.raises(AnttError, match="2025-Y is not recorded"):
        rerender_cycle("2025-Y", None, out)
    with pytest.raises(AnttError, match="unknown cycle"):
        rerender_cycle("../2026-Y", None, out)
    with pytest.raises(AnttError, match="no history database"):
        rerender_cycle("2026-Y", None, out / "elsewhere")
    assert not (out / "elsewhere").exists()
