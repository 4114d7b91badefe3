"""Issue 6 item 5, issue 16: every cycle's results in one database, on real files and on a real PostgreSQL server
(the session's, tests/postgres.py): each behaviour that a shared production database needs runs on both."""

from __future__ import annotations

import copy
import sqlite3
import threading
import zlib
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    """A new, empty history database: a SQLite file, or a database of its own on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / history.HISTORY_FILE}"
    return request.getfixturevalue("postgres").create_database()


def _file_summary(tmp_path: Path, document: dict) -> dict:
    path = tmp_path / f"{document['cycle']['id']}.json"
    path.write_bytes(to_json(document))
    return previous_summary(path)


def _rows(url: str, cycle_id: str, office: str = "") -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT school_code, score, verdict, status FROM school_results WHERE office = :office "
                "AND cycle_id = :cycle ORDER BY position"), {"office": office, "cycle": cycle_id})]
    finally:
        engine.dispose()


def test_previous_summary_from_the_database_equals_the_file_based_one(tmp_path, docs, db):
    for doc in docs.values():
        history.record_cycle(db, doc)
    for cycle_id, doc in docs.items():
        assert history.previous_summary(db, "2026-Z", cycle_id) == _file_summary(tmp_path, doc)
    assert history.previous_summary(db, "2026-Y", "2025-Y") is None  # never recorded
    assert history.previous_summary(db, "2026-Y", "2026-Y") is None  # a cycle is not its own previous
    assert history.load_document(db, "2026-H1") == docs["2026-H1"]


def test_an_output_folder_gets_sqlite_in_wal_mode_with_one_row_per_school(tmp_path, docs):
    history.record_cycle(tmp_path / "out", docs["2026-H1"])
    db = tmp_path / "out" / "history.sqlite"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        head = conn.execute("SELECT office, id, kind, input_sha256, config_checksum, recorded_at "
                            "FROM cycles").fetchall()
    doc = docs["2026-H1"]
    assert head[0][:5] == ("", "2026-H1", "H1", doc["input"]["sha256"], doc["config"]["checksum"]) and head[0][5]
    assert [r[0] for r in _rows(f"sqlite:///{db}", "2026-H1")] == [s["school_code"] for s in doc["schools"]]


def test_rerecording_a_cycle_replaces_only_that_cycle(docs, db):
    engine = history.open_history(db)
    history.record_cycle(engine, docs["2026-H1"])
    history.record_cycle(engine, docs["2026-Y"])
    before_y = _rows(db, "2026-Y")
    changed = copy.deepcopy(docs["2026-H1"])
    changed["schools"] = changed["schools"][:2]
    changed["schools"][0]["score"] = 12.5
    changed["kpis"]["expected"] = 2
    history.record_cycle(engine, changed)
    rows = _rows(db, "2026-H1")
    assert len(rows) == 2 and rows[0][1] == 12.5
    assert _rows(db, "2026-Y") == before_y
    assert history.previous_summary(engine, "2026-Y", "2026-H1")["kpis"]["expected"] == 2
    assert [c["id"] for c in history.recorded_cycles(engine)] == ["2026-H1", "2026-Y"]
    engine.dispose()


def test_a_failure_mid_transaction_leaves_the_previous_rows(docs, db, monkeypatch):
    engine = history.open_history(db)
    history.record_cycle(engine, docs["2026-H1"])
    before = _rows(db, "2026-H1")
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
    assert _rows(db, "2026-H1") == before
    assert history.previous_summary(engine, "x", "2026-H1")["kpis"] == docs["2026-H1"]["kpis"]
    engine.dispose()


def _together(*calls) -> list[BaseException | None]:
    """Run the calls in threads released at the same instant; what each raised (None: it returned)."""
    gate, raised = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int, call) -> None:
        gate.wait()
        try:
            call()
        except BaseException as exc:  # noqa: B036 (reported to the test, which names it)
            raised[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return raised


def test_two_units_record_the_same_cycle_at_once_each_under_its_own_name(docs, db):
    history.record_cycle(db, docs["2026-H1"], office="Bắc")  # the tables exist: this is about the rows
    south = copy.deepcopy(docs["2026-H1"])
    south["schools"] = south["schools"][:2]
    south["kpis"]["expected"] = 2
    north = copy.deepcopy(docs["2026-H1"])
    north["kpis"]["expected"] = 7
    raised = _together(lambda: history.record_cycle(db, north, office="Bắc"),
                       lambda: history.record_cycle(db, south, office="Nam"),
                       lambda: history.record_cycle(db, docs["2026-H1"], office="Nam"))  # Nam twice at once
    assert raised == [None, None, None]
    assert history.load_document(db, "2026-H1", office="Bắc") == north
    assert history.load_document(db, "2026-H1", office="Nam") in (south, docs["2026-H1"])  # one of them, whole
    nam = history.load_document(db, "2026-H1", office="Nam")
    assert [r[0] for r in _rows(db, "2026-H1", "Nam")] == [s["school_code"] for s in nam["schools"]]
    assert history.load_document(db, "2026-H1") is None  # a lone office's history is a third one
    assert history.previous_summary(db, "2026-Y", "2026-H1", office="Bắc")["kpis"]["expected"] == 7


def test_writers_racing_to_create_the_tables_all_get_through(docs, db):
    offices = ["Bắc", "Nam", "Đông", "Tây"]
    raised = _together(*(lambda o=o: history.record_cycle(db, docs["2026-H1"], office=o) for o in offices))
    assert raised == [None] * len(offices)
    for office in offices:
        assert history.load_document(db, "2026-H1", office=office) == docs["2026-H1"]


def test_a_new_sqlite_history_waits_for_a_writer_holding_the_file_before_it_turns_on_wal(docs, tmp_path):
    """Setting WAL on a new file does not wait for a busy one as SQLite's busy timeout would: a writer that found the
    file a moment after another took it failed at once ("database is locked")."""
    path = tmp_path / "history.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE elsewhere (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO elsewhere VALUES (1)")  # holds the file, still in its first journal mode
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        history.record_cycle(f"sqlite:///{path}", docs["2026-H1"])
    finally:
        release.join()
        other.close()
    assert history.load_document(f"sqlite:///{path}", "2026-H1") == docs["2026-H1"]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_school_trend_is_in_cycle_order(docs, db):
    engine = history.open_history(db)
    earlier = copy.deepcopy(docs["2026-Y"])  # last year's annual cycle, recorded after this year's
    earlier["cycle"] |= {"id": "2025-Y", "period_start": "2024-11-16", "period_end": "2025-11-15"}
    earlier["schools"][0]["score"] = 40.0
    for doc in (docs["2026-Y"], docs["2026-H1"], earlier):
        history.record_cycle(engine, doc)
    history.record_cycle(engine, docs["2026-H1"], office="another office")  # never mixed into this one's trend
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
    assert [t["cycle"] for t in history.school_trend(engine, code, office="another office")] == ["2026-H1"]
    # with no id named, the previous cycle is the latest recorded one of the same kind
    assert history.previous_summary(engine, "2026-Y", None)["cycle"] == "2025-Y"
    engine.dispose()


def test_a_cycle_is_loaded_back_with_its_run(docs, db):
    engine = history.open_history(db)
    run = {"started_at": "2026-06-10T07:00:00+07:00", "timings": {"read": 0.5}}
    history.record_cycle(engine, docs["2026-H1"], run=run)
    history.record_cycle(engine, docs["2026-Y"])
    assert history.load_cycle(engine, "2026-H1") == (docs["2026-H1"], run)
    document, recorded = history.load_cycle(engine, "2026-Y")
    assert document == docs["2026-Y"] and recorded["timings"] == {} and recorded["started_at"]
    assert history.load_cycle(engine, "2030-H1") is None
    engine.dispose()


def _first_release_tables(engine: sa.Engine) -> tuple[sa.Table, sa.Table]:
    """The tables as the first release created them: one office, no `office` and no `run` column."""
    old = sa.MetaData()
    cycles = sa.Table("cycles", old, sa.Column("id", sa.String(32), primary_key=True),
                      sa.Column("kind", sa.String(16), nullable=False), sa.Column("label", sa.Text),
                      sa.Column("period_start", sa.String(10)), sa.Column("period_end", sa.String(10)),
                      sa.Column("kpis", sa.JSON, nullable=False), sa.Column("input_sha256", sa.String(64)),
                      sa.Column("config_checksum", sa.String(128)),
                      sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
                      sa.Column("document", sa.LargeBinary))
    results = sa.Table("school_results", old,
                       sa.Column("cycle_id", sa.String(32), sa.ForeignKey("cycles.id", ondelete="CASCADE"),
                                 primary_key=True),
                       sa.Column("school_code", sa.String(64), primary_key=True),
                       sa.Column("position", sa.Integer, nullable=False),
                       *(sa.Column(c.name, c.type) for c in history.school_results.c
                         if c.name not in ("office", "cycle_id", "school_code", "position")))
    sa.Index("ix_school_results_school", results.c.school_code)
    old.create_all(engine)
    return cycles, results


def test_a_database_from_an_earlier_release_keeps_its_history(docs, db):
    """Tables from before `run` and `office`: the first run of this release rebuilds them, every row kept."""
    engine = sa.create_engine(db)
    old_cycles, old_results = _first_release_tables(engine)
    doc = docs["2026-H1"]
    with engine.begin() as conn:
        conn.execute(old_cycles.insert(), {"id": "2026-H1", "kind": "H1", "label": doc["cycle"]["label"],
                                           "period_start": doc["cycle"]["period_start"],
                                           "period_end": doc["cycle"]["period_end"], "kpis": doc["kpis"],
                                           "recorded_at": datetime.now(UTC),
                                           "document": zlib.compress(orjson.dumps(doc))})
        conn.execute(old_results.insert(), [{"cycle_id": "2026-H1", "school_code": s["school_code"], "position": i,
                                             "score": s["score"], "verdict": s["verdict"], "status": s["status"]}
                                            for i, s in enumerate(doc["schools"])])
    engine.dispose()
    assert history.load_document(db, "2026-H1") == doc
    assert history.previous_summary(db, "2026-Y", "2026-H1") == {
        "cycle": "2026-H1", "kpis": doc["kpis"],
        "schools": {s["school_code"]: {"score": s["score"], "verdict": s["verdict"], "rank": None}
                    for s in doc["schools"]}}
    run = {"started_at": "2026-11-10T07:00:00+07:00", "timings": {}}
    history.record_cycle(db, docs["2026-Y"], run=run, office="Bắc")
    assert history.load_cycle(db, "2026-Y", office="Bắc") == (docs["2026-Y"], run)


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
    with pytest.raises(AnttError, match="kỳ 2025-Y chưa có trong cơ sở dữ liệu lịch sử"):
        rerender_cycle("2025-Y", None, out)
    with pytest.raises(AnttError, match="kỳ báo cáo không hợp lệ"):
        rerender_cycle("../2026-Y", None, out)
    with pytest.raises(AnttError, match="chưa có cơ sở dữ liệu lịch sử"):
        rerender_cycle("2026-Y", None, out / "elsewhere")
    assert not (out / "elsewhere").exists()


def test_antt_report_renders_a_unit_s_cycle_from_the_database_alone_into_an_empty_folder(docs, db, tmp_path):
    """The history is all a machine needs: no source, no output folder, only ANTT_HISTORY_URL."""
    from test_cli import antt

    run = {"started_at": "2026-11-10T07:00:00+07:00", "timings": {"read": 0.25}}
    history.record_cycle(db, docs["2026-H1"], office="Phòng GD&ĐT Bắc")
    history.record_cycle(db, docs["2026-Y"], run=run, office="Phòng GD&ĐT Bắc")
    empty = tmp_path / "empty"
    done = antt("report", "--cycle", "2026-Y", "--office", "Phòng GD&ĐT Bắc", "--out", str(empty),
                extra_env={history.URL_ENV: db})
    assert done.returncode == 0, done.stderr
    folder = empty / "2026-Y"
    assert done.stdout.strip() == str((folder / "report.html").resolve())
    assert (folder / "results.json").read_bytes() == to_json(docs["2026-Y"])
    assert "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO" in (folder / "report.html").read_text(encoding="utf-8")
    code = docs["2026-Y"]["schools"][0]["school_code"]
    card = (folder / "schools" / f"{code}.html").read_text(encoding="utf-8")
    assert "2026-H1" in card[card.index("Kết quả qua các kỳ"):]  # the earlier cycle, from the database
    assert not (empty / history.HISTORY_FILE).exists()  # the database named by the URL, none in the folder


def test_a_history_database_that_cannot_be_reached_stops_a_run_in_one_line(postgres, sheet, tmp_path):
    from test_cli import antt, assert_one_line_error

    sheet.add("MN01")
    src = sheet.write_csv(tmp_path / "responses.csv")
    closed = postgres.url("antt", password="s3cret-pw").replace(f":{postgres.port}/", f":{_closed_port()}/")
    done = antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "out"),
                extra_env={history.URL_ENV: closed})
    assert_one_line_error(done, history.shown(closed), history.URL_ENV)
    assert "s3cret-pw" not in done.stderr + done.stdout
    assert not (tmp_path / "out" / "2026-H1").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: connections to it are refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_user_without_the_right_to_create_tables_is_told_the_grant(postgres, docs, sheet, tmp_path):
    from test_cli import antt, assert_one_line_error

    owner_url = postgres.create_database("locked")
    password = postgres.create_role("reader")
    reader_url = postgres.url("locked", user="reader", password=password)
    sheet.add("MN01")
    src = sheet.write_csv(tmp_path / "responses.csv")
    done = antt("run", "--cycle", "2026-H1", "--source", str(src), "--out", str(tmp_path / "out"),
                extra_env={history.URL_ENV: reader_url})
    assert_one_line_error(done, "GRANT CREATE ON SCHEMA public TO reader", history.shown(reader_url))
    assert not (tmp_path / "out" / "2026-H1").exists()
    assert sa.inspect(sa.create_engine(owner_url)).get_table_names() == []  # nothing half-made

    history.open_history(owner_url).dispose()  # the owner creates the tables once; reading needs SELECT …
    grant = "GRANT SELECT, INSERT, DELETE ON cycles, school_results, rollups TO reader"
    with pytest.raises(history.HistoryError, match=grant):
        history.record_cycle(reader_url, docs["2026-H1"])
    postgres.execute(grant, database="locked")
    history.record_cycle(reader_url, docs["2026-H1"])  # … and then the reader records like anyone
    assert history.load_document(owner_url, "2026-H1") == docs["2026-H1"]


@pytest.mark.parametrize("url, fragment", [
    ("postgresql+asyncpg://antt:pw@127.0.0.1:5432/antt", "postgresql+psycopg://"),
    ("postgres ql://nowhere", "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE"),
    ("mysql+nosuchdriver://antt:pw@127.0.0.1/antt", "mysql+nosuchdriver://antt:***@127.0.0.1/antt"),
])
def test_a_url_that_names_no_usable_database_is_one_line(url, fragment):
    with pytest.raises(history.HistoryError) as raised:
        history.open_history(url)
    assert fragment in str(raised.value) and "\n" not in str(raised.value) and ":pw@" not in str(raised.value)


def test_a_draft_cycle_is_never_the_previous_one_until_it_is_recorded_final(tmp_path, docs, db):
    """Issue 18: a run before the reply window closed records a draft; comparisons skip it."""
    engine = history.open_history(db)
    history.record_cycle(engine, docs["2026-H1"], draft=True)
    history.record_cycle(engine, docs["2026-Y"])
    assert [(c["id"], c["draft"]) for c in history.recorded_cycles(engine)] == [("2026-H1", True), ("2026-Y", False)]
    assert history.previous_summary(engine, "2026-Y", "2026-H1") is None
    assert history.is_recorded(engine, "2026-H1") and not history.is_recorded(engine, "2025-Y")
    assert history.load_document(engine, "2026-H1") == docs["2026-H1"]  # still re-rendered as it was
    code = docs["2026-H1"]["schools"][0]["school_code"]
    assert [t["cycle"] for t in history.school_trend(engine, code)] == ["2026-Y"]
    history.record_cycle(engine, docs["2026-H1"])  # the final run, after the reply window
    assert history.previous_summary(engine, "2026-Y", "2026-H1") == _file_summary(tmp_path, docs["2026-H1"])
    assert [t["cycle"] for t in history.school_trend(engine, code)] == ["2026-H1", "2026-Y"]
    engine.dispose()


def test_a_database_from_before_drafts_gains_the_column_every_cycle_final(docs, db):
    """Tables with `office` and `run` but no `draft`: opening them adds it, false for what they hold."""
    engine = sa.create_engine(db)
    old = sa.MetaData()
    sa.Table("cycles", old, *(c.copy() for c in history.cycles.c if c.name != "draft"))
    sa.Table("school_results", old, *(c.copy() for c in history.school_results.c),
             sa.ForeignKeyConstraint(["office", "cycle_id"], ["cycles.office", "cycles.id"], ondelete="CASCADE"))
    old.create_all(engine)
    doc = docs["2026-H1"]
    with engine.begin() as conn:
        conn.execute(old.tables["cycles"].insert(), {
            "office": "", "id": "2026-H1", "kind": "H1", "label": doc["cycle"]["label"],
            "period_start": doc["cycle"]["period_start"], "period_end": doc["cycle"]["period_end"],
            "kpis": doc["kpis"], "recorded_at": datetime.now(UTC), "document": zlib.compress(orjson.dumps(doc))})
    engine.dispose()
    assert [(c["id"], c["draft"]) for c in history.recorded_cycles(db)] == [("2026-H1", False)]
    assert history.previous_summary(db, "2026-Y", "2026-H1")["cycle"] == "2026-H1"
    history.record_cycle(db, docs["2026-Y"], draft=True)
    assert [(c["id"], c["draft"]) for c in history.recorded_cycles(db)] == [("2026-H1", False), ("2026-Y", True)]


def test_a_run_before_the_reply_window_closes_is_a_draft_and_no_earlier_folder_stands_in(config, tmp_path):
    """Next year's H1, run today, is a draft: next year's annual run compares with nothing, though the H1 folder
    (with its results.json) is there."""
    from antt.pipeline import is_draft

    year = datetime.now(UTC).year + 1
    schools = tmp_path / "schools.csv"
    schools.write_text(REGISTRY, encoding="utf-8")
    sheet = Sheet(config, load_registry(schools, config.form.levels))
    sheet.add("MN01", at=f"9/6/{year} 8:00:00")
    sheet.add("TH01", at=f"9/11/{year} 8:00:00")
    source = sheet.write_csv(tmp_path / "responses.csv")
    h1 = run_stages(source, REPO / "config", tmp_path / "out", f"{year}-H1", schools)
    assert is_draft(h1.run)
    h1.write()
    assert (tmp_path / "out" / f"{year}-H1" / "results.json").is_file()
    annual = run_stages(source, REPO / "config", tmp_path / "out", f"{year}-Y", schools).write()
    document = orjson.loads((annual / "results.json").read_bytes())
    assert document["previous"] is None
    assert [(c["id"], c["draft"]) for c in history.recorded_cycles(tmp_path / "out")] == [
        (f"{year}-H1", True), (f"{year}-Y", True)]
    past = run_stages(source, REPO / "config", tmp_path / "past", "2025-Y", schools)
    assert not is_draft(past.run)


def test_sqlite_stores_the_school_rows_sqlalchemy_would(docs, tmp_path):
    """On SQLite the school rows go straight to the driver (`history._insert_many`): the same values, of the same
    SQLite types, as SQLAlchemy's own executemany stores."""
    _, rows = history.prepare_cycle(docs["2026-Y"], {"started_at": "2026-12-01T08:00:00+07:00", "timings": {}})
    stored = []
    for how in ("direct", "sqlalchemy"):
        engine = history.open_history(f"sqlite:///{tmp_path / how}.sqlite")
        with engine.begin() as conn:
            conn.execute(history.cycles.insert(), {"office": "", "id": "2026-Y", "kind": "Y", "kpis": {},
                                                   "recorded_at": datetime.now(UTC)})
            if how == "direct":
                history._insert_many(conn, history.school_results, rows)
            else:
                conn.execute(history.school_results.insert(), rows)
        with engine.connect() as conn:
            stored.append(conn.exec_driver_sql(
                "SELECT *, typeof(on_time), typeof(score), typeof(criteria) FROM school_results ORDER BY position")
                .all())
        engine.dispose()
    assert len(stored[0]) == len(rows) and stored[0] == stored[1]


def test_the_recorded_document_is_results_json_compressed_a_school_at_a_time(docs):
    for document in docs.values():
        stored = zlib.decompress(history.prepare_cycle(document)[0]["document"])
        assert stored == to_json(document) and orjson.loads(stored) == document
        given = to_json(document)  # as a run hands it over: the results.json it wrote, in pieces
        pieces = [given[i:i + 4096] for i in range(0, len(given), 4096)]
        assert history.prepare_cycle(document, json=pieces)[0]["document"] == \
            history.prepare_cycle(document)[0]["document"]
