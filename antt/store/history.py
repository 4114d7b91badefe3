"""Every cycle's results in one database, so trends and "previous cycle" need no old output folders.

SQLite through SQLAlchemy by default (`<out>/history.sqlite`, WAL mode); any SQLAlchemy URL in `ANTT_HISTORY_URL`
(e.g. `postgresql+psycopg://…`) works with the same code. One row per cycle, one row per school per cycle.
Recording a cycle replaces that cycle's rows, and only those, in one transaction: a run killed mid-write leaves the
rows recorded before it.
"""

from __future__ import annotations

import os
import weakref
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.store.faults import checkpoint

HISTORY_FILE = "history.sqlite"
URL_ENV = "ANTT_HISTORY_URL"

metadata = sa.MetaData()

cycles = sa.Table(
    "cycles", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("period_start", sa.String(10)),
    sa.Column("period_end", sa.String(10)),
    sa.Column("kpis", sa.JSON, nullable=False),
    sa.Column("input_sha256", sa.String(64)),
    sa.Column("config_checksum", sa.String(128)),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    # the whole results document (orjson, zlib): `antt report` can re-render a cycle without its source
    sa.Column("document", sa.LargeBinary),
    sa.Column("run", sa.JSON),  # when the run started and its stage timings, for the re-rendered report's footer
)

school_results = sa.Table(
    "school_results", metadata,
    sa.Column("cycle_id", sa.String(32), sa.ForeignKey("cycles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("school_code", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),  # order in the document (rank order)
    sa.Column("school_name", sa.Text),
    sa.Column("level", sa.String(16)),
    sa.Column("ward", sa.Text),
    sa.Column("unit", sa.Text),
    sa.Column("status", sa.String(32)),
    sa.Column("submitted_at", sa.String(40)),  # ISO 8601 with offset, as in results.json
    sa.Column("on_time", sa.Boolean),
    sa.Column("verdict", sa.String(16)),
    sa.Column("score", sa.Float),
    sa.Column("grade", sa.Text),
    sa.Column("rank_overall", sa.Integer),
    sa.Column("rank_in_level", sa.Integer),
    sa.Column("failed_criteria", sa.JSON),
    sa.Column("criteria", sa.JSON),
    sa.Column("indicators", sa.JSON),
)
sa.Index("ix_school_results_school", school_results.c.school_code)

_SCALARS = ("school_name", "level", "ward", "unit", "status", "submitted_at", "on_time", "verdict", "score", "grade",
            "rank_overall", "rank_in_level")
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose tables and pragmas are in place


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def history_url(out: Path | str) -> str:
    """`ANTT_HISTORY_URL` when set, else the SQLite file inside the output folder."""
    return os.environ.get(URL_ENV) or f"sqlite:///{Path(out).resolve() / HISTORY_FILE}"


def exists(out: Path | str) -> bool:
    """Whether there is a history to read: a database named by `ANTT_HISTORY_URL`, or `<out>/history.sqlite`."""
    return bool(os.environ.get(URL_ENV)) or (Path(out) / HISTORY_FILE).is_file()


def open_history(target: Engine | Path | str) -> Engine:
    """An engine with the tables in place. `target`: an Engine, a SQLAlchemy URL, or an output folder."""
    if isinstance(target, Engine):
        engine = target
    else:
        text = str(target)
        url = text if "://" in text else history_url(target)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, json_serializer=_json, json_deserializer=orjson.loads)
    if engine not in _ready:
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()  # connections opened before the listener get the pragmas too
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":  # two runs creating a new file's tables at once take turns
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            metadata.create_all(conn)
            if "run" not in {c["name"] for c in sa.inspect(conn).get_columns("cycles")}:
                conn.exec_driver_sql("ALTER TABLE cycles ADD COLUMN run JSON")  # a database from before the column
        _ready.add(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")  # another cycle's run may be recording: wait for it
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def record_cycle(engine_or_url: Engine | Path | str, document: dict, run: dict | None = None) -> None:
    """Store one cycle's results document (and the run's start time and timings), replacing whatever that cycle
    had; one transaction."""
    engine = open_history(engine_or_url)
    cycle = document["cycle"]
    cycle_id = cycle["id"]
    head = {
        "id": cycle_id, "kind": cycle.get("kind") or "", "label": cycle.get("label"),
        "period_start": cycle.get("period_start"), "period_end": cycle.get("period_end"),
        "kpis": document.get("kpis") or {},
        "input_sha256": (document.get("input") or {}).get("sha256"),
        "config_checksum": (document.get("config") or {}).get("checksum"),
        "recorded_at": datetime.now(UTC),
        "document": zlib.compress(orjson.dumps(document), 1),
        "run": run,
    }
    rows = [{"cycle_id": cycle_id, "school_code": s["school_code"], "position": i,
             **{k: s.get(k) for k in _SCALARS},
             "failed_criteria": s.get("failed_criteria"), "criteria": s.get("criteria") or {},
             "indicators": s.get("indicators") or {}}
            for i, s in enumerate(document.get("schools") or [])]
    with engine.begin() as conn:
        conn.execute(school_results.delete().where(school_results.c.cycle_id == cycle_id))
        conn.execute(cycles.delete().where(cycles.c.id == cycle_id))
        conn.execute(cycles.insert(), head)
        if rows:
            conn.execute(school_results.insert(), rows)  # executemany
        checkpoint("history:before_commit")


def recorded_cycles(engine_or_url: Engine | Path | str) -> list[dict]:
    """Recorded cycles in cycle order (period end, period start, id): id, kind, kpis, input_sha256, recorded_at."""
    engine = open_history(engine_or_url)
    query = sa.select(cycles.c.id, cycles.c.kind, cycles.c.label, cycles.c.kpis, cycles.c.input_sha256,
                      cycles.c.config_checksum, cycles.c.recorded_at).order_by(*_cycle_order())
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _cycle_order():
    return cycles.c.period_end, cycles.c.period_start, cycles.c.id


def previous_summary(engine_or_url: Engine | Path | str, cycle_id: str, previous_id: str | None) -> dict | None:
    """The earlier cycle in the shape `antt.outputs.document.previous_summary` gives; None when not recorded.

    `previous_id` names it (as `antt.cycles.previous_cycle_id` does); when None, the latest recorded cycle of
    the same kind as `cycle_id` that ends before it is taken (needs `cycle_id` recorded already).
    """
    engine = open_history(engine_or_url)
    with engine.connect() as conn:
        if previous_id is None:
            this = conn.execute(sa.select(cycles.c.kind, cycles.c.period_end)
                                .where(cycles.c.id == cycle_id)).first()
            if this is None:
                return None
            previous_id = conn.execute(
                sa.select(cycles.c.id).where(cycles.c.kind == this.kind, cycles.c.id != cycle_id,
                                             cycles.c.period_end < this.period_end)
                .order_by(*(c.desc() for c in _cycle_order())).limit(1)).scalar()
        if previous_id is None or previous_id == cycle_id:
            return None
        kpis = conn.execute(sa.select(cycles.c.kpis).where(cycles.c.id == previous_id)).scalar()
        if kpis is None:
            return None
        c = school_results.c
        rows = conn.execute(sa.select(c.school_code, c.score, c.verdict, c.rank_overall)
                            .where(c.cycle_id == previous_id).order_by(c.position)).all()
    return {"cycle": previous_id, "kpis": kpis,
            "schools": {code: {"score": score, "verdict": verdict, "rank": rank}
                        for code, score, verdict, rank in rows}}


def school_trend(engine_or_url: Engine | Path | str, school_code: str, before: str | None = None) -> list[dict]:
    """One school across the recorded cycles, in cycle order: cycle, label, period_end, status, verdict, score,
    rank_overall. `before` (an ISO date) keeps only cycles that end before it."""
    return school_trends(engine_or_url, [school_code], before)[school_code]


def school_trends(engine_or_url: Engine | Path | str, school_codes: list[str] | None = None,
                  before: str | None = None) -> dict[str, list[dict]]:
    """`school_trend` for many schools in one query (scorecards for a whole cycle): {code: [trend rows]}."""
    engine = open_history(engine_or_url)
    c = school_results.c
    query = (sa.select(c.school_code, c.cycle_id.label("cycle"), cycles.c.label, cycles.c.period_end, c.status,
                       c.verdict, c.score, c.rank_overall)
             .join(cycles, cycles.c.id == c.cycle_id).order_by(*_cycle_order()))
    if before is not None:
        query = query.where(cycles.c.period_end < before)
    wanted = None if school_codes is None else set(school_codes)
    out: dict[str, list[dict]] = {} if wanted is None else {code: [] for code in wanted}
    with engine.connect() as conn:
        for row in conn.execute(query):
            m = dict(row._mapping)
            code = m.pop("school_code")
            if wanted is None or code in wanted:
                out.setdefault(code, []).append(m)
    return out


def load_document(engine_or_url: Engine | Path | str, cycle_id: str) -> dict | None:
    """The full results document recorded for a cycle (to re-render its pages), or None."""
    recorded = load_cycle(engine_or_url, cycle_id)
    return None if recorded is None else recorded[0]


def load_cycle(engine_or_url: Engine | Path | str, cycle_id: str) -> tuple[dict, dict] | None:
    """(document, run) recorded for a cycle, or None when the cycle or its document was not kept. `run` has
    `started_at` and `timings`; a cycle recorded without them gets its recording time and no timings."""
    engine = open_history(engine_or_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(cycles.c.document, cycles.c.run, cycles.c.recorded_at)
                           .where(cycles.c.id == cycle_id)).first()
    if row is None or row.document is None:
        return None
    run = row.run or {"started_at": row.recorded_at.isoformat(timespec="seconds"), "timings": {}}
    return orjson.loads(zlib.decompress(row.document)), run
