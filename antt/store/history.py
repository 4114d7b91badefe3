"""Every cycle's results in one database, so trends and "previous cycle" need no old output folders.

SQLite through SQLAlchemy by default (`<out>/history.sqlite`, WAL mode); any SQLAlchemy URL in `ANTT_HISTORY_URL`
(`postgresql+psycopg://…`, with the `postgres` extra) works with the same code, and one such database can hold the
history of many offices: the province's units record into it from any worker, each under its own `office` name (the
unit's name; a lone office records under ""). One row per office and cycle, one row per school per office and cycle.
A cycle recorded by a draft run (one that started before the cycle's reply window closed: `antt.pipeline.is_draft`)
is marked `draft`: it is re-rendered like any other, but it is never an earlier cycle to compare with (previous
cycle, trends) until a run after the reply window records the cycle again, final.
Recording a cycle replaces that office's cycle rows, and only those, in one transaction: a run killed mid-write
leaves the rows recorded before it. The tables are created on first use, by whichever writer comes first (the others
wait for it), and a database from an earlier release is brought up to date in the same transaction.

A database that cannot be reached, or that refuses what a run needs, is a HistoryError: one line naming the fix.
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.errors import AnttError
from antt.i18n import _
from antt.outputs.document import json_parts
from antt.store.faults import checkpoint
from antt.text import one_line

HISTORY_FILE = "history.sqlite"
URL_ENV = "ANTT_HISTORY_URL"
CONNECT_TIMEOUT_S = 10
BUSY_TIMEOUT_S = 60  # how long a SQLite writer waits for another
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for a refused CREATE, SELECT, INSERT or DELETE
SCHEMA_LOCK = 0x616E7474  # "antt": the advisory lock writers take to create or upgrade the tables one at a time


class HistoryError(AnttError):
    """The history database cannot be reached or refuses what a run needs; the message says what to do."""


metadata = sa.MetaData()

cycles = sa.Table(
    "cycles", metadata,
    sa.Column("office", sa.String(200), primary_key=True),  # "" for a lone office, else the unit's name
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
    # recorded before the reply window closed: never the "previous cycle" (a database from before it gains it, false)
    sa.Column("draft", sa.Boolean, nullable=False, server_default=sa.false()),
)

school_results = sa.Table(
    "school_results", metadata,
    sa.Column("office", sa.String(200), primary_key=True),
    sa.Column("cycle_id", sa.String(32), primary_key=True),
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
    sa.ForeignKeyConstraint(["office", "cycle_id"], ["cycles.office", "cycles.id"], ondelete="CASCADE"),
)
sa.Index("ix_school_results_school", school_results.c.office, school_results.c.school_code)

rollups = sa.Table(  # the province's latest roll-up of each cycle: which units finished (antt.flows.province)
    "rollups", metadata,
    sa.Column("cycle_id", sa.String(32), primary_key=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.LargeBinary, nullable=False),  # province.json (orjson, zlib)
)

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


def shown(engine_or_url: Engine | str) -> str:
    """The database's URL as it may be printed: without its password."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else sa.engine.make_url(engine_or_url)
    return url.render_as_string(hide_password=True)


def open_history(target: Engine | Path | str) -> Engine:
    """An engine with the tables in place. `target`: an Engine, a SQLAlchemy URL, or an output folder.
    Raises HistoryError when the database cannot be reached or its tables cannot be created."""
    engine = target if isinstance(target, Engine) else _engine(str(target))
    if engine not in _ready:
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()  # connections opened before the listener get the pragmas too
        try:
            with _explained(engine, creating=True), engine.begin() as conn:
                _lock_schema(conn)
                _upgrade(conn)
                metadata.create_all(conn)
        except HistoryError:
            engine.dispose()
            raise
        _ready.add(engine)
    return engine


@contextmanager
def connected(target: Path | str) -> Iterator[Engine]:
    """`open_history(target)` for the length of a block; its connections are closed after it."""
    engine = open_history(target)
    try:
        yield engine
    finally:
        engine.dispose()


def _engine(text: str) -> Engine:
    url_text = text if "://" in text else history_url(text)
    try:
        url = sa.engine.make_url(url_text)
    except sa.exc.ArgumentError:
        # not echoed: a URL that does not parse may still hold a password
        raise HistoryError(_("{env} is not a database URL: write it as "
                             "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE").format(env=URL_ENV)) from None
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if url.get_driver_name() == "asyncpg":
        raise HistoryError(_("{url}: asyncpg is the Prefect server's driver; the history database takes "
                             "postgresql+psycopg://…").format(url=shown(url_text)))
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.get_backend_name() == "postgresql" else {}
    try:
        return sa.create_engine(url, json_serializer=_json, json_deserializer=orjson.loads,
                                connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise HistoryError(_("{url}: the {driver} driver is not installed; install antt with its postgres extra "
                             "(pip install 'antt[postgres]')").format(url=shown(url_text), driver=exc.name)) from None
    except sa.exc.ArgumentError as exc:  # a dialect SQLAlchemy does not know
        raise HistoryError(_("{url}: not a database SQLAlchemy can use ({reason})").format(
            url=shown(url_text), reason=one_line(str(exc)))) from None


@contextmanager
def _explained(engine: Engine, creating: bool = False) -> Iterator[None]:
    """Database errors a person can act on, as one HistoryError line; the transaction they broke is rolled back."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        reason = one_line(str(exc.orig).split("\n")[0]) if exc.orig is not None else one_line(str(exc))
        user = engine.url.username or ""
        if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            if creating:
                raise HistoryError(_(
                    "the history database {url} does not let {user} create its tables ({reason}): create them "
                    "once as the database's owner (run antt as the owner once), or GRANT CREATE ON SCHEMA public "
                    "TO {user}").format(url=shown(engine), user=user, reason=reason)) from None
            raise HistoryError(_(
                "the history database {url} does not let {user} read and write its tables ({reason}): "
                "GRANT SELECT, INSERT, DELETE ON cycles, school_results, rollups TO {user}").format(
                url=shown(engine), user=user, reason=reason)) from None
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            raise HistoryError(_(
                "cannot use the history database {url} ({reason}): check {env} (host, port, user, password, "
                "database) and that the database server is running").format(
                url=shown(engine), reason=reason, env=URL_ENV)) from None
        raise


def _lock_schema(conn: sa.Connection) -> None:
    """Writers that find no tables (or old ones) create or upgrade them one at a time: the first one does it, the
    others then find them in place."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))


def _upgrade(conn: sa.Connection) -> None:
    """Tables from before the `office` column (a single office's history, maybe without `run`) are rebuilt with it,
    every row kept under office "" and final; tables from before the `draft` column gain it, every cycle final; in
    the caller's transaction."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("cycles"):
        return
    had = {c["name"] for c in inspector.get_columns("cycles")}
    if "office" in had:
        if "draft" not in had:
            conn.execute(sa.DDL("ALTER TABLE cycles ADD COLUMN draft BOOLEAN NOT NULL DEFAULT FALSE"))
        return
    had_results = {c["name"] for c in inspector.get_columns("school_results")} \
        if inspector.has_table("school_results") else set()
    old_cycles = [dict(r._mapping) for r in conn.execute(sa.select(*(c for c in cycles.c if c.name in had)))]
    old_results = [dict(r._mapping) for r in conn.execute(sa.select(
        *(c for c in school_results.c if c.name in had_results)))] if had_results else []
    school_results.drop(conn, checkfirst=True)
    cycles.drop(conn)
    metadata.create_all(conn)
    if old_cycles:
        conn.execute(cycles.insert(), [dict.fromkeys(cycles.c.keys()) | row | {"office": "", "draft": False}
                                       for row in old_cycles])
    if old_results:
        conn.execute(school_results.insert(),
                     [dict.fromkeys(school_results.c.keys()) | row | {"office": ""} for row in old_results])


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")  # another cycle's run may be recording: wait
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal(cursor) -> None:
    """WAL mode, which the file keeps once it is set. Setting it on a new file does not wait for a writer that holds
    the file (SQLite's busy timeout does not cover it): writers racing on a new history database retry until it is
    set, for as long as they would wait for a busy database."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def record_cycle(engine_or_url: Engine | Path | str, document: dict, run: dict | None = None,
                 office: str = "", draft: bool = False, prepared: Recording | None = None) -> None:
    """Store one cycle's results document (and the run's start time and timings) for `office`, replacing whatever
    that office's cycle had, as a draft or final; one transaction. `prepared`: what `prepare_cycle` made of the same
    arguments earlier (a run prepares it while its other processes finish, then records after publishing)."""
    engine = open_history(engine_or_url)
    head, rows = prepared or prepare_cycle(document, run, office, draft)
    cycle_id = head["id"]
    with _explained(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two writers of one office's cycle take turns (SQLite locks the file)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{office}/{cycle_id}", 0))))
        conn.execute(school_results.delete().where(school_results.c.office == office,
                                                   school_results.c.cycle_id == cycle_id))
        conn.execute(cycles.delete().where(cycles.c.office == office, cycles.c.id == cycle_id))
        conn.execute(cycles.insert(), head | {"recorded_at": datetime.now(UTC)})
        if rows and conn.dialect.name == "sqlite":
            _insert_many(conn, school_results, rows)
        elif rows:
            conn.execute(school_results.insert(), rows)  # executemany
        checkpoint("history:before_commit")


def _insert_many(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """`conn.execute(table.insert(), rows)` on SQLite, without SQLAlchemy's handling of each row's parameters (1.2 s
    of CPU for 50,000 schools): the statement compiled once, each column's values through that column's own bind
    processor, one executemany on the driver. The same rows are stored."""
    compiled = table.insert().compile(dialect=conn.dialect)
    names = compiled.positiontup
    columns = []
    for name in names:
        values = [row[name] for row in rows]
        process = table.c[name].type.bind_processor(conn.dialect)
        columns.append([process(v) for v in values] if process else values)
    conn.exec_driver_sql(str(compiled), list(zip(*columns, strict=True)))


Recording = tuple[dict, list[dict]]


def prepare_cycle(document: dict, run: dict | None = None, office: str = "", draft: bool = False,
                  json: Iterable[bytes] | None = None) -> Recording:
    """The rows `record_cycle` stores for these arguments (the cycle's row without its recording time, and one row
    per school), made without the database: the compressed document and 50,000 school rows take a second or two.
    `json`: the document's results.json bytes, when the caller has written them already (else they are made again)."""
    cycle = document["cycle"]
    cycle_id = cycle["id"]
    head = {
        "office": office, "id": cycle_id, "kind": cycle.get("kind") or "", "label": cycle.get("label"),
        "period_start": cycle.get("period_start"), "period_end": cycle.get("period_end"),
        "kpis": document.get("kpis") or {},
        "input_sha256": (document.get("input") or {}).get("sha256"),
        "config_checksum": (document.get("config") or {}).get("checksum"),
        "document": _compressed(json_parts(document) if json is None else json),
        "run": run,
        "draft": draft,
    }
    rows = [{"office": office, "cycle_id": cycle_id, "school_code": s["school_code"], "position": i,
             **{k: s.get(k) for k in _SCALARS},
             "failed_criteria": s.get("failed_criteria"), "criteria": s.get("criteria") or {},
             "indicators": s.get("indicators") or {}}
            for i, s in enumerate(document.get("schools") or [])]
    return head, rows


def _compressed(json: Iterable[bytes]) -> bytes:
    """The document as results.json holds it (`document.to_json`), compressed a piece at a time: a national
    document's 100 MB of JSON is never held whole."""
    packer = zlib.compressobj(1)
    return b"".join([*(packer.compress(part) for part in json), packer.flush()])


def recorded_cycles(engine_or_url: Engine | Path | str, office: str = "") -> list[dict]:
    """An office's recorded cycles in cycle order (period end, period start, id): id, kind, label, kpis,
    input_sha256, config_checksum, recorded_at, draft."""
    engine = open_history(engine_or_url)
    query = sa.select(cycles.c.id, cycles.c.kind, cycles.c.label, cycles.c.kpis, cycles.c.input_sha256,
                      cycles.c.config_checksum, cycles.c.recorded_at, cycles.c.draft) \
        .where(cycles.c.office == office).order_by(*_cycle_order())
    with _explained(engine), engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _cycle_order():
    return cycles.c.period_end, cycles.c.period_start, cycles.c.id


def previous_summary(engine_or_url: Engine | Path | str, cycle_id: str, previous_id: str | None,
                     office: str = "") -> dict | None:
    """The office's earlier cycle in the shape `antt.outputs.document.previous_summary` gives; None when not
    recorded, or recorded as a draft.

    `previous_id` names it (as `antt.cycles.previous_cycle_id` does); when None, the latest final cycle of the same
    kind as `cycle_id` that ends before it is taken (needs `cycle_id` recorded already).
    """
    engine = open_history(engine_or_url)
    mine = (cycles.c.office == office) & ~cycles.c.draft
    with _explained(engine), engine.connect() as conn:
        if previous_id is None:
            this = conn.execute(sa.select(cycles.c.kind, cycles.c.period_end)
                                .where(cycles.c.office == office, cycles.c.id == cycle_id)).first()
            if this is None:
                return None
            previous_id = conn.execute(
                sa.select(cycles.c.id).where(mine, cycles.c.kind == this.kind, cycles.c.id != cycle_id,
                                             cycles.c.period_end < this.period_end)
                .order_by(*(c.desc() for c in _cycle_order())).limit(1)).scalar()
        if previous_id is None or previous_id == cycle_id:
            return None
        kpis = conn.execute(sa.select(cycles.c.kpis).where(mine, cycles.c.id == previous_id)).scalar()
        if kpis is None:
            return None
        c = school_results.c
        rows = conn.execute(sa.select(c.school_code, c.score, c.verdict, c.rank_overall)
                            .where(c.office == office, c.cycle_id == previous_id).order_by(c.position)).all()
    return {"cycle": previous_id, "kpis": kpis,
            "schools": {code: {"score": score, "verdict": verdict, "rank": rank}
                        for code, score, verdict, rank in rows}}


def school_trend(engine_or_url: Engine | Path | str, school_code: str, before: str | None = None,
                 office: str = "") -> list[dict]:
    """One school across the office's recorded cycles, in cycle order: cycle, label, period_end, status, verdict,
    score, rank_overall. `before` (an ISO date) keeps only cycles that end before it."""
    return school_trends(engine_or_url, [school_code], before, office)[school_code]


def school_trends(engine_or_url: Engine | Path | str, school_codes: list[str] | None = None,
                  before: str | None = None, office: str = "") -> dict[str, list[dict]]:
    """`school_trend` for many schools in one query (scorecards for a whole cycle): {code: [trend rows]}. Cycles
    recorded as drafts are left out."""
    engine = open_history(engine_or_url)
    c = school_results.c
    query = (sa.select(c.school_code, c.cycle_id.label("cycle"), cycles.c.label, cycles.c.period_end, c.status,
                       c.verdict, c.score, c.rank_overall)
             .join(cycles, (cycles.c.office == c.office) & (cycles.c.id == c.cycle_id))
             .where(c.office == office, ~cycles.c.draft).order_by(*_cycle_order()))
    if before is not None:
        query = query.where(cycles.c.period_end < before)
    wanted = None if school_codes is None else set(school_codes)
    out: dict[str, list[dict]] = {} if wanted is None else {code: [] for code in wanted}
    with _explained(engine), engine.connect() as conn:
        for row in conn.execute(query):
            m = dict(row._mapping)
            code = m.pop("school_code")
            if wanted is None or code in wanted:
                out.setdefault(code, []).append(m)
    return out


def is_recorded(engine_or_url: Engine | Path | str, cycle_id: str, office: str = "") -> bool:
    """Whether the office's cycle is recorded at all, as a draft or final."""
    engine = open_history(engine_or_url)
    with _explained(engine), engine.connect() as conn:
        return conn.execute(sa.select(cycles.c.id).where(cycles.c.office == office, cycles.c.id == cycle_id)) \
            .first() is not None


def load_document(engine_or_url: Engine | Path | str, cycle_id: str, office: str = "") -> dict | None:
    """The full results document recorded for an office's cycle (to re-render its pages), or None."""
    recorded = load_cycle(engine_or_url, cycle_id, office)
    return None if recorded is None else recorded[0]


def load_cycle(engine_or_url: Engine | Path | str, cycle_id: str, office: str = "") -> tuple[dict, dict] | None:
    """(document, run) recorded for an office's cycle, or None when the cycle or its document was not kept. `run`
    has `started_at` and `timings`; a cycle recorded without them gets its recording time and no timings."""
    engine = open_history(engine_or_url)
    with _explained(engine), engine.connect() as conn:
        row = conn.execute(sa.select(cycles.c.document, cycles.c.run, cycles.c.recorded_at)
                           .where(cycles.c.office == office, cycles.c.id == cycle_id)).first()
    if row is None or row.document is None:
        return None
    run = row.run or {"started_at": row.recorded_at.isoformat(timespec="seconds"), "timings": {}}
    return orjson.loads(zlib.decompress(row.document)), run


def record_rollup(engine_or_url: Engine | Path | str, document: dict) -> None:
    """Store the province's roll-up of a cycle (province.json), replacing the one before it."""
    engine = open_history(engine_or_url)
    cycle_id = document["cycle"]["id"]
    with _explained(engine), engine.begin() as conn:
        conn.execute(rollups.delete().where(rollups.c.cycle_id == cycle_id))
        conn.execute(rollups.insert(), {"cycle_id": cycle_id, "recorded_at": datetime.now(UTC),
                                        "document": zlib.compress(orjson.dumps(document), 1)})


def load_rollup(engine_or_url: Engine | Path | str, cycle_id: str) -> dict | None:
    """The province's latest roll-up of a cycle, or None."""
    engine = open_history(engine_or_url)
    with _explained(engine), engine.connect() as conn:
        data = conn.execute(sa.select(rollups.c.document).where(rollups.c.cycle_id == cycle_id)).scalar()
    return None if data is None else orjson.loads(zlib.decompress(data))
