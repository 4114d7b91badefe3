"""Shared fixtures: the default config and registry, a real-shaped response-sheet builder, and the core pipeline
called directly (most tests need no Prefect engine)."""

from __future__ import annotations

import csv
import os
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One throwaway Prefect home for the whole session, set before anything imports prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="antt-prefect-home-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.pop("PREFECT_API_URL", None)
# The suite speaks the office's default language, whatever the shell running it sets; a test that needs English
# says so itself (ANTT_LANG=en in its environment).
os.environ.pop("ANTT_LANG", None)

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from antt import i18n  # noqa: E402
from antt.checks.suite import build_suite  # noqa: E402
from antt.checks.validate import header_issues, issues_from_results, run_suite, sort_issues  # noqa: E402
from antt.config import Config, load_config  # noqa: E402
from antt.cycles import resolve_cycle  # noqa: E402
from antt.intake.normalize import normalize  # noqa: E402
from antt.intake.registry import load_registry  # noqa: E402
from antt.scoring.results import CycleResults, rank_cycle, score_cycle  # noqa: E402
from antt.sources.raw import RawTable  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def speaking(lang: str):
    """ANTT_LANG=`lang` in this process: messages in that language until the block ends."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANTT_LANG", lang)
        i18n.use(lang)
        yield
    i18n.use(i18n.language())


@pytest.fixture
def english():
    """ANTT_LANG=en for one test, in this process: messages in English from here to the test's end."""
    with speaking("en"):
        yield


@pytest.fixture(scope="module")
def english_module():
    """`english` for a whole module (`pytestmark = pytest.mark.usefixtures("english_module")`)."""
    with speaking("en"):
        yield


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(REPO / "config")


@pytest.fixture(scope="session")
def registry(config) -> pd.DataFrame:
    return load_registry(REPO / "config" / "schools.csv", config.form.levels)


class Sheet:
    """A Google Forms response sheet as exported: header titles "ID. label", timestamps d/m/yyyy H:MM:SS.

    `add()` appends a complete, compliant submission for a school; keyword arguments override answers
    (question id → cell text, '' for blank). Returns the row's sheet row number (header = row 1).
    """

    def __init__(self, config: Config, registry: pd.DataFrame, email_column: bool = True):
        self.config, self.registry = config, registry.set_index("school_code")
        self.email_column = email_column
        self.headers = ["Dấu thời gian"] + (["Địa chỉ email"] if email_column else []) + \
            [q.title for q in config.form.questions]
        self.rows: list[list[str]] = []

    def good_answers(self, code: str) -> dict[str, str]:
        form = self.config.form
        level = self.registry.loc[code, "level"]
        upper = level in ("THCS", "TH&THCS")
        answers = {
            "A1": f"{code} – {self.registry.loc[code, 'school_name']}", "A2": "Nguyễn Thị Lan", "A3": "Hiệu trưởng",
            "A4": "0912345678", "A5": "40", "A6": "600", "A7": "600" if upper else "", "B1": "40", "B2": "Có",
            "B3": "Có", "B4": ", ".join(form.by_id["B4"].options), "B5": "40", "B6": "600" if upper else "",
            "B7": "Có", "C1": ", ".join(form.by_id["C1"].options), "C2": "6", "C3": "500",
            "C4": ", ".join(form.by_id["C4"].options[:4]), "C5": ", ".join(form.by_id["C5"].options[:6]),
            "C6": "" if level == "MN" else "Có", "C7": "Có", "C8": "30",
            "C9": ", ".join(form.by_id["C9"].options[:2]), "C10": "Có",
            **{f"D{i}": "0" for i in range(1, 9)}, "D9": "Không", "E1": "Có", "E2": "3", "E3": "Có", "E4": "40",
            "E5": "Có", "F1": "Có", "F2": "15/09/2025", "F3": "20.000.000", "G1": "Đạt", "G2": "",
            "G3": "https://minhchung.example.org/truong",
        }
        return answers

    def add(self, code: str, at: str = "9/6/2026 8:00:00", email: str | None = None, **answers: str) -> int:
        cells = self.good_answers(code) if code in self.registry.index else {"A1": f"{code} – ?"}
        cells.update(answers)
        sender = email if email is not None else (self.registry.loc[code, "emails"] or [""])[0] \
            if code in self.registry.index else "nobody@example.org"
        row = [at] + ([sender] if self.email_column else []) + [cells.get(q.id, "") for q in self.config.form.questions]
        self.rows.append(row)
        return len(self.rows) + 1

    def blank_row(self) -> int:
        self.rows.append([""] * len(self.headers))
        return len(self.rows) + 1

    def raw(self) -> RawTable:
        return RawTable.from_rows([list(self.headers)] + [list(r) for r in self.rows], source="test")

    def write_csv(self, path: Path) -> Path:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([self.headers] + self.rows)
        return path


@pytest.fixture
def sheet(config, registry) -> Sheet:
    return Sheet(config, registry)


def evaluate(raw: RawTable, config: Config, registry: pd.DataFrame, cycle_id: str = "2026-H1"
             ) -> tuple[pd.DataFrame, pd.DataFrame, CycleResults]:
    """The pure core of a run, without the engine: normalise, validate once, score and rank."""
    cycle = resolve_cycle(cycle_id, config.cycles)
    subs, header = normalize(raw, config.form, registry, cycle)
    suite = build_suite(config.form, cycle, set(subs.columns))
    issues = issues_from_results(run_suite(subs, suite), subs, config.form)
    shape = header_issues(header, raw.headers, config.form, blank_rows=len(raw.cells) - len(subs))
    issues = sort_issues(pd.concat([shape, issues], ignore_index=True))
    return subs, issues, rank_cycle(score_cycle(subs, issues, cycle, config), subs, registry, cycle, config)


@pytest.fixture
def run_core(config, registry):
    def _run(sheet_or_raw, cycle_id: str = "2026-H1"):
        raw = sheet_or_raw.raw() if isinstance(sheet_or_raw, Sheet) else sheet_or_raw
        return evaluate(raw, config, registry, cycle_id)
    return _run


def school(results: CycleResults, code: str) -> dict:
    """The ranked row of one school as a dict."""
    row = results.ranked.set_index("school_code").loc[code]
    return row.to_dict()


@pytest.fixture(scope="session")
def prefect_api_url():
    """One Prefect test harness for the whole session (a real server on loopback); yields its API URL so
    subprocesses (the CLI) can use the same server instead of starting their own."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()


CORRECTION_FIELDS = ["action", "school_code", "sheet_row", "question_id", "value", "reason", "by", "at"]


def config_with_corrections(folder: Path, rows: list[dict], cycle: str = "2026-H1", **defaults: str) -> Path:
    """A copy of the default config in `folder` whose corrections file for `cycle` holds `rows`."""
    import shutil

    cfg = folder / "config"
    shutil.copytree(REPO / "config", cfg, dirs_exist_ok=True)
    (cfg / "corrections").mkdir(exist_ok=True)
    base = dict.fromkeys(CORRECTION_FIELDS[3:], "") | defaults
    with open(cfg / "corrections" / f"{cycle}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CORRECTION_FIELDS)
        writer.writeheader()
        writer.writerows(base | row for row in rows)
    return cfg


@dataclass
class Stages:
    """What the pipeline's stages made, run in order without the engine; `write()` runs the last one."""

    run: Any
    received: Any
    prepared: Any
    validation: Any
    results: Any

    def write(self) -> Path:
        from antt import pipeline

        return pipeline.write_stage(self.results, self.prepared, self.validation, self.received, self.run).folder


def run_stages(source: Path, config_dir: Path | None, out: Path, cycle: str = "2026-H1",
               schools: Path | str | None = None, corrections: str | None = None) -> Stages:
    """The pipeline's stages as the flow wires them, without the engine, up to the results (not written)."""
    from antt import pipeline

    run = pipeline.open_run(cycle, schools, config_dir, out, corrections=corrections)
    raw, received = pipeline.read_source(str(source), run)
    prepared = pipeline.normalize_stage(raw, run)
    validation = pipeline.validate_stage(prepared, run)
    results = pipeline.rank_stage(pipeline.score_stage(prepared, validation, run), prepared, run)
    return Stages(run, received, prepared, validation, results)


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the whole session (tests/postgres.py), stopped at its end. Never skipped:
    when PostgreSQL is missing or cannot start, the tests that need it fail and say why."""
    from postgres import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {exc}")
    yield server
    server.stop()


def _google_fake(server, tmp_path: Path, monkeypatch, endpoint_variable: str):
    """Point antt's Google clients at a fake API server on loopback: its service account key, its endpoint; the
    variables set are kept on `server.env` for a subprocess."""
    server.env = {"ANTT_GOOGLE_CREDENTIALS": str(server.write_service_account(tmp_path / "sa.json")),
                  endpoint_variable: server.endpoint}
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ANTT_GOOGLE_SECRET_BLOCK", raising=False)
    return server


@pytest.fixture
def fake_sheets(tmp_path, monkeypatch):
    """The fake Google Sheets API (tests/fake_sheets.py), running for one test."""
    from fake_sheets import FakeSheets

    with FakeSheets() as server:
        yield _google_fake(server, tmp_path, monkeypatch, "ANTT_SHEETS_ENDPOINT")
    assert not server.alive(), "the fake server left a thread running"


@pytest.fixture
def fake_forms(tmp_path, monkeypatch):
    """The fake Google Forms API (tests/fake_forms.py), running for one test."""
    from fake_forms import FakeForms

    with FakeForms() as server:
        yield _google_fake(server, tmp_path, monkeypatch, "ANTT_FORMS_ENDPOINT")
    assert not server.alive(), "the fake server left a thread running"
